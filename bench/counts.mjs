// counts: a shelf count at the scale of a big store, on the Worker served by workerd directly
// (scripts/lib/workerd-server.mjs, the bundle wrangler deploys), on a throwaway state directory.
//
//   report     a count of --skus SKUs (default 10,000) at one store over a ledger of --movements
//              movements (default 1,000,000, seeded straight into D1 with SQL, balances posted per
//              (SKU, account) as a flush posts them), plus sales after the count's start: the report's ledger part
//              (its two D1 statements) at that scale, aim ≤ 500 ms; and GET /report end to end on
//              --e2e-skus of them (default: the whole count), cold and warm. --busy SKUs (default
//              200) take a receipt through their authorities just before: they are in the outbox
//              registry, and only they are asked for their outbox (docs/counts.md).
//   approve    those lines counted, one in 20 with a variance, submitted, approved: the time of
//              the approval request, and the D1 rows it causes (count lines, the count, and once
//              flushed the adjustment movements, their balances and their changefeed events).
//   converge   --clients y-websocket clients (default 20, Node `ws`) write --entries entries each
//              (default 500, one transaction per entry) into one sheet: time until every client
//              has every entry.
//
//   npm run bench -- counts [--skus N] [--movements N] [--e2e-skus N] [--busy N] [--clients N] [--entries N]
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { readSecret, signToken, ensureDevVars } from "../scripts/lib/jwt.mjs";
import { startWorkerdServer } from "../scripts/lib/workerd-server.mjs";
import { ROOT } from "../scripts/lib/wrangler.mjs";
import { writeResults } from "./lib/results.mjs";

