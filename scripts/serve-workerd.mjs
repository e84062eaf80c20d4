// `npm run serve:workerd`: edgestock on workerd directly (no wrangler dev proxy, no reload on
// change), on 127.0.0.1:$PORT (default 8787) over the same .wrangler/state as `npm start`,
// migrated and seeded. See scripts/lib/workerd-server.mjs.
//   --no-seed          skip the demo data
//   --persist-to DIR   another state directory
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "./lib/wrangler.mjs";
import { DEFAULT_HOST, startWorkerdServer } from "./lib/workerd-server.mjs";
import { seed } from "./seed.mjs";

const say = (msg) => process.stdout.write(`[serve:workerd] ${msg}\n`);

const { values } = parseArgs({ options: { "no-seed": { type: "boolean" }, "persist-to": { type: "string" } }, strict: true });
const port = Number(process.env.PORT ?? 8787);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`[serve:workerd] PORT must be a TCP port number, got "${process.env.PORT}"\n`);
  process.exit(1);
}

// Handlers first: a signal during the build (seconds on a small machine) stops it cleanly too.
let server;
let stopping = false;
const stop = (signal) => {
  if (stopping) process.exit(1);
  stopping = true;
  say(`stopping (${signal})`);
  if (server === undefined) return; // Still starting: stopped as soon as it is up.
  server.stop().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`[serve:workerd] stop failed: ${e.message}\n`);
      process.exit(1);
    },
  );
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(signal));
try {
  // The bundle goes next to wrangler's own build output, not into the system temp folder.
  server = await startWorkerdServer({
    host: DEFAULT_HOST,
    port,
    bundleDir: join(ROOT, ".wrangler", "workerd-bundle"),
    ...(values["persist-to"] === undefined ? {} : { persistTo: values["persist-to"] }),
    log: say,
  });
} catch (e) {
  process.stderr.write(`[serve:workerd] ${e.message}\n`);
  process.exit(1);
}
if (stopping) {
  stopping = false;
  stop("stopped while starting");
  // stop() ends the process once workerd is down; nothing more to start meanwhile.
  await new Promise(() => {});
}
let failed = false;
if (!values["no-seed"]) {
  try {
    await seed(server.base, { log: say });
  } catch (e) {
    // The server stays up so the failing route can be looked at; the exit code remembers.
    failed = true;
    process.exitCode = 1;
    process.stderr.write(`[serve:workerd] SEED FAILED: ${e.message}\n`);
  }
}
say(`edgestock on workerd at ${server.base}${failed ? " (seed failed)" : ""}   (Ctrl+C stops it)`);
