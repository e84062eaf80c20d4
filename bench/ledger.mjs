// ledger: what the ledger flush costs. Sustained sales against one SKU and against many, once with
// the flush running and, in the same run, once with it paused (FLUSH_PAUSED=1) as the baseline;
// then what the flush did (D1 rows written per movement, movements per D1 batch, flush lag), how
// many Durable Object requests a sale takes, and what a million sales cost at list prices.
//
//   npm run bench -- ledger [--duration S] [--connections N] [--rounds N] [--warmup S]
//                           [--many N] [--count-duration S] [--scenarios a,b,...] [--ref GIT_REF]
//                           [--keep-state]
//
// Scenarios (each on its own SKUs, so the per-object flush counters of one never mix with another):
//   checkout-hot    a sale = POST /v1/carts/<new cart>/holds (1 unit) + POST .../checkout, one SKU
//   checkout-many   the same, the SKU taken round-robin from --many SKUs (default 200)
//   receipt-hot     POST /v1/receipts {sku, location: W001, qty: 1}: one movement per request
//   receipt-many    the same, round-robin over --many SKUs
//
// Needs no running server: for every scenario it starts its own `wrangler dev`, once flushing and
// once paused, one after the other (never two at once: the machine has 2 cores), each on a fresh
// temporary state directory, all from one snapshot of the sources taken at the start (the working
// tree, or --ref), so an edit made while the bench runs neither reloads a server nor mixes two
// versions. The order of the two alternates between rounds; throughput rows show the best round.
// About 10 minutes with the defaults (16 servers for the rounds, 8 for the counting runs).
//
// How each number is obtained:
//  - sales/s: 2xx checkouts (or 201 receipts) counted by the client, over autocannon's run time.
//    Ratios per sale divide by the sales the server completed (distinct orders in D1), because
//    autocannon stops with up to one sale per connection in flight that the server still finishes.
//  - flush counters: GET /v1/audit/skus/:sku for every SKU of a scenario, after the load stopped and
//    the outbox drained (polled until unflushed = 0), minus the same read taken before the load
//    (the setup receipt that stocks a SKU is flushed before the load starts). Summed over SKUs:
//    rows written ÷ movements, movements ÷ batches, events ÷ sales.
//  - flush lag: the audit's p50/p99 per SKU (its own percentiles over what that object flushed, the
//    setup receipt included), and, as a cross-check, pooled over every movement of the scenario
//    from D1 itself (movements.landed_at − recorded_at, setup receipts excluded), read with
//    `wrangler d1 execute` once the flushing server has stopped.
//  - Durable Object requests per sale: counted in a separate, shorter run of an instrumented copy
//    of the Worker (every RPC method of SkuAuthority and CartCoordinator and every alarm() counted,
//    plus the rows the objects' SQLite statements wrote and read), next to the number derived from
//    the code path; the same with the flush paused counts the alarms a paused server runs. The
//    throughput runs use the Worker unchanged.
//  - cost: those per-sale quantities times the list prices in PRICES (allowances ignored).
//
// Exit code: 1 when setup failed or an audit found a SKU inconsistent, 0 otherwise; missing an aim
// is reported, not failed: the machine is shared and noisy.
import autocannon from "autocannon";
import { spawn, execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ensureDevVars, readSecret, signToken } from "../scripts/lib/jwt.mjs";
import { apiClient, pool, waitFor200 } from "../scripts/lib/http.mjs";
import { ROOT, WRANGLER_JS, assertWranglerInstalled, wranglerEnv } from "../scripts/lib/wrangler.mjs";
import { writeResults } from "./lib/results.mjs";

const HOST = "127.0.0.1";
const REGION = "bench";
const LOCATION = "W001";
/** Stock of every SKU that sells: the largest receipt the API takes, far more than a run sells. */
const STOCK = 100_000_000;
/** Who stocks the SKUs: movements with this source are setup, not load (`source` is `api:<sub>`). */
const SETUP_SUB = "bench-setup";
const SETUP_SOURCE = `api:${SETUP_SUB}`;
const SETUP_CONCURRENCY = 8;
const DRAIN_TIMEOUT_MS = 30_000;
const HEALTH_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
/** With the flush paused, how long the counting run watches the objects idle after the load. */
const IDLE_SAMPLE_MS = 2_000;

const AIMS = { rowsPerMovement: 2, movementsPerBatch: 100, lagP99Ms: 2000, flushingVsPaused: 0.9 };

/**
 * Cloudflare list prices (Workers Paid), USD per million; included monthly allowances are ignored.
 * Checked against developers.cloudflare.com pricing pages (Workers, Durable Objects, D1, Queues).
 */
const PRICES = {
  workerRequest: 0.3,
  doRequest: 0.15, // HTTP requests, RPC method calls (one session each) and alarm invocations
  doDurationGbS: 12.5, // per million GB-s: not estimated here
  doRowWritten: 1.0, // SQLite-backed Durable Object storage
  doRowRead: 0.001,
  d1RowWritten: 1.0,
  d1RowRead: 0.001,
  queueOperation: 0.4, // per million operations; a message costs 3 (write, read, delete) per 64 KB
};
const QUEUE_OPS_PER_MESSAGE = 3;

const SCENARIOS = {
  "checkout-hot": { kind: "checkout", spread: "hot", label: "checkout sales, 1 SKU", prefix: "LCH" },
  "checkout-many": { kind: "checkout", spread: "many", label: "checkout sales, many SKUs", prefix: "LCM" },
  "receipt-hot": { kind: "receipt", spread: "hot", label: "receipts, 1 SKU", prefix: "LRH" },
  "receipt-many": { kind: "receipt", spread: "many", label: "receipts, many SKUs", prefix: "LRM" },
};
const WARM_SKU = "LWARM";

/** The RPC methods each object class serves (edge/stubs.ts), and the alarm: each call is a billed request. */
const RPC_METHODS = {
  SkuAuthority: ["availability", "check", "hold", "release", "prepareCheckout", "commit", "checkoutAll", "receive", "transferOut", "receiveTransfer", "writeOff", "auditView", "alarm"],
  CartCoordinator: ["addHolds", "view", "checkout", "releaseAll"],
  LedgerWriter: ["land"],
};

/** What the code path says one unit of each kind costs in Durable Object requests (without alarms). */
const DERIVED_RPC = {
  checkout: {
    perSale: 4,
    path: "hold: Worker→CartCoordinator.addHolds, →SkuAuthority.hold (+1 SkuAuthority.check per SKU only when a cart names 2+ SKUs); checkout of a one-SKU cart: Worker→CartCoordinator.checkout, →SkuAuthority.checkoutAll (a cart of several SKUs: prepareCheckout and commit per SKU)",
  },
  receipt: { perSale: 1, path: "Worker→SkuAuthority.receive" },
};

