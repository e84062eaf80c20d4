/**
 * LedgerWriter: gathers the flushes of many SKU authorities into one D1 batch.
 *
 * Each authority flushes its own outbox (edge/sku/sku-authority.ts, `flush`); alone, a SKU that
 * sells slowly lands one movement per D1 batch, and each batch carries its fixed cost (a request to
 * D1, a transaction, a cursor row and balance rows per SKU). The writer is where those flushes meet:
 * an authority hands it its batch and waits; the writer lands what is waiting in one D1 batch
 * (`landInD1`) once enough has gathered (GATHER_MOVEMENTS), or once the oldest flush has waited
 * its gather window, then publishes that batch's events to the changefeed Queue (one `sendBatch`
 * per hundred events, not one per SKU), and answers every flush of the batch when both are done.
 * A failure of either fails every flush of the batch: each lands again (nothing twice) and its
 * events may be published again under the same ids (I5: at least once).
 *
 * It keeps nothing: a flush leaves its authority's outbox only after the writer answered that it
 * landed, so the outboxes stay what the audit and a count's report read (what is in flight is in
 * an outbox, and may also be in D1 already — both count it once, by movement id). A writer that
 * fails, restarts or is evicted fails the flushes it was holding; their authorities retry after
 * their backoff and the landing is idempotent (edge/sku/ledger-sink.ts). One landing at a time:
 * flushes that arrive meanwhile gather for the next.
 *
 * One writer per D1 database (LEDGER_WRITER_SHARDS): D1 runs every write of a database one after
 * another anyway, and one object takes a flush per SKU per FLUSH_DELAY_MS from thousands of busy
 * SKUs. A chain whose SKUs flush more often than one object can answer raises the shard count;
 * each shard then gathers its own SKUs.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { fnv1a } from "../hash";
import type { StockEvent } from "../../ledger/rules/events";
import { batchItems, landInD1, mergeBatches, publishEvents, type Landed, type LedgerBatch, type MergedBatch, type SkuBatch } from "./ledger-sink";

/** How many writers share the SKUs (by a hash of the SKU); fixed per deployment only in that a flush in flight finds its writer either way. */
export const LEDGER_WRITER_SHARDS = 1;

export const ledgerWriterShard = (sku: string): string => `ledger-${fnv1a(sku) % LEDGER_WRITER_SHARDS}`;

/** A D1 batch is landed as soon as this many movements wait (or GATHER_EVENTS events), */
export const GATHER_MOVEMENTS = 100;
export const GATHER_EVENTS = 200;
/** or once the oldest flush waiting has waited this long (LEDGER_GATHER_MS overrides it). */
export const GATHER_MAX_MS = 1_500;
/**
 * Bounds on one D1 batch: each JSON parameter stays under D1's 2 MB per value (a movement is about
 * 200 bytes of it, an event with its body about 600). One SKU's flush is at most FLUSH_MOVEMENTS_MAX
 * and FLUSH_EVENTS_MAX, so a flush always fits.
 */
const BATCH_MOVEMENTS_MAX = 2_000;
const BATCH_EVENTS_MAX = 2_000;

export interface WriterStats {
  /** D1 batches landed, and the SKU flushes they carried. */
  batches: number;
  flushes: number;
  movements: number;
  events: number;
  rowsWritten: number;
  /** D1 batches that failed to land or to publish (every flush in them was failed back to its authority). */
  failures: number;
}

interface Waiting extends SkuBatch {
  readonly arrivedAtMs: number;
  readonly resolve: (landed: Landed) => void;
  readonly reject: (error: unknown) => void;
}

/** The gather window from LEDGER_GATHER_MS: a whole number of ms, else the default. */
export function gatherWindowMs(setting: string | undefined): number {
  const ms = setting === undefined || setting === "" ? Number.NaN : Number(setting);
  return Number.isInteger(ms) && ms >= 0 ? ms : GATHER_MAX_MS;
}

/** Take waiting flushes from the front, up to the batch bounds (always at least one). */
export function takeBatch<T extends SkuBatch>(waiting: readonly T[]): T[] {
  const taken: T[] = [];
  let movements = 0;
  let events = 0;
  for (const w of waiting) {
    movements += w.batch.movements.length;
    events += w.batch.events.length;
    if (taken.length > 0 && (movements > BATCH_MOVEMENTS_MAX || events > BATCH_EVENTS_MAX)) break;
    taken.push(w);
  }
  return taken;
}

export class LedgerWriter extends DurableObject<Env> {
  /** How long a flush may wait for others. Tests set it. */
  gatherMs: number;
  /** Where a gathered, merged batch lands; the rows written. Tests replace it to inject D1 failures. */
  d1: (merged: MergedBatch, landedAtMs: number) => Promise<number>;
  /** Where their events go once landed. Tests replace it to inject Queue failures. */
  publish: (events: readonly StockEvent[]) => Promise<void>;
  readonly stats: WriterStats = { batches: 0, flushes: 0, movements: 0, events: 0, rowsWritten: 0, failures: 0 };
  private waiting: Waiting[] = [];
  private landing = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.gatherMs = gatherWindowMs(env.LEDGER_GATHER_MS);
    this.d1 = (merged, landedAtMs) => landInD1(env.DB, merged, landedAtMs);
    this.publish = (events) => publishEvents(env.CHANGES, events);
  }

  /** Land one SKU's flush with whatever else gathers; answers once its D1 batch is written. */
  land(sku: string, batch: LedgerBatch): Promise<Landed> {
    return new Promise<Landed>((resolve, reject) => {
      this.waiting.push({ sku, batch, arrivedAtMs: Date.now(), resolve, reject });
      this.next();
    });
  }

  /** What this writer has landed since it started (benchmarks, tests). */
  writerStats(): WriterStats & { waiting: number } {
    return { ...this.stats, waiting: this.waiting.length };
  }

  /** Land what waits if it is time, else wake up when it will be. */
  private next(): void {
    if (this.landing || this.waiting.length === 0) return;
    const nowMs = Date.now();
    const dueAtMs = (this.waiting[0]?.arrivedAtMs ?? nowMs) + this.gatherMs;
    const movements = this.waiting.reduce((n, w) => n + w.batch.movements.length, 0);
    const events = this.waiting.reduce((n, w) => n + w.batch.events.length, 0);
    if (movements < GATHER_MOVEMENTS && events < GATHER_EVENTS && nowMs < dueAtMs) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.next();
      }, dueAtMs - nowMs);
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const taken = takeBatch(this.waiting);
    this.waiting = this.waiting.slice(taken.length);
    this.landing = true;
    void this.write(taken).finally(() => {
      this.landing = false;
      this.next();
    });
  }

  private async write(taken: readonly Waiting[]): Promise<void> {
    const landedAtMs = Date.now();
    let rowsWritten: number;
    try {
      // Each movement and event once, even if a retried flush brought it twice.
      const merged = mergeBatches(taken);
      rowsWritten = await this.d1(merged, landedAtMs);
      await this.publish(merged.events);
    } catch (error) {
      this.stats.failures += 1;
      for (const w of taken) w.reject(error);
      return;
    }
    const items = taken.reduce((n, w) => n + batchItems(w.batch), 0);
    this.stats.batches += 1;
    this.stats.flushes += taken.length;
    this.stats.rowsWritten += rowsWritten;
    for (const w of taken) {
      this.stats.movements += w.batch.movements.length;
      this.stats.events += w.batch.events.length;
      const batchShare = items === 0 ? 1 / taken.length : batchItems(w.batch) / items;
      w.resolve({ rowsWritten: rowsWritten * batchShare, batchShare });
    }
  }
}
