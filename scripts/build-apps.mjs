// Builds the POS and manager apps (apps/) into dist/web, the Worker's static assets
// (wrangler.toml [assets]). Run by `npm start`, `npm test` and `npm run deploy`; on its own:
//   node scripts/build-apps.mjs
// Two passes: the pages, then the POS service worker with the list of files it precaches (the
// first pass's output), so the POS starts with no network after its first load.
import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "vite";
import { ROOT } from "./lib/wrangler.mjs";

export const APPS_DIR = join(ROOT, "apps");
export const WEB_DIR = join(ROOT, "dist", "web");

const jsx = { oxc: { jsx: { runtime: "automatic", importSource: "preact" } } };

function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

export async function buildApps({ quiet = false } = {}) {
  const logLevel = quiet ? "warn" : "info";
  await build({
    root: APPS_DIR,
    publicDir: join(APPS_DIR, "public"),
    base: "/",
    logLevel,
    configFile: false,
    ...jsx,
    build: {
      outDir: WEB_DIR,
      emptyOutDir: true,
      target: "es2022",
      sourcemap: false,
      rollupOptions: { input: { pos: join(APPS_DIR, "pos.html"), manager: join(APPS_DIR, "manager.html") } },
    },
  });

  // What the POS needs to start offline: its page (served at /pos), its scripts, styles, manifest
  // and icon. The manager's files are left out: the dashboard is an online tool.
  const files = filesUnder(WEB_DIR)
    .map((f) => `/${relative(WEB_DIR, f).split(sep).join("/")}`)
    .filter((f) => f !== "/manager.html" && f !== "/pos.html" && !f.endsWith(".map"));
  const precache = ["/pos", ...files].sort();
  const version = createHash("sha256").update(JSON.stringify(precache)).digest("hex").slice(0, 12);

  await build({
    root: APPS_DIR,
    logLevel,
    configFile: false,
    publicDir: false,
    define: { __PRECACHE__: JSON.stringify(precache), __CACHE_VERSION__: JSON.stringify(version) },
    build: {
      outDir: WEB_DIR,
      emptyOutDir: false,
      target: "es2022",
      sourcemap: false,
      copyPublicDir: false,
      lib: { entry: join(APPS_DIR, "pos", "service-worker.ts"), formats: ["es"], fileName: () => "pos-sw.js" },
    },
  });
  return { dir: WEB_DIR, precache, version };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  const { dir, precache } = await buildApps({ quiet: true });
  process.stdout.write(`apps built into ${relative(ROOT, dir)} in ${((Date.now() - started) / 1000).toFixed(1)} s (${precache.length} files precached by the POS)\n`);
}
