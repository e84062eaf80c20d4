/**
 * Where an authority's flush lands: the D1 ledger, then the changefeed Queue.
 *
 * An authority hands its flush to the ledger writer (edge/sku/ledger-writer.ts), which gathers the
 * flushes of many SKUs and merges them (`mergeBatches`) into one D1 batch (`landInD1`). `landInD1` writes one D1 `batch()` (a
 * single transaction) of at most five statements, whatever the batch's size or how many SKUs it
 * carries, each reading the batch as one JSON parameter (`json_each`):
 *  1. one event page: the batch's events above their SKU's cursor (`ledger_skus.event_seq`), in
 *     (SKU, seq) order, at the positions after the last page's;
 *  2. that page's entry for each location its events are at;
 *  3. one `ledger_skus` row per SKU the batch touches: its balances moved by the sum of the batch's
 *     movements that the ledger does not hold yet (looked up by key before they are inserted), and
 *     its cursor raised to the batch's highest seq;
 *  4. movements: INSERT OR IGNORE on their key (sku, occurred_at, id);
 *  5. transfers upserted.
 * So a batch writes one row per movement, one per SKU, and two or three per page (migration 0008).
 * Landing the same batch twice, or a longer batch that starts with one already landed, changes
 * nothing that has landed (I3, I4). `publish` sends the events to the Queue after they are in
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

// Events as JSON arrays: [sku, seq, location, event]; an event lands if its seq is above its SKU's cursor.
const ABOVE_CURSOR = "json_extract(j.value, '$[1]') > COALESCE((SELECT l.event_seq FROM ledger_skus l WHERE l.sku = json_extract(j.value, '$[0]')), 0)";
const LAST_PAGE = "SELECT first_position FROM event_pages ORDER BY first_position DESC LIMIT 1";

const EVENT_PAGE = `
INSERT INTO event_pages (first_position, count, landed_at, events)
SELECT COALESCE((SELECT first_position + count FROM event_pages ORDER BY first_position DESC LIMIT 1), 1), n, ?2, events FROM (
  SELECT COUNT(*) AS n, json_group_array(json(json_extract(j.value, '$[3]'))) AS events FROM json_each(?1) j WHERE ${ABOVE_CURSOR}
) WHERE n > 0`;

const PAGE_LOCATIONS = `
INSERT INTO event_page_locations (location, first_position, landed_at)
SELECT DISTINCT json_extract(j.value, '$[2]'), (${LAST_PAGE}), ?2 FROM json_each(?1) j
WHERE json_extract(j.value, '$[2]') IS NOT NULL AND ${ABOVE_CURSOR}`;

// Movements as JSON arrays: [id, sku, from, to, qty, occurredAt, recordedAt, source, ref, lot, expiresOn].
// ?1 the movements, ?2 the events. The balances of a SKU row are a JSON object by account; an
// existing row takes the sum of both objects, account by account.
const LEDGER_SKUS = `
WITH fresh AS (
  SELECT j.value AS v FROM json_each(?1) j
  WHERE NOT EXISTS (SELECT 1 FROM movements m WHERE m.sku = json_extract(j.value, '$[1]') AND m.occurred_at = json_extract(j.value, '$[5]') AND m.id = json_extract(j.value, '$[0]'))
), deltas AS (
  SELECT sku, account, SUM(delta) AS delta FROM (
    SELECT json_extract(v, '$[1]') AS sku, json_extract(v, '$[2]') AS account, -json_extract(v, '$[4]') AS delta FROM fresh
    UNION ALL
    SELECT json_extract(v, '$[1]'), json_extract(v, '$[3]'), json_extract(v, '$[4]') FROM fresh
  ) GROUP BY sku, account
), seqs AS (
  SELECT json_extract(value, '$[0]') AS sku, MAX(json_extract(value, '$[1]')) AS seq FROM json_each(?2) GROUP BY 1
), touched AS (
  SELECT sku FROM deltas UNION SELECT sku FROM seqs
)
INSERT INTO ledger_skus (sku, event_seq, balances)
SELECT t.sku, COALESCE((SELECT s.seq FROM seqs s WHERE s.sku = t.sku), 0), COALESCE((SELECT json_group_object(d.account, d.delta) FROM deltas d WHERE d.sku = t.sku), '{}')
FROM touched t WHERE true
ON CONFLICT (sku) DO UPDATE SET
  event_seq = MAX(event_seq, excluded.event_seq),
  balances = (SELECT json_group_object(key, total) FROM (
    SELECT key, SUM(value) AS total FROM (SELECT key, value FROM json_each(ledger_skus.balances) UNION ALL SELECT key, value FROM json_each(excluded.balances)) GROUP BY key
  ))
WHERE excluded.balances <> '{}' OR excluded.event_seq > ledger_skus.event_seq`;

const MOVEMENTS = `
INSERT OR IGNORE INTO movements (id, sku, from_account, to_account, qty, occurred_at, recorded_at, landed_at, source, ref, lot, expires_on)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'),
       json_extract(value, '$[5]'), json_extract(value, '$[6]'), ?2, json_extract(value, '$[7]'), json_extract(value, '$[8]'), json_extract(value, '$[9]'), json_extract(value, '$[10]')
FROM json_each(?1)`;

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
  // A SKU's events in seq order, so that positions follow seqs (I5).
  const ordered = [...events].sort((x, y) => (x.sku === y.sku ? x.seq - y.seq : x.sku < y.sku ? -1 : 1));
  const eventsJson = JSON.stringify(ordered.map((e) => [e.sku, e.seq, e.location, e]));
  const movementsJson = JSON.stringify(movements.map((m) => [m.id, m.sku, m.from, m.to, m.qty, m.occurredAtMs, m.recordedAtMs, m.source, m.ref, m.lot, m.expiresOn]));
  // Pages first: they read the cursors that the SKU rows then raise; SKU rows before movements:
  // they sum the movements not yet in.
  if (events.length > 0) statements.push(db.prepare(EVENT_PAGE).bind(eventsJson, landedAtMs), db.prepare(PAGE_LOCATIONS).bind(eventsJson, landedAtMs));
  if (events.length > 0 || movements.length > 0) statements.push(db.prepare(LEDGER_SKUS).bind(movementsJson, eventsJson));
  if (movements.length > 0) statements.push(db.prepare(MOVEMENTS).bind(movementsJson, landedAtMs));
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
