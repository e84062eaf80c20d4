// The servers a comparison benchmark runs against, each started on a fresh state and stopped
// afterwards, each with the same small interface:
//
//   { name, label, base, stockSku(sku, qty), availability(sku), stop() }
//
//   edgestockOnWorkerd   the Worker served by workerd directly (scripts/lib/workerd-server.mjs)
//   edgestockOnDev       the Worker through `wrangler dev`, started the way `npm run dev` starts it
//                        (request log on), or a server that is already running (`--url`)
//   pgPeers              the PostgreSQL peer (bench/peers/), one process per pool size over one
//                        throwaway cluster, a database each
//
// Every target keeps its stock at one warehouse, LOCATION, the seed's W001.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import pg from "pg";
import { apiClient, waitFor200 } from "../../scripts/lib/http.mjs";
import { ensureDevVars, readSecret, signToken } from "../../scripts/lib/jwt.mjs";
import { startWorkerdServer } from "../../scripts/lib/workerd-server.mjs";
import { ROOT, WRANGLER_JS, assertWranglerInstalled, wranglerEnv } from "../../scripts/lib/wrangler.mjs";
import { LOCATIONS, REGIONS } from "../../scripts/seed.mjs";
import { startPostgres } from "../peers/postgres.mjs";
import { stockSku as pgStockSku } from "../peers/pg-schema.mjs";

export const HOST = "127.0.0.1";
export const LOCATION = "W001";
const HEALTH_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;
const PEER_START_TIMEOUT_MS = 30_000;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Tokens every target accepts: all of them verify with the AUTH_SECRET of .dev.vars. */
export function benchTokens(ttlS = 3 * 3600) {
  ensureDevVars(ROOT);
  const secret = readSecret(ROOT);
  const now = Math.floor(Date.now() / 1000);
  return {
    secret,
    admin: signToken({ sub: "bench-admin", role: "admin", iat: now, exp: now + ttlS }, secret),
    shopper: signToken({ sub: "bench-shopper", role: "shopper", iat: now, exp: now + ttlS }, secret),
  };
}

/** The region and warehouse of the seed that the stock goes to (idempotent PUTs, seed values). */
async function ensureWarehouse(admin) {
  const location = LOCATIONS.find((l) => l.id === LOCATION);
  const region = REGIONS.find((r) => r.id === location.regionId);
  await admin.request("PUT", `/v1/regions/${region.id}`, { name: region.name });
  await admin.request("PUT", `/v1/locations/${location.id}`, { kind: location.kind, regionId: location.regionId, name: location.name, reserve: location.reserve });
}

function edgestockApi(base, tokens) {
  const admin = apiClient(base, tokens.admin);
  return {
    admin,
    async stockSku(sku, qty) {
      await admin.request("PUT", `/v1/skus/${sku}`, { name: `Bench ${sku}` });
      await admin.request("POST", "/v1/receipts", { sku, location: LOCATION, qty }, { "idempotency-key": `bench.${sku}.${LOCATION}` });
    },
    availability: (sku) => admin.request("GET", `/v1/skus/${sku}/availability`),
  };
}

const SOURCE_PATHS = ["edge", "ledger", "wrangler.toml", "package.json", "tsconfig.json", "tsconfig.base.json", ".dev.vars"];

/**
 * A copy of what the Worker is built from, taken once, so both edgestock targets run the same
 * sources and an edit made in the working tree during the run neither reloads wrangler dev nor
 * mixes two versions. node_modules is linked; the built apps (dist/web, wrangler.toml [assets])
 * are copied when present, else an empty folder stands in (the benchmark asks for no file).
 * Resolves with { dir, configPath, remove() }.
 */
export function snapshotSources() {
  ensureDevVars(ROOT);
  const dir = mkdtempSync(join(os.tmpdir(), "edgestock-bench-src-"));
  for (const p of SOURCE_PATHS) {
    if (existsSync(join(ROOT, p))) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  const web = join(ROOT, "dist", "web");
  if (existsSync(web)) cpSync(web, join(dir, "dist", "web"), { recursive: true });
  else mkdirSync(join(dir, "dist", "web"), { recursive: true });
  return { dir, configPath: join(dir, "wrangler.toml"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function edgestockOnWorkerd({ tokens, log, sources }) {
  const state = mkdtempSync(join(os.tmpdir(), "edgestock-bench-workerd-"));
  let server;
  try {
    // The bundle lives in the state directory, so every way of stopping removes both.
    const bundleDir = join(state, "bundle");
    mkdirSync(bundleDir);
    server = await startWorkerdServer({ port: await freePort(), persistTo: state, configPath: sources.configPath, bundleDir, log });
  } catch (e) {
    rmSync(state, { recursive: true, force: true });
    throw e;
  }
  const api = edgestockApi(server.base, tokens);
  await ensureWarehouse(api.admin);
  return {
    name: "workerd",
    label: "edgestock on workerd directly (npm start)",
    base: server.base,
    stockSku: api.stockSku,
    availability: api.availability,
    async stop() {
      await server.stop();
      rmSync(state, { recursive: true, force: true });
    },
    stopNow() {
      rmSync(state, { recursive: true, force: true });
    },
  };
}

function runCaptured(args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER_JS, ...args], { cwd, env: wranglerEnv({ CI: "true" }), stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => out.push(c));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output: Buffer.concat(out).toString("utf8") }));
  });
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * `wrangler dev` as `npm run dev` runs it (local mode, its request log on and read), on a fresh
 * state directory; or, with `url`, a server already running there (left running afterwards).
 */
