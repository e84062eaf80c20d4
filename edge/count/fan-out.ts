/**
 * Asking many SKU authorities from one place, bounded: how many at once, and how many one
 * invocation asks at all (a Worker invocation may make only so many subrequests, 1,000 on the
 * platform, so a count of 10,000 SKUs is asked in slices, each slice its own invocation).
 */

/** Authorities asked at once by one invocation. */
export const FANOUT_CONCURRENCY = 32;
/** SKUs one invocation asks, well under the platform's subrequest limit. */
export const OUTBOX_SLICE_MAX = 200;

/** Run `fn` over `items`, at most `limit` at a time, answers in order. */
export async function pooled<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
