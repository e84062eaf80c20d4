/** `items` in consecutive pieces of at most `size` (D1 statements, Queue batches, fan-out slices). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
