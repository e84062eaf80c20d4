// hot-sku: edgestock against what a retailer would otherwise run, in one run on one machine.
// Every target gets the same load, round by round, alternating targets within each scenario:
//
//   healthz   GET /healthz: the route without storage, each server's own ceiling
//   holds     POST /v1/carts/<new cart>/holds, 1 unit of one hot SKU (so one SKU object, or one
//             stock row, decides them all)
//   sales     a hold then POST /v1/carts/<that cart>/checkout, another hot SKU
//   race      1,000 shoppers, each on an open connection, send one hold at once for 100 units
//             (after the rounds, once per target): exactly 100 granted, 0 oversold (I1)
//
// Targets (each on a fresh state, started here and stopped afterwards):
//   workerd   edgestock on workerd directly, as `npm start` serves it (scripts/lib/workerd-server.mjs)
//   dev       edgestock through `wrangler dev`, as `npm run dev` runs it (or `--url` a running one)
//   pg-N      the PostgreSQL peer (bench/peers/pg-peer.mjs) with a pool of N connections, over
//             Debian's PostgreSQL 15 on a throwaway data directory, fsync on
//
//   npm run bench -- hot-sku [--duration S] [--rounds N] [--connections N] [--warmup S]
//                            [--pools 2,4,8,16] [--targets workerd,dev,pg] [--url URL]
//                            [--race-clients N] [--race-stock N]
//
// Defaults: 5 s per run, 2 rounds, 50 connections; about 5 minutes on a 2-core machine. For
// steadier figures: --duration 10 --rounds 3. Each figure is the round with the best throughput.
//
// Aims (issue 10), as ratios in the same run, for each edgestock target against the peer's best
// pool: holds/s ≥ 1.5× the peer's best holds/s; holds p99 ≤ that pool's p99; sales/s ≥ the peer's
// best sales/s; the race exact on every target. Missing a throughput aim is reported, not failed
// (the machine is shared and noisy); the exit code is 1 when a race oversold or a target could not
// be measured, 0 otherwise.
import autocannon from "autocannon";
import http from "node:http";
import os from "node:os";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { findPostgres, INSTALL_HINT } from "./peers/postgres.mjs";
import { benchTokens, edgestockOnDev, edgestockOnWorkerd, pgPeers, snapshotSources } from "./lib/targets.mjs";
import { writeResults } from "./lib/results.mjs";

