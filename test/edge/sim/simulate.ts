/**
 * The seeded simulation of the whole system (TigerBeetle's VOPR, yjs's applyRandomTests): one
 * generator, seeded, drives every choice — the run's shape, each actor's step, each fault — while
 * the real Worker, the real SKU authorities and cart coordinators (real object storage) and the
 * real D1 ledger answer. After the steps, the run comes to rest (network healed, every terminal
 * synced, the clock past every hold, every outbox flushed) and the invariants are checked by name.
 *
 * A run is a function of its seed: `simulate({ seed })` twice does the same thing, and
 * `simulate({ seed, steps: k })` does exactly the first k steps of it, which is what `shrink`
 * uses to find the shortest prefix that still fails. (Ids the edge mints at random — transfer
 * ids, receipt movement ids, cart request ids — differ between replays; only a tie broken by one
 * of them could change an outcome.)
 */
import { Dexie } from "dexie";
import type { PlantedBug } from "../../../edge/sku/sku-authority";
import { rng } from "../../support/seeded";
import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { locations as locationsTable, regions, skus as skusTable } from "../../../ledger/schema";
import { Environment, Shopper, Staff, Terminal, type Actor, type Step } from "./actors";
import { checkAtRest, checkGrant, checkListed, INVARIANT_NAMES, type Invariant, type Violation } from "./checks";
import { CALM, type FaultKind, type FaultRates } from "./network";
import { World, type LocationSpec, type ObjectFaultKind } from "./world";

export interface SimOptions {
  readonly seed: number;
  /** Steps to run; by default the seed chooses (24–48). Fewer replays a prefix of the same run. */
  readonly steps?: number;
  readonly plantedBug?: PlantedBug;
  /** Told apart from other runs of the same seed in this file (ids must not collide). */
  readonly attempt?: string;
}

export interface SimReport {
  readonly seed: number;
  readonly steps: number;
  readonly violations: (Violation & { step: number | "rest" })[];
  readonly trace: readonly string[];
  readonly faults: Record<FaultKind | ObjectFaultKind, number>;
  readonly requests: number;
}

/** Rates at full weather; each run scales them by a factor its seed picks (calm to rough). */
const ROUGH: FaultRates = { dropRequest: 0.08, dropResponse: 0.08, duplicate: 0.08, delay: 0.06, lateCopy: 0.06, answeredAfterGivingUp: 0.08 };

/** Which actors a run has, and how many: the seed decides. */
function castOf(w: World): { terminals: Terminal[]; staff: Staff; actors: Actor[] } {
  const stores = w.locations.filter((l) => l.kind === "store");
  const terminals: Terminal[] = [];
  for (const [i, store] of stores.entries()) {
    const n = i === 0 ? w.int(1, 2) : w.int(0, 1);
    for (let t = 0; t < n; t++) terminals.push(new Terminal(w, `T${terminals.length + 1}`, `${w.rid}-t${terminals.length + 1}`, store.id));
  }
  const shoppers = Array.from({ length: w.int(1, 2) }, (_, i) => new Shopper(w, `C${i + 1}`, `${w.rid}-c${i + 1}`));
  const staff = new Staff(w, "staff", `${w.rid}-staff`);
  // Counts (CountSession) join here as actors once they exist: clerks counting, a manager approving.
  return { terminals, staff, actors: [...terminals, ...shoppers, staff, new Environment(w)] };
}

function choose(w: World, steps: readonly Step[]): Step {
  const total = steps.reduce((n, s) => n + s.weight, 0);
  let x = w.random() * total;
  for (const s of steps) {
    x -= s.weight;
    if (x < 0) return s;
  }
  const last = steps.at(-1);
  if (last === undefined) throw new Error("no steps");
  return last;
}

const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