export async function edgestockOnDev({ tokens, log, url, sources }) {
  if (url !== undefined) {
    const base = url.replace(/\/+$/, "");
    if (!(await waitFor200(`${base}/healthz`, { timeoutMs: 3_000 }))) throw new Error(`no edgestock answering GET ${base}/healthz`);
    const api = edgestockApi(base, tokens);
    await ensureWarehouse(api.admin);
    return { name: "dev", label: `edgestock at ${base}`, base, stockSku: api.stockSku, availability: api.availability, stop: async () => {}, stopNow() {} };
  }
  assertWranglerInstalled();
  const state = mkdtempSync(join(os.tmpdir(), "edgestock-bench-dev-"));
  const removeState = () => rmSync(state, { recursive: true, force: true });
  log("wrangler d1 migrations apply (local)");
  const migrated = await runCaptured(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], sources.dir);
  if (migrated.code !== 0) {
    removeState();
    throw new Error(`wrangler d1 migrations apply failed (exit ${migrated.code}):\n${migrated.output.slice(-2000)}`);
  }
  const port = await freePort();
  const inspectorPort = await freePort();
  log(`starting wrangler dev on ${HOST}:${port}`);
  const child = spawn(
    process.execPath,
    [WRANGLER_JS, "dev", "--ip", HOST, "--port", String(port), "--inspector-port", String(inspectorPort), "--local", "--persist-to", state, "--show-interactive-dev-session=false"],
    { cwd: sources.dir, env: wranglerEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  // The request log is read (as npm run dev reads it) and only its last lines are kept, for errors.
  const tail = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => {
      tail.push(line);
      if (tail.length > 100) tail.shift();
    });
  }
  let exited = false;
  const exitedP = new Promise((resolve) => child.on("exit", () => resolve((exited = true))));
  const stop = async () => {
    if (!exited) {
      killGroup(child, "SIGINT");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), STOP_GRACE_MS);
      await exitedP;
      clearTimeout(timer);
      // workerd may outlive wrangler for a moment.
      killGroup(child, "SIGKILL");
    }
    removeState();
  };
  const base = `http://${HOST}:${port}`;
  if (!(await waitFor200(`${base}/healthz`, { timeoutMs: HEALTH_TIMEOUT_MS, isAlive: () => !exited }))) {
    await stop();
    throw new Error(`wrangler dev did not answer GET /healthz within ${HEALTH_TIMEOUT_MS / 1000} s:\n${tail.join("\n").slice(-2000)}`);
  }
  const api = edgestockApi(base, tokens);
  await ensureWarehouse(api.admin);
  return {
    name: "dev",
    label: "edgestock through wrangler dev (npm run dev)",
    base,
    stockSku: api.stockSku,
    availability: api.availability,
    stop,
    stopNow() {
      killGroup(child, "SIGKILL");
      removeState();
    },
  };
}

/** One peer process on `database` with `poolSize` connections; resolves once it listens. */
function spawnPeer({ database, poolSize, secret }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "bench", "peers", "pg-peer.mjs"), "--database", database, "--pool", String(poolSize), "--host", HOST], {
      cwd: ROOT,
      env: { ...process.env, AUTH_SECRET: secret },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const errors = [];
    createInterface({ input: child.stderr }).on("line", (line) => {
      errors.push(line);
      if (errors.length > 50) errors.shift();
    });
    const timer = setTimeout(() => reject(new Error(`pg-peer (pool ${poolSize}) did not start within ${PEER_START_TIMEOUT_MS / 1000} s`)), PEER_START_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, base: m[1], errors });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`pg-peer (pool ${poolSize}) exited (${code}): ${errors.join("\n")}`));
    });
  });
}

/**
 * One PostgreSQL cluster and a peer per pool size, each on its own database. Resolves with
 * { targets, stop(), stopNow() }.
 */
export async function pgPeers({ pools, tokens, log }) {
  const cluster = await startPostgres({ log });
  const targets = [];
  const clients = [];
  const stopAll = async () => {
    for (const t of targets) await t.stop();
    for (const c of clients) await c.end();
    await cluster.stop();
  };
  try {
    for (const poolSize of pools) {
      const database = await cluster.createDatabase(`peer_pool_${poolSize}`);
      const peer = await spawnPeer({ database, poolSize, secret: tokens.secret });
      const client = new pg.Client({ connectionString: database });
      await client.connect();
      clients.push(client);
      const stop = async () => {
        if (peer.child.exitCode !== null || peer.child.signalCode !== null) return;
        const gone = new Promise((resolve) => peer.child.once("exit", resolve));
        peer.child.kill("SIGTERM");
        await gone;
      };
      targets.push({
        name: `pg-${poolSize}`,
        label: `PostgreSQL peer, pool ${poolSize}`,
        poolSize,
        base: peer.base,
        stockSku: (sku, qty) => pgStockSku(client, sku, LOCATION, qty),
        async availability(sku) {
          const res = await fetch(`${peer.base}/v1/skus/${sku}/availability`);
          return res.json();
        },
        errors: () => peer.errors,
        stop,
        stopNow() {
          peer.child.kill("SIGKILL");
        },
      });
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  const version = (await clients[0]?.query("SHOW server_version"))?.rows[0]?.server_version;
  const fsync = (await clients[0]?.query("SHOW fsync"))?.rows[0]?.fsync;
  return {
    targets,
    info: { version, fsync, synchronousCommit: (await clients[0]?.query("SHOW synchronous_commit"))?.rows[0]?.synchronous_commit },
    stop: stopAll,
    stopNow() {
      for (const t of targets) t.stopNow();
      cluster.stopNow();
    },
  };
}
