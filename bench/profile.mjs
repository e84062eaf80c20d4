// profile: where a hold's and a sale's time goes, from workerd's own CPU profiler.
//
// Serves the Worker on workerd directly (as `npm start` does) with V8's inspector open, stocks one
// hot SKU, starts the CPU profiler of the Worker's isolate over the DevTools protocol, puts the
// load of the hot-sku bench on it for --duration seconds, stops the profiler and prints:
//   - busy vs idle: how much of the wall time the isolate ran JavaScript at all (idle = waiting on
//     storage, the network or the disk);
//   - self time by part: edgestock's own modules (edge/…, ledger/…), hono, zod, the runtime's
//     built-ins ((program), (garbage collector), native calls such as SQL and crypto);
//   - the functions with the most self time, and the edgestock functions with the most total time.
// The profile itself is written to bench/results/profile-<scenario>.cpuprofile (open it in Chrome
// DevTools → Performance, or speedscope) when --keep is given.
//
//   npm run bench -- profile [--scenario holds|sales] [--duration S] [--connections N] [--keep]
//
// The profiler's sampling slows the isolate a little; its figures are shares, not throughput (the
// hot-sku bench measures that without a profiler).
import autocannon from "autocannon";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { startWorkerdServer } from "../scripts/lib/workerd-server.mjs";
import { ROOT } from "../scripts/lib/wrangler.mjs";
import { apiClient } from "../scripts/lib/http.mjs";
import { benchTokens, freePort, snapshotSources } from "./lib/targets.mjs";
import os from "node:os";

const say = (msg) => process.stderr.write(`profile: ${msg}\n`);

/** A DevTools protocol session on the first target the inspector lists. */
async function inspect(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl !== undefined);
  if (target === undefined) throw new Error(`workerd's inspector on port ${port} lists no target`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let next = 1;
  const waiting = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data));
    const w = msg.id === undefined ? undefined : waiting.get(msg.id);
    if (w === undefined) return;
    waiting.delete(msg.id);
    if (msg.error !== undefined) w.reject(new Error(`${w.method}: ${msg.error.message}`));
    else w.resolve(msg.result);
  });
  return {
    name: target.title ?? target.id,
    send(method, params = {}) {
      const id = next++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => waiting.set(id, { method, resolve, reject }));
    },
    close: () => ws.close(),
  };
}

