// sync: how fast a terminal's queued ops drain to the edge, against the same ops sent one per
// request in the same run; twenty terminals draining at once; and what replaying a whole batch
// (a retry after a lost answer) costs.
//
//   npm run bench -- sync [--url URL] [--ops N] [--terminals N] [--per-terminal N] [--single N]
//
// A drain is what the store client's sync engine does: pushes of up to 500 ops, one after another,
// each waiting for its answer. Ops are sales spread over 50 SKUs of one store.
// Needs a running server (`npm start`).
import os from "node:os";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { readSecret, signToken } from "../scripts/lib/jwt.mjs";
import { apiClient, pool } from "../scripts/lib/http.mjs";
import { ROOT } from "../scripts/lib/wrangler.mjs";
import { reachable, writeResults } from "./lib/results.mjs";

const STORE = "S001";
const SKUS = 50;
const BATCH = 500;
const AIM_DRAIN_S = 10;
const AIM_RATIO = 5;

const err = (msg) => process.stderr.write(`sync: ${msg}\n`);
const fmt = (n, d = 0) => (n === null || n === undefined || Number.isNaN(n) ? "–" : n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: "string" },
      ops: { type: "string", default: "10000" },
      terminals: { type: "string", default: "20" },
      "per-terminal": { type: "string", default: "500" },
      single: { type: "string", default: "1000" },
    },
    strict: true,
  });
  const num = (k) => {
    const n = Number(values[k]);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${k} must be a positive whole number`);
    return n;
  };
  return {
    base: (values.url ?? process.env.BENCH_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, ""),
    ops: num("ops"),
    terminals: num("terminals"),
    perTerminal: num("per-terminal"),
    single: num("single"),
  };
}

const ops = (skus, n, firstSeq = 1) =>
  Array.from({ length: n }, (_, i) => ({ seq: firstSeq + i, kind: "sale", sku: skus[i % skus.length], qty: 1, occurredAt: new Date().toISOString() }));

async function push(base, token, terminalId, batch) {
  const res = await fetch(`${base}/v1/sync/push`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ terminalId, ops: batch }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`push -> ${res.status}: ${JSON.stringify(body)}`);
  return body.results;
}

/** Push `all` in batches of `size`, each after the previous answer; returns ms and result counts. */
async function drain(base, token, terminalId, all, size) {
  const counts = { applied: 0, duplicate: 0, rejected: 0 };
  const started = performance.now();
  for (let i = 0; i < all.length; i += size) {
    for (const r of await push(base, token, terminalId, all.slice(i, i + size))) counts[r.status] += 1;
  }
  return { ms: performance.now() - started, counts };
}

export async function main(argv = []) {
  let o;
  try {
    o = options(argv);
  } catch (e) {
    err(e.message);
    return 2;
  }
  if (!(await reachable(o.base))) {
    err(`no edgestock answering GET ${o.base}/healthz. Start one with: npm start`);
    return 1;
  }
  const secret = readSecret(ROOT);
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims) => signToken({ iat: now, exp: now + 3600, ...claims }, secret);
  const admin = apiClient(o.base, sign({ sub: "bench-admin", role: "admin" }));
  const tag = Date.now().toString(36);
  const skus = Array.from({ length: SKUS }, (_, i) => `BENCH-SYNC-${tag}-${i}`);
  await pool(skus, 8, async (sku) => {
    await admin.request("PUT", `/v1/skus/${sku}`, { name: sku });
    await admin.request("POST", "/v1/receipts", { sku, location: STORE, qty: 1_000_000 });
  });
  const terminal = (name) => ({ id: `bench-${tag}-${name}`, token: sign({ sub: `bench-${tag}-${name}`, role: "terminal", store: STORE }) });

  // Warm every SKU's object so that the first scenario does not pay for starting them.
  const warm = terminal("warm");
  await drain(o.base, warm.token, warm.id, ops(skus, SKUS), BATCH);

  process.stderr.write(`sync: one terminal, ${o.ops} ops in batches of ${BATCH}\n`);
  const one = terminal("one");
  const batched = await drain(o.base, one.token, one.id, ops(skus, o.ops), BATCH);

  process.stderr.write(`sync: the same kind of ops one per request (${o.single} of them)\n`);
  const single = terminal("single");
  const perRequest = await drain(o.base, single.token, single.id, ops(skus, o.single), 1);

  process.stderr.write(`sync: a whole batch again (a retry after a lost answer)\n`);
  const replay = await drain(o.base, one.token, one.id, ops(skus, BATCH, 1), BATCH);
  const fresh = await drain(o.base, one.token, one.id, ops(skus, BATCH, o.ops + 1), BATCH);

  process.stderr.write(`sync: ${o.terminals} terminals × ${o.perTerminal} ops at once\n`);
  const fleet = Array.from({ length: o.terminals }, (_, i) => terminal(`fleet-${i}`));
  const fleetStarted = performance.now();
  const fleetRuns = await Promise.all(fleet.map((t) => drain(o.base, t.token, t.id, ops(skus, o.perTerminal), BATCH)));
  const fleetMs = performance.now() - fleetStarted;

  const rate = (n, ms) => (n * 1000) / ms;
  const batchedRate = rate(o.ops, batched.ms);
  const singleRate = rate(o.single, perRequest.ms);
  const fleetOps = o.terminals * o.perTerminal;
  const result = {
    bench: "sync",
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model?.trim() ?? "unknown", cores: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.release()}` },
    base: o.base,
    config: { ops: o.ops, batch: BATCH, single: o.single, terminals: o.terminals, perTerminal: o.perTerminal, skus: SKUS },
    batched: { ms: batched.ms, opsPerSec: batchedRate, counts: batched.counts },
    perRequest: { ms: perRequest.ms, opsPerSec: singleRate, counts: perRequest.counts },
    ratio: batchedRate / singleRate,
    replay: { ms: replay.ms, counts: replay.counts, freshMs: fresh.ms, freshCounts: fresh.counts },
    fleet: { ms: fleetMs, opsPerSec: rate(fleetOps, fleetMs), slowestMs: Math.max(...fleetRuns.map((r) => r.ms)), counts: fleetRuns.reduce((a, r) => ({ applied: a.applied + r.counts.applied, duplicate: a.duplicate + r.counts.duplicate, rejected: a.rejected + r.counts.rejected }), { applied: 0, duplicate: 0, rejected: 0 }) },
    aims: { drainSeconds: batched.ms / 1000 <= AIM_DRAIN_S, ratio: batchedRate / singleRate >= AIM_RATIO },
  };

  const pass = (ok) => (ok ? "PASS" : "MISS");
  const lines = [
    `## sync — ${result.date}`,
    "",
    `machine: ${result.machine.cpu} × ${result.machine.cores} cores, node ${result.machine.node}, ${result.machine.platform}; server ${o.base}`,
    `ops: sales of 1 unit over ${SKUS} SKUs of store ${STORE}; batches of ${BATCH}, each pushed after the previous answer`,
    "",
    `Aim: ${fmt(o.ops)} ops drained in ≤ ${AIM_DRAIN_S} s → **${pass(result.aims.drainSeconds)}**; batched ≥ ${AIM_RATIO}× one-per-request → **${pass(result.aims.ratio)}**`,
    "",
    "| scenario | ops | time s | ops/s | applied | duplicate | rejected |",
    "|---|---:|---:|---:|---:|---:|---:|",
    `| one terminal drains its queue (batches of ${BATCH}) | ${fmt(o.ops)} | ${fmt(batched.ms / 1000, 2)} | ${fmt(batchedRate)} | ${fmt(batched.counts.applied)} | ${fmt(batched.counts.duplicate)} | ${fmt(batched.counts.rejected)} |`,
    `| the same ops one per request | ${fmt(o.single)} | ${fmt(perRequest.ms / 1000, 2)} | ${fmt(singleRate)} | ${fmt(perRequest.counts.applied)} | ${fmt(perRequest.counts.duplicate)} | ${fmt(perRequest.counts.rejected)} |`,
    `| ${o.terminals} terminals × ${fmt(o.perTerminal)} ops at once | ${fmt(fleetOps)} | ${fmt(fleetMs / 1000, 2)} (slowest terminal) | ${fmt(result.fleet.opsPerSec)} | ${fmt(result.fleet.counts.applied)} | ${fmt(result.fleet.counts.duplicate)} | ${fmt(result.fleet.counts.rejected)} |`,
    `| replay of a whole batch already applied | ${BATCH} | ${fmt(replay.ms / 1000, 3)} | ${fmt(rate(BATCH, replay.ms))} | ${fmt(replay.counts.applied)} | ${fmt(replay.counts.duplicate)} | ${fmt(replay.counts.rejected)} |`,
    `| a fresh batch of the same size, for comparison | ${BATCH} | ${fmt(fresh.ms / 1000, 3)} | ${fmt(rate(BATCH, fresh.ms))} | ${fmt(fresh.counts.applied)} | ${fmt(fresh.counts.duplicate)} | ${fmt(fresh.counts.rejected)} |`,
    "",
    `batched vs one per request: **${fmt(result.ratio, 1)}×**`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  writeResults("sync", result);
  const applied = batched.counts.applied + perRequest.counts.applied + result.fleet.counts.applied + fresh.counts.applied;
  const expectedApplied = o.ops + o.single + fleetOps + BATCH;
  if (applied !== expectedApplied || replay.counts.duplicate !== BATCH) {
    err(`expected ${expectedApplied} applied and ${BATCH} duplicates, got ${applied} and ${replay.counts.duplicate}`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
