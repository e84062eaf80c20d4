/**
 * Lots through the real authority: receipts name lots and expiry dates, stock leaves
 * first-expiry-first-out on sales, write-offs and transfers, and a perishable SKU's expired lots
 * leave for shrink — by alarm at the end of their day, or lazily on the next request.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import { adminToken, availability, call, catalog, fresh, inSku, must, shopperToken, skuStub } from "./helpers";
import { ledgerBalances, resetCartClocks, settle, shiftSkuClock } from "./objects";

afterEach(resetCartClocks);

const DAY_MS = 24 * 3600_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

async function receiveLot(sku: string, location: string, qty: number, lot?: string, expiresOn?: string): Promise<void> {
  await must(call("POST", "/v1/receipts", { token: await adminToken(), body: { sku, location, qty, ...(lot === undefined ? {} : { lot }), ...(expiresOn === undefined ? {} : { expiresOn }) } }));
}

/** A SKU with lot A (2 units, soonest), lot B (3 units, later) and 4 undated units at W1. */
async function lotted(prefix: string, opts: { perishable?: boolean } = {}): Promise<{ sku: string; aDay: string; bDay: string }> {
  const sku = fresh(prefix);
  await catalog({ locations: [{ id: "W1" }, { id: "W2" }] });
  await must(call("PUT", `/v1/skus/${sku}`, { token: await adminToken(), body: { name: sku, perishable: opts.perishable ?? false } }));
  const aDay = isoDay(Date.now() + 3 * DAY_MS);
  const bDay = isoDay(Date.now() + 10 * DAY_MS);
  await receiveLot(sku, "W1", 4);
  await receiveLot(sku, "W1", 3, "B", bDay);
  await receiveLot(sku, "W1", 2, "A", aDay);
  return { sku, aDay, bDay };
}

const lotsAt = (sku: string, account: string) =>
  inSku(sku, (_i, state) =>
    Object.fromEntries(state.storage.sql.exec<{ lot: string; qty: number }>("SELECT lot, qty FROM lots WHERE account = ? ORDER BY lot", account).toArray().map((r) => [r.lot, r.qty])),
  );

it("sells the soonest-expiring lot first and records one movement per lot in the ledger", async () => {
  const { sku, aDay, bDay } = await lotted("FEFO");
  const cart = fresh("cart");
  const shopper = await shopperToken();
  await must(call("POST", `/v1/carts/${cart}/holds`, { token: shopper, body: { lines: [{ sku, qty: 3 }] } }));
  const order = await must(call("POST", `/v1/carts/${cart}/checkout`, { token: shopper }));
  expect(order.body.lines).toEqual([{ sku, location: "W1", qty: 3 }]);

  expect(await lotsAt(sku, "loc:W1")).toEqual({ "": 4, A: 0, B: 2 });
  await settle(sku);
  const { results } = await env.DB.prepare("SELECT lot, expires_on, qty FROM movements WHERE sku = ? AND to_account = 'customer' ORDER BY id").bind(sku).all();
  expect(results).toEqual([
    { lot: "A", expires_on: aDay, qty: 2 },
    { lot: "B", expires_on: bDay, qty: 1 },
  ]);
  expect(await ledgerBalances(sku)).toEqual({ supplier: -9, "loc:W1": 6, customer: 3 });
});

it("writes off from a named lot only, and refuses more than that lot holds", async () => {
  const { sku } = await lotted("WOLOT");
  const admin = await adminToken();
  const refused = await call("POST", "/v1/write-offs", { token: admin, body: { sku, location: "W1", qty: 3, reason: "damaged", lot: "A" } });
  expect(refused.status).toBe(409);
  expect(refused.body.type).toBe("insufficient-stock");
  expect(await lotsAt(sku, "loc:W1")).toEqual({ "": 4, A: 2, B: 3 });

  await must(call("POST", "/v1/write-offs", { token: admin, body: { sku, location: "W1", qty: 2, reason: "damaged", lot: "B" } }));
  expect(await lotsAt(sku, "loc:W1")).toEqual({ "": 4, A: 2, B: 1 });
  expect(await availability(sku)).toMatchObject({ onHand: 7 });
});

it("carries lots through a transfer: what arrives is the soonest-expiring, what is lost the rest", async () => {
  const { sku } = await lotted("XLOT");
  const admin = await adminToken();
  const out = await must(call("POST", "/v1/transfers", { token: admin, body: { sku, from: "W1", to: "W2", qty: 4 } }));
  expect(await lotsAt(sku, `transit:${out.body.transferId}`)).toEqual({ A: 2, B: 2 });
  await must(call("POST", `/v1/transfers/${out.body.transferId}/receive`, { token: admin, body: { qty: 3 } }));
  expect(await lotsAt(sku, "loc:W2")).toEqual({ A: 2, B: 1 });
  expect(await lotsAt(sku, `transit:${out.body.transferId}`)).toEqual({ A: 0, B: 0 });
  await settle(sku);
  expect(await ledgerBalances(sku)).toEqual({ supplier: -9, "loc:W1": 5, "loc:W2": 3, "shrink:lost": 1 });
});

it("moves a perishable SKU's expired lot to shrink by alarm at the end of its day, and never offers it", async () => {
  const { sku, aDay } = await lotted("PERISH", { perishable: true });
  await settle(sku);
  const endOfA = Date.parse(`${aDay}T00:00:00Z`) + DAY_MS;
  expect(await inSku(sku, (_i, state) => state.storage.getAlarm())).toBe(endOfA);

  await shiftSkuClock(sku, endOfA - Date.now() + 1_000);
  expect(await runDurableObjectAlarm(skuStub(sku))).toBe(true);

  expect(await lotsAt(sku, "loc:W1")).toEqual({ "": 4, A: 0, B: 3 });
  await inSku(sku, (instance) => expect(instance.inspect().balances).toMatchObject({ "loc:W1": 7, "shrink:expired": 2 }));
  const shopper = await shopperToken();
  const greedy = await call("POST", `/v1/carts/${fresh("cart")}/holds`, { token: shopper, body: { lines: [{ sku, qty: 8 }] } });
  expect(greedy.status).toBe(409);
  expect(greedy.body.lines).toEqual([{ sku, requested: 8, available: 7 }]);
});

it("applies lot expiry lazily on the first request past the day, without an alarm", async () => {
  const { sku, bDay } = await lotted("LAZYLOT", { perishable: true });
  await shiftSkuClock(sku, Date.parse(`${bDay}T00:00:00Z`) + DAY_MS - Date.now() + 1_000);
  expect(await availability(sku)).toMatchObject({ onHand: 4, available: 4 });
  expect(await lotsAt(sku, "loc:W1")).toEqual({ "": 4, A: 0, B: 0 });
});

it("keeps a lot past its date on a SKU that is not perishable", async () => {
  const { sku, bDay } = await lotted("DURABLE");
  await shiftSkuClock(sku, Date.parse(`${bDay}T00:00:00Z`) + DAY_MS - Date.now() + 1_000);
  expect(await availability(sku)).toMatchObject({ onHand: 9, available: 9 });
});
