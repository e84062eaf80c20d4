/**
 * The database side of a sync cycle: thin shells that read rows, ask outbox-rules.ts and write
 * the result in one transaction each.
 */
import { Dexie } from "dexie";
import type { OutboxRow, StockRow, StoreDb } from "../db/store-db";
import { putMeta } from "../db/store-db";
import { answered, prunable, takeBatch, type Acked, type BatchLimits } from "./outbox-rules";
import type { PullPage, PushResult } from "./protocol";

export async function readPushBatch(db: StoreDb, terminalId: string, limits: BatchLimits): Promise<OutboxRow[]> {
  const pending = await db.outbox
    .where("[state+seq]")
    .between(["pending", Dexie.minKey], ["pending", Dexie.maxKey])
    .limit(limits.opsMax)
    .toArray();
  return takeBatch(pending, terminalId, limits);
}

export async function markAttempt(db: StoreDb, seqs: readonly number[], nowMs: number): Promise<void> {
  await db.outbox
    .where("seq")
    .anyOf([...seqs])
    .modify((row) => {
      row.attempts += 1;
      row.lastAttemptAtMs = nowMs;
    });
}

/** Record the edge's answer on each op. An op answered before keeps its first answer. */
export async function applyPushResults(db: StoreDb, results: readonly PushResult[], nowMs: number): Promise<void> {
  await db.transaction("rw", db.outbox, async () => {
    const rows = await db.outbox.bulkGet(results.map((r) => r.seq));
    const updates = results
      .filter((_, i) => rows[i]?.state === "pending")
      .map((result) => ({ key: result.seq, changes: answered(result, nowMs) }));
    await db.outbox.bulkUpdate(updates);
  });
}

/** Ops the edge acknowledged that still count in the overlay. */
export async function readAcked(db: StoreDb): Promise<Acked[]> {
  const rows = await db.outbox.where("overlay").equals(1).toArray();
  return rows.flatMap((r) => (r.state !== "pending" && r.ackedAtMs !== null ? [{ seq: r.seq, ackedAtMs: r.ackedAtMs }] : []));
}

export interface PullPageContext {
  storeId: string;
  /** Ops to settle when this is the last page of the pull (outbox-rules.ts `settleable`). */
  settle: readonly number[];
  nowMs: number;
  historyMax: number;
}

/**
 * One pull page, in one transaction: the store's confirmed figures and the cursor; on the last page
 * also the settled ops, the time of the sync and the pruning of old rows.
 *
 * Ops settle on the last page only: the edge answers a page with each SKU's latest state *within
 * the page*, so an earlier page can show a SKU before the event of the op. Between pages an op can
 * therefore count twice (local stock reads low), never zero times.
 */
export async function applyPullPage(db: StoreDb, page: PullPage, ctx: PullPageContext): Promise<void> {
  const rows: StockRow[] = page.changes
    // The edge answers for the terminal's store; a change for another location is not ours to show.
    .filter((c) => c.location === ctx.storeId)
    .map((c) => ({ sku: c.sku, location: c.location, onHand: c.onHand, available: c.available, pulledAtMs: ctx.nowMs }));
  await db.transaction("rw", [db.stock, db.outbox, db.meta], async () => {
    await db.stock.bulkPut(rows);
    await putMeta(db, "pullCursor", page.cursor);
    if (page.more) return;
    await db.outbox
      .where("seq")
      .anyOf([...ctx.settle])
      .and((r) => r.overlay === 1 && r.state !== "pending")
      .modify({ overlay: 0, settledAtMs: ctx.nowMs });
    await putMeta(db, "lastSyncAtMs", ctx.nowMs);
    const done = await db.outbox.where("overlay").equals(0).toArray();
    await db.outbox.bulkDelete(prunable(done, ctx.historyMax));
  });
}