export async function simulate(options: SimOptions): Promise<SimReport> {
  const { seed } = options;
  const random = rng(seed);
  const chosenSteps = 24 + Math.floor(random() * 25);
  const steps = Math.min(options.steps ?? chosenSteps, chosenSteps);
  const rid = `s${seed}${options.attempt ?? ""}`;
  const weather = random() < 0.2 ? 0 : random();
  const rates: FaultRates = Object.fromEntries(Object.entries(ROUGH).map(([k, v]) => [k, v * weather])) as unknown as FaultRates;
  const locations: LocationSpec[] = [
    { id: `${rid}-W`, kind: "warehouse", reserve: 0 },
    { id: `${rid}-S1`, kind: "store", reserve: Math.floor(random() * 3) },
    ...(random() < 0.5 ? [{ id: `${rid}-S2`, kind: "store" as const, reserve: 0 }] : []),
  ];
  const skus = Array.from({ length: 1 + Math.floor(random() * 2) }, (_, i) => `${rid}-K${i + 1}`);
  const w = new World(seed, rid, random, rates, skus, locations, options.plantedBug ?? "none");
  const violations: SimReport["violations"] = [];
  const found = (v: Violation, step: number | "rest") => {
    violations.push({ ...v, step });
    w.log(`!! ${v.invariant} (${INVARIANT_NAMES[v.invariant]}): ${v.detail}`);
  };
  const { terminals, staff, actors } = castOf(w);
  // I1 at the moment of a grant: checked as the Worker's answer arrives, before anything else is
  // delivered. A hold id seen before is a replayed answer, not a grant.
  const seenHolds = new Set<string>();
  w.network.afterDelivery = async (d) => {
    if (d.status !== 201 || d.wire.method !== "POST" || !/^\/v1\/carts\/[^/]+\/holds$/.test(d.wire.path)) return;
    const fresh = (d.body.holds as { holdId: string; sku: string; location: string }[]).filter((h) => !seenHolds.has(h.holdId));
    for (const h of fresh) seenHolds.add(h.holdId);
    w.holdsGranted += fresh.length;
    if (fresh.length > 0) for (const v of await checkGrant(w, fresh)) found(v, w.step);
  };
  w.log(`seed ${seed}: ${steps} steps, weather ${weather.toFixed(2)}, skus ${skus.join(" ")}, locations ${locations.map((l) => `${l.id}(${l.kind}, reserve ${l.reserve})`).join(" ")}, terminals ${terminals.map((t) => `${t.name}@${t.store}`).join(" ")}`);

  // What the objects warn about (a failed flush, a shortfall) goes into the trace, not the console.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => w.log(`  edge: ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ")}`);
  try {
    // The catalog, straight into D1 in one batch: setting up is not what is under test (the
    // catalog routes have their own tests), and a run's fixed cost is what bounds how many fit.
    const db = drizzle(env.DB);
    const at = new Date().toISOString();
    await db.batch([
      db.insert(regions).values({ id: "sim", name: "sim", updatedAt: at }).onConflictDoNothing(),
      ...locations.map((l) => db.insert(locationsTable).values({ id: l.id, kind: l.kind, regionId: "sim", name: l.id, reserve: l.reserve, updatedAt: at })),
      ...skus.map((sku) => db.insert(skusTable).values({ id: sku, name: sku, updatedAt: at })),
    ]);
    await w.prepare();
    await staff.stockUp();
    for (const t of terminals) await t.open();

    for (let i = 1; i <= steps; i++) {
      w.step = i;
      w.network.step = i;
      await w.prepare();
      const step = choose(w, actors.flatMap((a) => a.steps()));
      try {
        await step.run();
      } catch (error) {
        found({ invariant: "I7", detail: `step ${i} threw ${describe(error)}` }, i);
      }
      for (const v of await checkListed(w)) found(v, i);
    }
  } catch (error) {
    found({ invariant: "I7", detail: `the run threw ${describe(error)}` }, w.step);
  }
  try {
    w.step = steps + 1;
    w.note("rest: network heals, D1 answers, every terminal syncs, the clock passes every hold, every outbox flushes");
    // A failure to come to rest is itself a finding; the checks still look at whatever state is left.
    await comeToRest(w, terminals).catch((error: unknown) => found({ invariant: "I7", detail: `coming to rest threw ${describe(error)}` }, "rest"));
    for (const v of await checkAtRest(w, terminals)) found(v, "rest");
  } catch (error) {
    found({ invariant: "I7", detail: `the checks threw ${describe(error)}` }, "rest");
  } finally {
    console.warn = warn;
    for (const t of terminals) {
      await t.close().catch(() => undefined);
      await Dexie.delete(t.dbName).catch(() => undefined);
    }
  }
  return { seed, steps, violations, trace: w.trace, faults: { ...w.network.faults, ...w.objectFaults }, requests: w.network.deliveries.length };
}

