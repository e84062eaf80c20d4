// The browser tests' world: a Chromium found (or installed from Debian, never downloaded), and a
// real Worker as `npm start` runs it (workerd directly, D1 migrated; the apps are built by `npm test`
// first) on a free port with its own state directory, seeded through the API. Each test opens its own
// browser profile.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../scripts/lib/dev-server.mjs";
import { startWorkerdServer } from "../../scripts/lib/workerd-server.mjs";
import { readSecret } from "../../scripts/lib/jwt.mjs";
import { ROOT } from "../../scripts/lib/wrangler.mjs";
import { seed } from "../../scripts/seed.mjs";

/** SKUs seeded for the browser tests: enough for every flow, quick to seed. */
export const BROWSER_SKUS = 60;

function findChromium() {
  const named = process.env.CHROMIUM_PATH;
  if (named !== undefined && named !== "") {
    if (!existsSync(named)) throw new Error(`CHROMIUM_PATH=${named} does not exist`);
    return named;
  }
  if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root && existsSync("/usr/bin/apt-get")) {
    process.stdout.write("[browser tests] no Chromium found: installing Debian's chromium package (apt-get install -y chromium)\n");
    execFileSync("apt-get", ["update"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  }
  throw new Error("The browser tests need Chromium: install it (Debian: sudo apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium binary.");
}

export default async function setup(project) {
  const chromium = findChromium();
  const persistTo = mkdtempSync(join(tmpdir(), "edgestock-browser-state-"));
  const server = await startWorkerdServer({ port: await freePort(), persistTo });
  try {
    await seed(server.base, { log: () => {}, skuCount: BROWSER_SKUS, concurrency: 8 });
  } catch (err) {
    await server.stop();
    throw err;
  }
  project.provide("baseUrl", server.base);
  project.provide("authSecret", readSecret(ROOT));
  project.provide("chromiumPath", chromium);
  project.provide("skuCount", BROWSER_SKUS);
  project.provide("persistTo", persistTo);
  return async () => {
    await server.stop();
    rmSync(persistTo, { recursive: true, force: true });
  };
}