/** The part of the code a profile node belongs to, from its script URL and function name. */
function partOf(node) {
  const { url, functionName } = node.callFrame;
  if (functionName === "(idle)") return "idle";
  if (functionName === "(program)" || functionName === "(garbage collector)" || functionName === "(root)") return functionName;
  const source = url ?? "";
  if (/node_modules\/hono\//.test(source) || /\bhono\b/.test(source)) return "hono";
  if (/node_modules\/zod\//.test(source)) return "zod";
  if (/node_modules\/drizzle-orm\//.test(source)) return "drizzle";
  if (/\/edge\//.test(source) || /\/ledger\//.test(source)) return "edgestock";
  if (source === "") return "runtime (native: SQL, crypto, RPC, JSON)";
  return "other bundled code";
}

/**
 * Maps bundle positions back to source files: the bundle has a source map whose `sources` name
 * every file; a profile node's line and column point into the bundle.
 */
function sourceMapper(bundleDir) {
  const mapPath = join(bundleDir, "index.js.map");
  if (!existsSync(mapPath)) return () => null;
  const map = JSON.parse(readFileSync(mapPath, "utf8"));
  // Decode only what is needed: for each generated line, segments of [column, source].
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const lines = [];
  let source = 0;
  let origLine = 0;
  for (const line of map.mappings.split(";")) {
    const segs = [];
    let col = 0;
    for (const seg of line.split(",")) {
      if (seg === "") continue;
      const values = [];
      let shift = 0;
      let value = 0;
      for (const ch of seg) {
        const digit = chars.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >> 1) : value >> 1);
          value = 0;
          shift = 0;
        }
      }
      col += values[0];
      if (values.length > 1) {
        source += values[1];
        origLine += values[2];
        segs.push([col, source, origLine]);
      }
    }
    lines.push(segs);
  }
  return (lineNumber, columnNumber) => {
    const segs = lines[lineNumber];
    if (segs === undefined || segs.length === 0) return null;
    let found = segs[0];
    for (const s of segs) {
      if (s[0] <= columnNumber) found = s;
      else break;
    }
    const file = map.sources[found[1]];
    return file === undefined ? null : `${file}:${found[2] + 1}`;
  };
}

function summarize(profile, sourceOf) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const intervals = profile.timeDeltas;
  const total = (profile.endTime - profile.startTime) / 1000;
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (intervals[i] ?? 0) / 1000));
  const fileOf = (n) => {
    const src = n.callFrame.url && n.callFrame.lineNumber >= 0 ? sourceOf(n.callFrame.lineNumber, n.callFrame.columnNumber) : null;
    return src ?? n.callFrame.url ?? "";
  };
  const parts = new Map();
  const fns = new Map();
  for (const [id, ms] of self) {
    const n = byId.get(id);
    const file = fileOf(n);
    const part = partOf({ callFrame: { ...n.callFrame, url: file } });
    parts.set(part, (parts.get(part) ?? 0) + ms);
    const key = `${n.callFrame.functionName || "(anonymous)"}  ${file.replace(/^.*?(edge\/|ledger\/|node_modules\/)/, "$1")}`;
    fns.set(key, (fns.get(key) ?? 0) + ms);
  }
  // Total (inclusive) time of edgestock's own functions: self time of every descendant.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map();
  for (const [id, ms] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      const file = fileOf(n);
      if (!/\/(edge|ledger)\//.test(file)) continue;
      const key = `${n.callFrame.functionName || "(anonymous)"}  ${file.replace(/^.*?(edge\/|ledger\/)/, "$1")}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  }
  // Lines of edgestock's own code that the samples landed on (V8's positionTicks), in source terms.
  const lineMs = new Map();
  const msPerTick = profile.samples.length === 0 ? 0 : total / profile.samples.length;
  for (const n of profile.nodes) {
    if (!/\/(edge|ledger)\//.test(fileOf(n))) continue;
    for (const t of n.positionTicks ?? []) {
      const src = sourceOf(t.line - 1, 0);
      if (src === null || !/\/(edge|ledger)\//.test(src)) continue;
      const key = `${n.callFrame.functionName || "(anonymous)"} at ${src.replace(/^.*?(edge\/|ledger\/)/, "$1")}`;
      lineMs.set(key, (lineMs.get(key) ?? 0) + t.ticks * msPerTick);
    }
  }
  const top = (m, k) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  return { totalMs: total, parts: top(parts, 20), fns: top(fns, 25), inclusive: top(inclusive, 20), lines: top(lineMs, 15) };
}

export async function main(argv = []) {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: "string", default: "holds" },
      duration: { type: "string", default: "10" },
      connections: { type: "string", default: "50" },
      keep: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (!["holds", "sales"].includes(values.scenario)) throw new Error("--scenario must be holds or sales");
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const tokens = benchTokens();
  const sources = snapshotSources();
  const state = mkdtempSync(join(os.tmpdir(), "edgestock-profile-"));
  const bundleDir = join(state, "bundle");
  mkdirSync(bundleDir);
  const inspectorPort = await freePort();
  say("starting edgestock on workerd with the inspector open");
  const server = await startWorkerdServer({ port: await freePort(), persistTo: state, configPath: sources.configPath, bundleDir, inspectorPort, log: (m) => say(`  ${m}`) });
  try {
    const admin = apiClient(server.base, tokens.admin);
    await admin.request("PUT", "/v1/regions/north", { name: "North" });
    await admin.request("PUT", "/v1/locations/W001", { kind: "warehouse", regionId: "north", name: "Warehouse", reserve: 0 });
    const sku = "HOT-PROFILE";
    await admin.request("PUT", `/v1/skus/${sku}`, { name: "Hot" });
    await admin.request("POST", "/v1/receipts", { sku, location: "W001", qty: 10_000_000 });
    const session = await inspect(inspectorPort);
    say(`profiling ${session.name}: ${values.scenario}, ${duration} s, ${connections} connections`);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 200 });
    await session.send("Profiler.start");
    const tag = Date.now().toString(36);
    let n = 0;
    const auth = { authorization: `Bearer ${tokens.shopper}`, "content-type": "application/json" };
    const body = JSON.stringify({ lines: [{ sku, qty: 1 }] });
    const requests =
      values.scenario === "holds"
        ? [{ method: "POST", path: "/", headers: auth, body, setupRequest: (req) => ({ ...req, path: `/v1/carts/p-${tag}-${n++}/holds` }) }]
        : [
            { method: "POST", path: "/", headers: auth, body, setupRequest: (req, ctx) => ((ctx.cart = `p-${tag}-${n++}`), { ...req, path: `/v1/carts/${ctx.cart}/holds` }) },
            { method: "POST", path: "/", headers: { authorization: auth.authorization }, setupRequest: (req, ctx) => ({ ...req, path: `/v1/carts/${ctx.cart}/checkout` }) },
          ];
    const load = await autocannon({ url: server.base, connections, duration, requests });
    const { profile } = await session.send("Profiler.stop");
    session.close();
    const sourceOf = sourceMapper(bundleDir);
    const s = summarize(profile, sourceOf);
    const pct = (ms) => `${((100 * ms) / s.totalMs).toFixed(1)} %`;
    const out = [];
    out.push(`\n## Profile of ${values.scenario} on workerd (${new Date().toISOString().slice(0, 16)} UTC, ${os.cpus().length} cores)\n`);
    out.push(`${load.requests.total.toLocaleString("en-US")} requests in ${duration} s (${Math.round(load.requests.average).toLocaleString("en-US")}/s, p99 ${load.latency.p99} ms, non-2xx ${load.non2xx}) while profiled; profile ${Math.round(s.totalMs).toLocaleString("en-US")} ms of wall time\n`);
    out.push("| part | self ms | share of wall time |\n|---|---:|---:|");
    for (const [part, ms] of s.parts) out.push(`| ${part} | ${Math.round(ms).toLocaleString("en-US")} | ${pct(ms)} |`);
    out.push("\n| function (self time) | ms | share |\n|---|---:|---:|");
    for (const [fn, ms] of s.fns) out.push(`| \`${fn.trim()}\` | ${Math.round(ms).toLocaleString("en-US")} | ${pct(ms)} |`);
    out.push("\n| edgestock function (total time, callees included) | ms | share |\n|---|---:|---:|");
    for (const [fn, ms] of s.inclusive) out.push(`| \`${fn.trim()}\` | ${Math.round(ms).toLocaleString("en-US")} | ${pct(ms)} |`);
    out.push("\n| edgestock source line (self time sampled there) | ms | share |\n|---|---:|---:|");
    for (const [line, ms] of s.lines) out.push(`| \`${line}\` | ${Math.round(ms).toLocaleString("en-US")} | ${pct(ms)} |`);
    process.stdout.write(`${out.join("\n")}\n`);
    if (values.keep) {
      const dir = join(ROOT, "bench", "results");
      writeFileSync(join(dir, `profile-${values.scenario}.cpuprofile`), JSON.stringify(profile));
      say(`profile written to bench/results/profile-${values.scenario}.cpuprofile`);
    }
    return 0;
  } finally {
    await server.stop();
    rmSync(state, { recursive: true, force: true });
    sources.remove();
  }
}
