/**
 * TEST-ONLY planted bugs, for the simulation to prove it catches them (test/edge/sim/planted-bugs.test.ts).
 * Set only through `runInDurableObject`; no request can reach the field, and it is "none" otherwise.
 * - no-dedupe: terminal ops are neither looked up nor remembered by name (I3).
 * - outbox-outside-transaction: movements reach the outbox in a later write, after an await; a
 *   restart in between loses them (I4, I5).
 * - expire-twice: an expired hold's units are given back twice (I6, then I1).
 * - unlisted-outbox: movements are made without joining the outbox registry first (I8).
 */
export type PlantedBug = "none" | "no-dedupe" | "outbox-outside-transaction" | "expire-twice" | "unlisted-outbox";

/**
 * TEST-ONLY: the rows the planted "outbox-outside-transaction" bug keeps out of the outbox, and
 * writes back at the next flush (a later write, after an await: lost by a restart in between).
 */
export class DeferredOutbox {
  private rows: { id: string; seq: number; body: string }[] = [];

  /** The outbox's highest seq now: what a change writes afterwards is above it. */
  mark(sql: SqlStorage): number {
    return sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM outbox").one().s ?? 0;
  }

  /** Take the rows written after `afterSeq` out of the outbox, to write them later. */
  takeAfter(sql: SqlStorage, afterSeq: number): void {
    const rows = sql.exec<{ movement_id: string; seq: number; body: string }>("SELECT movement_id, seq, body FROM outbox WHERE seq > ? ORDER BY seq", afterSeq).toArray();
    sql.exec("DELETE FROM outbox WHERE seq > ?", afterSeq);
    this.rows.push(...rows.map((r) => ({ id: r.movement_id, seq: r.seq, body: r.body })));
  }

  writeBack(sql: SqlStorage): void {
    const rows = this.rows;
    this.rows = [];
    // Under the seqs they were given: the authority's numbering never hands those out again.
    for (const row of rows) sql.exec("INSERT INTO outbox (movement_id, seq, body) VALUES (?, ?, ?)", row.id, row.seq, row.body);
  }
}