const say = (msg) => process.stderr.write(`ledger: ${msg}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: "string", default: "10" },
      connections: { type: "string", default: "50" },
      rounds: { type: "string", default: "2" },
      warmup: { type: "string", default: "2" },
      many: { type: "string", default: "200" },
      "count-duration": { type: "string", default: "5" },
      scenarios: { type: "string", default: Object.keys(SCENARIOS).join(",") },
      ref: { type: "string" },
      "keep-state": { type: "boolean", default: false },
      // Accepted so that `npm run bench -- --url ...` (every bench) does not stop here; unused.
      url: { type: "string" },
    },
    strict: true,
  });
  const num = (key, min) => {
    const n = Number(values[key]);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${key} must be a whole number >= ${min}`);
    return n;
  };
  const scenarios = values.scenarios.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = scenarios.filter((s) => !(s in SCENARIOS));
  if (unknown.length > 0 || scenarios.length === 0) throw new Error(`--scenarios: unknown ${unknown.join(", ") || "(none given)"}; known: ${Object.keys(SCENARIOS).join(", ")}`);
  return {
    duration: num("duration", 1),
    connections: num("connections", 1),
    rounds: num("rounds", 1),
    warmup: num("warmup", 0),
    many: num("many", 2),
    countDuration: num("count-duration", 0),
    scenarios,
    ref: values.ref,
    keepState: values["keep-state"],
    urlIgnored: values.url !== undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Sources, servers, wrangler

function git(args) {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

const SOURCE_PATHS = ["edge", "ledger", "wrangler.toml", "package.json", "tsconfig.json", "tsconfig.base.json"];

/** A copy of what the Worker is built from, in `app`, with the project's node_modules linked in. */
function snapshotSources(app, ref) {
  mkdirSync(app, { recursive: true });
  if (ref === undefined) {
    for (const p of SOURCE_PATHS) {
      if (existsSync(join(ROOT, p))) cpSync(join(ROOT, p), join(app, p), { recursive: true });
    }
  } else {
    const present = SOURCE_PATHS.filter((p) => git(["cat-file", "-e", `${ref}:${p}`]) !== null);
    const tar = execFileSync("git", ["archive", "--format=tar", ref, ...present], { cwd: ROOT, maxBuffer: 512 * 2 ** 20 });
    execFileSync("tar", ["-x", "-C", app], { input: tar });
  }
  symlinkSync(join(ROOT, "node_modules"), join(app, "node_modules"), "dir");
  // wrangler.toml's [assets] directory must exist; the bench asks for no file, so an empty one does.
  mkdirSync(join(app, "dist", "web"), { recursive: true });
  // wrangler dev reads the signing secret from .dev.vars next to wrangler.toml.
  ensureDevVars(ROOT);
  copyFileSync(join(ROOT, ".dev.vars"), join(app, ".dev.vars"));
}

/**
 * An entry that runs the Worker unchanged but counts what a sale costs: every RPC method call and
 * alarm of both object classes, the rows their SQLite statements wrote and read (`rowsWritten` and
 * `rowsRead` of each cursor, which is what SQLite-backed Durable Objects bill), setAlarm calls,
 * Worker fetches and queue deliveries. GET /__bench/counts answers the totals. One isolate serves
 * the Worker and its objects under wrangler dev, so one module-level tally sees them all; the
 * counting run checks that (SkuAuthority calls must appear).
 */
function countingEntrySource(rpcMethods) {
  return `// Generated by bench/ledger.mjs for its counting run; not part of the Worker.
import worker, { SkuAuthority as RealSkuAuthority, CartCoordinator as RealCartCoordinator, LedgerWriter as RealLedgerWriter } from "./edge/index.ts";

const RPC = ${JSON.stringify(rpcMethods)};
const counts = { calls: {}, sql: {}, setAlarm: {}, objects: {}, workerFetch: 0, queueBatches: 0, queueMessages: 0 };
const bump = (table, key, n = 1) => { table[key] = (table[key] ?? 0) + n; };

function tap(cls, ctx) {
  bump(counts.objects, cls);
  const sql = ctx.storage.sql;
  const exec = sql.exec;
  const pending = [];
  sql.exec = function (...args) {
    const cursor = exec.apply(sql, args);
    pending.push(cursor);
    return cursor;
  };
  const storage = ctx.storage;
  const setAlarm = storage.setAlarm;
  storage.setAlarm = function (...args) {
    bump(counts.setAlarm, cls);
    return setAlarm.apply(storage, args);
  };
  // Called after every counted method: by then each statement it ran has finished.
  return () => {
    const s = (counts.sql[cls] ??= { statements: 0, rowsWritten: 0, rowsRead: 0 });
    for (const c of pending.splice(0)) {
      s.statements += 1;
      s.rowsWritten += c.rowsWritten;
      s.rowsRead += c.rowsRead;
    }
  };
}

function counted(Real, cls) {
  class Counted extends Real {
    constructor(ctx, env) {
      const settle = tap(cls, ctx);
      super(ctx, env);
      this.__benchSettle = settle;
      settle();
    }
  }
  for (const name of RPC[cls]) {
    const original = Real.prototype[name];
    if (typeof original !== "function") continue;
    Object.defineProperty(Counted.prototype, name, {
      configurable: true,
      writable: true,
      value: async function (...args) {
        bump(counts.calls, cls + "." + name);
        try {
          return await original.apply(this, args);
        } finally {
          this.__benchSettle();
        }
      },
    });
  }
  return Counted;
}

export const SkuAuthority = counted(RealSkuAuthority, "SkuAuthority");
export const CartCoordinator = counted(RealCartCoordinator, "CartCoordinator");
export const LedgerWriter = counted(RealLedgerWriter, "LedgerWriter");
// The other classes, uncounted: a sale does not call them (the registry is joined once per SKU).
export { CountSession, OutboxRegistry } from "./edge/index.ts";

export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__bench/counts") return Response.json(counts);
    counts.workerFetch += 1;
    return worker.fetch(request, env, ctx);
  },
  async queue(batch, env, ctx) {
    counts.queueBatches += 1;
    counts.queueMessages += batch.messages.length;
    return worker.queue(batch, env, ctx);
  },
};
`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs wrangler in `cwd` to completion; resolves with its exit code and its output. */
function wrangler(cwd, args, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER_JS, ...args], { cwd, env: wranglerEnv(extraEnv), stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    const err = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => err.push(c));
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
  });
}

/** The server started last and still running: stopped on exit, on error and on Ctrl+C. */
let running = null;

/** `wrangler dev` on a free port over `persist`, flushing or paused; resolves once /healthz answers. */
async function startServer({ app, persist, paused, entry }) {
  const migrated = await wrangler(app, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], { CI: "true" });
  if (migrated.code !== 0) throw new Error(`wrangler d1 migrations apply failed (exit ${migrated.code}):\n${(migrated.stderr || migrated.stdout).slice(-2000)}`);

  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    WRANGLER_JS,
    "dev",
    ...(entry === undefined ? [] : [entry]),
    "--ip", HOST,
    "--port", String(port),
    "--inspector-port", String(inspectorPort),
    "--local",
    "--persist-to", persist,
    "--show-interactive-dev-session=false",
    // No access-log line per request: at several hundred requests a second that is work for the
    // proxy in both modes alike. Warnings and errors still come through (kept for failure reports).
    "--log-level", "warn",
    "--var", `FLUSH_PAUSED:${paused ? "1" : "0"}`,
  ];
  const child = spawn(process.execPath, args, { cwd: app, env: wranglerEnv(), stdio: ["ignore", "pipe", "pipe"], detached: process.platform !== "win32" });
  const tail = [];
  const keep = (chunk) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      tail.push(line);
      if (tail.length > 200) tail.shift();
    }
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });

  const server = {
    base: `http://${HOST}:${port}`,
    pid: child.pid,
    log: () => tail.join("\n"),
    errors: () => tail.filter((l) => /error|✘|uncaught|warn|fail/i.test(l)),
    async stop() {
      if (running === server) running = null;
      if (exited) return;
      const done = new Promise((resolve) => child.once("exit", resolve));
      killGroup(child, "SIGTERM");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), STOP_GRACE_MS);
      await done;
      clearTimeout(timer);
    },
    killNow() {
      if (!exited) killGroup(child, "SIGKILL");
    },
  };
  running = server;
  const healthy = await waitFor200(`${server.base}/healthz`, { timeoutMs: HEALTH_TIMEOUT_MS, isAlive: () => !exited });
  if (!healthy) {
    await server.stop();
    throw new Error(`wrangler dev did not answer GET /healthz within ${HEALTH_TIMEOUT_MS / 1000} s:\n${server.log().slice(-3000)}`);
  }
  return server;
}

