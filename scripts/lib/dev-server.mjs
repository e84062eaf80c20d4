// A local edgestock as `npm start` runs it: apps built, D1 migrated, `wrangler dev` on 127.0.0.1,
// optionally seeded. Shared by `npm start`, the browser tests and the POS benchmark, so all three
// run the same Worker the same way.
import { spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { createInterface } from "node:readline";
import { buildApps } from "../build-apps.mjs";
import { waitFor200 } from "./http.mjs";
import { ensureDevVars } from "./jwt.mjs";
import { ROOT, WRANGLER_JS, assertWranglerInstalled, runWrangler } from "./wrangler.mjs";
import { wranglerEnv } from "./wrangler.mjs";

export const HOST = "127.0.0.1";
const HEALTH_TIMEOUT_MS = 60_000;
// wrangler stops workerd on SIGINT; past this it is stuck and the whole group is killed.
const STOP_GRACE_MS = 10_000;

export function portInUse(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Start the Worker. `onLine(line, stream)` receives every line wrangler prints (default: none shown).
 * Resolves with `{ base, child, stop(), exited }` once GET /healthz answers 200; rejects otherwise.
 */
export async function startDevServer({ port, persistTo, build = true, log = () => {}, onLine = () => {}, extraArgs = [] } = {}) {
  assertWranglerInstalled();
  const { created, path } = ensureDevVars(ROOT);
  if (created) log(`wrote a new AUTH_SECRET to ${path}`);
  const base = `http://${HOST}:${port}`;
  if (await portInUse(port)) throw new Error(`${base} is already taken (another npm start?). Stop it, or pick another port: PORT=8788 npm start`);

  if (build) {
    log("building the POS and manager apps");
    await buildApps({ quiet: true });
  }

  const persist = persistTo === undefined ? [] : ["--persist-to", persistTo];
  log("applying D1 migrations (local)");
  // CI=true: wrangler skips its confirmation prompt.
  const migrated = await runWrangler(["d1", "migrations", "apply", "DB", "--local", ...persist], {
    env: { CI: "true" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (migrated !== 0) throw new Error(`wrangler d1 migrations apply failed (exit ${migrated})`);

  log(`starting wrangler dev on ${base}`);
  const child = spawn(
    process.execPath,
    [WRANGLER_JS, "dev", "--ip", HOST, "--port", String(port), "--local", "--show-interactive-dev-session=false", ...persist, ...extraArgs],
    {
      cwd: ROOT,
      env: wranglerEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: a terminal Ctrl+C reaches only the caller, which forwards it once, and
      // a stuck wrangler can be killed together with its workerd.
      detached: process.platform !== "win32",
    },
  );
  createInterface({ input: child.stdout }).on("line", (line) => onLine(line, "stdout"));
  createInterface({ input: child.stderr }).on("line", (line) => onLine(line, "stderr"));

  const state = { exited: false, code: null, signal: null };
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      Object.assign(state, { exited: true, code, signal });
      resolve({ code, signal });
    });
  });
  const spawnError = new Promise((_, reject) => child.on("error", (err) => reject(new Error(`could not start wrangler: ${err.message}`))));
  spawnError.catch(() => {});

  const killGroup = (signal) => {
    if (state.exited) return;
    try {
      if (process.platform === "win32") child.kill(signal);
      else process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  let stopping = null;
  const stop = (signal = "SIGINT") => {
    if (stopping !== null) {
      killGroup("SIGKILL");
      return stopping;
    }
    try {
      child.kill(signal === "SIGHUP" ? "SIGTERM" : signal);
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => killGroup("SIGKILL"), STOP_GRACE_MS);
    timer.unref();
    stopping = exited.then((r) => {
      clearTimeout(timer);
      // workerd may outlive wrangler for a moment; take the whole group down.
      killGroup("SIGKILL");
      return r;
    });
    return stopping;
  };

  const healthy = await Promise.race([waitFor200(`${base}/healthz`, { timeoutMs: HEALTH_TIMEOUT_MS, isAlive: () => !state.exited }), spawnError]);
  if (!healthy) {
    await stop("SIGTERM");
    throw new Error(state.exited ? `wrangler exited (${state.signal ?? `code ${state.code}`}) before ${base}/healthz answered` : `GET ${base}/healthz did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000} s`);
  }
  return { base, child, state, exited, stop, stopping: () => stopping !== null };
}

/**
 * Reads wrangler's log and keeps it readable: one line per request or per queue batch is counted,
 * not printed; failures (5xx, errors, anything else wrangler says) are printed at once; `summary()`
 * answers the counts since the last call, or null when nothing happened.
 */
export function logDigest() {
  const REQUEST = /\[wrangler:(?:info|warn|error)\] [A-Z]+ \S+ (\d{3}) /;
  const QUEUE = /QUEUE \S+ (\d+)\/(\d+)/;
  let counts = { requests: 0, c4xx: 0, c5xx: 0, batches: 0, messages: 0 };
  return {
    /** Whether to print this line. */
    take(line) {
      const request = REQUEST.exec(line);
      if (request !== null) {
        counts.requests++;
        const status = Number(request[1]);
        if (status >= 500) {
          counts.c5xx++;
          return true;
        }
        if (status >= 400) counts.c4xx++;
        return false;
      }
      const queue = QUEUE.exec(line);
      if (queue !== null) {
        counts.batches++;
        counts.messages += Number(queue[1]);
        return false;
      }
      return line.trim() !== "";
    },
    summary() {
      const c = counts;
      counts = { requests: 0, c4xx: 0, c5xx: 0, batches: 0, messages: 0 };
      if (c.requests === 0 && c.batches === 0) return null;
      const n = (x, one, many = `${one}s`) => `${x.toLocaleString("en-US")} ${x === 1 ? one : many}`;
      return `${n(c.requests, "request")} (${c.c4xx} 4xx, ${c.c5xx} 5xx), ${n(c.batches, "changefeed batch", "changefeed batches")} (${n(c.messages, "event")})`;
    },
  };
}
