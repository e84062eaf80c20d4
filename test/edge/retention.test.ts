/**
 * Storage that does not grow forever (docs/sync-protocol.md, "Retention"): a SKU object keeps a
 * bounded window of terminal-op records behind a high-water mark, forgets ended holds after an
 * hour, and a cart shard forgets carts after 7 days — and answers stay right after the pruning.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import { CART_RETENTION_MS } from "../../edge/cart/cart-coordinator";
import { ENDED_HOLD_RETENTION_MS, TERMINAL_OP_RECORDS_MAX } from "../../edge/sku/sku-authority";
import { cartShard } from "../../edge/stubs";
import { availability, call, catalog, fresh, inCart, inSku, must, receive, shopperToken, skuStub, token } from "./helpers";
import { resetCartClocks, shiftCartClock, shiftSkuClock } from "./objects";

afterEach(resetCartClocks);

const terminal = (sub: string) => token({ role: "terminal", sub, store: "S1" });
const at = (seq: number) => new Date(Date.UTC(2026, 11, 1, 9) + seq * 1000).toISOString();
const sale = (seq: number, sku: string, qty = 1) => ({ seq, kind: "sale", sku, qty, occurredAt: at(seq) });
const rows = (sku: string) => inSku(sku, (instance) => instance.rowCounts());

async function stocked(prefix: string, qty: number): Promise<string> {
  const sku = fresh(prefix);
  await catalog({ locations: [{ id: "S1", kind: "store" }, { id: "W1" }], skus: [sku] });
  await receive(sku, "S1", qty);
  return sku;
}

it("keeps a bounded window of op records and still answers an op older than the window as a duplicate", async () => {
  const sku = await stocked("WINDOW", 10_000);
  const t = fresh("pos");
  const tok = await terminal(t);
  const total = TERMINAL_OP_RECORDS_MAX + 500;
  for (let first = 1; first <= total; first += 500) {
    const ops = Array.from({ length: 500 }, (_, i) => sale(first + i, sku));
    await must(call("POST", "/v1/sync/push", { token: tok, body: { terminalId: t, incarnation: "db1", ops } }));
  }
  expect((await rows(sku)).terminal_ops).toBe(TERMINAL_OP_RECORDS_MAX);
  expect(await availability(sku)).toMatchObject({ onHand: 10_000 - total });
  // Seq 1's record is gone; the high-water mark still knows it was applied.
  const old = await must(call("POST", "/v1/sync/push", { token: tok, body: { terminalId: t, incarnation: "db1", ops: [sale(1, sku)] } }));
  expect(old.body.results).toEqual([{ seq: 1, status: "duplicate" }]);
  // Inside the window a reused seq is still caught.
  const reused = await must(call("POST", "/v1/sync/push", { token: tok, body: { terminalId: t, incarnation: "db1", ops: [sale(total, sku, 5)] } }));
  expect(reused.body.results[0]).toMatchObject({ status: "rejected", problem: { type: "seq-conflict" } });
  // A new seq past the mark applies.
  const next = await must(call("POST", "/v1/sync/push", { token: tok, body: { terminalId: t, incarnation: "db1", ops: [sale(total + 1, sku)] } }));
  expect(next.body.results).toEqual([{ seq: total + 1, status: "applied" }]);
  expect(await availability(sku)).toMatchObject({ onHand: 10_000 - total - 1 });
});

it("forgets a hold an hour after it ended, and availability does not move", async () => {
  const sku = await stocked("ENDED", 10);
  const cart = fresh("cart");
  const shopper = await shopperToken();
  await must(call("POST", `/v1/carts/${cart}/holds`, { token: shopper, body: { lines: [{ sku, qty: 2 }] } }));
  await must(call("DELETE", `/v1/carts/${cart}/holds`, { token: shopper }));
  expect((await rows(sku)).holds).toBe(1);
  await runDurableObjectAlarm(skuStub(sku));
  expect((await rows(sku)).holds).toBe(1);
  await shiftSkuClock(sku, ENDED_HOLD_RETENTION_MS + 1_000);
  await inSku(sku, (instance) => instance.alarm());
  expect((await rows(sku)).holds).toBe(0);
  expect(await availability(sku)).toMatchObject({ onHand: 10, held: 0, available: 10 });
});

it("forgets a checked-out cart after its retention: its rows go and its id is free again", async () => {
  const sku = await stocked("CARTGONE", 10);
  const cart = fresh("cart");
  const shopper = await shopperToken();
  await must(call("POST", `/v1/carts/${cart}/holds`, { token: shopper, body: { lines: [{ sku, qty: 1 }] }, headers: { "idempotency-key": "k1" } }));
  await must(call("POST", `/v1/carts/${cart}/checkout`, { token: shopper }));
  const before = await inCart(cart, (instance) => instance.rowCounts());
  expect(before.carts ?? 0).toBeGreaterThanOrEqual(1);
  // The shard set an alarm for the cart's retention when the cart was created.
  const stub = env.CART.get(env.CART.idFromName(cartShard(cart)));
  const alarmAt = await inCart(cart, (_instance, state) => state.storage.getAlarm());
  expect(alarmAt ?? 0).toBeGreaterThan(Date.now() + CART_RETENTION_MS - 60_000);
  await shiftCartClock(cart, CART_RETENTION_MS + 1_000);
  await runDurableObjectAlarm(stub);
  expect((await call("GET", `/v1/carts/${cart}`, { token: shopper })).status).toBe(404);
  const after = await inCart(cart, (instance) => instance.rowCounts());
  expect(after.carts ?? 0).toBeLessThan(before.carts ?? 0);
  // The sale itself stays: it is in the SKU's books, not the cart's.
  expect(await availability(sku)).toMatchObject({ onHand: 9 });
});
