/**
 * What a POS screen shows about sync: one plain object, composed from the engine's snapshot and a
 * summary of the outbox. `composeStatus` is pure; `readOutboxSummary` is the database read.
 */
import { Dexie } from "dexie";
import { getMeta, type OpState, type OutboxRow, type StoreDb } from "../db/store-db";
import type { OpKind, Shortfall, WireProblem } from "../sync/protocol";
import type { EngineSnapshot, SyncProblem, SyncState } from "../sync/sync-engine";

export type Connection = "online" | "offline" | "syncing" | "error";

/** One op as a screen lists it. */
export interface OpView {
  seq: number;
  kind: OpKind;
  sku: string;
  qty: number;
  occurredAt: string;
  state: OpState;
  problem: WireProblem | null;
  shortfall: Shortfall | null;
  attempts: number;
}

export interface SyncStatus {
  connection: Connection;
  state: SyncState;
  /** Ops the edge has not answered for yet. */
  pendingCount: number;
  oldestPendingAgeMs: number | null;
  lastSyncAt: string | null;
  /** Rejected ops nobody has acknowledged yet, oldest first (at most ATTENTION_LISTED_MAX). */
  needsAttention: OpView[];
  /** Sales that took units online orders counted on, not yet acknowledged. */
  shortfalls: OpView[];
  /** All ops needing attention, listed or not. */
  attentionCount: number;
  problem: SyncProblem | null;
  nextAttemptAt: string | null;
  otherTabSyncing: boolean;
  /**
   * Set when this device's database is new but the edge had synced an earlier one of the same
   * terminal: ops that database recorded after `lastSyncAt` never reached the edge.
   */
  previousDatabase: { lastSeq: number; lastSyncAt: string | null } | null;
}

export const ATTENTION_LISTED_MAX = 100;

export interface OutboxSummary {
  pendingCount: number;
  oldestPendingRecordedAtMs: number | null;
  lastSyncAtMs: number | null;
  attention: OutboxRow[];
  attentionCount: number;
  previousDatabase: { lastSeq: number; lastSyncAt: string | null } | null;
}

export async function readOutboxSummary(db: StoreDb): Promise<OutboxSummary> {
  return db.transaction("r", db.outbox, db.meta, async () => {
    // A fresh collection per query: Dexie collections change under first()/limit().
    const pending = () => db.outbox.where("[state+seq]").between(["pending", Dexie.minKey], ["pending", Dexie.maxKey]);
    const [pendingCount, oldest, lastSyncAtMs, attention, attentionCount, standing] = await Promise.all([
      pending().count(),
      pending().first(),
      getMeta(db, "lastSyncAtMs"),
      db.outbox.where("attention").equals(1).limit(ATTENTION_LISTED_MAX * 2).toArray(),
      db.outbox.where("attention").equals(1).count(),
      getMeta(db, "edgeStanding"),
    ]);
    const previous = standing?.previous ?? null;
    return {
      pendingCount,
      oldestPendingRecordedAtMs: oldest?.recordedAtMs ?? null,
      lastSyncAtMs: lastSyncAtMs ?? null,
      attention,
      attentionCount,
      previousDatabase: previous === null ? null : { lastSeq: previous.lastSeq, lastSyncAt: previous.lastSyncAt },
    };
  });
}

export function opView(row: OutboxRow): OpView {
  return {
    seq: row.seq,
    kind: row.op.kind,
    sku: row.op.sku,
    qty: row.op.qty,
    occurredAt: row.op.occurredAt,
    state: row.state,
    problem: row.result?.problem ?? null,
    shortfall: row.result?.shortfall ?? null,
    attempts: row.attempts,
  };
}

export function connectionOf(engine: EngineSnapshot): Connection {
  if (engine.state === "error") return "error";
  if (engine.state === "pushing" || engine.state === "pulling") return "syncing";
  if (!engine.online || engine.reachable === false) return "offline";
  return "online";
}

export function composeStatus(summary: OutboxSummary, engine: EngineSnapshot, nowMs: number): SyncStatus {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const views = summary.attention.map(opView);
  return {
    connection: connectionOf(engine),
    state: engine.state,
    pendingCount: summary.pendingCount,
    oldestPendingAgeMs: summary.oldestPendingRecordedAtMs === null ? null : Math.max(0, nowMs - summary.oldestPendingRecordedAtMs),
    lastSyncAt: iso(summary.lastSyncAtMs),
    needsAttention: views.filter((v) => v.state === "rejected").slice(0, ATTENTION_LISTED_MAX),
    shortfalls: views.filter((v) => v.state !== "rejected" && v.shortfall !== null).slice(0, ATTENTION_LISTED_MAX),
    attentionCount: summary.attentionCount,
    problem: engine.problem,
    nextAttemptAt: iso(engine.nextAttemptAtMs),
    otherTabSyncing: engine.otherTabSyncing,
    previousDatabase: summary.previousDatabase,
  };
}
