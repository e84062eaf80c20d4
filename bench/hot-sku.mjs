// hot-sku: how much of the Worker's plain HTTP throughput survives when every request is a hold
// on one SKU (so one SkuAuthority object decides them all), and whether a burst of shoppers
// racing for the last units ever gets more than there is (I1).
//
//   npm run bench -- hot-sku [--url URL] [--duration S] [--connections N] [--rounds N]
//                            [--warmup S] [--race-clients N] [--race-stock N] [--carts N]
//
// By default every hold goes to a new cart, as a shopper's first hold does; `--carts N` spreads
// the holds over N carts instead, which separates the cost of starting a cart from the hold itself.
//
// Needs a running server (`npm start`, which also seeds the W001 warehouse used here).
// Exit code: 1 when the race oversold or the server could not be benchmarked, 0 otherwise;
// missing the throughput aims is reported, not failed: the machine is shared and noisy.
import autocannon from "autocannon";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { readSecret, signToken } from "../scripts/lib/jwt.mjs";
import { apiClient } from "../scripts/lib/http.mjs";
import { ROOT } from "../scripts/lib/wrangler.mjs";
import { reachable, writeResults } from "./lib/results.mjs";

const LOCATION = "W001";
const HOT_STOCK = 10_000_000;
const AIM_RPS_RATIO = 0.75;
const AIM_P99_RATIO = 2;

const err = (msg) => process.stderr.write(`hot-sku: ${msg}\n`);

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: "string" },
      duration: { type: "string", default: "10" },
      connections: { type: "string", default: "50" },
      rounds: { type: "string", default: "2" },
      warmup: { type: "string", default: "2" },
      "race-clients": { type: "string", default: "1000" },
      "race-stock": { type: "string", default: "100" },
      carts: { type: "string", default: "0" },
    },
    strict: true,
  });
  const num = (key, min) => {
    const n = Number(values[key]);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${key} must be a whole number >= ${min}`);
    return n;
  };
  return {
    base: (values.url ?? process.env.BENCH_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, ""),
    duration: num("duration", 1),
    connections: num("connections", 1),
    rounds: num("rounds", 1),
    warmup: num("warmup", 0),
    raceClients: num("race-clients", 1),
    raceStock: num("race-stock", 1),
    carts: num("carts", 0),
  };
}

/** A SKU with `qty` units at LOCATION, created through the API like any other. */
async function stockedSku(admin, sku, qty) {
  await admin.request("PUT", `/v1/skus/${sku}`, { name: `Bench ${sku}` });
  try {
    await admin.request("POST", "/v1/receipts", { sku, location: LOCATION, qty }, { "idempotency-key": `bench.${sku}.${LOCATION}` });
  } catch (e) {
    if (e.status === 404) throw new Error(`${e.message}\n(is the demo data there? \`npm start\` seeds it, or run \`npm run seed\`)`);
    throw e;
  }
}

const holdBody = (sku) => JSON.stringify({ lines: [{ sku, qty: 1 }] });

function summarize(result) {
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
  };
}

function ceilingRun(o, seconds) {
  return autocannon({ url: `${o.base}/healthz`, connections: o.connections, duration: seconds });
}

// The middle rung: one request through the Worker to the hot SKU's object, which reads and answers
// without writing. Between it and the holds lies the cost of durable writes (the SKU and the cart).
function availabilityRun(o, seconds, sku) {
  return autocannon({ url: `${o.base}/v1/skus/${sku}/availability`, connections: o.connections, duration: seconds });
}

let cartSeq = 0;
function holdsRun(o, seconds, sku, shopperToken, tag) {
  const body = holdBody(sku);
  return autocannon({
    url: o.base,
    connections: o.connections,
    duration: seconds,
    requests: [
      {
        method: "POST",
        path: "/v1/carts/placeholder/holds",
        headers: { authorization: `Bearer ${shopperToken}`, "content-type": "application/json" },
        body,
        // Every request its own cart by default, so each is a fresh hold rather than a repeat of one.
        setupRequest: (req) => ({ ...req, path: `/v1/carts/hb-${tag}-${o.carts === 0 ? ++cartSeq : ++cartSeq % o.carts}/holds` }),
      },
    ],
  });
}

/**
 * `clients` shoppers, each on its own already-open keep-alive connection, send one hold each at
 * the same moment for a SKU with `stock` units.
 */
