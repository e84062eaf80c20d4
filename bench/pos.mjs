// pos: the till in Chromium with a large catalog. Starts its own Worker (as `npm start` runs it,
// own state directory), puts N SKUs straight into D1, and measures through the real POS app:
//   - catalog bootstrap: first load of /pos to "N items on this device" (GET /v1/catalog, paged);
//   - offline cold start: a relaunched browser, offline, from navigation to the first possible
//     scan (the scan box on screen, the store client open);
// and, in a page on the same origin through the same store client and database:
//   - barcode lookup in the N-SKU local catalog;
//   - recording a one-line sale while 10,000 operations are pending.
//
//   npm run bench -- pos [--skus 50000] [--lookups 2000] [--pending 10000] [--sales 500] [--cold 5]
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { build } from "vite";
import { freePort } from "../scripts/lib/dev-server.mjs";
import { startWorkerdServer } from "../scripts/lib/workerd-server.mjs";
import { readSecret, signToken } from "../scripts/lib/jwt.mjs";
import { ROOT, runWrangler } from "../scripts/lib/wrangler.mjs";
import { writeResults } from "./lib/results.mjs";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
const AIMS = { lookupP99Ms: 5, coldStartMs: 1500, bootstrapS: 15, saleP99Ms: 20 };

const say = (msg) => process.stdout.write(`pos: ${msg}\n`);
const fmt = (n, d = 1) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

function chromiumPath() {
  const named = process.env.CHROMIUM_PATH;
  if (named) return named;
  if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  throw new Error("needs Chromium: install it (Debian: sudo apt-get install -y chromium) or set CHROMIUM_PATH");
}

/** N SKUs as SQL inserts, 500 rows a statement: D1 straight, not N admin requests. */
function catalogSql(n) {
  const now = new Date().toISOString();
  const statements = [];
  for (let from = 1; from <= n; from += 500) {
    const rows = [];
    for (let i = from; i < Math.min(from + 500, n + 1); i++) rows.push(`('BENCH-${String(i).padStart(6, "0")}','Bench item ${i}','29${String(i).padStart(11, "0")}',0,'${now}')`);
    statements.push(`INSERT OR IGNORE INTO skus (id, name, barcode, perishable, updated_at) VALUES ${rows.join(",")};`);
  }
  return statements.join("\n");
}

async function benchPageScript() {
  const out = await build({
    configFile: false,
    logLevel: "warn",
    build: { write: false, target: "es2022", minify: false, lib: { entry: join(ROOT, "bench", "pos", "page.ts"), formats: ["es"], fileName: () => "page.js" } },
  });
  const outputs = Array.isArray(out) ? out.flatMap((o) => o.output) : out.output;
  return outputs.find((o) => o.type === "chunk").code;
}