function killGroup(child, signal) {
  try {
    if (process.platform === "win32") child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Rows of one SELECT against the local D1 in `persist` (the server must be stopped or idle). */
async function d1Select(app, persist, sql) {
  const r = await wrangler(app, ["d1", "execute", "DB", "--local", "--persist-to", persist, "--json", "--command", sql]);
  if (r.code !== 0) throw new Error(`wrangler d1 execute failed (exit ${r.code}): ${(r.stderr || r.stdout).slice(-1000)}`);
  const parsed = JSON.parse(r.stdout);
  return parsed[0]?.results ?? [];
}

// ---------------------------------------------------------------------------------------------
// Catalog, load, audits

function skusOf(scenario, many) {
  const s = SCENARIOS[scenario];
  if (s.spread === "hot") return [s.prefix];
  return Array.from({ length: many }, (_, i) => `${s.prefix}-${String(i).padStart(4, "0")}`);
}

/** Region, warehouse and every SKU, through the API; the warm-up SKU gets its stock now. */
async function setupCatalog(setup, plan) {
  await setup.request("PUT", `/v1/regions/${REGION}`, { name: "Bench" });
  await setup.request("PUT", `/v1/locations/${LOCATION}`, { kind: "warehouse", regionId: REGION, name: "Bench warehouse" });
  const all = [WARM_SKU, ...plan.flatMap((p) => p.skus)];
  await pool(all, SETUP_CONCURRENCY, (sku) => setup.request("PUT", `/v1/skus/${sku}`, { name: `Bench ${sku}` }));
  await setup.request("POST", "/v1/receipts", { sku: WARM_SKU, location: LOCATION, qty: STOCK }, { "idempotency-key": `bench.${WARM_SKU}` });
}

/**
 * Right before a scenario's load: SKUs that sell get STOCK units at W001; SKUs that only receive
 * need none, and one read starts their object instead. Done per scenario, not all at the start,
 * because an object left idle for a while is evicted (its flush counters start again from zero)
 * and, with the flush paused, restarts with a non-empty outbox.
 */
async function prepareScenario(setup, scenario, skus) {
  if (SCENARIOS[scenario].kind === "checkout") {
    await pool(skus, SETUP_CONCURRENCY, (sku) => setup.request("POST", "/v1/receipts", { sku, location: LOCATION, qty: STOCK }, { "idempotency-key": `bench.${sku}` }));
  } else {
    await pool(skus, SETUP_CONCURRENCY, (sku) => setup.request("GET", `/v1/skus/${sku}/availability`));
  }
}

/** Audits of `skus`, read again until nothing waits in their outboxes or `timeoutMs` passes. */
async function drainedAudits(admin, skus, { waitForDrain, timeoutMs = DRAIN_TIMEOUT_MS }) {
  const t0 = performance.now();
  const last = new Map();
  let pending = [...skus];
  for (;;) {
    await pool(pending, SETUP_CONCURRENCY, async (sku) => {
      last.set(sku, await admin.request("GET", `/v1/audit/skus/${sku}`));
    });
    if (!waitForDrain) break;
    pending = pending.filter((sku) => last.get(sku).unflushed > 0 || (last.get(sku).unflushedEvents ?? 0) > 0);
    if (pending.length === 0 || performance.now() - t0 > timeoutMs) break;
    await sleep(200);
  }
  return { audits: last, drained: pending.length === 0 || !waitForDrain, drainMs: Math.round(performance.now() - t0), notDrained: waitForDrain ? pending : [] };
}

let cartSeq = 0;

/** One autocannon run of a scenario. Counts outcomes itself (a sale is two requests). */
async function loadRun(base, scenario, skus, tokens, seconds, connections, tag) {
  const s = SCENARIOS[scenario];
  let next = 0;
  const pick = () => skus[next++ % skus.length];
  const tally = { first: {}, second: {}, units: 0, saleMs: [], samples: {} };
  const count = (table, status, body) => {
    table[status] = (table[status] ?? 0) + 1;
    if ((status < 200 || status > 299) && tally.samples[status] === undefined) tally.samples[status] = String(body ?? "").slice(0, 400);
  };
  let requests;
  if (s.kind === "checkout") {
    const auth = { authorization: `Bearer ${tokens.shopper}` };
    requests = [
      {
        method: "POST",
        path: "/v1/carts/placeholder/holds",
        headers: { ...auth, "content-type": "application/json" },
        setupRequest: (req, ctx) => {
          ctx.cart = `c${tag}-${++cartSeq}`;
          ctx.t0 = performance.now();
          return { ...req, path: `/v1/carts/${ctx.cart}/holds`, body: JSON.stringify({ lines: [{ sku: pick(), qty: 1 }] }) };
        },
        onResponse: (status, body, ctx) => {
          count(tally.first, status, body);
          ctx.held = status === 201;
        },
      },
      {
        method: "POST",
        path: "/v1/carts/placeholder/checkout",
        headers: auth,
        // A refused hold leaves nothing to check out: start the next sale instead.
        setupRequest: (req, ctx) => (ctx.held ? { ...req, path: `/v1/carts/${ctx.cart}/checkout` } : null),
        onResponse: (status, body, ctx) => {
          count(tally.second, status, body);
          if (status === 200) {
            tally.units += 1;
            tally.saleMs.push(performance.now() - ctx.t0);
          }
        },
      },
    ];
  } else {
    requests = [
      {
        method: "POST",
        path: "/v1/receipts",
        headers: { authorization: `Bearer ${tokens.admin}`, "content-type": "application/json" },
        setupRequest: (req, ctx) => {
          ctx.t0 = performance.now();
          return { ...req, body: JSON.stringify({ sku: pick(), location: LOCATION, qty: 1 }) };
        },
        onResponse: (status, body, ctx) => {
          count(tally.first, status, body);
          if (status === 201) {
            tally.units += 1;
            tally.saleMs.push(performance.now() - ctx.t0);
          }
        },
      },
    ];
  }
  const result = await autocannon({ url: base, connections, duration: seconds, requests });
  const seconds_ = result.duration > 0 ? result.duration : seconds;
  return {
    scenario,
    seconds: Math.round(seconds_ * 100) / 100,
    units: tally.units,
    unitsPerSec: tally.units / seconds_,
    httpRequests: result.requests.total,
    httpPerSec: result.requests.total / seconds_,
    p50: percentile(tally.saleMs, 50),
    p99: percentile(tally.saleMs, 99),
    requestP50: result.latency.p50,
    requestP99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses: s.kind === "checkout" ? { holds: tally.first, checkouts: tally.second } : { receipts: tally.first },
    samples: tally.samples,
  };
}

/**
 * The counting run's load: `connections` loops, each selling (or receiving) one unit after another
 * until the time is up, then finishing the unit it started. Unlike autocannon, which drops what is
 * in flight when its time ends, every hold it sends is followed by its checkout, so the counts
 * divide by the units exactly.
 */
async function closedLoop(base, scenario, skus, tokens, seconds, connections, tag) {
  const s = SCENARIOS[scenario];
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const send = (method, path, headers, body) =>
    new Promise((resolve) => {
      const req = http.request(
        { host: url.hostname, port: url.port, method, path, agent, headers: { ...headers, "content-length": body === undefined ? 0 : Buffer.byteLength(body) } },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            if (res.statusCode < 200 || res.statusCode > 299) {
              tally.samples[res.statusCode] ??= Buffer.concat(chunks).toString("utf8").slice(0, 400);
            }
            resolve(res.statusCode);
          });
        },
      );
      req.on("error", (e) => {
        tally.samples[0] ??= e.message;
        resolve(0);
      });
      req.end(body);
    });
  const tally = { first: {}, second: {}, units: 0, saleMs: [], requests: 0, non2xx: 0, errors: 0, samples: {} };
  const count = (table, status) => {
    table[status] = (table[status] ?? 0) + 1;
    tally.requests += 1;
    if (status === 0) tally.errors += 1;
    else if (status < 200 || status > 299) tally.non2xx += 1;
  };
  let next = 0;
  const pick = () => skus[next++ % skus.length];
  const shopper = { authorization: `Bearer ${tokens.shopper}` };
  const admin = { authorization: `Bearer ${tokens.admin}`, "content-type": "application/json" };
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let carts = 0;
  async function loop() {
    while (performance.now() < deadline) {
      const start = performance.now();
      if (s.kind === "checkout") {
        const cart = `k${tag}-${++carts}`;
        const held = await send("POST", `/v1/carts/${cart}/holds`, { ...shopper, "content-type": "application/json" }, JSON.stringify({ lines: [{ sku: pick(), qty: 1 }] }));
        count(tally.first, held);
        if (held !== 201) continue;
        const sold = await send("POST", `/v1/carts/${cart}/checkout`, shopper);
        count(tally.second, sold);
        if (sold !== 200) continue;
      } else {
        const got = await send("POST", "/v1/receipts", admin, JSON.stringify({ sku: pick(), location: LOCATION, qty: 1 }));
        count(tally.first, got);
        if (got !== 201) continue;
      }
      tally.units += 1;
      tally.saleMs.push(performance.now() - start);
    }
  }
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  return {
    scenario,
    seconds: Math.round(elapsed * 100) / 100,
    units: tally.units,
    unitsPerSec: tally.units / elapsed,
    httpRequests: tally.requests,
    httpPerSec: tally.requests / elapsed,
    p50: percentile(tally.saleMs, 50),
    p99: percentile(tally.saleMs, 99),
    requestP50: null,
    requestP99: null,
    non2xx: tally.non2xx,
    errors: tally.errors,
    timeouts: 0,
    statuses: s.kind === "checkout" ? { holds: tally.first, checkouts: tally.second } : { receipts: tally.first },
    samples: tally.samples,
  };
}

