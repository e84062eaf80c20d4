/**
 * Where an authority's flush lands: the D1 ledger, then the changefeed Queue.
 *
 * An authority hands its flush to the ledger writer (edge/sku/ledger-writer.ts), which gathers the
 * flushes of many SKUs and merges them (`mergeBatches`) into one D1 batch (`landInD1`). `landInD1` writes one D1 `batch()` (a
 * single transaction) of at most five statements, whatever the batch's size or how many SKUs it
 * carries, each reading the batch as one JSON parameter (`json_each`):
 *  1. balances: one upsert per (SKU, account) the batch touches, by the sum of the batch's
 *     movements that the ledger does not hold yet (looked up by key before they are inserted);
 *  2. movements: INSERT OR IGNORE on their key (sku, occurred_at, id);
 *  3. events: those above their SKU's cursor (`ledger_cursors.event_seq`), in seq order;
 *  4. the cursors raised to the highest seq of the batch;
 *  5. transfers upserted.
 * Landing the same batch twice, or a longer batch that starts with one already landed, changes
 * nothing that has landed (I3, I4): that is what lets balances be summed per batch instead of a
 * trigger's two upserts per movement. `publish` sends the events to the Queue after they are in
 * D1, so the Queue never carries an event the ledger lacks; it may carry one twice (I5: at least
 * once, stable ids).
 *
 * Raw statements rather than drizzle's builder: `json_each` over the batch, and the
 * `rows_written` that the benchmark reports.
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

/** What landing one SKU's batch did. */
export interface Landed {
  /** D1 rows written for this batch: its share of the D1 batch it was landed in. */
  readonly rowsWritten: number;
  /** Its share of that D1 batch (its movements, events and transfers over the batch's): 1 when it was landed alone. */
  readonly batchShare: number;
}

export interface LedgerSink {
  land(batch: LedgerBatch, sku: string, landedAtMs: number): Promise<Landed>;
  publish(events: readonly StockEvent[]): Promise<void>;
}

/** One SKU's part of a D1 batch. */
export interface SkuBatch {
  readonly sku: string;
  readonly batch: LedgerBatch;
}

const QUEUE_BATCH_MAX = 100;

// Movements as JSON arrays: [id, sku, from, to, qty, occurredAt, recordedAt, source, ref, lot, expiresOn].
const BALANCES = `
INSERT INTO balances (sku, account, balance)
SELECT sku, account, SUM(delta) FROM (
  SELECT json_extract(j.value, '$[1]') AS sku, json_extract(j.value, '$[2]') AS account, -json_extract(j.value, '$[4]') AS delta
    FROM json_each(?1) j WHERE NOT EXISTS (SELECT 1 FROM movements m WHERE m.sku = json_extract(j.value, '$[1]') AND m.occurred_at = json_extract(j.value, '$[5]') AND m.id = json_extract(j.value, '$[0]'))
  UNION ALL
  SELECT json_extract(j.value, '$[1]'), json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]')
    FROM json_each(?1) j WHERE NOT EXISTS (SELECT 1 FROM movements m WHERE m.sku = json_extract(j.value, '$[1]') AND m.occurred_at = json_extract(j.value, '$[5]') AND m.id = json_extract(j.value, '$[0]'))
) WHERE true GROUP BY sku, account
ON CONFLICT (sku, account) DO UPDATE SET balance = balance + excluded.balance`;

const MOVEMENTS = `
INSERT OR IGNORE INTO movements (id, sku, from_account, to_account, qty, occurred_at, recorded_at, landed_at, source, ref, lot, expires_on)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'),
       json_extract(value, '$[5]'), json_extract(value, '$[6]'), ?2, json_extract(value, '$[7]'), json_extract(value, '$[8]'), json_extract(value, '$[9]'), json_extract(value, '$[10]')
FROM json_each(?1)`;

// Events as JSON arrays: [id, sku, seq, type, location, body].
const EVENTS = `
INSERT INTO events (id, sku, seq, type, location, body)
SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]'), json_extract(j.value, '$[5]')
FROM json_each(?1) j
WHERE json_extract(j.value, '$[2]') > COALESCE((SELECT c.event_seq FROM ledger_cursors c WHERE c.sku = json_extract(j.value, '$[1]')), 0)
ORDER BY json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]')`;

const CURSORS = `
INSERT INTO ledger_cursors (sku, event_seq)
SELECT json_extract(value, '$[1]'), MAX(json_extract(value, '$[2]')) FROM json_each(?1) WHERE true GROUP BY 1
ON CONFLICT (sku) DO UPDATE SET event_seq = MAX(event_seq, excluded.event_seq)`;