export async function main(argv = []) {
  const { values } = parseArgs({
    args: argv,
    options: {
      skus: { type: "string", default: "50000" },
      lookups: { type: "string", default: "2000" },
      pending: { type: "string", default: "10000" },
      sales: { type: "string", default: "500" },
      cold: { type: "string", default: "5" },
    },
    strict: true,
  });
  const o = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Number(v)]));
  for (const [k, v] of Object.entries(o)) if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${k} must be a positive whole number`);

  const executablePath = chromiumPath();
  const persistTo = mkdtempSync(join(tmpdir(), "edgestock-bench-pos-state-"));
  const profile = mkdtempSync(join(tmpdir(), "edgestock-bench-pos-profile-"));
  say(`starting a Worker of its own (state in ${persistTo})`);
  const server = await startWorkerdServer({ port: await freePort(), persistTo, build: true });
  let context = null;
  try {
    const sqlFile = join(persistTo, "catalog.sql");
    writeFileSync(sqlFile, catalogSql(o.skus));
    say(`putting ${o.skus.toLocaleString("en-US")} SKUs into D1`);
    const code = await runWrangler(["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--file", sqlFile], { env: { CI: "true" }, stdio: ["ignore", "ignore", "inherit"] });
    if (code !== 0) throw new Error(`wrangler d1 execute failed (exit ${code})`);

    const now = Math.floor(Date.now() / 1000);
    const terminalId = "S001-bench-pos";
    const token = signToken({ sub: terminalId, role: "terminal", store: "S001", iat: now, exp: now + 3 * 3600 }, readSecret(ROOT));
    const open = () => chromium.launchPersistentContext(profile, { executablePath, headless: true, args: FLAGS, viewport: { width: 1280, height: 800 } });
    const catalogDone = (page) => page.getByText(`Catalog: ${o.skus.toLocaleString("en-US")} items on this device`).waitFor({ timeout: 300_000 });

    // Bootstrap: the POS's first load on a new device, catalog paged from the edge.
    context = await open();
    let page = await context.newPage();
    const t0 = Date.now();
    await page.goto(`${server.base}/pos#token=${token}`);
    await catalogDone(page);
    const bootstrapMs = Date.now() - t0;
    await page.getByText("Ready to work offline").waitFor({ timeout: 60_000 });
    say(`catalog bootstrap: ${fmt(bootstrapMs / 1000)} s`);

    // Offline cold starts: a new browser process each time, no network, to the first possible scan.
    const coldMs = [];
    for (let i = 0; i < o.cold; i++) {
      await context.close();
      context = await open();
      await context.setOffline(true);
      page = await context.newPage();
      await page.goto(`${server.base}/pos`);
      await page.getByLabel("Scan or search").waitFor({ state: "visible", timeout: 60_000 });
      // performance.now() counts from the navigation's start.
      coldMs.push(await page.evaluate(() => performance.now()));
    }
    say(`offline cold start: median ${fmt(pct(coldMs, 50), 0)} ms`);

    // Micro-benchmarks through the store client on the same origin and database.
    const script = await benchPageScript();
    await context.route(`${server.base}/__bench/pos`, (route) => route.fulfill({ contentType: "text/html", body: `<!doctype html><title>pos bench</title><script type="module" src="/__bench/pos.js"></script>` }));
    await context.route(`${server.base}/__bench/pos.js`, (route) => route.fulfill({ contentType: "text/javascript", body: script }));
    await page.goto(`${server.base}/__bench/pos`);
    await page.waitForFunction(() => document.title === "pos bench ready", null, { timeout: 30_000 });
    const localItems = await page.evaluate(([id, t]) => globalThis.posBench.open(id, "S001", t), [terminalId, token]);
    if (localItems !== o.skus) throw new Error(`the local catalog holds ${localItems} items, not ${o.skus}`);
    const barcodes = Array.from({ length: o.lookups }, (_, i) => `29${String(1 + ((i * 7919) % o.skus)).padStart(11, "0")}`);
    const lookupMs = await page.evaluate((b) => globalThis.posBench.lookups(b), barcodes);
    say(`barcode lookup: p50 ${fmt(pct(lookupMs, 50), 2)} ms, p99 ${fmt(pct(lookupMs, 99), 2)} ms`);
    const skus = Array.from({ length: 200 }, (_, i) => `BENCH-${String(1 + i * 13).padStart(6, "0")}`);
    const filled = await page.evaluate(([s, n]) => globalThis.posBench.fillOutbox(s, n), [skus, o.pending]);
    const saleMs = await page.evaluate(([s, n]) => globalThis.posBench.sales(s, n), [skus, o.sales]);
    const pendingAfter = filled.pending + o.sales;
    say(`sale with ${filled.pending.toLocaleString("en-US")} pending: p50 ${fmt(pct(saleMs, 50), 2)} ms, p99 ${fmt(pct(saleMs, 99), 2)} ms`);
    await page.evaluate(() => globalThis.posBench.close());

    const rows = [
      ["barcode lookup, local catalog", `${o.skus.toLocaleString("en-US")} SKUs, ${o.lookups.toLocaleString("en-US")} lookups`, `p50 ${fmt(pct(lookupMs, 50), 2)} ms, p99 ${fmt(pct(lookupMs, 99), 2)} ms`, `p99 ≤ ${AIMS.lookupP99Ms} ms`, pct(lookupMs, 99) <= AIMS.lookupP99Ms],
      ["offline cold start to first possible scan", `${o.cold} browser restarts, offline`, `median ${fmt(pct(coldMs, 50), 0)} ms, worst ${fmt(Math.max(...coldMs), 0)} ms`, `≤ ${AIMS.coldStartMs} ms`, pct(coldMs, 50) <= AIMS.coldStartMs],
      ["catalog bootstrap (first load to catalog on the device)", `${o.skus.toLocaleString("en-US")} SKUs, pages of 1,000`, `${fmt(bootstrapMs / 1000)} s`, `≤ ${AIMS.bootstrapS} s`, bootstrapMs / 1000 <= AIMS.bootstrapS],
      ["recording a one-line sale", `${filled.pending.toLocaleString("en-US")} ops pending, ${o.sales} sales`, `p50 ${fmt(pct(saleMs, 50), 2)} ms, p99 ${fmt(pct(saleMs, 99), 2)} ms`, `p99 ≤ ${AIMS.saleP99Ms} ms`, pct(saleMs, 99) <= AIMS.saleP99Ms],
    ];
    process.stdout.write(`\n| measure | setup | result | aim |\n|---|---|---|---|\n`);
    for (const [what, setup, result, aim, met] of rows) process.stdout.write(`| ${what} | ${setup} | ${result} | ${aim}: ${met ? "met" : "missed"} |\n`);

    writeResults("pos", {
      measuredAt: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? "unknown", memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}`, chromium: execFileSync(executablePath, ["--version"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim() },
      options: o,
      aims: AIMS,
      bootstrap: { skus: o.skus, ms: bootstrapMs },
      coldStart: { runs: coldMs.map((m) => Math.round(m)), medianMs: Math.round(pct(coldMs, 50)), worstMs: Math.round(Math.max(...coldMs)) },
      lookup: { n: o.lookups, p50Ms: pct(lookupMs, 50), p99Ms: pct(lookupMs, 99), maxMs: Math.max(...lookupMs) },
      sale: { pendingBefore: filled.pending, pendingAfter, fillMs: Math.round(filled.ms), n: o.sales, p50Ms: pct(saleMs, 50), p99Ms: pct(saleMs, 99), maxMs: Math.max(...saleMs) },
      met: Object.fromEntries(rows.map(([what, , , , met]) => [what, met])),
    });
    return 0;
  } catch (err) {
    process.stderr.write(`pos: ${err.stack ?? err}\n`);
    return 1;
  } finally {
    await context?.close().catch(() => {});
    await server.stop();
    rmSync(profile, { recursive: true, force: true });
    rmSync(persistTo, { recursive: true, force: true });
  }
}
