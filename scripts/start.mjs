// `npm start`: a local edgestock on 127.0.0.1:$PORT (default 8787), served by workerd directly
// (scripts/lib/workerd-server.mjs: the bundle `wrangler deploy` uploads, every binding read from
// wrangler.toml), apps built, D1 migrated and seeded. Works on a fresh clone and on every later run
// over the same .wrangler/state, which `npm run dev` (wrangler dev, reload on change) shares.
//   --no-seed   skip the demo data
// wrangler dev's proxy in front of the Worker caps a small machine at 1–2 k requests a second on a
// route without storage; workerd alone answers several times that (README, "Hot SKU").
import { join } from "node:path";
import { HOST, portInUse } from "./lib/dev-server.mjs";
import { ensureDevVars } from "./lib/jwt.mjs";
import { startWorkerdServer } from "./lib/workerd-server.mjs";
import { ROOT } from "./lib/wrangler.mjs";
import { seed } from "./seed.mjs";
import { startCli, startSummary } from "./lib/start-summary.mjs";

const { say, die, noSeed, port: PORT, base: BASE } = startCli("start");

async function main() {
  const { demo } = ensureDevVars(ROOT);
  if (await portInUse(PORT)) die(`${BASE} is already taken (another npm start?). Stop it, or pick another port: PORT=8788 npm start`);

  // Handlers first: a signal during the build (seconds on a small machine) stops it cleanly too.
  let server;
  let stopping = false;
  let failed = false;
  const stop = (signal) => {
    if (stopping) process.exit(1);
    stopping = true;
    say(`stopping (${signal})`);
    if (server === undefined) process.exit(0);
    server.stop().then(
      () => process.exit(failed ? 1 : 0),
      (e) => die(`stop failed: ${e.message}`),
    );
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(signal));
  // `kill <npm pid>` ends npm and its `sh -c` without passing the signal on; once this process
  // is orphaned (its parent id changes), stop instead of serving on unattended.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop("SIGTERM");
  }, 1_000).unref();

  try {
    server = await startWorkerdServer({
      host: HOST,
      port: PORT,
      // The bundle goes next to wrangler's own build output, not into the system temp folder.
      bundleDir: join(ROOT, ".wrangler", "workerd-bundle"),
      build: true,
      log: say,
    });
  } catch (err) {
    die(err.message);
  }

  let seeded = false;
  if (noSeed) {
    say("seeding skipped (--no-seed)");
  } else {
    try {
      await seed(server.base, { log: say });
      seeded = true;
    } catch (err) {
      // The server stays up so the failing route can be looked at; the exit code remembers.
      failed = true;
      process.exitCode = 1;
      process.stderr.write(`[start] SEED FAILED: ${err.message}\n`);
    }
  }
  process.stdout.write(startSummary({ base: BASE, seeded, demo, root: ROOT, server: "workerd directly (npm run dev: wrangler dev, reload on change)" }));
}

main().catch((err) => die(err.stack ?? String(err)));
