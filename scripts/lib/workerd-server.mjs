// The Worker served by workerd directly (Miniflare), without wrangler dev's proxy in front of it.
//
// wrangler dev forwards every request through a proxy worker, which on a 2-core machine caps even a
// route without storage near 1–2 k req/s; the same bundle served by Miniflare answers several times
// that. This module builds the bundle wrangler would deploy (`wrangler deploy --dry-run`), derives
// every binding from wrangler.toml (objects with SQLite, D1, the changefeed Queue and its consumer,
// the [assets] of the apps) through wrangler's own `unstable_getMiniflareWorkerOptions`, adds the
// variables of `.dev.vars`, applies the D1 migrations wrangler would apply, and serves on host:port.
//
// The state layout is wrangler's: `persistTo` (default `.wrangler/state`) holds `v3/d1`, `v3/do`
// and the rest exactly as `wrangler dev --persist-to` writes them, and migrations are recorded in
// the same `d1_migrations` table, so one state directory can be served by either, one at a time.
//
//   const server = await startWorkerdServer({ port: 8787 });   // { url, base, mf, stop() }
//
// What it is not: no rebuild on change (that is `wrangler dev`), no remote bindings.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { buildApps } from "../build-apps.mjs";
import { ensureDevVars, parseDotenv } from "./jwt.mjs";
import { QUIET_WRANGLER_ENV, ROOT, WRANGLER_JS, assertWranglerInstalled, wranglerEnv } from "./wrangler.mjs";

export const DEFAULT_HOST = "127.0.0.1";
const MIGRATIONS_TABLE = "d1_migrations";
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Runs wrangler in `cwd`, capturing its output; resolves with the exit code and the output. */
function wranglerCaptured(args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER_JS, ...args], { cwd, env: wranglerEnv(), stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => out.push(c));
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output: Buffer.concat(out).toString("utf8") }));
  });
}

/**
 * Bundles the Worker of `configPath` into `outDir` as `wrangler deploy` would upload it
 * (`outDir/index.js` plus its source map). Throws with wrangler's output when the build fails.
 */
export async function bundleWorker({ configPath = join(ROOT, "wrangler.toml"), outDir }) {
  assertWranglerInstalled();
  const { code, output } = await wranglerCaptured(["deploy", "--dry-run", "--outdir", outDir, "--config", configPath], dirname(configPath));
  const script = join(outDir, "index.js");
  if (code !== 0 || !existsSync(script)) throw new Error(`wrangler deploy --dry-run failed (exit ${code}):\n${output.slice(-3000)}`);
  return script;
}

