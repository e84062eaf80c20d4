/**
 * The outbox registry (edge/sku/outbox-registry.ts): an authority is listed before it acknowledges
 * a movement and stays listed while its outbox holds any, so a count's report that asks only the
 * listed authorities still counts every movement that has not reached D1 (I8).
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../edge/env";
import { OUTBOX_LINGER_MS } from "../../edge/sku/outbox-listing";
import { outboxRegistry } from "../../edge/stubs";
import { adminToken, call, catalog, fresh, inSku, must, receive, skuStub, token } from "./helpers";
import { flushNow, restoreSink, settle, shiftSkuClock, useSink } from "./objects";

const STORE = "OR1";
// reason: the test env carries the Worker's bindings (test/env.d.ts) plus test-only ones.
const workerEnv = env as unknown as Env;
const registry = (sku: string) => outboxRegistry(workerEnv, sku);
const isListed = async (sku: string): Promise<boolean> => (await registry(sku).listedAmong([sku])).includes(sku);
const ledgerDown = (sku: string) => useSink(sku, () => ({ land: async () => Promise.reject(new Error("ledger down (test)")), publish: async () => undefined }));

let manager = "";
let staff = "";

beforeAll(async () => {
  await catalog({ locations: [{ id: STORE, kind: "store", region: "OR" }] });
  staff = await token({ role: "staff", sub: "clerk-or", store: STORE });
  manager = await token({ role: "manager", sub: "mgr-or", region: "OR" });
});

/** Bring the SKU to rest and let the linger pass (its clock `offsetMs` ahead): its alarm then leaves the registry. */
async function restAndLinger(sku: string, offsetMs = 0): Promise<void> {
  await settle(sku);
  await shiftSkuClock(sku, offsetMs + OUTBOX_LINGER_MS + 1_000);
  await runDurableObjectAlarm(skuStub(sku));
}

describe("an authority in the outbox registry", () => {
  it("is listed once it has acknowledged a movement, before the flush", async () => {
    const sku = fresh("ORG");
    await catalog({ skus: [sku] });
    expect(await isListed(sku)).toBe(false);
    await receive(sku, STORE, 5);
    expect(await isListed(sku)).toBe(true);
  });

  it("is not listed by a refused request (an unknown location changes nothing)", async () => {
    const sku = fresh("ORG");
    await catalog({ skus: [sku] });
    const r = await call("POST", "/v1/receipts", { token: await adminToken(), body: { sku, location: "NOWHERE-9", qty: 5 } });
    expect(r.status).toBe(404);
    expect(await isListed(sku)).toBe(false);
  });

  it("leaves once its outbox has stayed empty for the linger, and joins again under a newer epoch", async () => {
    const sku = fresh("ORG");
    await catalog({ skus: [sku] });
    await receive(sku, STORE, 5);
    const [first] = (await registry(sku).members()).filter((m) => m.sku === sku);
    await settle(sku);
    // Flushed, but within the linger: still listed (a SKU selling every few seconds stays listed).
    expect(await isListed(sku)).toBe(true);
    await shiftSkuClock(sku, OUTBOX_LINGER_MS + 1_000);
    await runDurableObjectAlarm(skuStub(sku));
    expect(await isListed(sku)).toBe(false);
    await receive(sku, STORE, 1);
    const [again] = (await registry(sku).members()).filter((m) => m.sku === sku);
    expect(again?.epoch).toBeGreaterThan(first?.epoch ?? Infinity);
  });

  it("stays listed past the linger while its outbox still holds movements (the ledger is down)", async () => {
    const sku = fresh("ORG");
    await catalog({ skus: [sku] });
    await ledgerDown(sku);
    await receive(sku, STORE, 5);
    expect(await flushNow(sku)).toBe("failed");
    await shiftSkuClock(sku, OUTBOX_LINGER_MS * 3);
    await runDurableObjectAlarm(skuStub(sku));
    expect((await inSku(sku, (o) => o.inspect())).outbox).toBeGreaterThan(0);
    expect(await isListed(sku)).toBe(true);
    await restoreSink(sku);
    await restAndLinger(sku, OUTBOX_LINGER_MS * 3);
    expect(await isListed(sku)).toBe(false);
  });
});

describe("the registry itself", () => {
  it("keeps a newer join when an older epoch's leave arrives after it", async () => {
    const sku = fresh("ORR");
    await registry(sku).join(sku, 2);
    await registry(sku).join(sku, 1);
    await registry(sku).leave(sku, 1);
    expect((await registry(sku).members()).find((m) => m.sku === sku)?.epoch).toBe(2);
    await registry(sku).leave(sku, 2);
    expect(await isListed(sku)).toBe(false);
  });
});

describe("a count's report with the registry", () => {
  it("asks only the listed authorities, and still counts a listed SKU's unflushed movements", async () => {
    const idle = Array.from({ length: 6 }, () => fresh("ORI"));
    const busy = fresh("ORB");
    await catalog({ skus: [...idle, busy] });
    for (const s of [...idle, busy]) await receive(s, STORE, 10);
    for (const s of idle) await restAndLinger(s);
    for (const s of idle) expect(await isListed(s)).toBe(false);
    const reads = (s: string) => inSku(s, (o) => o.outboxReads);
    const before = await Promise.all([...idle, busy].map(reads));
    await settle(busy);
    const count = await must(call("POST", "/v1/counts", { token: staff, body: { location: STORE, skus: [...idle, busy] } }));
    await ledgerDown(busy);
    const till = fresh("till-or");
    const t = await token({ role: "terminal", sub: till, store: STORE });
    const sale = { kind: "sale", sku: busy, qty: 3, seq: 1, occurredAt: new Date(Date.parse(count.body.startedAt) - 1_000).toISOString() };
    const pushed = await must(call("POST", "/v1/sync/push", { token: t, body: { terminalId: till, incarnation: "inc-or", ops: [sale] } }));
    expect(pushed.body.results[0].status).toBe("applied");
    expect((await inSku(busy, (o) => o.inspect())).outbox).toBeGreaterThan(0);
    const report = await must(call("GET", `/v1/counts/${count.body.countId}/report`, { token: manager }));
    const expected = Object.fromEntries(report.body.lines.map((l: { sku: string; expected: number }) => [l.sku, l.expected]));
    expect(expected).toEqual({ ...Object.fromEntries(idle.map((s) => [s, 10])), [busy]: 7 });
    const asked = (await Promise.all([...idle, busy].map(reads))).map((n, i) => n - (before[i] ?? 0));
    expect(asked).toEqual([...idle.map(() => 0), 1]);
    await restoreSink(busy);
  });
});
