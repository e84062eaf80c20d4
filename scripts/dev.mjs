// `npm run dev`: a local edgestock through `wrangler dev` (reload on change) on 127.0.0.1:$PORT
// (default 8787), apps built, migrated and seeded, over the same .wrangler/state as `npm start`.
// Works on a fresh clone and on every later run over the same .wrangler/ state.
//   --no-seed   skip the demo data
// After startup the log stays readable: wrangler's line per request and per changefeed batch is
// counted, not printed; failures show at once, and a one-line summary every minute.
import { logDigest, startDevServer } from "./lib/dev-server.mjs";
import { ensureDevVars } from "./lib/jwt.mjs";
import { ROOT } from "./lib/wrangler.mjs";
import { seed } from "./seed.mjs";
import { startCli, startSummary } from "./lib/start-summary.mjs";

const SUMMARY_EVERY_MS = 60_000;

const { say, die, noSeed, port: PORT, base: BASE } = startCli("dev");

async function main() {
  const digest = logDigest();
  // Until the server is up, wrangler's own startup lines are shown as they come.
  let started = false;
  const onLine = (line, stream) => {
    if (started && !digest.take(line)) return;
    if (!started && /\[wrangler:info\] [A-Z]+ \S+ 2\d\d /.test(line)) return;
    (stream === "stderr" ? process.stderr : process.stdout).write(`[wrangler] ${line}\n`);
  };

  const { demo } = ensureDevVars(ROOT);
  let server;
  try {
    server = await startDevServer({ port: PORT, log: say, onLine });
  } catch (err) {
    die(err.message);
  }
  started = true;

  let stopping = false;
  let failed = false;
  const stop = (signal) => {
    if (!stopping) say(`stopping (${signal})`);
    stopping = true;
    void server.stop(signal);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(signal));
  // `kill <npm pid>` ends npm and its `sh -c` without passing the signal on; once this process
  // is orphaned (its parent id changes), stop instead of serving on unattended.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop("SIGTERM");
  }, 1_000).unref();
  void server.exited.then(({ code, signal }) => {
    if (!stopping) process.stderr.write(`[dev] wrangler exited (${signal ?? `code ${code}`})\n`);
    process.exit(failed ? 1 : stopping ? 0 : (code ?? 1));
  });

  let seeded = false;
  if (noSeed) {
    say("seeding skipped (--no-seed)");
  } else {
    try {
      await seed(BASE, { log: say });
      seeded = true;
    } catch (err) {
      // The server stays up so the failing route can be looked at; the exit code remembers.
      failed = true;
      process.stderr.write(`[dev] SEED FAILED: ${err.message}\n`);
    }
    // The seed's own traffic is not news.
    await new Promise((resolve) => setTimeout(resolve, 200));
    digest.summary();
  }
  process.stdout.write(
    startSummary({ base: BASE, seeded, demo, root: ROOT, server: "wrangler dev (reload on change; npm start serves the same Worker on workerd directly)", tail: "From here on: errors as they happen, and a summary of the traffic once a minute." }),
  );
  setInterval(() => {
    const line = digest.summary();
    if (line !== null) say(`last minute: ${line}`);
  }, SUMMARY_EVERY_MS).unref();
}

main().catch((err) => die(err.stack ?? String(err)));
