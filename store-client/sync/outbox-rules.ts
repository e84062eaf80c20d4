/**
 * What the sync engine does to outbox rows, as pure functions over plain rows: which ops go in the
 * next push, what an answer does to an op, when an op leaves the local-stock overlay, which old
 * rows may go.
 */
import type { OutboxRow } from "../db/store-db";
import { PUSH_BODY_BYTES_MAX, PUSH_OPS_MAX, type PushResult } from "./protocol";

export interface BatchLimits {
  opsMax: number;
  bodyBytesMax: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { opsMax: PUSH_OPS_MAX, bodyBytesMax: PUSH_BODY_BYTES_MAX };

const utf8 = new TextEncoder();

/**
 * The next push batch: the longest prefix of the pending rows (in seq order) within both limits.
 * A prefix, so ops reach the edge in seq order; never empty when rows are pending.
 */
export function takeBatch(pending: readonly OutboxRow[], terminalId: string, limits: BatchLimits): OutboxRow[] {
  if (limits.opsMax < 1 || limits.opsMax > PUSH_OPS_MAX) throw new Error(`opsMax must be 1…${PUSH_OPS_MAX}, got ${limits.opsMax}`);
  const envelopeBytes = utf8.encode(JSON.stringify({ terminalId, ops: [] })).length;
  const batch: OutboxRow[] = [];
  let bytes = envelopeBytes;
  for (const row of pending) {
    if (row.state !== "pending") throw new Error(`op ${row.seq} is ${row.state}, not pending`);
    const last = batch.at(-1);
    if (last !== undefined && row.seq <= last.seq) throw new Error(`pending ops out of order: ${last.seq} then ${row.seq}`);
    if (batch.length === limits.opsMax) break;
    const opBytes = utf8.encode(JSON.stringify(row.op)).length + (batch.length > 0 ? 1 : 0);
    if (batch.length > 0 && bytes + opBytes > limits.bodyBytesMax) break;
    batch.push(row);
    bytes += opBytes;
  }
  return batch;
}

export type AnsweredFields = Pick<OutboxRow, "state" | "result" | "overlay" | "attention" | "ackedAtMs" | "settledAtMs">;

/**
 * An op after the edge answered for it. An applied or duplicate op stays in the overlay until the
 * confirmed figures of its SKU include it (`includesSeq`, from a pull); when they already do — a
 * pull that came first, in another tab — it leaves at once. A rejected op never took effect, so
 * it leaves the overlay at once and waits for a person.
 */
export function answered(result: PushResult, nowMs: number, includesSeq: number): AnsweredFields {
  if (result.status === "rejected") {
    return { state: "rejected", result, overlay: 0, attention: 1, ackedAtMs: nowMs, settledAtMs: nowMs };
  }
  const included = includes(includesSeq, result.seq);
  return { state: result.status, result, overlay: included ? 0 : 1, attention: result.shortfall !== undefined ? 1 : 0, ackedAtMs: nowMs, settledAtMs: included ? nowMs : null };
}

/** Whether confirmed figures that include this database's ops up to `includesSeq` include op `seq`. */
export const includes = (includesSeq: number, seq: number): boolean => seq <= includesSeq;

/**
 * Rows that may be deleted: done (answered and out of the overlay), nobody needs to look at
 * them, and older than the newest `historyMax` such rows.
 */
export function prunable(rows: readonly Pick<OutboxRow, "seq" | "state" | "overlay" | "attention">[], historyMax: number): number[] {
  const done = rows.filter((r) => r.state !== "pending" && r.overlay === 0 && r.attention === 0).map((r) => r.seq);
  done.sort((a, b) => b - a);
  return done.slice(historyMax);
}