/** wrangler's reading of wrangler.toml, and the Miniflare worker options it derives from it. */
async function wranglerWorkerOptions(configPath) {
  // wrangler's module reads these at import time; without them it may try to reach the network.
  for (const [k, v] of Object.entries(QUIET_WRANGLER_ENV)) process.env[k] ??= v;
  // Importing wrangler's CLI module installs SIGINT/SIGTERM handlers that call process.exit() at
  // once, which would end the caller before it stops workerd; this module is a library here, so
  // the handlers it added are taken off again and signals stay the caller's.
  const before = Object.fromEntries(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { unstable_readConfig, unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } = await import("wrangler");
  for (const s of SIGNALS) for (const l of process.listeners(s)) if (!before[s].has(l)) process.removeListener(s, l);
  const config = unstable_readConfig({ config: configPath });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
  return { config, workerOptions, splitSqlQuery: unstable_splitSqlQuery };
}

/**
 * Applies the migrations of `migrationsDir` that `db` has not recorded yet, in name order, each
 * file and its record in one batch (one transaction), as `wrangler d1 migrations apply` does.
 * Returns the names applied.
 */
export async function applyMigrations(db, migrationsDir, splitSqlQuery) {
  await db.exec(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE}(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`);
  const { results } = await db.prepare(`SELECT name FROM ${MIGRATIONS_TABLE}`).all();
  const applied = new Set(results.map((r) => r.name));
  const names = readdirSync(migrationsDir)
    .filter((f) => f.endsWith(".sql"))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10) || a.localeCompare(b));
  const done = [];
  for (const name of names) {
    if (applied.has(name)) continue;
    const statements = splitSqlQuery(readFileSync(join(migrationsDir, name), "utf8")).filter((s) => s.trim() !== "");
    try {
      await db.batch([...statements.map((s) => db.prepare(s)), db.prepare(`INSERT INTO ${MIGRATIONS_TABLE} (name) VALUES (?)`).bind(name)]);
    } catch (e) {
      throw new Error(`D1 migration ${name} failed: ${e.message}`, { cause: e });
    }
    done.push(name);
  }
  return done;
}

/**
 * Builds and serves the Worker on workerd. Resolves once it listens and the D1 migrations are
 * applied (a request in that short gap that needs D1 may fail; GET /healthz does not).
 *
 * Options:
 *   host, port       where to listen (default 127.0.0.1:8787; port 0 picks a free one)
 *   persistTo        state root, as `wrangler dev --persist-to` (default .wrangler/state)
 *   configPath       wrangler.toml (default the repository's); its folder is the project built
 *   vars             extra variables, over those of .dev.vars (e.g. { FLUSH_PAUSED: "1" })
 *   build            build the POS and manager apps into dist/web first (default false)
 *   bundleDir        where the bundle goes (default a temporary directory, removed by stop())
 *   log              progress lines (default none)
 *   miniflareLog     a Miniflare `Log` for workerd's own messages (default warnings and errors)
 *   logRequests      one log line per request through `miniflareLog` (default false)
 *   inspectorPort    where workerd's V8 inspector listens (default none; bench/profile.mjs uses it)
 *
 * Returns { url, base, mf, migrationsApplied, stop() }: `base` is `url` without the trailing
 * slash; `stop()` disposes of workerd and removes a temporary bundle; calling it twice is harmless.
 */
export async function startWorkerdServer({
  host = DEFAULT_HOST,
  port = 8787,
  persistTo = join(ROOT, ".wrangler", "state"),
  configPath = join(ROOT, "wrangler.toml"),
  vars = {},
  build = false,
  bundleDir,
  log = () => {},
  miniflareLog,
  logRequests = false,
  inspectorPort,
} = {}) {
  const { Miniflare, Log, LogLevel } = await import("miniflare");
  const { created, path: devVarsPath } = ensureDevVars(ROOT);
  if (created) log(`wrote a new AUTH_SECRET to ${devVarsPath}`);
  const devVars = parseDotenv(readFileSync(devVarsPath, "utf8"));

  if (build) {
    log("building the POS and manager apps");
    await buildApps({ quiet: true });
  }
  const { config, workerOptions, splitSqlQuery } = await wranglerWorkerOptions(configPath);
  const assetsDir = workerOptions.assets?.directory;
  if (assetsDir !== undefined && !existsSync(assetsDir)) {
    throw new Error(`${assetsDir} (wrangler.toml [assets]) does not exist: build the apps first (node scripts/build-apps.mjs)`);
  }

  const outDir = bundleDir ?? mkdtempSync(join(os.tmpdir(), "edgestock-workerd-"));
  const removeBundle = bundleDir === undefined ? () => rmSync(outDir, { recursive: true, force: true }) : () => {};
  let mf;
  try {
    log("bundling the Worker (wrangler deploy --dry-run)");
    const scriptPath = await bundleWorker({ configPath, outDir });
    mf = new Miniflare({
      host,
      port,
      // wrangler dev --persist-to DIR keeps its state under DIR/v3; the same here.
      defaultPersistRoot: join(isAbsolute(persistTo) ? persistTo : join(ROOT, persistTo), "v3"),
      log: miniflareLog ?? new Log(LogLevel.WARN),
      logRequests,
      ...(inspectorPort === undefined ? {} : { inspectorPort }),
      workers: [
        {
          // The name keys the objects' state directories: the same as wrangler dev's.
          name: config.name,
          ...workerOptions,
          bindings: { ...workerOptions.bindings, ...devVars, ...vars },
          modules: true,
          scriptPath,
          // Without it workerd refuses the bundle's source-map path ("can't use '..' to break out").
          modulesRoot: outDir,
        },
      ],
    });
    const url = await mf.ready;
    let migrationsApplied = [];
    const d1 = config.d1_databases?.find((d) => d.binding === "DB");
    if (d1?.migrations_dir !== undefined) {
      const dir = isAbsolute(d1.migrations_dir) ? d1.migrations_dir : join(dirname(configPath), d1.migrations_dir);
      migrationsApplied = await applyMigrations(await mf.getD1Database("DB"), dir, splitSqlQuery);
      log(migrationsApplied.length === 0 ? "D1 migrations: none to apply" : `D1 migrations applied: ${migrationsApplied.join(", ")}`);
    }
    let stopped = null;
    const stop = () => {
      stopped ??= mf.dispose().finally(removeBundle);
      return stopped;
    };
    return { url: url.href, base: url.href.replace(/\/+$/, ""), mf, migrationsApplied, stop };
  } catch (e) {
    // The startup error is what the caller needs; a failing dispose after it would only hide it.
    await mf?.dispose().catch((disposeError) => log(`(disposing after the failed start also failed: ${disposeError.message})`));
    removeBundle();
    throw e;
  }
}