function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const FLUSH_KEYS = ["flushes", "batches", "movements", "events", "rowsWritten", "failures"];

/** What the flush did for `skus` between two audit reads, summed; lag as the audits report it. */
function flushDelta(before, after, skus) {
  const sum = Object.fromEntries(FLUSH_KEYS.map((k) => [k, 0]));
  const lags = [];
  let consistent = true;
  let unflushed = 0;
  const inconsistent = [];
  for (const sku of skus) {
    const a = after.get(sku);
    const b = before.get(sku);
    for (const k of FLUSH_KEYS) sum[k] += (a?.flush?.[k] ?? 0) - (b?.flush?.[k] ?? 0);
    if (a?.flush?.lagMs) lags.push({ sku, p50: a.flush.lagMs.p50, p99: a.flush.lagMs.p99 });
    if (a?.consistent !== true) {
      consistent = false;
      inconsistent.push(sku);
    }
    unflushed += (a?.unflushed ?? 0) - (b?.unflushed ?? 0);
  }
  const p99s = lags.map((l) => l.p99).filter((v) => v !== null);
  const p50s = lags.map((l) => l.p50).filter((v) => v !== null);
  return {
    ...sum,
    lagP50: p50s.length === 0 ? null : skus.length === 1 ? p50s[0] : percentile(p50s, 50),
    lagP99: p99s.length === 0 ? null : Math.max(...p99s),
    consistent,
    inconsistent: inconsistent.slice(0, 10),
    unflushedAfter: unflushed,
  };
}

// ---------------------------------------------------------------------------------------------
// One server: setup, warm-up, every scenario, audits

/**
 * One scenario on one fresh server: catalog, probe, warm-up, stock, the load, audits. A server per
 * scenario keeps scenarios from slowing each other: with the flush paused, every SKU object left
 * with a non-empty outbox keeps re-arming its alarm (see the report), so a paused server that had
 * already run the 200-SKU scenario would be busy with their alarms during the next one.
 */
async function serverRun(ctx, { scenario, paused, round, instrumented = false, seconds }) {
  const mode = paused ? "paused" : "flushing";
  const kind = SCENARIOS[scenario].kind;
  const skus = skusOf(scenario, ctx.o.many);
  const persist = mkdtempSync(join(ctx.tmp, `state-${round}-${scenario}-${mode}-`));
  say(`${instrumented ? "counting" : `round ${round}`}: ${scenario}, ${instrumented ? `instrumented ${mode}` : mode} server (fresh state)`);
  const server = await startServer({ app: ctx.app, persist, paused, entry: instrumented ? ctx.countingEntry : undefined });
  try {
    const admin = apiClient(server.base, ctx.tokens.admin);
    const setup = apiClient(server.base, ctx.tokens.setup);
    await setupCatalog(setup, [{ scenario, skus }]);

    // A broken route should fail here, with its answer, rather than as thousands of non-2xx.
    await probe(server.base, ctx.tokens);
    if (ctx.o.warmup > 0) await loadRun(server.base, kind === "checkout" ? "checkout-hot" : "receipt-hot", [WARM_SKU], ctx.tokens, ctx.o.warmup, ctx.o.connections, `w${round}${mode[0]}`);

    await prepareScenario(setup, scenario, skus);
    // The setup receipts land before the load, so they stay out of the load's counters.
    const baseline = await drainedAudits(admin, skus, { waitForDrain: !paused });
    if (!baseline.drained) throw new Error(`${scenario}: setup did not drain within ${DRAIN_TIMEOUT_MS / 1000} s: ${baseline.notDrained.slice(0, 5).join(", ")}`);

    // Counting: start from quiet totals (the queue delivers what earlier steps published a second
    // or so later) and drive the load with the closed loop, which leaves no half-done sale.
    const countsBefore = instrumented ? (paused ? await benchCounts(server.base) : await quietCounts(server.base)) : null;
    const tag = `${round}${mode[0]}${instrumented ? "i" : ""}`;
    const load = instrumented
      ? await closedLoop(server.base, scenario, skus, ctx.tokens, seconds, ctx.o.connections, tag)
      : await loadRun(server.base, scenario, skus, ctx.tokens, seconds, ctx.o.connections, tag);
    // Counting: with the flush running, wait until the flush and the queue are quiet, so that no
    // request of the audits below is counted with the sales. Paused, nothing goes quiet: count what
    // the load caused, then how many alarms the objects run per second with no load at all.
    let counts = null;
    if (instrumented && !paused) {
      counts = diffCounts(countsBefore, await quietCounts(server.base));
    } else if (instrumented) {
      const atEnd = await benchCounts(server.base);
      await sleep(IDLE_SAMPLE_MS);
      const idle = diffCounts(atEnd, await benchCounts(server.base));
      counts = diffCounts(countsBefore, atEnd);
      counts.idleAlarmsPerSec = ((idle.calls["SkuAuthority.alarm"] ?? 0) * 1000) / IDLE_SAMPLE_MS;
    }
    const after = await drainedAudits(admin, skus, { waitForDrain: !paused });
    const flush = flushDelta(baseline.audits, after.audits, skus);
    const row = {
      round,
      mode: instrumented ? `counting-${mode}` : mode,
      ...load,
      flush,
      drained: after.drained,
      drainMs: paused ? null : after.drainMs,
    };
    if (counts) row.counts = counts;
    say(
      `  ${fmt(load.unitsPerSec)} ${kind === "checkout" ? "sales" : "receipts"}/s` +
        (paused ? `, ${fmt(flush.unflushedAfter)} movements waiting (flush paused)` : `, ${fmt(flush.movements)} movements in ${fmt(flush.batches)} batches, drained in ${fmt(after.drainMs)} ms`) +
        (counts ? `; ${fmt(((counts.calls["SkuAuthority.alarm"] ?? 0) / Math.max(1, load.units)), 2)} alarms per unit` : "") +
        (counts?.idleAlarmsPerSec !== undefined ? `, ${fmt(counts.idleAlarmsPerSec)} alarms/s idle afterwards` : "") +
        (flush.consistent ? "" : `, INCONSISTENT: ${flush.inconsistent.join(", ")}`),
    );
    const serverErrors = server.errors();
    await server.stop();

    // From D1 itself: lag of every load movement, pooled (setup receipts excluded).
    if (!paused && !instrumented) {
      try {
        row.d1 = (await d1Lags(ctx.app, persist, [{ scenario, skus }]))[scenario];
      } catch (e) {
        row.d1 = null;
        say(`  (D1 cross-check skipped: ${e.message.split("\n")[0]})`);
      }
    }
    return { row, serverErrors: serverErrors.slice(-20) };
  } finally {
    await server.stop();
    if (!ctx.o.keepState) rmSync(persist, { recursive: true, force: true });
  }
}

