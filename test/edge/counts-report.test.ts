/**
 * A count's report and approval against the ledger (I8): expected is the stock as of the count's
 * start by occurredAt, whenever the movements arrive; provisional while a terminal of the store has
 * not synced since before the start; approval posts exactly the variances, once.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { LedgerSink } from "../../edge/sku/ledger-sink";
import { adminToken, availability, call, catalog, expectProblem, fresh, inSku, must, receive, token } from "./helpers";
import { settle } from "./objects";
import { clerk, until } from "./count-clients";

const STORE = "RS1";
let staff = "";
let manager = "";

beforeAll(async () => {
  await catalog({ locations: [{ id: STORE, kind: "store", region: "RR1" }, { id: "RS9", kind: "store", region: "RR9" }] });
  staff = await token({ role: "staff", sub: "clerk-1", store: STORE });
  manager = await token({ role: "manager", sub: "mgr-1", region: "RR1" });
});

async function skusWithStock(n: number, qty: number): Promise<string[]> {
  const skus = Array.from({ length: n }, () => fresh("RPT"));
  await catalog({ skus });
  for (const s of skus) await receive(s, STORE, qty);
  for (const s of skus) await settle(s);
  return skus;
}

async function terminal(): Promise<{ id: string; token: string; push: (ops: unknown[]) => Promise<void> }> {
  const id = fresh("till");
  const t = await token({ role: "terminal", sub: id, store: STORE });
  let seq = 0;
  const push = async (ops: unknown[]) => {
    const numbered = ops.map((op) => ({ ...(op as object), seq: ++seq }));
    const r = await must(call("POST", "/v1/sync/push", { token: t, body: { terminalId: id, incarnation: "inc-1", ops: numbered } }));
    expect(r.body.results.every((x: { status: string }) => x.status === "applied")).toBe(true);
  };
  await push([]);
  return { id, token: t, push };
}

async function startCount(skus: string[]): Promise<{ countId: string; startedAtMs: number }> {
  const r = await must(call("POST", "/v1/counts", { token: staff, body: { location: STORE, skus } }));
  return { countId: r.body.countId, startedAtMs: Date.parse(r.body.startedAt) };
}

/** Count `qty` of each SKU with the stock client, then wait until the sheet has it. */
async function countOnSheet(countId: string, quantities: Record<string, number>): Promise<void> {
  const c = clerk(countId, "clerk-1", staff);
  await until("synced", () => c.provider.synced);
  for (const [sku, qty] of Object.entries(quantities)) c.set(sku, "shelf", qty);
  await until("counted", async () => {
    const r = await must(call("GET", `/v1/counts/${countId}/report`, { token: staff }));
    return Object.entries(quantities).every(([sku, qty]) => r.body.lines.find((l: { sku: string }) => l.sku === sku)?.counted === qty);
  });
  c.destroy();
}

const report = async (countId: string) => (await must(call("GET", `/v1/counts/${countId}/report`, { token: manager }))).body;
const line = (r: { lines: { sku: string }[] }, sku: string) => r.lines.find((l) => l.sku === sku) as { sku: string; counted: number; expected: number; variance: number; entries: Record<string, number> };
const sale = (sku: string, atMs: number) => ({ kind: "sale", sku, qty: 1, occurredAt: new Date(atMs).toISOString() });