async function race(o, admin, shopperToken, tag) {
  const sku = `BENCH-RACE-${tag}`;
  await stockedSku(admin, sku, o.raceStock);

  const url = new URL(o.base);
  const transport = url.protocol === "https:" ? https : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity, keepAliveMsecs: 30_000 });
  const send = (method, path, headers = {}, body, onSent) =>
    new Promise((resolve) => {
      const req = transport.request(
        { host: url.hostname, port: url.port || undefined, method, path, agent, headers: { ...headers, ...(body ? { "content-length": Buffer.byteLength(body) } : {}) } },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
        },
      );
      req.on("error", (e) => resolve({ status: 0, body: e.message }));
      if (onSent) req.on("finish", onSent);
      req.end(body);
    });

  // Open every connection first, so the burst is not throttled by TCP handshakes.
  await Promise.all(Array.from({ length: o.raceClients }, () => send("GET", "/healthz")));
  const openSockets = Object.values(agent.freeSockets).reduce((n, list) => n + list.length, 0);

  const headers = { authorization: `Bearer ${shopperToken}`, "content-type": "application/json" };
  const body = holdBody(sku);
  // How many requests were fully written before the first answer came back: the real overlap.
  let sent = 0;
  let lastSentMs = 0;
  let sentBeforeFirstAnswer = null;
  let firstAnswerMs = null;
  const t0 = performance.now();
  const pending = [];
  for (let i = 0; i < o.raceClients; i++) {
    const onSent = () => {
      sent++;
      lastSentMs = performance.now() - t0;
    };
    pending.push(
      send("POST", `/v1/carts/race-${tag}-${i}/holds`, headers, body, onSent).then((r) => {
        if (firstAnswerMs === null) {
          firstAnswerMs = performance.now() - t0;
          sentBeforeFirstAnswer = sent;
        }
        return r;
      }),
    );
  }
  const answers = await Promise.all(pending);
  const wallMs = performance.now() - t0;
  agent.destroy();

  const granted = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status === 409);
  const other = answers.filter((a) => a.status !== 201 && a.status !== 409);
  const otherByStatus = {};
  for (const a of other) otherByStatus[a.status] = (otherByStatus[a.status] ?? 0) + 1;
  const refusedTypes = {};
  for (const a of refused) {
    let type = "?";
    try {
      type = JSON.parse(a.body).type;
    } catch {
      // Not problem+json; counted under "?".
    }
    refusedTypes[type] = (refusedTypes[type] ?? 0) + 1;
  }
  const grantedUnits = granted.reduce((n, a) => {
    try {
      return n + JSON.parse(a.body).holds.reduce((m, h) => m + h.qty, 0);
    } catch {
      return n + 1;
    }
  }, 0);

  const after = await admin.request("GET", `/v1/skus/${sku}/availability`);
  const oversold = Math.max(0, grantedUnits - o.raceStock);
  return {
    sku,
    clients: o.raceClients,
    stock: o.raceStock,
    openSockets,
    sentBeforeFirstAnswer,
    allSentMs: Math.round(lastSentMs),
    firstAnswerMs: Math.round(firstAnswerMs ?? 0),
    wallMs: Math.round(wallMs),
    granted: granted.length,
    grantedUnits,
    refused: refused.length,
    refusedTypes,
    other: other.length,
    otherByStatus,
    otherSample: other[0]?.body?.slice(0, 300),
    oversold,
    after: { onHand: after?.onHand, held: after?.held, available: after?.available },
    checks: {
      notOversold: oversold === 0,
      availableIsZero: after?.available === 0,
      heldEqualsGranted: after?.held === grantedUnits,
      onHandUnchanged: after?.onHand === o.raceStock,
    },
  };
}

