// one-off: per-request latency timeline of holds on workerd directly
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { startWorkerdServer } from "../scripts/lib/workerd-server.mjs";
import { apiClient } from "../scripts/lib/http.mjs";
import { benchTokens, freePort, snapshotSources } from "./lib/targets.mjs";
import http from "node:http";

const tokens = benchTokens();
const sources = snapshotSources();
const state = mkdtempSync(join(os.tmpdir(), "edgestock-tail-"));
const bundleDir = join(state, "bundle");
mkdirSync(bundleDir);
const server = await startWorkerdServer({ port: await freePort(), persistTo: state, configPath: sources.configPath, bundleDir });
const admin = apiClient(server.base, tokens.admin);
await admin.request("PUT", "/v1/regions/north", { name: "North" });
await admin.request("PUT", "/v1/locations/W001", { kind: "warehouse", regionId: "north", name: "W", reserve: 0 });
const sku = "HOT-TAIL";
await admin.request("PUT", `/v1/skus/${sku}`, { name: "Hot" });
await admin.request("POST", "/v1/receipts", { sku, location: "W001", qty: 10_000_000 });
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const url = new URL(server.base);
const body = JSON.stringify({ lines: [{ sku, qty: 1 }] });
const conns = Number(process.argv[2] ?? 50);
const seconds = Number(process.argv[3] ?? 8);
const path = process.argv[4] ?? "holds";
let n = 0;
const rows = [];
const t0 = performance.now();
const one = () => new Promise((resolve) => {
  const cart = `t-${n++}`;
  const start = performance.now();
  const req = http.request({ host: url.hostname, port: url.port, method: path === "healthz" ? "GET" : "POST", path: path === "healthz" ? "/healthz" : `/v1/carts/${cart}/holds`, agent, headers: { authorization: `Bearer ${tokens.shopper}`, "content-type": "application/json" } }, (res) => {
    res.resume();
    res.on("end", () => { rows.push([start - t0, performance.now() - start, res.statusCode]); resolve(); });
  });
  req.on("error", () => { rows.push([start - t0, -1, 0]); resolve(); });
  if (path !== "healthz") req.end(body); else req.end();
});
await Promise.all(Array.from({ length: conns }, async () => { while (performance.now() - t0 < seconds * 1000) await one(); }));
await server.stop();
rmSync(state, { recursive: true, force: true });
sources.remove();
const lat = rows.map((r) => r[1]).sort((a, b) => a - b);
const p = (q) => lat[Math.min(lat.length - 1, Math.ceil(q * lat.length) - 1)].toFixed(0);
console.log(`conns ${conns}: ${rows.length} in ${seconds}s = ${(rows.length / seconds).toFixed(0)}/s p50 ${p(0.5)} p90 ${p(0.9)} p99 ${p(0.99)} max ${p(1)}`);
// slow ones: when did they start?
const slow = rows.filter((r) => r[1] > 500).map((r) => `${(r[0] / 1000).toFixed(2)}s:${r[1].toFixed(0)}`);
console.log(`over 500 ms: ${slow.length}; first 40: ${slow.slice(0, 40).join(" ")}`);
// per 250ms window: completions
const win = new Map();
for (const r of rows) { const w = Math.floor((r[0] + r[1]) / 250); win.set(w, (win.get(w) ?? 0) + 1); }
console.log("completions per 250 ms:", [...win.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]).join(" "));