const REPORT_AIM_MS = 500;
const STORE = "BS1";
const say = (msg) => process.stderr.write(`counts: ${msg}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The balances of movements written straight into D1 (ids LIKE `pattern`), as a flush would post
 * them (edge/sku/ledger-sink.ts): one upsert of each SKU's ledger row.
 */
async function postBalances(db, pattern) {
  await db
    .prepare(
      `INSERT INTO ledger_skus (sku, event_seq, balances)
       SELECT sku, 0, json_group_object(account, d) FROM (
         SELECT sku, account, SUM(d) AS d FROM (
           SELECT sku, from_account AS account, -qty AS d FROM movements WHERE id LIKE ?1
           UNION ALL SELECT sku, to_account, qty FROM movements WHERE id LIKE ?1
         ) GROUP BY sku, account
       ) WHERE true GROUP BY sku
       ON CONFLICT (sku) DO UPDATE SET balances = (SELECT json_group_object(key, total) FROM (
         SELECT key, SUM(value) AS total FROM (SELECT key, value FROM json_each(ledger_skus.balances) UNION ALL SELECT key, value FROM json_each(excluded.balances)) GROUP BY key
       ))`,
    )
    .bind(pattern)
    .run();
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - t0), value };
}

export async function main(argv) {
  const { values } = parseArgs({ args: argv, options: { skus: { type: "string", default: "10000" }, movements: { type: "string", default: "1000000" }, clients: { type: "string", default: "20" }, entries: { type: "string", default: "500" }, "e2e-skus": { type: "string", default: "all" }, busy: { type: "string", default: "200" } }, strict: true });
  const nSkus = Number(values.skus);
  const nMovements = Number(values.movements);
  const nClients = Number(values.clients);
  const nEntries = Number(values.entries);
  const nE2e = values["e2e-skus"] === "all" ? Infinity : Number(values["e2e-skus"]);
  const nBusy = Number(values.busy);
  ensureDevVars(ROOT);
  const secret = readSecret(ROOT);
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (claims) => signToken({ iat: now(), exp: now() + 3 * 3600, ...claims }, secret);
  const admin = sign({ sub: "bench-admin", role: "admin" });
  const manager = sign({ sub: "bench-manager", role: "manager", region: "BR1" });
  const staff = (sub) => sign({ sub, role: "staff", store: STORE });

  const stateDir = mkdtempSync(join(os.tmpdir(), "edgestock-bench-counts-"));
  say(`starting the Worker on workerd (state in ${stateDir})`);
  const { Log, LogLevel } = await import("miniflare");
  const server = await startWorkerdServer({ port: await freePort(), persistTo: stateDir, log: say, miniflareLog: new Log(process.env.COUNTS_BENCH_DEBUG === "1" ? LogLevel.DEBUG : LogLevel.WARN) });
  const api = async (method, path, token, body) => {
    const res = await fetch(`${server.base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return JSON.parse(text);
  };
  const providers = [];
  try {
    const db = await server.mf.getD1Database("DB");
    await api("PUT", "/v1/regions/BR1", admin, { name: "Bench region" });
    await api("PUT", `/v1/locations/${STORE}`, admin, { kind: "store", regionId: "BR1", name: "Bench store" });
    await api("PUT", "/v1/locations/BS2", admin, { kind: "store", regionId: "BR1", name: "Another store" });

    // ---- the ledger, seeded straight into D1 ------------------------------------------------
    say(`seeding ${nSkus} SKUs and ${nMovements} movements into D1`);
    const seedStart = performance.now();
    const stamp = new Date().toISOString();
    await db.prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1) INSERT INTO skus (id, name, perishable, low_stock, updated_at) SELECT printf('B%05d', i), printf('Bench item %d', i), 0, 0, ?2 FROM n`).bind(nSkus, stamp).run();
    const t0 = Date.now() - 30 * 24 * 3600_000;
    const span = 30 * 24 * 3600_000 - 60_000;
    const chunk = 100_000;
    for (let from = 0; from < nMovements; from += chunk) {
      const to = Math.min(nMovements, from + chunk);
      // Per SKU, in occurredAt order: a receipt of 100 every 20th movement, sales of 1 otherwise;
      // every 10th movement at another store.
      await db
        .prepare(
          `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2 - 1)
           INSERT INTO movements (id, sku, from_account, to_account, qty, occurred_at, recorded_at, landed_at, source, ref, lot, expires_on)
           SELECT printf('seed.%d', i), printf('B%05d', i % ?3),
                  CASE WHEN (i / ?3) % 20 = 0 THEN 'supplier' WHEN (i / ?3) % 10 = 9 THEN 'loc:BS2' ELSE 'loc:${STORE}' END,
                  CASE WHEN (i / ?3) % 20 = 0 THEN (CASE WHEN (i / ?3) % 10 = 9 THEN 'loc:BS2' ELSE 'loc:${STORE}' END) ELSE 'customer' END,
                  CASE WHEN (i / ?3) % 20 = 0 THEN 100 ELSE 1 END,
                  ?4 + i * ?5 / ?6, ?4 + i * ?5 / ?6, ?4 + i * ?5 / ?6, 'system', NULL, NULL, NULL
           FROM n`,
        )
        .bind(from, to, nSkus, t0, span, nMovements)
        .run();
      say(`  ${to} movements`);
    }
    await postBalances(db, "seed.%");
    const seedMs = Math.round(performance.now() - seedStart);
    say(`seeded in ${(seedMs / 1000).toFixed(1)} s`);

    // Busy SKUs: a receipt through their authorities, so they are listed in the outbox registry
    // (and some still have it in their outbox) when the count starts.
    const busySkus = Array.from({ length: Math.min(nBusy, nSkus) }, (_, i) => `B${String(Math.floor((i * nSkus) / Math.max(1, nBusy))).padStart(5, "0")}`);
    for (let i = 0; i < busySkus.length; i += 20) {
      await Promise.all(busySkus.slice(i, i + 20).map((sku) => api("POST", "/v1/receipts", admin, { sku, location: STORE, qty: 5 })));
    }
    say(`${busySkus.length} busy SKUs took a receipt through their authorities`);

    // ---- the count ------------------------------------------------------------------------------
    const created = await api("POST", "/v1/counts", staff("bench-lead"), { location: STORE });
    const countId = created.countId;
    say(`count ${countId} of ${created.skus.length} SKUs`);
    // Sales after the start (straight into D1): they must not change `expected`.
    const after = Date.parse(created.startedAt) + 1_000;
    await db
      .prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1) INSERT INTO movements (id, sku, from_account, to_account, qty, occurred_at, recorded_at, landed_at, source) SELECT printf('late.%d', i), printf('B%05d', i), 'loc:${STORE}', 'customer', 1, ?2, ?2, ?2, 'system' FROM n`)
      .bind(nSkus, after)
      .run();
    await postBalances(db, "late.%");

    // The ledger part of the report at full scale: the report's own two statements (edge/count/count-report.ts).
    const account = `loc:${STORE}`;
    const skuList = JSON.stringify(created.skus);
    const startedAtMs = Date.parse(created.startedAt);
    const ledgerPart = async () =>
      db.batch([
        db.prepare("SELECT b.sku AS sku, b.balance AS n FROM json_each(?1) j CROSS JOIN balances b ON b.sku = j.value AND b.account = ?2").bind(skuList, account),
        db.prepare("SELECT m.sku AS sku, SUM(CASE WHEN m.to_account = ?2 THEN m.qty ELSE -m.qty END) AS n FROM json_each(?1) j CROSS JOIN movements m ON m.sku = j.value AND m.occurred_at > ?3 WHERE m.from_account = ?2 OR m.to_account = ?2 GROUP BY m.sku").bind(skuList, account, startedAtMs),
      ]);
    await ledgerPart();
    const ledgerRuns = [];
    for (let i = 0; i < 3; i++) ledgerRuns.push((await timed(ledgerPart)).ms);
    const ledgerMs = Math.min(...ledgerRuns);
    say(`ledger part of the report for ${created.skus.length} SKUs: ${ledgerMs} ms`);

    // End to end: the registry, the listed (busy) authorities' outboxes, the ledger.
    const e2eSkus = created.skus.slice(0, nE2e);
    // The whole count when every SKU is asked for (a list of 10,000 would not fit in a request body).
    const small = e2eSkus.length === created.skus.length ? created : await api("POST", "/v1/counts", staff("bench-lead"), { location: STORE, skus: e2eSkus });
    const cold = await timed(() => api("GET", `/v1/counts/${small.countId}/report`, manager));
    const warm1 = await timed(() => api("GET", `/v1/counts/${small.countId}/report`, manager));
    const warm2 = await timed(() => api("GET", `/v1/counts/${small.countId}/report`, manager));
    const reportMs = Math.min(warm1.ms, warm2.ms);
    say(`report of ${e2eSkus.length} SKUs end to end: first ${cold.ms} ms, again ${reportMs} ms`);

    // Every line counted, one in 20 with a variance of ±1 or ±2, by one clerk in transactions of at
    // most 500 entries (a sync message stays under the sheet's message bound).
    const clerkDoc = new Y.Doc();
    const clerk = new WebsocketProvider(`${server.base.replace(/^http/, "ws")}/v1/counts`, `${small.countId}/sync`, clerkDoc, { params: { token: staff("bench-clerk") }, WebSocketPolyfill: WebSocket, disableBc: true });
    providers.push(clerk);
    await new Promise((resolve) => clerk.once("sync", resolve));
    const expected = [...cold.value.lines.map((l) => [l.sku, l.expected])];
    const deltas = [-2, -1, 1, 2];
    for (let from = 0; from < expected.length; from += 500) {
      clerkDoc.transact(() => {
        const lines = clerkDoc.getMap("lines");
        for (let i = from; i < Math.min(expected.length, from + 500); i++) {
          const [sku, exp] = expected[i];
          const d = i % 20 === 0 ? deltas[(i / 20) % 4] : 0;
          lines.get(sku).set("bench-clerk:shelf", Math.max(0, exp + d) === exp && d !== 0 ? exp + 1 : Math.max(0, exp + d));
        }
      });
      await new Promise((r) => setTimeout(r, 50));
    }
    for (;;) {
      const r = await api("GET", `/v1/counts/${small.countId}/report`, manager);
      if (r.lines.every((l) => Object.keys(l.entries).length === 1)) break;
      await new Promise((r2) => setTimeout(r2, 200));
    }
    clerk.destroy();
    await api("POST", `/v1/counts/${small.countId}/submit`, staff("bench-lead"));
    const submittedReport = await api("GET", `/v1/counts/${small.countId}/report`, manager);
    const withVariance = submittedReport.lines.filter((l) => l.variance !== 0).length;

    const approval = await timed(() => api("POST", `/v1/counts/${small.countId}/approve`, manager, {}));
    const adjustments = approval.value.adjustments.length;
    say(`approval of ${adjustments} adjustments: ${approval.ms} ms`);
    const flushStart = performance.now();
    let landed = 0;
    while (landed < adjustments && performance.now() - flushStart < 300_000) {
      landed = (await db.prepare("SELECT COUNT(*) AS n FROM movements WHERE ref = ?").bind(small.countId).first()).n;
      if (landed < adjustments) await new Promise((r) => setTimeout(r, 250));
    }
    const flushMs = Math.round(performance.now() - flushStart);
    const countLines = (await db.prepare("SELECT COUNT(*) AS n FROM count_lines WHERE count_id = ?").bind(small.countId).first()).n;
    const events = (await db.prepare("SELECT COUNT(*) AS n FROM events WHERE json_extract(body, '$.movementId') LIKE ?").bind(`count.${small.countId}.%`).first()).n;
    // Rows the approval wrote: its count lines and the count row at once; then, flushed by the
    // authorities, one movement per adjustment, a balance upsert per account per flush, their events.
    const rowsWritten = countLines + 1 + landed + 2 * landed + events;
    say(`flushed ${landed} adjustment movements in ${flushMs} ms; D1 rows written ${rowsWritten}`);

    // ---- convergence: many clients, one sheet ---------------------------------------------------
    const sheetSkus = Array.from({ length: nEntries }, (_, i) => `B${String(i).padStart(5, "0")}`);
    const sheet = await api("POST", "/v1/counts", staff("bench-lead"), { location: STORE, skus: sheetSkus });
    const docs = [];
    for (let c = 0; c < nClients; c++) {
      const doc = new Y.Doc();
      const id = `clerk-${String(c).padStart(2, "0")}`;
      const p = new WebsocketProvider(`${server.base.replace(/^http/, "ws")}/v1/counts`, `${sheet.countId}/sync`, doc, { params: { token: staff(id) }, WebSocketPolyfill: WebSocket, disableBc: true });
      providers.push(p);
      docs.push({ doc, id, p });
    }
    await Promise.all(docs.map(({ p }) => (p.synced ? undefined : new Promise((resolve) => p.once("sync", resolve)))));
    const total = nClients * nEntries;
    const entriesIn = (doc) => {
      let n = 0;
      for (const line of doc.getMap("lines").values()) n += line.size;
      return n;
    };
    const convergeStart = performance.now();
    for (let e = 0; e < nEntries; e++) {
      for (const { doc, id } of docs) doc.getMap("lines").get(sheetSkus[e]).set(`${id}:z`, e + 1);
      if (e % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    const writtenMs = Math.round(performance.now() - convergeStart);
    while (!docs.every(({ doc }) => entriesIn(doc) === total) && performance.now() - convergeStart < 300_000) await new Promise((r) => setTimeout(r, 20));
    const convergeMs = Math.round(performance.now() - convergeStart);
    const converged = docs.every(({ doc }) => entriesIn(doc) === total);
    say(`${nClients} clients × ${nEntries} entries: written in ${writtenMs} ms, every client has all ${total} after ${convergeMs} ms`);

    const rows = [
      [`report, ledger part, ${created.skus.length} SKUs`, `${ledgerMs} ms`, `over ${nMovements + nSkus} movements; aim ≤ ${REPORT_AIM_MS} ms: ${ledgerMs <= REPORT_AIM_MS ? "met" : "missed"}`],
      [`report end to end, ${e2eSkus.length} SKUs, first`, `${cold.ms} ms`, `registry, ${busySkus.length} listed authorities' outboxes, ledger`],
      [`report end to end, ${e2eSkus.length} SKUs, again`, `${reportMs} ms`, `about ${(reportMs / e2eSkus.length).toFixed(3)} ms per SKU`],
      [`approval of ${withVariance} lines with a variance`, `${approval.ms} ms`, `${adjustments} adjustments through their authorities`],
      ["approval: adjustments landed in D1", `${flushMs} ms after the answer`, `${rowsWritten} D1 rows (${countLines} count lines, 1 count, ${landed} movements, their SKUs' ledger rows, ${events} events in pages)`],
      [`${nClients} y-websocket clients × ${nEntries} entries, one sheet`, `${convergeMs} ms to converge`, converged ? `all ${total} entries on every client` : "did not converge"],
    ];
    process.stdout.write(`\n| measure | time | note |\n|---|---|---|\n${rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}\n`);
    writeResults("counts", {
      at: new Date().toISOString(),
      machine: { cpus: os.cpus().length, node: process.version },
      seed: { skus: nSkus, movements: nMovements, lateSales: nSkus, seedMs },
      report: { ledgerPart: { skus: created.skus.length, ms: ledgerMs, runsMs: ledgerRuns, aimMs: REPORT_AIM_MS, met: ledgerMs <= REPORT_AIM_MS }, endToEnd: { skus: e2eSkus.length, listed: busySkus.length, coldMs: cold.ms, warmMs: reportMs } },
      approval: { lines: withVariance, adjustments, ms: approval.ms, flushedMs: flushMs, d1RowsWritten: rowsWritten, countLines, movements: landed, balanceRows: 2 * landed, events },
      converge: { clients: nClients, entriesEach: nEntries, writtenMs, convergeMs, converged },
    });
    return converged && landed === adjustments ? 0 : 1;
  } finally {
    for (const p of providers) p.destroy();
    await server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
