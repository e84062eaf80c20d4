/**
 * Where an authority's flush lands: the D1 ledger, then the changefeed Queue.
 *
 * `land` writes one D1 `batch()` (a single transaction): movements INSERT OR IGNORE on their id
 * (the balances trigger fires only for rows actually inserted), events INSERT OR IGNORE on their id,
 * transfers upserted. Landing the same batch twice changes nothing (I3, I4). `publish` sends the
 * events to the Queue after they are in D1, so the Queue never carries an event the ledger lacks;
 * it may carry one twice (I5: at least once, stable ids).
 *
 * Raw prepared statements rather than drizzle's builder: multi-row inserts sized to D1's limit of
 * 100 bound parameters, and the `rows_written` that the benchmark reports.
 */
import type { StockEvent } from "../../ledger/rules/events";
import type { Movement } from "../../ledger/rules/movement";
import type { Transfer } from "../../ledger/rules/transfers";
import { chunks } from "../chunks";

export interface LedgerBatch {
  readonly movements: readonly Movement[];
  readonly events: readonly StockEvent[];
  readonly transfers: readonly Transfer[];
}

export interface LedgerSink {
  land(batch: LedgerBatch, sku: string, landedAtMs: number): Promise<{ readonly rowsWritten: number }>;
  publish(events: readonly StockEvent[]): Promise<void>;
}

const D1_PARAMS_MAX = 100;
const QUEUE_BATCH_MAX = 100;

function multiInsert<T>(db: D1Database, head: string, tail: string, columns: number, rows: readonly T[], values: (row: T) => unknown[]): D1PreparedStatement[] {
  const placeholders = `(${Array.from({ length: columns }, () => "?").join(", ")})`;
  return chunks(rows, Math.floor(D1_PARAMS_MAX / columns)).map((chunk) =>
    db.prepare(`${head} VALUES ${chunk.map(() => placeholders).join(", ")} ${tail}`).bind(...chunk.flatMap(values)),
  );
}

export function d1Sink(db: D1Database, queue: Queue<StockEvent> | undefined): LedgerSink {
  return {
    async land(batch, sku, landedAtMs) {
      const statements = [
        ...multiInsert(
          db,
          "INSERT OR IGNORE INTO movements (id, sku, from_account, to_account, qty, occurred_at, recorded_at, landed_at, source, ref, lot, expires_on)",
          "",
          12,
          batch.movements,
          (m) => [m.id, m.sku, m.from, m.to, m.qty, m.occurredAtMs, m.recordedAtMs, landedAtMs, m.source, m.ref, m.lot, m.expiresOn],
        ),
        ...multiInsert(db, "INSERT OR IGNORE INTO events (id, sku, seq, type, location, body)", "", 6, batch.events, (e) => [e.id, e.sku, e.seq, e.type, e.location, JSON.stringify(e)]),
        ...multiInsert(
          db,
          "INSERT INTO transfers (id, sku, from_location, to_location, qty, state, received, lost, created_at)",
          "ON CONFLICT (id) DO UPDATE SET state = excluded.state, received = excluded.received, lost = excluded.lost",
          9,
          batch.transfers,
          (t) => [t.transferId, sku, t.from, t.to, t.qty, t.state, t.received, t.lost, t.createdAtMs],
        ),
      ];
      if (statements.length === 0) return { rowsWritten: 0 };
      const results = await db.batch(statements);
      return { rowsWritten: results.reduce((n, r) => n + (r.meta.rows_written ?? 0), 0) };
    },
    async publish(events) {
      if (queue === undefined || events.length === 0) return;
      for (const chunk of chunks(events, QUEUE_BATCH_MAX)) await queue.sendBatch(chunk.map((body) => ({ body })));
    },
  };
}
