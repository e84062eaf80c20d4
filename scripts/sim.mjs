// `npm run sim -- [--runs N] [--seed N] [--steps N] [--base N] [--batch N]`: the seeded simulation
// of the whole system (test/edge/sim/, docs/simulation.md).
//
//   --seed N           replay one run exactly and print its trace (add --steps K for a prefix)
//   --runs N           long mode: N runs (default 1000), seeds base … base+N-1
//   --base N           first seed of the long mode (default random; printed)
//   --batch N          runs per vitest process (default 200, a quarter per file): each file gets a
//                      fresh workerd, D1 and object storage, so one batch never slows the next
//
// Each batch runs `vitest run --project edge test/edge/sim/simulation-` (the runs spread over four
// files, test/edge/sim/runs.ts says why) with SIM_RUNS and SEED (the base seed of the batch) passed
// to workerd as bindings (vitest.config.ts). At the end
// the totals are printed as a table and written to bench/results/sim.json.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { writeResults } from "../bench/lib/results.mjs";

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`sim: --${name} needs a whole number\n`);
    process.exit(2);
  }
  return value;
}

const seed = option("seed", null);
const steps = option("steps", null);
const runs = option("runs", 1000);
const batch = Math.max(1, option("batch", 200));
const base = option("base", Math.floor(Math.random() * 2 ** 31));

// vitest's build of the Worker needs the assets directory to exist, built or not.
mkdirSync(new URL("../dist/web", import.meta.url), { recursive: true });

const PARTIAL = new URL("../.bench/sim-partial.json", import.meta.url);
mkdirSync(new URL("../.bench", import.meta.url), { recursive: true });

const quiet = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true", WRANGLER_SEND_ERROR_REPORTS: "false" };

/** One vitest process; resolves with its exit code and what it printed. */
function vitest(env, echo) {
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", "--project", "edge", "test/edge/sim/simulation-"], { env: { ...process.env, ...quiet, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const take = (stream, to) =>
      stream.on("data", (chunk) => {
        out += chunk;
        if (echo) to.write(chunk);
      });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

if (seed !== null) {
  const { code } = await vitest({ SIM_SEED: String(seed), ...(steps === null ? {} : { SIM_STEPS: String(steps) }) }, true);
  process.exit(code);
}

process.stdout.write(`simulation: ${runs} runs from seed ${base} in batches of ${batch} (replay one with npm run sim -- --seed N)\n`);
const totals = { runs: 0, violations: 0, requests: 0, faults: {}, failedSeeds: [] };
const startedAtMs = Date.now();
let exitCode = 0;
for (let from = 0; from < runs; from += batch) {
  const n = Math.min(batch, runs - from);
  const { code, out } = await vitest({ SIM_RUNS: String(n), SEED: String(base + from), ...(steps === null ? {} : { SIM_STEPS: String(steps) }) }, false);
  // eslint-disable-next-line no-control-regex
  const plain = out.replace(/\x1b\[[0-9;]*m/g, "");
  const summaries = [...plain.matchAll(/simulation summary: (\{.*\})/g)].map((m) => JSON.parse(m[1]));
  for (const m of plain.matchAll(/simulation seed (\d+) failed[^\n]*/g)) totals.failedSeeds.push(Number(m[1]));
  if (summaries.length === 0) {
    process.stdout.write(plain);
    process.stderr.write(`sim: batch from seed ${base + from} ended without a summary (exit ${code})\n`);
    exitCode = 1;
    break;
  }
  for (const s of summaries) {
    totals.runs += s.runs;
    totals.violations += s.violations;
    totals.requests += s.requests;
    for (const [k, v] of Object.entries(s.faults)) totals.faults[k] = (totals.faults[k] ?? 0) + v;
  }
  if (code !== 0) {
    exitCode = 1;
    for (const block of plain.split("\n").filter((l) => /simulation seed \d+ failed|^\s+(I\d|changefeed) /.test(l)).slice(0, 20)) process.stdout.write(`${block}\n`);
  }
  const wallS = (Date.now() - startedAtMs) / 1000;
  // The totals so far, after every batch: a long run stopped early still leaves its figures.
  writeFileSync(PARTIAL, `${JSON.stringify({ base, ...totals, wallSeconds: Math.round(wallS), batch }, null, 2)}\n`);
  process.stdout.write(`  ${totals.runs}/${runs} runs, ${totals.violations} violations, ${wallS.toFixed(0)} s (${(wallS / totals.runs).toFixed(2)} s/run)\n`);
}

const wallS = (Date.now() - startedAtMs) / 1000;
const rows = [
  ["runs", totals.runs],
  ["requests delivered to the Worker", totals.requests],
  ...Object.entries(totals.faults).map(([k, v]) => [`faults: ${k}`, v]),
  ["violations", totals.violations],
  ["failed seeds", totals.failedSeeds.join(" ") || "none"],
  ["wall time", `${wallS.toFixed(0)} s (${(wallS / Math.max(1, totals.runs)).toFixed(2)} s/run)`],
];
const width = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`\n| ${"what".padEnd(width)} | value |\n|${"-".repeat(width + 2)}|-------|\n${rows.map(([k, v]) => `| ${String(k).padEnd(width)} | ${v} |`).join("\n")}\n`);
writeResults("sim", { base, runs: totals.runs, requests: totals.requests, faults: totals.faults, violations: totals.violations, failedSeeds: totals.failedSeeds, wallSeconds: Math.round(wallS), batch, at: new Date().toISOString() });
process.exit(exitCode);