describe("expected quantity at the count's start (I8)", () => {
  it("does not count an offline sale from before the start, synced after the start and after submit, as a variance", async () => {
    const [sku = ""] = await skusWithStock(1, 10);
    const till = await terminal();
    const { countId, startedAtMs } = await startCount([sku]);
    // The clerk counts 9: the customer already walked out with one, rung up offline two minutes before the count.
    await countOnSheet(countId, { [sku]: 9 });
    await must(call("POST", `/v1/counts/${countId}/submit`, { token: staff }));
    expect(line(await report(countId), sku)).toMatchObject({ counted: 9, expected: 10, variance: -1 });
    await till.push([sale(sku, startedAtMs - 120_000)]);
    expect(line(await report(countId), sku)).toMatchObject({ counted: 9, expected: 9, variance: 0, entries: { "clerk-1:shelf": 9 } });
    await settle(sku);
    expect(line(await report(countId), sku)).toMatchObject({ expected: 9, variance: 0 });
  });

  it("does not change expected for a sale that happened after the start", async () => {
    const [sku = ""] = await skusWithStock(1, 10);
    const till = await terminal();
    const { countId } = await startCount([sku]);
    await new Promise((r) => setTimeout(r, 5));
    await till.push([sale(sku, Date.now())]);
    await settle(sku);
    expect((await availability(sku)).onHand).toBe(9);
    expect(line(await report(countId), sku)).toMatchObject({ expected: 10 });
  });

  it("counts movements still in the authority's outbox (the ledger is down)", async () => {
    const [sku = ""] = await skusWithStock(1, 10);
    const till = await terminal();
    const { countId, startedAtMs } = await startCount([sku]);
    const down: LedgerSink = { land: async () => Promise.reject(new Error("ledger down (test)")), publish: async () => undefined };
    let original: LedgerSink | undefined;
    await inSku(sku, (o) => {
      original = o.ledger;
      o.ledger = down;
    });
    await till.push([sale(sku, startedAtMs - 1_000), sale(sku, startedAtMs - 500)]);
    await inSku(sku, async (o) => expect(await o.flush()).toBe("failed"));
    expect((await inSku(sku, (o) => o.inspect())).outbox).toBeGreaterThan(0);
    expect(line(await report(countId), sku)).toMatchObject({ expected: 8 });
    await inSku(sku, (o) => {
      if (original !== undefined) o.ledger = original;
    });
    await settle(sku);
    expect((await inSku(sku, (o) => o.inspect())).outbox).toBe(0);
    expect(line(await report(countId), sku)).toMatchObject({ expected: 8 });
  });
});

describe("a provisional report", () => {
  it("names the terminal that has not synced since before the count, and turns final once it syncs", async () => {
    const [sku = ""] = await skusWithStock(1, 5);
    const till = await terminal();
    const { countId } = await startCount([sku]);
    const before = await report(countId);
    expect(before.provisional).toBe(true);
    expect(before.pendingTerminals.map((t: { terminalId: string }) => t.terminalId)).toContain(till.id);
    await till.push([]);
    const after = await report(countId);
    expect(after.pendingTerminals.map((t: { terminalId: string }) => t.terminalId)).not.toContain(till.id);
  });
});

