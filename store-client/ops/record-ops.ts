/**
 * Recording a cashier's action: the outbox write, as Dexie Cloud's mutation tracking does it —
 * the op is written in the same transaction as its effect on local state, so nothing happens
 * untracked.
 *
 * Invariants protected:
 * - A seq is handed out once per terminal, across tabs: it is read from and written back to
 *   `meta.nextSeq` inside the same read-write transaction that adds the ops, and IndexedDB runs
 *   read-write transactions over the same stores one at a time. `add` (not `put`) makes a reuse
 *   fail loudly instead of overwriting an op.
 * - The op's effect on local stock is that it is in the outbox with `overlay = 1`
 *   (stock/stock-view.ts): the write that records it is the write that changes what the cashier sees.
 * - The allowance warning is decided against the same figures the op is written on top of.
 *
 * Nothing here waits for the network: the call returns when IndexedDB has committed.
 */
import type { OutboxRow, StoreDb } from "../db/store-db";
import { getMeta, putMeta } from "../db/store-db";
import { readLocalStocks } from "../stock/read-stock";
import { allowanceWarnings, type AllowanceWarning } from "../stock/stock-view";
import { numberOps, type OpDraft } from "./op-rules";

export interface Recorded {
  seqs: number[];
  warnings: AllowanceWarning[];
}

export async function recordOps(db: StoreDb, drafts: readonly OpDraft[], nowMs: number): Promise<Recorded> {
  if (drafts.length === 0) throw new Error("recordOps needs at least one op");
  return db.transaction("rw", [db.outbox, db.meta, db.stock], async () => {
    const firstSeq = (await getMeta(db, "nextSeq")) ?? 1;
    const sales = drafts.filter((d) => d.kind === "sale");
    const warnings = sales.length === 0 ? [] : allowanceWarnings(sales, await readLocalStocks(db, sales.map((d) => d.sku)));
    const rows: OutboxRow[] = numberOps(drafts, firstSeq, nowMs).map((op) => ({
      seq: op.seq,
      op,
      state: "pending",
      overlay: 1,
      attention: 0,
      result: null,
      attempts: 0,
      recordedAtMs: nowMs,
      lastAttemptAtMs: null,
      ackedAtMs: null,
      settledAtMs: null,
    }));
    await db.outbox.bulkAdd(rows);
    await putMeta(db, "nextSeq", firstSeq + rows.length);
    return { seqs: rows.map((r) => r.seq), warnings };
  });
}
