/**
 * Seeded randomness for randomized tests: the seed comes from SEED when set, otherwise at random,
 * and the test prints it so a failure can be replayed with `SEED=<n> npm test`.
 */

/** The seed to use: `given` (the SEED setting) when it is a number, otherwise a random one. */
export function seedFrom(given: string | undefined): number {
  return given === undefined || given === "" ? Math.floor(Math.random() * 2 ** 31) : Number(given);
}

/** Mulberry32: a small seeded generator of numbers in [0, 1), so a sequence replays exactly. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