describe("approval", () => {
  /** A submitted count with variances +2, −3 and 0, every terminal of the store synced. */
  async function submittedCount(): Promise<{ countId: string; skus: string[] }> {
    const skus = await skusWithStock(3, 10);
    const { countId } = await startCount(skus);
    await countOnSheet(countId, { [skus[0] ?? ""]: 12, [skus[1] ?? ""]: 7, [skus[2] ?? ""]: 10 });
    await must(call("POST", `/v1/counts/${countId}/submit`, { token: staff }));
    // Every terminal of the store syncs, so the report is final.
    const rows = await env.DB.prepare("SELECT id FROM terminals WHERE store_id = ?").bind(STORE).all<{ id: string }>();
    for (const t of rows.results) {
      const tt = await token({ role: "terminal", sub: t.id, store: STORE });
      await must(call("POST", "/v1/sync/push", { token: tt, body: { terminalId: t.id, incarnation: "inc-1", ops: [] } }));
    }
    return { countId, skus };
  }

  it("posts exactly the variances through the authorities, and the audit is consistent for every SKU", async () => {
    const { countId, skus } = await submittedCount();
    const r = await must(call("POST", `/v1/counts/${countId}/approve`, { token: manager, body: {} }));
    expect(r.body.adjustments).toEqual(
      [
        { sku: skus[0], delta: 2, movementId: `count.${countId}.${skus[0]}` },
        { sku: skus[1], delta: -3, movementId: `count.${countId}.${skus[1]}` },
      ].sort((a, b) => String(a.sku).localeCompare(String(b.sku))),
    );
    expect((await availability(skus[0] ?? "")).onHand).toBe(12);
    expect((await availability(skus[1] ?? "")).onHand).toBe(7);
    expect((await availability(skus[2] ?? "")).onHand).toBe(10);
    const admin = await adminToken();
    for (const sku of skus) {
      await settle(sku);
      const audit = await must(call("GET", `/v1/audit/skus/${sku}`, { token: admin }));
      expect(audit.body.consistent, sku).toBe(true);
    }
    const moved = await env.DB.prepare("SELECT from_account, to_account, qty FROM movements WHERE ref = ? ORDER BY id").bind(countId).all();
    expect(moved.results).toHaveLength(2);
    const events = await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'count.approved' AND json_extract(body, '$.count.countId') = ?").bind(countId).first<{ n: number }>();
    expect(events?.n).toBe(2);
    const count = await must(call("GET", `/v1/counts/${countId}`, { token: staff }));
    expect(count.body).toMatchObject({ state: "approved", approvedBy: "mgr-1", createdBy: "clerk-1", submittedBy: "clerk-1", acceptProvisional: false });
    expect(count.body.adjustments).toHaveLength(2);
  });

  it("posts once when approved twice or concurrently, and answers with the same adjustments", async () => {
    const { countId, skus } = await submittedCount();
    const [a, b] = await Promise.all([
      must(call("POST", `/v1/counts/${countId}/approve`, { token: manager, body: {} })),
      must(call("POST", `/v1/counts/${countId}/approve`, { token: manager, body: {} })),
    ]);
    expect(a.body.adjustments).toEqual(b.body.adjustments);
    const again = await must(call("POST", `/v1/counts/${countId}/approve`, { token: manager, body: {} }));
    expect(again.body.adjustments).toEqual(a.body.adjustments);
    expect((await availability(skus[0] ?? "")).onHand).toBe(12);
    expect((await availability(skus[1] ?? "")).onHand).toBe(7);
    for (const sku of skus) await settle(sku);
    const moved = await env.DB.prepare("SELECT COUNT(*) AS n FROM movements WHERE ref = ?").bind(countId).first<{ n: number }>();
    expect(moved?.n).toBe(2);
  });

  it("refuses a provisional report unless acceptProvisional is given, and records that choice", async () => {
    const [sku = ""] = await skusWithStock(1, 4);
    const till = await terminal();
    const { countId } = await startCount([sku]);
    await countOnSheet(countId, { [sku]: 3 });
    await must(call("POST", `/v1/counts/${countId}/submit`, { token: staff }));
    const refused = await call("POST", `/v1/counts/${countId}/approve`, { token: manager, body: {} });
    expectProblem(refused, 409, "count-provisional");
    expect(refused.body.pendingTerminals.map((t: { terminalId: string }) => t.terminalId)).toContain(till.id);
    expect((await availability(sku)).onHand).toBe(4);
    const ok = await must(call("POST", `/v1/counts/${countId}/approve`, { token: manager, body: { acceptProvisional: true } }));
    expect(ok.body.adjustments).toEqual([{ sku, delta: -1, movementId: `count.${countId}.${sku}` }]);
    expect((await must(call("GET", `/v1/counts/${countId}`, { token: manager }))).body.acceptProvisional).toBe(true);
  });

  it("refuses to approve an open count, and a staff member's approval", async () => {
    const [sku = ""] = await skusWithStock(1, 4);
    const { countId } = await startCount([sku]);
    expectProblem(await call("POST", `/v1/counts/${countId}/approve`, { token: manager, body: { acceptProvisional: true } }), 409, "count-not-submitted");
    expectProblem(await call("POST", `/v1/counts/${countId}/approve`, { token: staff, body: {} }), 403, "forbidden");
  });
});