async function comeToRest(w: World, terminals: readonly Terminal[]): Promise<void> {
  for (const sku of w.skus) if (w.sinkModes.get(sku) === "hang") await w.openGate(sku);
  for (const sku of w.skus) w.sinkModes.set(sku, "ok");
  await w.network.deliverAllLater();
  w.network.rates = CALM;
  await w.prepare();
  for (const t of terminals) {
    for (let round = 0; round < 6 && t.client !== null; round++) {
      if ((await t.client.listOps({ state: "pending", limit: 1 })).length === 0) break;
      await t.client.sync();
    }
  }
  // Past every hold's deadline and checkout pin (TTLs are at most 120 s; pins 60 s).
  w.nowMs += 10 * 60_000;
  for (const sku of w.skus) {
    // The alarm expires what is left; without holds it has nothing the flush below does not do.
    if (w.holdsGranted > 0) await w.alarm(sku);
    for (let round = 0; round < 20; round++) {
      const outcome = await w.flush(sku);
      if (outcome === "idle") break;
      if (outcome !== "more") throw new Error(`flush of ${sku} answered ${outcome} at rest`);
    }
  }
  // One more pull each, now that the ledger has everything: local stock must match the edge's.
  for (const t of terminals) await t.client?.sync();
}

/** Tells the tries of every shrink in the file apart (their ids must not collide). */
let shrinkTries = 0;

/**
 * The shortest prefix of a failing run that still fails the same way (one of `invariants`, by
 * default the first one it broke), by bisection on the number
 * of steps (each try is the same seed, replayed to step k). Bisection assumes a longer prefix of a
 * failing prefix fails too, which usually holds; the answer is a failing run either way.
 */
export async function shrink(failing: SimReport, plantedBug: PlantedBug = "none", invariants: readonly Invariant[] = failing.violations.slice(0, 1).map((v) => v.invariant)): Promise<SimReport> {
  let best = failing;
  let lo = 0;
  let hi = failing.steps;
  while (lo + 1 < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await simulate({ seed: failing.seed, steps: mid, plantedBug, attempt: `p${++shrinkTries}` });
    if (r.violations.some((v) => invariants.includes(v.invariant))) {
      best = r;
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return best;
}

/** What a failing run prints: the seed and how to replay it, what broke, and the trace around it. */
export function formatFailure(full: SimReport, shortest: SimReport, traceLinesMax = 80): string {
  const trace = shortest.trace.length <= traceLinesMax ? shortest.trace : ["…", ...shortest.trace.slice(-traceLinesMax)];
  return [
    `simulation seed ${full.seed} failed (replay: npm run sim -- --seed ${full.seed} --steps ${full.steps}; shortest failing prefix: --steps ${shortest.steps})`,
    ...full.violations.slice(0, 10).map((v) => `  ${v.invariant} ${INVARIANT_NAMES[v.invariant]} (step ${v.step}): ${v.detail}`),
    `trace of the shortest failing prefix (${shortest.steps} steps):`,
    ...trace.map((l) => `  ${l}`),
  ].join("\n");
}
