// `npm start`: a local edgestock on 127.0.0.1:$PORT (default 8787), migrated and seeded.
// Works on a fresh clone and on every later run over the same .wrangler/ state.
//   --no-seed   skip the demo data
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { ensureDevVars } from "./lib/jwt.mjs";
import { waitFor200 } from "./lib/http.mjs";
import { ROOT, WRANGLER_JS, assertWranglerInstalled, runWrangler, wranglerEnv } from "./lib/wrangler.mjs";
import { seed } from "./seed.mjs";

const HOST = "127.0.0.1";
const HEALTH_TIMEOUT_MS = 60_000;
// wrangler stops workerd on SIGINT; past this it is stuck and the whole group is killed.
const STOP_GRACE_MS = 10_000;

const say = (msg) => process.stdout.write(`[start] ${msg}\n`);
const die = (msg, code = 1) => {
  process.stderr.write(`[start] ${msg}\n`);
  process.exit(code);
};

const { values } = parseArgs({ options: { "no-seed": { type: "boolean" } }, strict: true });

const PORT = Number(process.env.PORT ?? 8787);
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) die(`PORT must be a TCP port number, got "${process.env.PORT}"`);
const BASE = `http://${HOST}:${PORT}`;

function portInUse(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

// wrangler logs one line per request; while seeding that is thousands of lines burying the
// summary, so successful ones are only counted then. Failures always show.
const REQUEST_OK_LINE = /\[wrangler:info\] [A-Z]+ \S+ 2\d\d /;
let quietRequests = false;
let hiddenRequests = 0;

function pipeLines(stream, out) {
  createInterface({ input: stream }).on("line", (line) => {
    if (quietRequests && REQUEST_OK_LINE.test(line)) {
      hiddenRequests++;
      return;
    }
    out.write(`[wrangler] ${line}\n`);
  });
}

function summary(seeded) {
  const q = "'";
  return `
edgestock is running at ${BASE}   (Ctrl+C stops it)

  liveness   ${BASE}/healthz
  API        ${BASE}/v1/...  (routes and examples: README, "API (v1)")
  data       ${seeded ? "regions north/south, stores S001-S006, warehouses W001/W002, SKU-00001..SKU-01000" : `not seeded (run: npm run seed -- --url ${BASE})`}
  state      ${ROOT}/.wrangler/state  (delete it for a clean slate)

  token      TOKEN=$(npm run -s token -- --role shopper)
             other roles: terminal --store S001, staff --store S001, manager --region north, admin, service

  availability
    curl -s ${BASE}/v1/skus/SKU-00001/availability

  hold one unit in a cart
    curl -s -X POST ${BASE}/v1/carts/cart-1/holds \\
      -H "authorization: Bearer $TOKEN" -H ${q}content-type: application/json${q} \\
      -d ${q}{"lines":[{"sku":"SKU-00001","qty":1}]}${q}
`;
}

async function main() {
  assertWranglerInstalled();

  const { created, path } = ensureDevVars(ROOT);
  if (created) say(`wrote a new AUTH_SECRET to ${path}`);

  if (await portInUse(PORT)) die(`${BASE} is already taken (another npm start?). Stop it, or pick another port: PORT=8788 npm start`);

  say("applying D1 migrations (local)");
  // CI=true: wrangler skips its confirmation prompt.
  const migrated = await runWrangler(["d1", "migrations", "apply", "DB", "--local"], { env: { CI: "true" } });
  if (migrated !== 0) die(`wrangler d1 migrations apply failed (exit ${migrated})`);

  say(`starting wrangler dev on ${BASE}`);
  const child = spawn(
    process.execPath,
    [WRANGLER_JS, "dev", "--ip", HOST, "--port", String(PORT), "--local", "--show-interactive-dev-session=false"],
    {
      cwd: ROOT,
      env: wranglerEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: a terminal Ctrl+C reaches only this script, which forwards it once,
      // and a stuck wrangler can be killed together with its workerd.
      detached: process.platform !== "win32",
    },
  );
  pipeLines(child.stdout, process.stdout);
  pipeLines(child.stderr, process.stderr);

  let exited = false;
  let stopping = false;
  // Set when startup or seeding failed: the final exit code is then 1 whatever wrangler returns.
  let failed = false;
  child.on("exit", (code, signal) => {
    exited = true;
    if (!stopping) process.stderr.write(`[start] wrangler exited (${signal ?? `code ${code}`})\n`);
    process.exit(failed ? 1 : stopping ? 0 : (code ?? 1));
  });
  child.on("error", (err) => die(`could not start wrangler: ${err.message}`));

  const stop = (signal) => {
    if (exited) return;
    if (stopping) {
      // A second Ctrl+C: do not wait for a graceful stop.
      killGroup("SIGKILL");
      return;
    }
    stopping = true;
    say(`stopping (${signal})`);
    try {
      child.kill(signal === "SIGHUP" ? "SIGTERM" : signal);
    } catch {
      // Already gone.
    }
    setTimeout(() => killGroup("SIGKILL"), STOP_GRACE_MS).unref();
  };
  const killGroup = (signal) => {
    if (exited) return;
    try {
      if (process.platform === "win32") child.kill(signal);
      else process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(signal));
  // `kill <npm pid>` ends npm and its `sh -c` without passing the signal on; once this process
  // is orphaned (its parent id changes), stop instead of serving on unattended.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop("SIGTERM");
  }, 1_000).unref();

  const healthy = await waitFor200(`${BASE}/healthz`, { timeoutMs: HEALTH_TIMEOUT_MS, isAlive: () => !exited });
  if (exited) return;
  if (!healthy) {
    process.stderr.write(`[start] GET ${BASE}/healthz did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000} s; see the wrangler output above\n`);
    failed = true;
    stop("SIGTERM");
    return;
  }

  let seeded = false;
  if (values["no-seed"]) {
    say("seeding skipped (--no-seed)");
  } else {
    quietRequests = true;
    try {
      await seed(BASE, { log: say });
      seeded = true;
    } catch (err) {
      // The server stays up so the failing route can be looked at; the exit code remembers.
      failed = true;
      process.stderr.write(`[start] SEED FAILED: ${err.message}\n`);
    }
    // Let the last access-log lines of the seed drain before the summary and the normal log.
    await new Promise((resolve) => setTimeout(resolve, 200));
    quietRequests = false;
    if (hiddenRequests > 0) say(`(${hiddenRequests} successful seed requests not logged)`);
  }
  process.stdout.write(summary(seeded));
}

main().catch((err) => die(err.stack ?? String(err)));