async function probe(base, tokens) {
  const cart = `probe-${Date.now().toString(36)}`;
  const hold = await fetch(`${base}/v1/carts/${cart}/holds`, {
    method: "POST",
    headers: { authorization: `Bearer ${tokens.shopper}`, "content-type": "application/json" },
    body: JSON.stringify({ lines: [{ sku: WARM_SKU, qty: 1 }] }),
  });
  const holdText = await hold.text();
  if (hold.status !== 201) throw new Error(`probe: POST /v1/carts/${cart}/holds -> ${hold.status}: ${holdText}`);
  const checkout = await fetch(`${base}/v1/carts/${cart}/checkout`, { method: "POST", headers: { authorization: `Bearer ${tokens.shopper}` } });
  const checkoutText = await checkout.text();
  if (checkout.status !== 200) throw new Error(`probe: POST /v1/carts/${cart}/checkout -> ${checkout.status}: ${checkoutText}`);
}

async function d1Lags(app, persist, plan) {
  const rows = await d1Select(app, persist, `SELECT sku, ref, landed_at - recorded_at AS lag FROM movements WHERE source <> '${SETUP_SOURCE}'`);
  const events = await d1Select(app, persist, "SELECT sku, COUNT(*) AS n FROM events GROUP BY sku");
  const out = {};
  for (const { scenario, skus } of plan) {
    const mine = new Set(skus);
    const landed = rows.filter((r) => mine.has(r.sku));
    const lags = landed.map((r) => r.lag);
    // Units as the server completed them: a sale's movement names its order (ref); a receipt is one movement.
    const units = SCENARIOS[scenario].kind === "checkout" ? new Set(landed.map((r) => r.ref)).size : landed.length;
    out[scenario] = {
      units,
      movements: lags.length,
      events: events.filter((e) => mine.has(e.sku)).reduce((n, e) => n + e.n, 0),
      lagP50: percentile(lags, 50),
      lagP99: percentile(lags, 99),
      lagMax: lags.length === 0 ? null : Math.max(...lags),
    };
  }
  return out;
}

async function benchCounts(base) {
  const res = await fetch(`${base}/__bench/counts`);
  if (res.status !== 200) throw new Error(`GET /__bench/counts -> ${res.status}`);
  return res.json();
}

/** The counting server's totals once alarms and queue deliveries have stopped changing for 1.5 s. */
async function quietCounts(base) {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  let last = await benchCounts(base);
  let stableSince = Date.now();
  const key = (c) => JSON.stringify([c.calls["SkuAuthority.alarm"] ?? 0, c.queueMessages, c.sql.SkuAuthority?.rowsWritten ?? 0]);
  while (Date.now() < deadline) {
    await sleep(250);
    const now = await benchCounts(base);
    if (key(now) !== key(last)) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 1500) {
      return now;
    }
  }
  return last;
}

function diffCounts(before, after) {
  const sub = (a = {}, b = {}) => Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, (a[k] ?? 0) - (b[k] ?? 0)]).filter(([, v]) => v !== 0));
  const sql = {};
  for (const cls of new Set([...Object.keys(after.sql), ...Object.keys(before.sql)])) sql[cls] = sub(after.sql[cls], before.sql[cls]);
  return {
    calls: sub(after.calls, before.calls),
    sql,
    setAlarm: sub(after.setAlarm, before.setAlarm),
    objectsStarted: sub(after.objects, before.objects),
    workerFetch: after.workerFetch - before.workerFetch,
    queueBatches: after.queueBatches - before.queueBatches,
    queueMessages: after.queueMessages - before.queueMessages,
  };
}

// ---------------------------------------------------------------------------------------------
// Summaries and report

const sumOf = (rows, f) => rows.reduce((n, r) => n + (f(r) ?? 0), 0);

function summarize(o, runs, counting) {
  const out = {};
  for (const scenario of o.scenarios) {
    const kind = SCENARIOS[scenario].kind;
    const of = (mode) => runs.filter((r) => r.scenario === scenario && r.mode === mode);
    const best = (rows) => (rows.length === 0 ? null : rows.reduce((a, b) => (b.unitsPerSec > a.unitsPerSec ? b : a)));
    const flushing = of("flushing");
    const paused = of("paused");
    const bf = best(flushing);
    const bp = best(paused);
    // The flush over every flushing round together (counters summed, lag: the worst round).
    const f = Object.fromEntries(FLUSH_KEYS.map((k) => [k, sumOf(flushing, (r) => r.flush[k])]));
    const clientUnits = sumOf(flushing, (r) => r.units);
    const d1 = flushing.map((r) => r.d1).filter(Boolean);
    // Ratios per unit divide by the units the server completed (in D1), not by the client's count:
    // autocannon stops with up to one unit per connection in flight, which the server still completes.
    const serverUnits = d1.length === flushing.length && d1.length > 0 ? sumOf(d1, (d) => d.units) : null;
    const units = serverUnits ?? clientUnits;
    const lagP99 = Math.max(...flushing.map((r) => r.flush.lagP99 ?? -Infinity));
    const lagP50 = Math.max(...flushing.map((r) => r.flush.lagP50 ?? -Infinity));
    const flush = {
      clientUnits,
      serverUnits,
      units,
      ...f,
      rowsPerMovement: f.movements > 0 ? f.rowsWritten / f.movements : null,
      movementsPerBatch: f.batches > 0 ? f.movements / f.batches : null,
      movementsPerUnit: units > 0 ? f.movements / units : null,
      eventsPerUnit: units > 0 ? f.events / units : null,
      batchesPerUnit: units > 0 ? f.batches / units : null,
      flushesPerUnit: units > 0 ? f.flushes / units : null,
      lagP50: Number.isFinite(lagP50) ? lagP50 : null,
      lagP99: Number.isFinite(lagP99) ? lagP99 : null,
      d1LagP50: d1.length ? Math.max(...d1.map((d) => d.lagP50 ?? -Infinity)) : null,
      d1LagP99: d1.length ? Math.max(...d1.map((d) => d.lagP99 ?? -Infinity)) : null,
      d1Movements: d1.length ? sumOf(d1, (d) => d.movements) : null,
      d1Events: d1.length ? sumOf(d1, (d) => d.events) : null,
      drainMsMax: flushing.length ? Math.max(...flushing.map((r) => r.drainMs ?? 0)) : null,
      consistent: [...flushing, ...paused].every((r) => r.flush.consistent),
      allDrained: flushing.every((r) => r.drained),
      failures: f.failures,
    };
    const ratio = bf && bp && bp.unitsPerSec > 0 ? bf.unitsPerSec / bp.unitsPerSec : null;

    // Durable Object requests per unit: counted (instrumented run) and derived (code path + batches).
    const c = counting.find((r) => r.scenario === scenario && r.mode === "counting-flushing");
    const cp = counting.find((r) => r.scenario === scenario && r.mode === "counting-paused");
    const pausedAlarms = cp?.counts
      ? { alarmsPerUnit: (cp.counts.calls["SkuAuthority.alarm"] ?? 0) / Math.max(1, cp.units), alarmsDuringLoad: cp.counts.calls["SkuAuthority.alarm"] ?? 0, idleAlarmsPerSec: cp.counts.idleAlarmsPerSec, unitsPerSec: cp.unitsPerSec }
      : null;
    let counted = null;
    if (c?.counts && c.units > 0) {
      const calls = c.counts.calls;
      const rpc = Object.entries(calls).filter(([k]) => !k.endsWith(".alarm")).reduce((n, [, v]) => n + v, 0);
      const alarms = calls["SkuAuthority.alarm"] ?? 0;
      const sql = (cls, k) => c.counts.sql[cls]?.[k] ?? 0;
      counted = {
        units: c.units,
        unitsPerSec: c.unitsPerSec,
        perUnit: {
          workerFetch: c.counts.workerFetch / c.units,
          doRequests: (rpc + alarms) / c.units,
          rpc: rpc / c.units,
          alarms: alarms / c.units,
          byMethod: Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v / c.units])),
          doRowsWritten: (sql("SkuAuthority", "rowsWritten") + sql("CartCoordinator", "rowsWritten")) / c.units,
          doRowsWrittenSku: sql("SkuAuthority", "rowsWritten") / c.units,
          doRowsWrittenCart: sql("CartCoordinator", "rowsWritten") / c.units,
          doRowsRead: (sql("SkuAuthority", "rowsRead") + sql("CartCoordinator", "rowsRead")) / c.units,
          setAlarm: Object.values(c.counts.setAlarm).reduce((a, b) => a + b, 0) / c.units,
          queueMessages: c.counts.queueMessages / c.units,
          queueBatches: c.counts.queueBatches / c.units,
          flushBatches: c.flush.batches / c.units,
          auditEvents: c.flush.events / c.units,
        },
        raw: c.counts,
        sharedIsolate: (calls["SkuAuthority.receive"] ?? 0) + (calls["SkuAuthority.commit"] ?? 0) > 0,
      };
    }
    const derived = {
      rpcPerUnit: DERIVED_RPC[kind].perSale,
      path: DERIVED_RPC[kind].path,
      // Each SKU flush is an alarm of its authority and a request to the ledger writer.
      alarmsPerUnit: flush.flushesPerUnit,
      doRequestsPerUnit: flush.flushesPerUnit === null ? null : DERIVED_RPC[kind].perSale + 2 * flush.flushesPerUnit,
    };

    out[scenario] = { kind, label: SCENARIOS[scenario].label, skus: SCENARIOS[scenario].spread === "hot" ? 1 : o.many, flushing: bf, paused: bp, ratio, flush, counted, derived, pausedAlarms };
    out[scenario].cost = cost(out[scenario]);
    out[scenario].aims = {
      rowsPerMovement: flush.rowsPerMovement !== null && flush.rowsPerMovement <= AIMS.rowsPerMovement,
      movementsPerBatch: flush.movementsPerBatch !== null && flush.movementsPerBatch >= AIMS.movementsPerBatch,
      lagP99: flush.lagP99 !== null && flush.lagP99 <= AIMS.lagP99Ms,
      throughput: ratio !== null && ratio >= AIMS.flushingVsPaused,
    };
  }
  return out;
}