// Transfers as JSON arrays: [id, sku, from, to, qty, state, received, lost, createdAt].
const TRANSFERS = `
INSERT INTO transfers (id, sku, from_location, to_location, qty, state, received, lost, created_at)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'),
       json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[7]'), json_extract(value, '$[8]')
FROM json_each(?1) WHERE true
ON CONFLICT (id) DO UPDATE SET state = excluded.state, received = excluded.received, lost = excluded.lost`;

/** How much of a D1 batch a SKU's batch is: what the writer divides the rows written by. */
export const batchItems = (b: LedgerBatch): number => b.movements.length + b.events.length + b.transfers.length;

/** The batches of one or more SKUs as one: each movement, event and transfer once. */
export interface MergedBatch {
  readonly movements: readonly Movement[];
  readonly events: readonly StockEvent[];
  readonly transfers: readonly { readonly sku: string; readonly t: Transfer }[];
}

/**
 * Merge SKUs' batches for one D1 batch. The same movement, event or transfer handed twice (a SKU's
 * flush retried while its first attempt still waits in the writer) is kept once: movements by id,
 * events by (SKU, seq), the later copy of a transfer winning.
 */
export function mergeBatches(batches: readonly SkuBatch[]): MergedBatch {
  const movements = new Map<string, Movement>();
  const events = new Map<string, StockEvent>();
  const transfers = new Map<string, { sku: string; t: Transfer }>();
  for (const { sku, batch } of batches) {
    for (const m of batch.movements) movements.set(m.id, m);
    for (const e of batch.events) events.set(`${e.sku}#${e.seq}`, e);
    for (const t of batch.transfers) transfers.set(`${sku}#${t.transferId}`, { sku, t });
  }
  return { movements: [...movements.values()], events: [...events.values()], transfers: [...transfers.values()] };
}

/** Land a merged batch in one D1 batch; the rows written. */
export async function landInD1(db: D1Database, { movements, events, transfers }: MergedBatch, landedAtMs: number): Promise<number> {
  const statements: D1PreparedStatement[] = [];
  if (movements.length > 0) {
    const json = JSON.stringify(movements.map((m) => [m.id, m.sku, m.from, m.to, m.qty, m.occurredAtMs, m.recordedAtMs, m.source, m.ref, m.lot, m.expiresOn]));
    statements.push(db.prepare(BALANCES).bind(json), db.prepare(MOVEMENTS).bind(json, landedAtMs));
  }
  if (events.length > 0) {
    const json = JSON.stringify(events.map((e) => [e.id, e.sku, e.seq, e.type, e.location, JSON.stringify(e)]));
    statements.push(db.prepare(EVENTS).bind(json), db.prepare(CURSORS).bind(json));
  }
  if (transfers.length > 0) {
    const json = JSON.stringify(transfers.map(({ sku, t }) => [t.transferId, sku, t.from, t.to, t.qty, t.state, t.received, t.lost, t.createdAtMs]));
    statements.push(db.prepare(TRANSFERS).bind(json));
  }
  if (statements.length === 0) return 0;
  const results = await db.batch(statements);
  return results.reduce((n, r) => n + (r.meta.rows_written ?? 0), 0);
}

const LANDED_CHUNK = 500;

/**
 * Which of these movements the ledger holds, by id: each looked up by its whole key
 * (sku, occurred_at, id), which the caller has because it has the movement (an outbox row).
 */
export async function landedMovementIds(db: D1Database, movements: readonly Movement[]): Promise<Set<string>> {
  const landed = new Set<string>();
  for (const part of chunks(movements, LANDED_CHUNK)) {
    const rows = await db
      .prepare(
        "SELECT m.id AS id FROM json_each(?1) j CROSS JOIN movements m ON m.sku = json_extract(j.value, '$[0]') AND m.occurred_at = json_extract(j.value, '$[1]') AND m.id = json_extract(j.value, '$[2]')",
      )
      .bind(JSON.stringify(part.map((m) => [m.sku, m.occurredAtMs, m.id])))
      .all<{ id: string }>();
    for (const r of rows.results) landed.add(r.id);
  }
  return landed;
}

/** Send events to the changefeed Queue, in the Queue's batches. */
export async function publishEvents(queue: Queue<StockEvent> | undefined, events: readonly StockEvent[]): Promise<void> {
  if (queue === undefined || events.length === 0) return;
  for (const chunk of chunks(events, QUEUE_BATCH_MAX)) await queue.sendBatch(chunk.map((body) => ({ body })));
}

/** A sink that lands each SKU's batch on its own, straight in D1 (tests and tools; authorities go through the writer). */
export function d1Sink(db: D1Database, queue: Queue<StockEvent> | undefined): LedgerSink {
  return {
    async land(batch, sku, landedAtMs) {
      return { rowsWritten: await landInD1(db, mergeBatches([{ sku, batch }]), landedAtMs), batchShare: 1 };
    },
    publish: (events) => publishEvents(queue, events),
  };
}