const fmt = (n, digits = 0) => (n === undefined || n === null || Number.isNaN(n) ? "–" : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (x) => `${fmt(x * 100)} %`;
const pass = (ok) => (ok ? "PASS" : "MISS");

function report(r) {
  const { ceiling, availability, holds, ratios, aims, race: rc } = r;
  const lines = [];
  lines.push(`## hot-sku — ${r.date}`);
  lines.push("");
  lines.push(`machine: ${r.machine.cpu} × ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, node ${r.machine.node}, ${r.machine.platform}; server ${r.base}`);
  const carts = r.config.carts === 0 ? "a new cart per hold" : `holds spread over ${r.config.carts} carts`;
  lines.push(`load: ${r.config.connections} connections × ${r.config.duration} s per run, ${r.config.rounds} rounds alternating ceiling/availability/holds, ${carts}; each row is the round with the best req/s`);
  lines.push("");
  lines.push(`Aim: holds ≥ ${pct(AIM_RPS_RATIO)} of ceiling req/s → **${pass(aims.rps)}**; holds p99 ≤ ${AIM_P99_RATIO}× ceiling p99 → **${pass(aims.p99)}**`);
  lines.push("");
  lines.push("| scenario | req/s | p50 ms | p99 ms | non-2xx | req/s ratio to ceiling | p99 ratio to ceiling |");
  lines.push("|---|---:|---:|---:|---:|---:|---:|");
  lines.push(`| ceiling: \`GET /healthz\` | ${fmt(ceiling.reqPerSec)} | ${fmt(ceiling.p50)} | ${fmt(ceiling.p99)} | ${fmt(ceiling.non2xx)} | 100 % | 1.00× |`);
  lines.push(
    `| availability: \`GET /v1/skus/:sku/availability\`, same SKU (object read, no write) | ${fmt(availability.reqPerSec)} | ${fmt(availability.p50)} | ${fmt(availability.p99)} | ${fmt(availability.non2xx)} | ${pct(availability.reqPerSec / ceiling.reqPerSec)} | ${fmt(availability.p99 / ceiling.p99, 2)}× |`,
  );
  lines.push(
    `| holds: \`POST /v1/carts/:id/holds\`, 1 SKU | ${fmt(holds.reqPerSec)} | ${fmt(holds.p50)} | ${fmt(holds.p99)} | ${fmt(holds.non2xx)} | ${pct(ratios.rps)} (${pass(aims.rps)}) | ${fmt(ratios.p99, 2)}× (${pass(aims.p99)}) |`,
  );
  lines.push("");
  lines.push("Every round:");
  lines.push("");
  lines.push("| round | scenario | req/s | p50 ms | p99 ms | requests | non-2xx | errors | status codes |");
  lines.push("|---:|---|---:|---:|---:|---:|---:|---:|---|");
  for (const run of r.runs) {
    const codes = Object.entries(run.statusCodes).map(([k, v]) => `${k}: ${fmt(v)}`).join(", ");
    lines.push(`| ${run.round} | ${run.scenario} | ${fmt(run.reqPerSec)} | ${fmt(run.p50)} | ${fmt(run.p99)} | ${fmt(run.requests)} | ${fmt(run.non2xx)} | ${fmt(run.errors + run.timeouts)} | ${codes} |`);
  }
  lines.push("");
  lines.push(`### race: ${fmt(rc.clients)} shoppers, ${fmt(rc.stock)} units, one hold of 1 each`);
  lines.push("");
  lines.push("| clients | stock | granted (201) | refused (409) | other | oversold (must be 0) | availability after |");
  lines.push("|---:|---:|---:|---:|---:|---:|---|");
  const otherNote = rc.other ? ` (${Object.entries(rc.otherByStatus).map(([k, v]) => `${k === "0" ? "socket error" : k}: ${v}`).join(", ")})` : "";
  lines.push(
    `| ${fmt(rc.clients)} | ${fmt(rc.stock)} | ${fmt(rc.granted)} | ${fmt(rc.refused)} | ${fmt(rc.other)}${otherNote} | ${fmt(rc.oversold)} | onHand ${fmt(rc.after.onHand)}, held ${fmt(rc.after.held)}, available ${fmt(rc.after.available)} |`,
  );
  lines.push("");
  lines.push(
    `burst: ${fmt(rc.openSockets)} connections opened beforehand; all ${fmt(rc.clients)} holds written within ${fmt(rc.allSentMs)} ms, ${fmt(rc.sentBeforeFirstAnswer)} of them before the first answer (${fmt(rc.firstAnswerMs)} ms); last answer after ${fmt(rc.wallMs)} ms`,
  );
  const check = (ok, what) => `${ok ? "PASS" : "FAIL"} ${what}`;
  lines.push(
    `checks: ${[
      check(rc.checks.notOversold, "oversold = 0"),
      check(rc.checks.availableIsZero, "available = 0"),
      check(rc.checks.heldEqualsGranted, "held = granted"),
      check(rc.checks.onHandUnchanged, "onHand = stock"),
    ].join("; ")}`,
  );
  if (rc.refused) lines.push(`409 types: ${Object.entries(rc.refusedTypes).map(([k, v]) => `${k}: ${v}`).join(", ")}`);
  if (rc.otherSample) lines.push(`first other answer: ${rc.otherSample}`);
  return `${lines.join("\n")}\n`;
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
    err(`no edgestock answering GET ${o.base}/healthz.
  Start one in another terminal:  npm start
  or point at another server:     npm run bench -- hot-sku --url http://127.0.0.1:8788  (or BENCH_URL=...)`);
    return 1;
  }

  const secret = readSecret(ROOT);
  const now = Math.floor(Date.now() / 1000);
  const ttl = 3600;
  const admin = apiClient(o.base, signToken({ sub: "bench-admin", role: "admin", iat: now, exp: now + ttl }, secret));
  const shopperToken = signToken({ sub: "bench-shopper", role: "shopper", iat: now, exp: now + ttl }, secret);

  const tag = String(Date.now());
  const hotSku = `BENCH-HOT-${tag}`;
  try {
    await stockedSku(admin, hotSku, HOT_STOCK);
    // One hold first: a broken route should fail here with its answer, not as 100,000 non-2xx.
    const probe = await fetch(`${o.base}/v1/carts/probe-${tag}/holds`, {
      method: "POST",
      headers: { authorization: `Bearer ${shopperToken}`, "content-type": "application/json" },
      body: holdBody(hotSku),
    });
    const probeText = await probe.text();
    if (probe.status !== 201) throw new Error(`POST /v1/carts/probe-${tag}/holds -> ${probe.status}: ${probeText}`);
  } catch (e) {
    err(`setup failed: ${e.message}`);
    return 1;
  }

  const runTag = Date.now().toString(36);
  if (o.warmup > 0) {
    process.stderr.write(`hot-sku: warming up (${o.warmup} s each)\n`);
    await ceilingRun(o, o.warmup);
    await holdsRun(o, o.warmup, hotSku, shopperToken, `${runTag}w`);
  }

  const runs = [];
  for (let round = 1; round <= o.rounds; round++) {
    process.stderr.write(`hot-sku: round ${round}/${o.rounds}: ceiling, availability, holds (${o.duration} s each)\n`);
    runs.push({ round, scenario: "ceiling", ...summarize(await ceilingRun(o, o.duration)) });
    runs.push({ round, scenario: "availability", ...summarize(await availabilityRun(o, o.duration, hotSku)) });
    runs.push({ round, scenario: "holds", ...summarize(await holdsRun(o, o.duration, hotSku, shopperToken, `${runTag}${round}`)) });
  }
  const best = (scenario) => runs.filter((r) => r.scenario === scenario).reduce((a, b) => (b.reqPerSec > a.reqPerSec ? b : a));
  const ceiling = best("ceiling");
  const holds = best("holds");
  const availability = best("availability");
  const ratios = { rps: holds.reqPerSec / ceiling.reqPerSec, p99: holds.p99 / ceiling.p99 };
  const aims = { rps: ratios.rps >= AIM_RPS_RATIO, p99: ratios.p99 <= AIM_P99_RATIO };

  process.stderr.write(`hot-sku: race: ${o.raceClients} shoppers for ${o.raceStock} units\n`);
  let raceResult;
  try {
    raceResult = await race(o, admin, shopperToken, tag);
  } catch (e) {
    err(`race failed: ${e.message}`);
    return 1;
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
    },
    base: o.base,
    config: { duration: o.duration, connections: o.connections, rounds: o.rounds, warmup: o.warmup, carts: o.carts, hotSku, hotStock: HOT_STOCK, location: LOCATION },
    aims: { rps: aims.rps, p99: aims.p99, rpsRatioAtLeast: AIM_RPS_RATIO, p99RatioAtMost: AIM_P99_RATIO },
    ceiling,
    availability,
    holds,
    ratios,
    runs,
    race: raceResult,
  };

  process.stdout.write(report(result));
  writeResults("hot-sku", result);

  return raceResult.oversold > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
