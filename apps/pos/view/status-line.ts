/**
 * The POS status bar's words, from the store client's SyncStatus. Pure.
 *
 * The cashier must be able to tell at a glance whether every sale has reached head office, and if
 * not, how many have not and for how long. The first word is the connection (`online`, `offline`,
 * `syncing`, `error`); then `N pending` (ops only on this device) or `all synced`.
 */
import type { SyncStatus } from "../../../store-client/status/sync-status";
import { ago, duration, plural } from "../../shared/format";

export type Tone = "ok" | "busy" | "offline" | "error";

export interface StatusLine {
  tone: Tone;
  /** The whole line, as screen readers announce it. */
  text: string;
  connection: string;
  pending: string;
  lastSync: string;
  /** A sentence saying what is wrong and what to do, when something is. */
  problem: string | null;
}

export function statusLine(status: SyncStatus, nowMs: number): StatusLine {
  const connection = status.connection;
  const tone: Tone = connection === "error" ? "error" : connection === "offline" ? "offline" : connection === "syncing" ? "busy" : "ok";
  const pending =
    status.pendingCount === 0
      ? "all synced"
      : `${status.pendingCount.toLocaleString("en-US")} pending${status.oldestPendingAgeMs === null ? "" : `, oldest ${duration(status.oldestPendingAgeMs)} old`} (only on this device)`;
  const lastSync = status.lastSyncAt === null ? "never synced" : `last sync ${ago(nowMs - Date.parse(status.lastSyncAt))}`;
  const problem = problemSentence(status);
  const text = [connection, pending, lastSync].join(" · ");
  return { tone, text, connection, pending, lastSync, problem };
}

function problemSentence(status: SyncStatus): string | null {
  const p = status.problem;
  if (status.connection === "error" && p !== null) {
    switch (p.kind) {
      case "unauthorized":
        return "This till is not signed in any more. Sales are kept on this device; sign in again to send them.";
      case "refused":
      case "unexpected_status":
        return "Head office refused this till's data. Sales are kept on this device; call support.";
      case "client_failure":
        return "This device's storage failed. Do not clear the browser; call support.";
      default:
        return "Syncing stopped. Sales are kept on this device.";
    }
  }
  if (status.previousDatabase !== null) {
    const when = status.previousDatabase.lastSyncAt ?? "its first sync";
    return `This till's storage was reset. Anything rung up on it after ${when} did not reach head office.`;
  }
  if (status.otherTabSyncing) return null;
  if (p !== null && status.connection !== "online") return null;
  return null;
}

/** "12 more need a look" when the status lists fewer than there are. */
export function attentionOverflow(status: SyncStatus): string | null {
  const listed = status.needsAttention.length + status.shortfalls.length;
  const more = status.attentionCount - listed;
  return more > 0 ? `${plural(more, "more item")} need a look` : null;
}
