/**
 * The database side of a sync cycle: thin shells that read rows, ask outbox-rules.ts and write
 * the result in one transaction each.
 */
import { Dexie } from "dexie";
import type { OutboxRow, StockRow, StoreDb } from "../db/store-db";
import { putMeta } from "../db/store-db";
import { answered, includes, prunable, takeBatch, type BatchLimits } from "./outbox-rules";
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

/**
 * Record the edge's answer on each op, in one transaction with the stock figures it is judged
 * against. An op answered before keeps its first answer.
 */
export async function applyPushResults(db: StoreDb, results: readonly PushResult[], nowMs: number): Promise<void> {
  await db.transaction("rw", [db.outbox, db.stock], async () => {
    const rows = await db.outbox.bulkGet(results.map((r) => r.seq));
    const skus = [...new Set(rows.flatMap((r) => (r === undefined ? [] : [r.op.sku])))];
    const stock = new Map((await db.stock.bulkGet(skus)).flatMap((s) => (s === undefined ? [] : [[s.sku, s.includesSeq ?? 0] as const])));
    const updates = results.flatMap((result, i) => {
      const row = rows[i];
      return row?.state === "pending" ? [{ key: result.seq, changes: answered(result, nowMs, stock.get(row.op.sku) ?? 0) }] : [];
    });
    await db.outbox.bulkUpdate(updates);
  });
}

/** Whether an acknowledged op still waits for confirmed figures that include it. */
export async function awaitingConfirmation(db: StoreDb): Promise<boolean> {
  return (await db.outbox.where("overlay").equals(1).and((r) => r.state !== "pending").count()) > 0;
}

export interface PullPageContext {
  storeId: string;
  nowMs: number;
  historyMax: number;
}

/**
 * One pull page, in one transaction: the store's confirmed figures, the cursor, and the ops that
 * leave the overlay because the figures now include them (exact per page: a change carries the
 * highest seq of this database's ops its figures include). On the last page also the time of the
 * sync and the pruning of old rows.
 */
export async function applyPullPage(db: StoreDb, page: PullPage, ctx: PullPageContext): Promise<void> {
  // The edge answers for the terminal's store; a change for another location is not ours to show.
  const ours = page.changes.filter((c) => c.location === ctx.storeId);
  await db.transaction("rw", [db.stock, db.outbox, db.meta], async () => {
    const before = await db.stock.bulkGet(ours.map((c) => c.sku));
    const rows: StockRow[] = ours.map((c, i) => ({
      sku: c.sku,
      location: c.location,
      onHand: c.onHand,
      available: c.available,
      pulledAtMs: ctx.nowMs,
      // Never backwards: a page without this database's ops for the SKU keeps what an earlier one said.
      includesSeq: Math.max(before[i]?.includesSeq ?? 0, c.includesSeq ?? 0),
    }));
    await db.stock.bulkPut(rows);
    const upTo = new Map(rows.map((r) => [r.sku, r.includesSeq ?? 0]));
    // The overlay is small (what this terminal has not seen confirmed): one read, one write.
    const confirmed = (await db.outbox.where("overlay").equals(1).toArray()).filter((r) => r.state !== "pending" && includes(upTo.get(r.op.sku) ?? 0, r.seq));
    await db.outbox.bulkUpdate(confirmed.map((r) => ({ key: r.seq, changes: { overlay: 0 as const, settledAtMs: ctx.nowMs } })));
    await putMeta(db, "pullCursor", page.cursor);
    if (page.more) return;
    await putMeta(db, "lastSyncAtMs", ctx.nowMs);
    const done = await db.outbox.where("overlay").equals(0).toArray();
    await db.outbox.bulkDelete(prunable(done, ctx.historyMax));
  });
}
