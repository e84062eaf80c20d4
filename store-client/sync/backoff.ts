/**
 * How long to wait before the next try after a retryable failure: capped exponential backoff with
 * jitter, so a store full of terminals that lost the network together does not come back in step.
 * Pure: the random source is passed in.
 */

export interface BackoffPolicy {
  /** Delay ceiling of the first retry. */
  baseMs: number;
  /** No delay ceiling grows past this. */
  capMs: number;
  /** A server's Retry-After is honoured up to this. */
  retryAfterMaxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, retryAfterMaxMs: 15 * 60_000 };

/**
 * The delay before retry number `attempt` (1 for the first retry): "equal jitter", uniformly in
 * [ceiling / 2, ceiling] with ceiling = min(cap, base · 2^(attempt − 1)), so it never collapses to
 * an immediate retry. A server's Retry-After, when given, is a floor.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number, retryAfterMs: number | null = null): number {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new Error(`attempt must be a positive integer, got ${attempt}`);
  // 2^30 already exceeds any sensible cap; the bound keeps the power finite.
  const ceilingMs = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt - 1, 30));
  const r = random();
  if (!(r >= 0 && r < 1)) throw new Error(`random() must be in [0, 1), got ${r}`);
  const jitteredMs = Math.round(ceilingMs / 2 + (r * ceilingMs) / 2);
  return retryAfterMs === null ? jitteredMs : Math.max(jitteredMs, Math.min(retryAfterMs, policy.retryAfterMaxMs));
}

/** Retry-After in milliseconds from its header value: delay-seconds or an HTTP date. */
export function parseRetryAfterMs(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const atMs = Date.parse(trimmed);
  return Number.isNaN(atMs) ? null : Math.max(0, atMs - nowMs);
}