/** Dollars per million units (sales or receipts), item by item, at PRICES. */
function cost(s) {
  const httpPerUnit = s.kind === "checkout" ? 2 : 1;
  const doReq = s.counted?.perUnit.doRequests ?? s.derived.doRequestsPerUnit;
  const items = [
    { item: "Worker requests", perUnit: httpPerUnit, price: PRICES.workerRequest, how: "HTTP requests per unit" + (s.counted ? ` (counted: ${fmt(s.counted.perUnit.workerFetch, 2)})` : "") },
    { item: "Durable Object requests", perUnit: doReq, price: PRICES.doRequest, how: s.counted ? "counted (instrumented run): RPC calls + alarms" : "derived from code + audit batches" },
    { item: "D1 rows written", perUnit: s.flush.rowsPerMovement === null ? null : s.flush.rowsPerMovement * s.flush.movementsPerUnit, price: PRICES.d1RowWritten, how: "audit rowsWritten ÷ movements × movements per unit" },
    { item: "DO storage rows written", perUnit: s.counted?.perUnit.doRowsWritten ?? null, price: PRICES.doRowWritten, how: s.counted ? "counted: cursor rowsWritten, every statement of both objects" : "not counted" },
    { item: "DO storage rows read", perUnit: s.counted?.perUnit.doRowsRead ?? null, price: PRICES.doRowRead, how: s.counted ? "counted: cursor rowsRead" : "not counted" },
    { item: "Queue operations", perUnit: s.flush.eventsPerUnit === null ? null : s.flush.eventsPerUnit * QUEUE_OPS_PER_MESSAGE, price: PRICES.queueOperation, how: `audit events ÷ units × ${QUEUE_OPS_PER_MESSAGE}` },
  ];
  for (const i of items) i.dollarsPerMillion = i.perUnit === null ? null : i.perUnit * i.price;
  const total = items.reduce((n, i) => n + (i.dollarsPerMillion ?? 0), 0);
  return { items, total };
}

