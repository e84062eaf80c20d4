/**
 * The simulation catches real bugs: each test plants one in the SKU authority (a test-only switch,
 * `SkuAuthority.plantedBug`, set through runInDurableObject) and runs seeded simulations until
 * one fails naming the invariant the bug breaks. The same seed without the bug passes.
 * Replay with SEED=<printed base seed>.
 */
import "fake-indexeddb/auto";
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import type { PlantedBug } from "../../../edge/sku/sku-authority";
import { seedFrom } from "../../support/seeded";
import type { Invariant } from "./checks";
import { formatFailure, shrink, simulate, type SimReport } from "./simulate";

const SEED = seedFrom(env.TEST_SEED);
/** Runs tried per bug before the test gives up on finding it. */
const RUNS_MAX = 40;

const cases: { bug: Exclude<PlantedBug, "none">; breaks: Invariant[]; what: string }[] = [
  { bug: "no-dedupe", breaks: ["I3"], what: "terminal ops applied again when pushed again" },
  { bug: "outbox-outside-transaction", breaks: ["I4", "I5"], what: "movements written to the outbox after the balances, lost by a restart in between" },
  { bug: "expire-twice", breaks: ["I6", "I1"], what: "an expired hold's units given back twice" },
  { bug: "unlisted-outbox", breaks: ["I8"], what: "movements made without joining the outbox registry first" },
];

for (const c of cases) {
  it(`fails, naming ${c.breaks.join(" or ")}, when ${c.what} (${c.bug})`, async () => {
    console.log(`planted ${c.bug}: seeds from SEED=${SEED}`);
    let caught: SimReport | null = null;
    for (let i = 0; i < RUNS_MAX && caught === null; i++) {
      const r = await simulate({ seed: SEED + i, plantedBug: c.bug, attempt: `b${cases.indexOf(c)}` });
      if (r.violations.some((v) => c.breaks.includes(v.invariant))) caught = r;
    }
    if (caught === null) expect.fail(`no run of ${RUNS_MAX} from seed ${SEED} caught ${c.bug}`);
    const shortest = await shrink(caught, c.bug, c.breaks);
    console.log(formatFailure(caught, shortest));
    expect(shortest.violations.map((v) => v.invariant)).toEqual(expect.arrayContaining([expect.toSatisfy((i: Invariant) => c.breaks.includes(i))]));
    // Without the bug, the same run keeps every invariant.
    const clean = await simulate({ seed: caught.seed, attempt: `n${cases.indexOf(c)}` });
    expect(clean.violations).toEqual([]);
  }, 600_000);
}