describe("who may reach a count", () => {
  it("refuses the sheet's WebSocket before the upgrade: no token, an expired token, a terminal, staff of another store, a manager of another region", async () => {
    const [sku = ""] = await skusWithStock(1, 1);
    const { countId } = await startCount([sku]);
    const up = (q: string, headers: Record<string, string> = {}) => call("GET", `/v1/counts/${countId}/sync${q}`, { headers: { upgrade: "websocket", ...headers } });
    expectProblem(await up(""), 401, "unauthorized");
    expectProblem(await up(`?token=${await token({ role: "staff", sub: "x", store: STORE, ttlSeconds: -10 })}`), 401, "unauthorized");
    expectProblem(await up("?token=not-a-jwt"), 401, "unauthorized");
    expectProblem(await up(`?token=${await token({ role: "terminal", sub: "t", store: STORE })}`), 403, "forbidden");
    expectProblem(await up(`?token=${await token({ role: "staff", sub: "s9", store: "RS9" })}`), 403, "forbidden");
    expectProblem(await up(`?token=${await token({ role: "manager", sub: "m9", region: "RR9" })}`), 403, "forbidden");
    expectProblem(await up("", { authorization: `Bearer ${await token({ role: "shopper" })}` }), 403, "forbidden");
    expectProblem(await call("GET", `/v1/counts/cnt_unknown/sync?token=${staff}`, { headers: { upgrade: "websocket" } }), 404, "count-not-found");
    const ok = await up(`?token=${manager}`);
    expect(ok.status).toBe(101);
  });

  it("answers 404 for an unknown count and 400 for a malformed one on every count route", async () => {
    for (const [method, path] of [["GET", ""], ["GET", "/report"], ["POST", "/submit"]] as const) {
      expectProblem(await call(method, `/v1/counts/cnt_nope${path}`, { token: staff }), 404, "count-not-found");
      expectProblem(await call(method, `/v1/counts/${"x".repeat(65)}${path}`, { token: staff }), 400, "invalid-request");
    }
    expectProblem(await call("POST", "/v1/counts/cnt_nope/approve", { token: manager, body: {} }), 404, "count-not-found");
  });

  it("refuses bad count requests with 4xx and creates nothing", async () => {
    const before = await env.DB.prepare("SELECT COUNT(*) AS n FROM counts").first<{ n: number }>();
    expectProblem(await call("POST", "/v1/counts", { token: staff, body: { location: STORE, skus: [] } }), 400, "invalid-request");
    expectProblem(await call("POST", "/v1/counts", { token: staff, body: { location: STORE, zones: ["a:b"] } }), 400, "invalid-request");
    expectProblem(await call("POST", "/v1/counts", { token: staff, body: { location: STORE, skus: ["NO-SUCH-SKU"] } }), 404, "unknown-sku");
    expectProblem(await call("POST", "/v1/counts", { token: manager, body: { location: "NOWHERE" } }), 404, "unknown-location");
    expectProblem(await call("POST", "/v1/counts", { token: staff, body: { location: "RS9" } }), 403, "forbidden");
    expectProblem(await call("POST", "/v1/counts", { token: staff, rawBody: "{", headers: { "content-type": "application/json" } }), 400, "malformed-json");
    expectProblem(await call("GET", `/v1/counts?location=${STORE}&state=lost`, { token: staff }), 400, "invalid-request");
    const after = await env.DB.prepare("SELECT COUNT(*) AS n FROM counts").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("lists a store's counts by state, and creates a count of every SKU at the location when none are named", async () => {
    const skus = await skusWithStock(2, 3);
    const r = await must(call("POST", "/v1/counts", { token: manager, body: { location: STORE, zones: ["front"], blind: false } }));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ location: STORE, state: "open", zones: ["front"], blind: false });
    for (const s of skus) expect(r.body.skus).toContain(s);
    const open = await must(call("GET", `/v1/counts?location=${STORE}&state=open`, { token: staff }));
    expect(open.body.counts.map((c: { countId: string }) => c.countId)).toContain(r.body.countId);
    const approved = await must(call("GET", `/v1/counts?location=${STORE}&state=approved`, { token: staff }));
    expect(approved.body.counts.map((c: { countId: string }) => c.countId)).not.toContain(r.body.countId);
  });
});

describe("the region overview", () => {
  it("shows each store's terminals with their sync freshness, its counts and sold-out SKUs, to the region's manager only", async () => {
    const [sku = ""] = await skusWithStock(1, 1);
    const till = await terminal();
    await till.push([sale(sku, Date.now())]);
    await settle(sku);
    const r = await must(call("GET", "/v1/regions/RR1/overview", { token: manager }));
    const store = r.body.stores.find((s: { storeId: string }) => s.storeId === STORE);
    const t = store.terminals.find((x: { terminalId: string }) => x.terminalId === till.id);
    expect(t).toMatchObject({ lastSeq: 1, stale: false });
    expect(store.soldOut).toContain(sku);
    expect(store.countsByState).toEqual(expect.objectContaining({ open: expect.any(Number), submitted: expect.any(Number), approved: expect.any(Number) }));
    expectProblem(await call("GET", "/v1/regions/RR9/overview", { token: manager }), 403, "forbidden");
    expectProblem(await call("GET", "/v1/regions/RR1/overview", { token: staff }), 403, "forbidden");
  });
});
