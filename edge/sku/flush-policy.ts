/**
 * When a SKU authority flushes its outbox to the ledger, how much at a time, and how it backs off
 * when the ledger fails (edge/sku/sku-authority.ts, `flush`).
 */
import { fnv1a } from "../hash";

/** How long changes gather in the outbox before a flush, so that a busy SKU lands them in batches. */
export const FLUSH_DELAY_MS = 250;
/** Bounds on one flush: movements and events per D1 batch. */
export const FLUSH_MOVEMENTS_MAX = 500;
export const FLUSH_EVENTS_MAX = 1000;
/** Backoff after a failed flush: doubling from the delay, capped, with jitter. */
const FLUSH_BACKOFF_MAX_MS = 30_000;

/**
 * Capped exponential backoff with jitter, so that SKUs failing together do not retry together. The
 * jitter comes from the SKU and the attempt rather than a random source: it spreads SKUs just as
 * well, and a run replayed from its seed retries at the same instants.
 */
export function flushRetryDelayMs(sku: string, failuresInRow: number): number {
  const backoffMs = Math.min(FLUSH_BACKOFF_MAX_MS, FLUSH_DELAY_MS * 2 ** failuresInRow);
  const jitter = fnv1a(`${sku}#${failuresInRow}`) / 2 ** 32;
  return Math.round(backoffMs * (0.5 + jitter / 2));
}
