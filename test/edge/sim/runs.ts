/**
 * The seeded simulation, many runs, shared out over the `simulation-<part>.test.ts` files. `npm
 * test` runs SIM_RUNS (200 by default) short runs from a random base seed (TEST_SEED replays the
 * batch); `npm run sim -- --runs N` runs the long mode and `npm run sim -- --seed N` replays one
 * run, printing its trace. A failing run is shrunk to its shortest failing prefix and printed with
 * its seed.
 *
 * Why several files: every call into the pool's Durable Objects gets slower with each object the
 * file has created (measured here: 5 ms per call at first, 35 ms after 600 objects, whether or not
 * they are aborted), and each run creates its own SKU objects. Isolation is per file, so each file
 * starts afresh; a file's share of the runs stays short enough not to feel it.
 */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { seedFrom } from "../../support/seeded";
import { formatFailure, shrink, simulate, type SimReport } from "./simulate";

const RUNS = env.SIM_RUNS === "" ? 200 : Number(env.SIM_RUNS);
const ONE = env.SIM_SEED === "" ? null : Number(env.SIM_SEED);
/** `npm test` keeps runs short (many small runs); the long mode lets each seed choose 24–48 steps. */
const SUBSET_STEPS = 12;
const STEPS = env.SIM_STEPS !== "" ? Number(env.SIM_STEPS) : env.SIM_RUNS === "" && ONE === null ? SUBSET_STEPS : undefined;
/** The first seed of this file's batch: SEED replays it; random otherwise (and printed). */
const BASE = seedFrom(env.TEST_SEED);
/** Runs per test, so each test stays within its timeout and progress shows. */
const CHUNK = 50;

const totals = { runs: 0, violations: 0, requests: 0, faults: {} as Record<string, number>, startedAtMs: Date.now() };

function tally(r: SimReport): void {
  totals.runs += 1;
  totals.violations += r.violations.length;
  totals.requests += r.requests;
  for (const [k, n] of Object.entries(r.faults)) totals.faults[k] = (totals.faults[k] ?? 0) + n;
}

async function expectClean(r: SimReport): Promise<void> {
  tally(r);
  if (r.violations.length === 0) return;
  const shortest = await shrink(r);
  const report = formatFailure(r, shortest);
  console.error(report);
  expect.fail(report);
}

/** How many files share the runs (simulation-1 … simulation-PARTS). */
export const PARTS = 4;

/** Define this file's share of the runs: part `part` of PARTS. */
export function simulationRuns(part: number): void {
if (ONE !== null) {
  // A replay is one run, in the first file only.
  if (part !== 1) {
    it.skip("replays one seed in simulation-1.test.ts only", () => undefined);
    return;
  }
  it(`replays simulation seed ${ONE}`, async () => {
    const r = await simulate({ seed: ONE, ...(STEPS === undefined ? {} : { steps: STEPS }) });
    console.log(r.trace.join("\n"));
    console.log(`faults: ${JSON.stringify(r.faults)}; requests ${r.requests}; violations ${r.violations.length}`);
    await expectClean(r);
  }, 600_000);
} else {
  const base = BASE;
  const first = Math.floor(((part - 1) * RUNS) / PARTS);
  const last = Math.floor((part * RUNS) / PARTS);
  console.log(`simulation part ${part}/${PARTS}: runs ${first + 1}–${last} of ${RUNS}, seeds ${base + first}…${base + last - 1} (replay the batch with SEED=${base}, one run with npm run sim -- --seed N)`);
  for (let from = first; from < last; from += CHUNK) {
    const to = Math.min(last, from + CHUNK);
    it(`keeps every invariant over runs ${from + 1}–${to} of the seeded simulation`, async () => {
      for (let i = from; i < to; i++) await expectClean(await simulate({ seed: base + i, ...(STEPS === undefined ? {} : { steps: STEPS }) }));
    }, 60_000 + (to - from) * 10_000);
  }
  if (part === 1) it("replays a run exactly from its seed: the same steps, faults and answers", async () => {
    const seed = base + RUNS;
    const a = await simulate({ seed, attempt: "a" });
    const b = await simulate({ seed, attempt: "b" });
    // Ids differ by design (the run's prefix, what the edge and the client mint at random, and the
    // changefeed positions, which count every run of the file).
    const mask = (r: SimReport) => r.trace.map((l) => l.replaceAll(`s${seed}a`, "RUN").replaceAll(`s${seed}b`, "RUN").replace(/[0-9a-f]{16,}|ord_\w+|tr_\w+|rcpt\.[\w-]+/g, "ID").replace(/since=\d+/g, "since=N"));
    console.log(`replayed seed ${seed}: ${a.trace.length} trace lines`);
    expect(mask(b)).toEqual(mask(a));
    expect(b.faults).toEqual(a.faults);
    expect(b.requests).toBe(a.requests);
  });

  it("prints what the runs did", () => {
    const wallS = (Date.now() - totals.startedAtMs) / 1000;
    console.log(`simulation summary: ${JSON.stringify({ runs: totals.runs, violations: totals.violations, requests: totals.requests, wallSeconds: Math.round(wallS), faults: totals.faults })}`);
    expect(totals.runs).toBe(last - first);
  });
}
}