const HOT_STOCK = 10_000_000;
const AIM_HOLDS_VS_PEER = 1.5;
const RACE_ANSWER_TIMEOUT_MS = 30_000;
const say = (msg) => process.stderr.write(`hot-sku: ${msg}\n`);

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: "string" },
      duration: { type: "string", default: "5" },
      connections: { type: "string", default: "50" },
      rounds: { type: "string", default: "2" },
      warmup: { type: "string", default: "2" },
      pools: { type: "string", default: "2,4,8,16" },
      targets: { type: "string", default: "workerd,dev,pg" },
      "race-clients": { type: "string", default: "1000" },
      "race-stock": { type: "string", default: "100" },
    },
    strict: true,
  });
  const num = (key, min, v = values[key]) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${key} must be a whole number >= ${min}`);
    return n;
  };
  const targets = values.targets.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = targets.filter((t) => !["workerd", "dev", "pg"].includes(t));
  if (unknown.length > 0 || targets.length === 0) throw new Error(`--targets: unknown ${unknown.join(", ") || "(none)"}; known: workerd, dev, pg`);
  return {
    url: values.url ?? process.env.BENCH_URL,
    duration: num("duration", 1),
    connections: num("connections", 1),
    rounds: num("rounds", 1),
    warmup: num("warmup", 0),
    pools: values.pools.split(",").map((p) => num("pools", 1, p)),
    targets,
    raceClients: num("race-clients", 1),
    raceStock: num("race-stock", 1),
  };
}

// ---------------------------------------------------------------------------------------------
// Load

let cartSeq = 0;
const newCart = (tag) => `hs-${tag}-${(++cartSeq).toString(36)}`;
const holdBody = (sku) => JSON.stringify({ lines: [{ sku, qty: 1 }] });

function summarize(result, extra = {}) {
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    ...extra,
  };
}

const healthzRun = (o, t, seconds) => autocannon({ url: `${t.base}/healthz`, connections: o.connections, duration: seconds }).then((r) => summarize(r));

function holdsRun(o, t, seconds, tokens) {
  const body = holdBody(t.skus.holds);
  const tag = `${t.name}-${Date.now().toString(36)}`;
  return autocannon({
    url: t.base,
    connections: o.connections,
    duration: seconds,
    requests: [
      {
        method: "POST",
        path: "/v1/carts/placeholder/holds",
        headers: { authorization: `Bearer ${tokens.shopper}`, "content-type": "application/json" },
        body,
        // Every hold its own cart, as a shopper's first hold is.
        setupRequest: (req) => ({ ...req, path: `/v1/carts/${newCart(tag)}/holds` }),
      },
    ],
  }).then((r) => summarize(r));
}

/** A sale is two requests; sales/s counts the checkouts that answered 200, per second of the run. */
async function salesRun(o, t, seconds, tokens) {
  const body = holdBody(t.skus.sales);
  const tag = `${t.name}-s-${Date.now().toString(36)}`;
  const auth = { authorization: `Bearer ${tokens.shopper}` };
  const tally = { holds: {}, checkouts: {}, saleMs: [] };
  const bump = (table, status) => {
    table[status] = (table[status] ?? 0) + 1;
  };
  const r = await autocannon({
    url: t.base,
    connections: o.connections,
    duration: seconds,
    requests: [
      {
        method: "POST",
        path: "/v1/carts/placeholder/holds",
        headers: { ...auth, "content-type": "application/json" },
        body,
        setupRequest: (req, ctx) => {
          ctx.cart = newCart(tag);
          ctx.t0 = performance.now();
          return { ...req, path: `/v1/carts/${ctx.cart}/holds` };
        },
        onResponse: (status, _body, ctx) => {
          bump(tally.holds, status);
          ctx.held = status === 201;
        },
      },
      {
        method: "POST",
        path: "/v1/carts/placeholder/checkout",
        headers: auth,
        // A refused hold leaves nothing to check out: the next sale starts instead.
        setupRequest: (req, ctx) => (ctx.held ? { ...req, path: `/v1/carts/${ctx.cart}/checkout` } : null),
        onResponse: (status, _body, ctx) => {
          bump(tally.checkouts, status);
          if (status === 200) tally.saleMs.push(performance.now() - ctx.t0);
        },
      },
    ],
  });
  const secs = r.duration > 0 ? r.duration : seconds;
  const sales = tally.checkouts[200] ?? 0;
  return summarize(r, { sales, salesPerSec: sales / secs, saleP50: percentile(tally.saleMs, 50), saleP99: percentile(tally.saleMs, 99), holdStatuses: tally.holds, checkoutStatuses: tally.checkouts });
}

function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
}

/**
 * `clients` shoppers, each on its own already-open keep-alive connection, send one hold each at
 * the same moment for a SKU with `stock` units.
 */
async function race(o, t, tokens) {
  const sku = t.skus.race;
  const url = new URL(t.base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity, keepAliveMsecs: 30_000 });
  const send = (method, path, headers = {}, body, onSent) =>
    new Promise((resolve) => {
      const req = http.request(
        { host: url.hostname, port: url.port, method, path, agent, headers: { ...headers, ...(body ? { "content-length": Buffer.byteLength(body) } : {}) } },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
        },
      );
      req.on("error", (e) => resolve({ status: 0, body: e.message }));
      // An answer that never comes is counted (as a socket error), not waited for forever.
      req.setTimeout(RACE_ANSWER_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${RACE_ANSWER_TIMEOUT_MS / 1000} s`)));
      if (onSent) req.on("finish", onSent);
      req.end(body);
    });

  // Open every connection first, so the burst is not throttled by TCP handshakes.
  await Promise.all(Array.from({ length: o.raceClients }, () => send("GET", "/healthz")));
  const headers = { authorization: `Bearer ${tokens.shopper}`, "content-type": "application/json" };
  const body = holdBody(sku);
  let sent = 0;
  let sentBeforeFirstAnswer = null;
  const t0 = performance.now();
  const answers = await Promise.all(
    Array.from({ length: o.raceClients }, (_, i) =>
      send("POST", `/v1/carts/race-${t.name}-${i}/holds`, headers, body, () => sent++).then((r) => {
        sentBeforeFirstAnswer ??= sent;
        return r;
      }),
    ),
  );
  const wallMs = Math.round(performance.now() - t0);
  agent.destroy();

  const granted = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status === 409);
  const other = answers.filter((a) => a.status !== 201 && a.status !== 409);
  const otherByStatus = {};
  for (const a of other) otherByStatus[a.status === 0 ? "socket error" : a.status] = (otherByStatus[a.status === 0 ? "socket error" : a.status] ?? 0) + 1;
  const grantedUnits = granted.reduce((n, a) => {
    try {
      return n + JSON.parse(a.body).holds.reduce((m, h) => m + h.qty, 0);
    } catch {
      // A 201 whose body is not the contract: counted as one unit, and visible in `other` checks below.
      return n + 1;
    }
  }, 0);
  const after = await t.availability(sku);
  const oversold = Math.max(0, grantedUnits - o.raceStock);
  return {
    sku,
    clients: o.raceClients,
    stock: o.raceStock,
    sentBeforeFirstAnswer,
    wallMs,
    granted: granted.length,
    grantedUnits,
    refused: refused.length,
    other: other.length,
    otherByStatus,
    otherSample: other[0]?.body?.slice(0, 300),
    oversold,
    after: { onHand: after?.onHand, held: after?.held, available: after?.available },
    exact: oversold === 0 && grantedUnits === o.raceStock && after?.available === 0 && after?.held === grantedUnits,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (n, digits = 0) => (n === undefined || n === null || Number.isNaN(n) ? "–" : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const mark = (ok) => (ok ? "met" : "**missed**");

function bestOf(runs, target, scenario, key = "reqPerSec") {
  const mine = runs.filter((r) => r.target === target && r.scenario === scenario);
  return mine.length === 0 ? undefined : mine.reduce((a, b) => ((b[key] ?? 0) > (a[key] ?? 0) ? b : a));
}

function summaries(result) {
  const rows = result.targets.map((t) => {
    const healthz = bestOf(result.runs, t.name, "healthz");
    const holds = bestOf(result.runs, t.name, "holds");
    const sales = bestOf(result.runs, t.name, "sales", "salesPerSec");
    return { target: t.name, label: t.label, healthz, holds, sales, race: result.races[t.name] };
  });
  const peers = rows.filter((r) => r.target.startsWith("pg-") && r.holds !== undefined);
  const peerHolds = peers.length === 0 ? undefined : peers.reduce((a, b) => (b.holds.reqPerSec > a.holds.reqPerSec ? b : a));
  const peerSales = peers.filter((r) => r.sales !== undefined).reduce((a, b) => (a === undefined || b.sales.salesPerSec > a.sales.salesPerSec ? b : a), undefined);
  const raceExactEverywhere = rows.every((r) => r.race?.exact === true);
  const aims = {};
  for (const r of rows.filter((x) => !x.target.startsWith("pg-"))) {
    if (peerHolds === undefined || r.holds === undefined) continue;
    aims[r.target] = {
      holdsVsPeer: r.holds.reqPerSec / peerHolds.holds.reqPerSec,
      holdsRps: r.holds.reqPerSec >= AIM_HOLDS_VS_PEER * peerHolds.holds.reqPerSec,
      p99VsPeer: r.holds.p99 / peerHolds.holds.p99,
      holdsP99: r.holds.p99 <= peerHolds.holds.p99,
      salesVsPeer: peerSales === undefined || r.sales === undefined ? null : r.sales.salesPerSec / peerSales.sales.salesPerSec,
      salesRps: peerSales !== undefined && r.sales !== undefined && r.sales.salesPerSec >= peerSales.sales.salesPerSec,
      raceExact: r.race?.exact === true,
    };
  }
  return { rows, peerHolds: peerHolds?.target, peerSales: peerSales?.target, raceExactEverywhere, aims };
}

function report(result) {
  const s = result.summary;
  const byName = Object.fromEntries(s.rows.map((r) => [r.target, r]));
  const lines = [];
  const m = result.machine;
  lines.push(`## hot-sku — ${result.date}`);
  lines.push("");
  lines.push(`machine: ${m.cpu} × ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}, ${m.platform}; load average ${m.loadBefore.map((x) => x.toFixed(1)).join("/")} before, ${m.loadAfter.map((x) => x.toFixed(1)).join("/")} after`);
  lines.push(`load: ${result.config.connections} connections × ${result.config.duration} s per run, ${result.config.rounds} rounds, targets alternating within each scenario, a new cart per hold; each figure is the target's best round`);
  if (result.peer?.skipped) lines.push(`peer: skipped (${result.peer.skipped})`);
  else if (result.peer) lines.push(`peer: PostgreSQL ${result.peer.version}, fsync ${result.peer.fsync}, synchronous_commit ${result.peer.synchronousCommit}`);
  lines.push("");
  lines.push("| target | healthz req/s | holds/s | holds p50 ms | holds p99 ms | sales/s | sale p99 ms | race granted | race oversold | non-2xx (holds / sales) |");
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const r of s.rows) {
    const best = r.target === s.peerHolds ? " (peer's best holds)" : "";
    lines.push(
      `| ${r.label}${best} | ${fmt(r.healthz?.reqPerSec)} | ${fmt(r.holds?.reqPerSec)} | ${fmt(r.holds?.p50)} | ${fmt(r.holds?.p99)} | ${fmt(r.sales?.salesPerSec)} | ${fmt(r.sales?.saleP99)} | ${fmt(r.race?.granted)} | ${fmt(r.race?.oversold)} | ${fmt(r.holds?.non2xx)} / ${fmt(r.sales?.non2xx)} |`,
    );
  }
  lines.push("");
  const edge = Object.keys(s.aims);
  if (edge.length > 0) {
    const peerH = byName[s.peerHolds];
    const peerS = byName[s.peerSales];
    lines.push(`| aim (against the peer's best: holds ${fmt(peerH.holds.reqPerSec)}/s, p99 ${fmt(peerH.holds.p99)} ms at ${peerH.label}; sales ${fmt(peerS?.sales?.salesPerSec)}/s at ${peerS?.label ?? "–"}) | ${edge.map((t) => byName[t].label).join(" | ")} |`);
    lines.push(`|---|${edge.map(() => "---:").join("|")}|`);
    lines.push(`| holds/s ≥ ${AIM_HOLDS_VS_PEER}× the peer's best | ${edge.map((t) => `${fmt(s.aims[t].holdsVsPeer, 2)}× ${mark(s.aims[t].holdsRps)}`).join(" | ")} |`);
    lines.push(`| holds p99 ≤ the peer's p99 | ${edge.map((t) => `${fmt(s.aims[t].p99VsPeer, 2)}× ${mark(s.aims[t].holdsP99)}`).join(" | ")} |`);
    lines.push(`| sales/s ≥ the peer's best | ${edge.map((t) => `${fmt(s.aims[t].salesVsPeer, 2)}× ${mark(s.aims[t].salesRps)}`).join(" | ")} |`);
    lines.push(`| race exact (${fmt(result.config.raceStock)} granted of ${fmt(result.config.raceClients)}, 0 oversold) | ${edge.map((t) => mark(s.aims[t].raceExact)).join(" | ")} |`);
    lines.push("");
    lines.push(`race exact on every target, the peer's included: ${s.raceExactEverywhere ? "yes" : "**no**"}`);
    lines.push("");
  }
  lines.push("Every run:");
  lines.push("");
  lines.push("| round | scenario | target | req/s | p50 ms | p99 ms | sales/s | requests | non-2xx | errors | status codes |");
  lines.push("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const r of result.runs) {
    const codes = Object.entries(r.statusCodes).map(([k, v]) => `${k}: ${fmt(v)}`).join(", ");
    lines.push(`| ${r.round} | ${r.scenario} | ${r.target} | ${fmt(r.reqPerSec)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.salesPerSec)} | ${fmt(r.requests)} | ${fmt(r.non2xx)} | ${fmt(r.errors + r.timeouts)} | ${codes} |`);
  }
  lines.push("");
  lines.push(`Races: ${fmt(result.config.raceClients)} shoppers for ${fmt(result.config.raceStock)} units, every connection open beforehand`);
  lines.push("");
  lines.push("| target | granted (201) | refused (409) | other | oversold | after: onHand / held / available | sent before the first answer | last answer ms | exact |");
  lines.push("|---|---:|---:|---:|---:|---|---:|---:|---|");
  for (const [name, rc] of Object.entries(result.races)) {
    if (rc.error) {
      lines.push(`| ${name} | – | – | – | – | ${rc.error} | – | – | **no** |`);
      continue;
    }
    lines.push(`| ${name} | ${fmt(rc.granted)} | ${fmt(rc.refused)} | ${fmt(rc.other)}${rc.other > 0 ? ` (${Object.entries(rc.otherByStatus).map(([k, v]) => `${k}: ${v}`).join(", ")})` : ""} | ${fmt(rc.oversold)} | ${fmt(rc.after.onHand)} / ${fmt(rc.after.held)} / ${fmt(rc.after.available)} | ${fmt(rc.sentBeforeFirstAnswer)} | ${fmt(rc.wallMs)} | ${rc.exact ? "yes" : "**no**"} |`);
  }
  for (const f of result.failures) lines.push(`\nnot measured: ${f}`);
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// Run

export async function main(argv = []) {
  let o;
  try {
    o = options(argv);
  } catch (e) {
    say(e.message);
    return 2;
  }
  const tokens = benchTokens();
  const targets = [];
  const stoppers = [];
  const failures = [];
  let peer;
  // Ctrl+C or a crash must not leave servers or a PostgreSQL data directory behind.
  const stopNow = () => {
    for (const s of stoppers) s.stopNow();
  };
  process.once("exit", stopNow);
  const onSignal = (signal) => {
    say(`stopping (${signal})`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const loadBefore = os.loadavg();
  const sources = snapshotSources();
  stoppers.push({ stop: async () => sources.remove(), stopNow: sources.remove });

  try {
    if (o.targets.includes("workerd")) {
      say("starting edgestock on workerd directly");
      try {
        const t = await edgestockOnWorkerd({ tokens, sources, log: (l) => say(`  ${l}`) });
        stoppers.push(t);
        targets.push(t);
      } catch (e) {
        failures.push(`edgestock on workerd: ${e.message}`);
        say(`edgestock on workerd did not start: ${e.message}`);
      }
    }
    if (o.targets.includes("dev")) {
      say(o.url === undefined ? "starting edgestock through wrangler dev (as npm run dev)" : `using the edgestock at ${o.url}`);
      try {
        const t = await edgestockOnDev({ tokens, sources, log: (l) => say(`  ${l}`), url: o.url });
        stoppers.push(t);
        targets.push(t);
      } catch (e) {
        failures.push(`edgestock through wrangler dev: ${e.message}`);
        say(`edgestock through wrangler dev did not start: ${e.message}`);
      }
    }
    if (o.targets.includes("pg")) {
      if (findPostgres() === null) {
        peer = { skipped: `PostgreSQL not found: ${INSTALL_HINT}` };
        say(`the PostgreSQL peer is skipped: ${peer.skipped}`);
      } else {
        say(`starting PostgreSQL and the peer at pools ${o.pools.join(", ")}`);
        try {
          const peers = await pgPeers({ pools: o.pools, tokens, log: (l) => say(`  ${l}`) });
          stoppers.push(peers);
          targets.push(...peers.targets);
          peer = { ...peers.info, stop: peers.stop };
        } catch (e) {
          failures.push(`PostgreSQL peer: ${e.message}`);
          say(`the PostgreSQL peer did not start: ${e.message}`);
        }
      }
    }
    if (targets.length === 0) {
      say("nothing to measure");
      return 1;
    }

    const tag = Date.now().toString(36).toUpperCase();
    for (const t of [...targets]) {
      t.skus = { holds: `HOT-H-${tag}`, sales: `HOT-S-${tag}`, race: `RACE-${tag}` };
      try {
        await t.stockSku(t.skus.holds, HOT_STOCK);
        await t.stockSku(t.skus.sales, HOT_STOCK);
        await t.stockSku(t.skus.race, o.raceStock);
        // One hold first: a broken route fails here with its answer, not as thousands of non-2xx.
        const probe = await fetch(`${t.base}/v1/carts/probe-${tag}/holds`, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens.shopper}`, "content-type": "application/json" },
          body: holdBody(t.skus.holds),
        });
        const text = await probe.text();
        if (probe.status !== 201) throw new Error(`POST /v1/carts/probe-${tag}/holds -> ${probe.status}: ${text.slice(0, 300)}`);
      } catch (e) {
        failures.push(`${t.label}: setup failed: ${e.message}`);
        say(`${t.label}: setup failed: ${e.message}`);
        targets.splice(targets.indexOf(t), 1);
      }
    }

    if (o.warmup > 0) {
      say(`warming up (${o.warmup} s of holds per target)`);
      for (const t of targets) await holdsRun(o, t, o.warmup, tokens);
    }

    const scenarios = [
      ["healthz", (t) => healthzRun(o, t, o.duration)],
      ["holds", (t) => holdsRun(o, t, o.duration, tokens)],
      ["sales", (t) => salesRun(o, t, o.duration, tokens)],
    ];
    const runs = [];
    for (let round = 1; round <= o.rounds; round++) {
      // The order of targets turns by one each round, so no target always follows the same one.
      const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]);
      for (const [scenario, run] of scenarios) {
        say(`round ${round}/${o.rounds}: ${scenario} (${o.duration} s each): ${order.map((t) => t.name).join(", ")}`);
        for (const t of order) runs.push({ round, scenario, target: t.name, ...(await run(t)) });
      }
    }

    const races = {};
    for (const t of targets) {
      say(`race on ${t.name}: ${o.raceClients} shoppers for ${o.raceStock} units`);
      try {
        races[t.name] = await race(o, t, tokens);
      } catch (e) {
        races[t.name] = { error: e.message, exact: false };
      }
    }

    const cpus = os.cpus();
    const result = {
      bench: "hot-sku",
      date: new Date().toISOString(),
      machine: {
        cpu: cpus[0]?.model?.trim() ?? "unknown",
        cores: cpus.length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        loadBefore,
        loadAfter: os.loadavg(),
      },
      config: { ...o, hotStock: HOT_STOCK, aimHoldsVsPeer: AIM_HOLDS_VS_PEER },
      peer: peer === undefined ? undefined : { version: peer.version, fsync: peer.fsync, synchronousCommit: peer.synchronousCommit, skipped: peer.skipped },
      targets: targets.map((t) => ({ name: t.name, label: t.label, skus: t.skus })),
      runs,
      races,
      failures,
    };
    result.summary = summaries(result);
    process.stdout.write(report(result));
    writeResults("hot-sku", result);

    const oversold = Object.values(races).some((r) => (r.oversold ?? 0) > 0);
    return oversold || failures.length > 0 ? 1 : 0;
  } finally {
    say("stopping the servers");
    for (const s of stoppers.reverse()) {
      try {
        await s.stop();
      } catch (e) {
        say(`stop failed: ${e.message}`);
      }
    }
    stoppers.length = 0;
    process.removeListener("exit", stopNow);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