const fmt = (n, digits = 0) => (n === undefined || n === null || Number.isNaN(n) || !Number.isFinite(n) ? "–" : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (x) => (x === null ? "–" : `${fmt(x * 100)} %`);
const pass = (ok) => (ok ? "PASS" : "MISS");
const usd = (n) => (n === null ? "–" : `$${n < 0.01 && n > 0 ? n.toFixed(4) : n.toFixed(2)}`);
const codes = (statuses) =>
  Object.entries(statuses)
    .map(([what, byCode]) => `${what} ${Object.entries(byCode).map(([k, v]) => `${k}: ${fmt(v)}`).join(", ") || "none"}`)
    .join("; ");

function report(r) {
  const L = [];
  const scen = r.config.scenarios;
  const S = r.summary;
  const unit = (s) => (S[s].kind === "checkout" ? "sale" : "receipt");
  L.push(`## ledger — ${r.date}`);
  L.push("");
  L.push(`machine: ${r.machine.cpu} × ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, node ${r.machine.node}, ${r.machine.platform}; load average (1/5/15 min) at start ${r.machine.loadAtStart}, at end ${r.machine.loadAtEnd}`);
  L.push(`source: ${r.source.ref ?? "working tree"} at ${r.source.commit ?? "?"}${r.source.ref ? "" : `, ${r.source.dirtyFiles} changed file(s) under edge/ ledger/`}; wrangler dev --local --log-level warn, a fresh state directory per server`);
  L.push(
    `load: ${r.config.connections} connections × ${r.config.duration} s per scenario, ${r.config.rounds} round(s); each round a flushing server and a FLUSH_PAUSED=1 server, one after the other (order alternating), ${r.config.warmup} s warm-up each; ` +
      `a sale = hold + checkout of 1 unit in a new cart (2 requests); "many" = ${r.config.many} SKUs round-robin; throughput rows are the best round`,
  );
  L.push("");
  L.push("| aim | " + scen.map((s) => S[s].label).join(" | ") + " |");
  L.push("|---|" + scen.map(() => "---:|").join(""));
  L.push(`| D1 rows written per movement ≤ ${AIMS.rowsPerMovement} | ` + scen.map((s) => `${fmt(S[s].flush.rowsPerMovement, 2)} ${pass(S[s].aims.rowsPerMovement)}`).join(" | ") + " |");
  L.push(`| movements per D1 batch ≥ ${AIMS.movementsPerBatch} | ` + scen.map((s) => `${fmt(S[s].flush.movementsPerBatch, 1)} ${pass(S[s].aims.movementsPerBatch)}`).join(" | ") + " |");
  L.push(`| flush lag p99 ≤ ${fmt(AIMS.lagP99Ms / 1000)} s (audit; worst SKU, worst round) | ` + scen.map((s) => `${fmt(S[s].flush.lagP99)} ms ${pass(S[s].aims.lagP99)}`).join(" | ") + " |");
  const slowedBaseline = (s) => (S[s].pausedAlarms?.idleAlarmsPerSec ?? 0) >= 50;
  L.push(
    `| throughput flushing ≥ ${pct(AIMS.flushingVsPaused)} of paused | ` +
      scen.map((s) => `${pct(S[s].ratio)} ${pass(S[s].aims.throughput)}${slowedBaseline(s) ? " (paused baseline slowed by its alarm loop, see below)" : ""}`).join(" | ") +
      " |",
  );
  L.push("");

  L.push("### Throughput, flush running vs paused (best round of each)");
  L.push("");
  L.push("| scenario | flushing /s | paused /s | flushing ÷ paused | flushing p50 / p99 ms | paused p50 / p99 ms | non-2xx (flushing, paused) |");
  L.push("|---|---:|---:|---:|---:|---:|---:|");
  for (const s of scen) {
    const f = S[s].flushing;
    const p = S[s].paused;
    L.push(
      `| ${S[s].label} (${unit(s)}s) | ${fmt(f?.unitsPerSec)} | ${fmt(p?.unitsPerSec)} | ${pct(S[s].ratio)} | ${fmt(f?.p50)} / ${fmt(f?.p99)} | ${fmt(p?.p50)} / ${fmt(p?.p99)} | ${fmt(f?.non2xx)}, ${fmt(p?.non2xx)} |`,
    );
  }
  L.push("");
  L.push("Latency is per sale (hold sent → checkout answered) or per receipt, measured by the client.");
  const looping = scen.filter(slowedBaseline);
  if (looping.length) {
    L.push("");
    L.push(
      `Caution: with FLUSH_PAUSED=1 the SKU objects keep re-arming their alarm (counted on the instrumented paused server: ${looping
        .map((s) => `${S[s].label}: ${fmt(S[s].pausedAlarms.alarmsPerUnit, 2)} alarms per unit during the load, ${fmt(S[s].pausedAlarms.idleAlarmsPerSec)} alarms/s with no load at all`)
        .join("; ")}), so the paused baseline of ${looping.length === 1 ? "that scenario is" : "those scenarios is"} slowed by work the flushing server does not do, and its flushing ÷ paused ratio flatters the flush.`,
    );
  }
  L.push("");

  L.push("### The flush (flushing servers, every round summed)");
  L.push("");
  L.push("| scenario | units (client / completed in D1) | movements flushed | D1 batches | movements / batch | D1 rows written | rows / movement | events | events / unit | lag p50 / p99 ms (audit) | lag p50 / p99 ms (D1, every movement) | drain after load | consistent |");
  L.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const s of scen) {
    const f = S[s].flush;
    L.push(
      `| ${S[s].label} | ${fmt(f.clientUnits)} / ${fmt(f.serverUnits)} | ${fmt(f.movements)} | ${fmt(f.batches)} | ${fmt(f.movementsPerBatch, 1)} | ${fmt(f.rowsWritten)} | ${fmt(f.rowsPerMovement, 2)} | ${fmt(f.events)} | ${fmt(f.eventsPerUnit, 2)} | ${fmt(f.lagP50)} / ${fmt(f.lagP99)} | ${fmt(f.d1LagP50)} / ${fmt(f.d1LagP99)} | ≤ ${fmt(f.drainMsMax)} ms${f.allDrained ? "" : " (NOT DRAINED)"} | ${f.consistent ? "yes, every SKU" : "NO"} |`,
    );
  }
  L.push("");
  L.push(
    "units: 2xx answers the client counted / units the server completed, from D1 (distinct orders of the sales' movements; receipt movements); the per-unit ratios divide by the latter, because autocannon stops with up to one unit per connection in flight that the server still completes. Counters: audit after the outbox drained minus audit before the load, summed over the scenario's SKUs. " +
      "Audit lag: for one SKU its own p50/p99; for many SKUs the median of the per-SKU p50s and the largest per-SKU p99 (each SKU's percentiles include its setup receipt). " +
      "D1 lag: landed_at − recorded_at of every load movement in D1, pooled, worst round. Consistent: audit `consistent` for every SKU of both servers.",
  );
  const mismatch = scen.filter((s) => S[s].flush.d1Movements !== null && S[s].flush.d1Movements !== S[s].flush.movements);
  if (mismatch.length) L.push(`Note: D1 holds ${mismatch.map((s) => `${fmt(S[s].flush.d1Movements)} load movements for ${S[s].label} (audit: ${fmt(S[s].flush.movements)})`).join("; ")}.`);
  L.push("");

  L.push("### Durable Object requests per unit");
  L.push("");
  L.push("| scenario | counted (instrumented run) | of which RPC / alarms | by method | derived from the code | Worker requests (counted) | queue messages (counted / audit events) | paused server: alarms per unit, alarms/s idle after |");
  L.push("|---|---:|---:|---|---:|---:|---:|---:|");
  for (const s of scen) {
    const c = S[s].counted;
    const d = S[s].derived;
    const by = c ? Object.entries(c.perUnit.byMethod).sort().map(([k, v]) => `${k} ${fmt(v, 2)}`).join(", ") : "–";
    L.push(
      `| ${S[s].label} | ${c ? fmt(c.perUnit.doRequests, 3) : "–"} | ${c ? `${fmt(c.perUnit.rpc, 3)} / ${fmt(c.perUnit.alarms, 3)}` : "–"} | ${by} | ${fmt(d.rpcPerUnit)} + 2 × ${fmt(d.alarmsPerUnit, 3)} flushes = ${fmt(d.doRequestsPerUnit, 3)} | ${c ? fmt(c.perUnit.workerFetch, 2) : "–"} | ${c ? `${fmt(c.perUnit.queueMessages, 2)} / ${fmt(c.perUnit.auditEvents, 2)}` : "–"} | ${S[s].pausedAlarms ? `${fmt(S[s].pausedAlarms.alarmsPerUnit, 2)}, ${fmt(S[s].pausedAlarms.idleAlarmsPerSec)}` : "–"} |`,
    );
  }
  L.push("");
  L.push(
    `Derived: ${Object.entries(DERIVED_RPC).map(([k, v]) => `${k} = ${v.perSale} (${v.path})`).join("; ")}; plus, per SKU flush, one alarm() (the flush runs in the SKU object's alarm) and one LedgerWriter.land, taken as the audits' flushes ÷ units. ` +
      (r.counting.length
        ? `Counted: a separate ${r.config.countDuration} s run per scenario on an instrumented copy of the Worker (same connections; every connection finishes the unit it started, so the counts divide exactly), counting every RPC method call and alarm() of both object classes in the objects themselves, until the flush and the queue had gone quiet; the same again with the flush paused, where the alarms never go quiet (last column: during the load, and per second in the ${IDLE_SAMPLE_MS / 1000} s after it).` +
          (r.counting.every((c) => c.counts && (c.counts.calls["SkuAuthority.receive"] ?? 0) + (c.counts.calls["SkuAuthority.commit"] ?? 0) + (c.counts.calls["SkuAuthority.checkoutAll"] ?? 0) > 0) ? "" : " WARNING: the counting run saw no SkuAuthority calls; its numbers are not usable.")
        : "Not counted (--count-duration 0): the derived numbers are used."),
  );
  if (r.counting.length) {
    L.push("");
    L.push(
      "Objects constructed during each counting load (a new cart shard, or an object started again after eviction; a SKU object that restarts loses its in-memory flush counters): " +
        r.counting.map((c) => `${c.scenario} (${c.mode.slice("counting-".length)}): ${Object.entries(c.counts?.objectsStarted ?? {}).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`).join("; ") +
        ".",
    );
  }
  L.push("");

  L.push(`### Cost per million units at list prices`);
  L.push("");
  L.push(
    `Prices used (Workers Paid, USD, included allowances ignored): Worker requests $${PRICES.workerRequest}/M; Durable Objects requests $${PRICES.doRequest}/M (RPC calls and alarms count), ` +
      `SQLite storage rows written $${PRICES.doRowWritten}/M, rows read $${PRICES.doRowRead}/M; D1 rows written $${PRICES.d1RowWritten}/M, rows read $${PRICES.d1RowRead}/M; ` +
      `Queues $${PRICES.queueOperation}/M operations, ${QUEUE_OPS_PER_MESSAGE} per message (write, read, delete). ` +
      `Not included: Durable Object duration ($${PRICES.doDurationGbS}/M GB-s: wall time in memory is not measurable locally), Worker CPU time, D1 rows read (the flush's sink does not report them; at $${PRICES.d1RowRead}/M they round to nothing), storage GB-months, queue consumer invocations.`,
  );
  L.push("");
  L.push("| item | " + scen.map((s) => `${S[s].label}: per ${unit(s)} → $/M`).join(" | ") + " | how |");
  L.push("|---|" + scen.map(() => "---:|").join("") + "---|");
  const itemNames = S[scen[0]].cost.items.map((i) => i.item);
  for (const [idx, name] of itemNames.entries()) {
    L.push(`| ${name} | ` + scen.map((s) => {
      const i = S[s].cost.items[idx];
      return `${fmt(i.perUnit, 2)} → ${usd(i.dollarsPerMillion)}`;
    }).join(" | ") + ` | ${S[scen[0]].cost.items[idx].how} |`);
  }
  L.push(`| **total per million** | ` + scen.map((s) => `**${usd(S[s].cost.total)}**`).join(" | ") + " | |");
  L.push("");
  if (scen.some((s) => S[s].counted)) {
    L.push(
      "DO storage rows written per unit, by object: " +
        scen.filter((s) => S[s].counted).map((s) => `${S[s].label}: SkuAuthority ${fmt(S[s].counted.perUnit.doRowsWrittenSku, 1)}, CartCoordinator ${fmt(S[s].counted.perUnit.doRowsWrittenCart, 1)} (setAlarm calls ${fmt(S[s].counted.perUnit.setAlarm, 2)})`).join("; ") +
        ". Index entries count as rows, as they are billed.",
    );
    L.push("");
  }

  L.push("### Every run");
  L.push("");
  L.push("| round | server | scenario | units/s | units | p50 ms | p99 ms | requests | non-2xx | errors | statuses | movements flushed | batches | D1 rows | lag p99 (audit) | drain ms | waiting after (paused) | consistent |");
  L.push("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|");
  for (const x of [...r.runs, ...r.counting]) {
    L.push(
      `| ${x.round} | ${x.mode} | ${x.scenario} | ${fmt(x.unitsPerSec)} | ${fmt(x.units)} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${fmt(x.httpRequests)} | ${fmt(x.non2xx)} | ${fmt(x.errors + x.timeouts)} | ${codes(x.statuses)} | ${fmt(x.flush.movements)} | ${fmt(x.flush.batches)} | ${fmt(x.flush.rowsWritten)} | ${fmt(x.flush.lagP99)} | ${fmt(x.drainMs)} | ${x.mode.endsWith("paused") ? fmt(x.flush.unflushedAfter) : "–"} | ${x.flush.consistent ? "yes" : `NO (${x.flush.inconsistent.join(", ")})`} |`,
    );
  }
  const samples = [...r.runs, ...r.counting].flatMap((x) => Object.entries(x.samples ?? {}).map(([status, body]) => `round ${x.round}, ${x.mode}, ${x.scenario}: ${status === "0" ? "socket error" : status} ${body}`));
  if (samples.length) {
    L.push("");
    L.push("First answer of each non-2xx status, per run:");
    L.push("");
    L.push("```");
    for (const line of samples) L.push(line);
    L.push("```");
  }
  if (r.serverErrors.length) {
    L.push("");
    L.push("Errors the servers logged (last lines):");
    L.push("");
    L.push("```");
    for (const e of r.serverErrors.slice(-20)) L.push(e);
    L.push("```");
  }
  return `${L.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------

export async function main(argv = []) {
  let o;
  try {
    o = options(argv);
  } catch (e) {
    say(e.message);
    return 2;
  }
  if (o.urlIgnored) say("--url is ignored: this bench starts its own servers");
  try {
    assertWranglerInstalled();
  } catch (e) {
    say(e.message);
    return 1;
  }

  const tmp = mkdtempSync(join(os.tmpdir(), "edgestock-bench-ledger-"));
  const app = join(tmp, "app");
  const cleanup = () => {
    running?.killNow();
    if (!o.keepState) rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (signal) => {
    say(`${signal}: stopping the server and removing ${tmp}`);
    cleanup();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    say(`snapshot of ${o.ref ?? "the working tree"} in ${app}`);
    snapshotSources(app, o.ref);
    const countingEntry = join(app, "bench-counting-entry.js");
    writeFileSync(countingEntry, countingEntrySource(RPC_METHODS));

    const secret = readSecret(ROOT);
    const now = Math.floor(Date.now() / 1000);
    const exp = now + 6 * 3600;
    const tokens = {
      admin: signToken({ sub: "bench-admin", role: "admin", iat: now, exp }, secret),
      setup: signToken({ sub: SETUP_SUB, role: "admin", iat: now, exp }, secret),
      shopper: signToken({ sub: "bench-shopper", role: "shopper", iat: now, exp }, secret),
    };
    const ctx = { o, tmp, app, tokens, countingEntry };
    const loadAtStart = os.loadavg().map((l) => l.toFixed(2)).join(" ");

    const runs = [];
    const serverErrors = [];
    const note = (label, lines) => serverErrors.push(...lines.map((l) => `[${label}] ${l}`));
    // Each scenario's flushing and paused servers run back to back, in an order that alternates
    // between rounds, so a drift in the machine's background load touches both alike.
    for (let round = 1; round <= o.rounds; round++) {
      for (const scenario of o.scenarios) {
        for (const paused of round % 2 === 1 ? [false, true] : [true, false]) {
          const r = await serverRun(ctx, { scenario, paused, round, seconds: o.duration });
          runs.push(r.row);
          note(`round ${round}, ${scenario}, ${paused ? "paused" : "flushing"}`, r.serverErrors);
        }
      }
    }
    const counting = [];
    if (o.countDuration > 0) {
      for (const scenario of o.scenarios) {
        for (const paused of [false, true]) {
          const r = await serverRun(ctx, { scenario, paused, round: 0, instrumented: true, seconds: o.countDuration });
          counting.push(r.row);
          note(`counting, ${scenario}, ${paused ? "paused" : "flushing"}`, r.serverErrors);
        }
      }
    }

    const cpus = os.cpus();
    const dirty = git(["status", "--porcelain", "--", "edge", "ledger", "wrangler.toml"]);
    const result = {
      bench: "ledger",
      date: new Date().toISOString(),
      machine: {
        cpu: cpus[0]?.model?.trim() ?? "unknown",
        cores: cpus.length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        loadAtStart,
        loadAtEnd: os.loadavg().map((l) => l.toFixed(2)).join(" "),
      },
      source: { ref: o.ref ?? null, commit: git(["rev-parse", "--short", o.ref ?? "HEAD"]), dirtyFiles: dirty === null ? null : dirty.split("\n").filter(Boolean).length },
      config: { duration: o.duration, connections: o.connections, rounds: o.rounds, warmup: o.warmup, many: o.many, countDuration: o.countDuration, scenarios: o.scenarios, location: LOCATION, stockPerSku: STOCK },
      aims: AIMS,
      prices: { ...PRICES, queueOpsPerMessage: QUEUE_OPS_PER_MESSAGE, note: "USD per million, Workers Paid list prices, included allowances ignored" },
      summary: {},
      runs,
      counting,
      serverErrors,
    };
    result.summary = summarize(o, runs, counting);

    process.stdout.write(report(result));
    writeResults("ledger", result);

    const inconsistent = Object.values(result.summary).some((s) => !s.flush.consistent) || counting.some((c) => !c.flush.consistent);
    return inconsistent ? 1 : 0;
  } catch (e) {
    say(`failed: ${e.stack ?? e.message}`);
    if (running) say(`last server output:\n${running.log().slice(-3000)}`);
    return 1;
  } finally {
    cleanup();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
