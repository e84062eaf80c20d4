import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { OUTBOX_LINGER_MS } from "../../edge/sku/outbox-listing";
import { availability, call, catalog, fresh, inSku, must, receive, shopperToken, skuStub } from "./helpers";
import { inspectSku, recordedMovements, resetCartClocks, settle, shiftCartClock, shiftSkuClock, sumOf } from "./objects";

const TTL_S = 60;
/** Far enough past a TTL_S hold's deadline, whatever the few milliseconds between requests. */
const PAST_DEADLINE_MS = (TTL_S + 5) * 1000;

afterEach(resetCartClocks);

/** A new SKU with `qty` units received at warehouse W1. */
async function stocked(prefix: string, qty: number): Promise<string> {
  const sku = fresh(prefix);
  await catalog({ locations: [{ id: "W1" }], skus: [sku] });
  await receive(sku, "W1", qty);
  // Flushed and at rest, so the object's next alarm is the one the test's holds set.
  await settle(sku);
  return sku;
}

const hold = async (cartId: string, sku: string, qty: number, ttlSeconds = TTL_S) =>
  must(call("POST", `/v1/carts/${cartId}/holds`, { token: await shopperToken(), body: { lines: [{ sku, qty }], ttlSeconds } }));

const checkout = async (cartId: string) => call("POST", `/v1/carts/${cartId}/checkout`, { token: await shopperToken() });
const viewCart = async (cartId: string) => must(call("GET", `/v1/carts/${cartId}`, { token: await shopperToken() }));
const releaseCart = async (cartId: string) => must(call("DELETE", `/v1/carts/${cartId}/holds`, { token: await shopperToken() }));

/** Moves both clocks that judge this cart's holds past their deadline. */
async function passDeadline(sku: string, cartId: string): Promise<void> {
  await shiftSkuClock(sku, PAST_DEADLINE_MS);
  await shiftCartClock(cartId, PAST_DEADLINE_MS);
}

describe("a hold expires at its deadline", () => {
  it("expires from the alarm once the deadline has passed, giving the units back", async () => {
    const sku = await stocked("ALARM", 10);
    const cartId = fresh("cart");
    const granted = await hold(cartId, sku, 4);
    const holdId: string = granted.body.holds[0].holdId;
    await shiftSkuClock(sku, PAST_DEADLINE_MS);
    // inspect() applies no expiry itself, so the hold is still recorded as active here.
    expect((await inspectSku(sku)).holds.map((h) => h.holdId)).toEqual([holdId]);

    expect(await runDurableObjectAlarm(skuStub(sku))).toBe(true);

    const inspected = await inspectSku(sku);
    expect(inspected.holds).toEqual([]);
    expect(inspected.stocks.find((s) => s.location === "W1")).toMatchObject({ onHand: 10, held: 0 });
    expect(inspected.balances).toEqual({ supplier: -10, "loc:W1": 10 });
    expect(await availability(sku)).toMatchObject({ onHand: 10, held: 0, available: 10 });

    await shiftCartClock(cartId, PAST_DEADLINE_MS);
    const view = await viewCart(cartId);
    expect(view.body.holds).toEqual([expect.objectContaining({ holdId, state: "expired" })]);
    expect(view.body.expiresAt).toBeNull();
  });

  it("applies expiry lazily on a read past the deadline, without any alarm", async () => {
    const sku = await stocked("LAZY", 10);
    await hold(fresh("cart"), sku, 4);
    expect(await availability(sku)).toMatchObject({ held: 4, available: 6 });

    await shiftSkuClock(sku, PAST_DEADLINE_MS);

    expect(await availability(sku)).toMatchObject({ onHand: 10, held: 0, available: 10 });
    expect((await inspectSku(sku)).holds).toEqual([]);
  });

  it("keeps a hold active until its deadline", async () => {
    const sku = await stocked("LIVE", 10);
    const cartId = fresh("cart");
    await hold(cartId, sku, 4);
    await shiftSkuClock(sku, (TTL_S - 5) * 1000);
    await shiftCartClock(cartId, (TTL_S - 5) * 1000);

    expect(await availability(sku)).toMatchObject({ held: 4, available: 6 });
    expect((await viewCart(cartId)).body.holds).toEqual([expect.objectContaining({ state: "active" })]);
  });

  it("schedules the alarm at the earliest deadline among the object's holds", async () => {
    const sku = await stocked("SCHED", 10);
    // Past the outbox registry's linger first, so its leave (an alarm too) is done: only the holds' deadlines remain.
    const rested = OUTBOX_LINGER_MS + 1_000;
    await shiftSkuClock(sku, rested);
    await runDurableObjectAlarm(skuStub(sku));
    const late = await hold(fresh("cart"), sku, 1, 600);
    const lateAtMs = Date.parse(late.body.expiresAt);
    expect((await inspectSku(sku)).alarmAtMs).toBe(lateAtMs);

    const early = await hold(fresh("cart"), sku, 1, 30);
    const earlyAtMs = Date.parse(early.body.expiresAt);
    expect(earlyAtMs).toBeLessThan(lateAtMs);

    expect((await inspectSku(sku)).alarmAtMs).toBe(earlyAtMs);
    expect(await inSku(sku, (_, state) => state.storage.getAlarm())).toBe(earlyAtMs);

    // Once the early hold has expired, the alarm moves on to the late one.
    await shiftSkuClock(sku, rested + 30_000 + 5_000);
    expect(await runDurableObjectAlarm(skuStub(sku))).toBe(true);
    const after = await inspectSku(sku);
    expect(after.holds.map((h) => h.expiresAtMs)).toEqual([lateAtMs]);
    expect(after.alarmAtMs).toBe(lateAtMs);
    expect(await inSku(sku, (_, state) => state.storage.getAlarm())).toBe(lateAtMs);
  });
});

describe("checking out a cart whose hold expired", () => {
  it("holds the stock again and sells it when it is still available", async () => {
    const sku = await stocked("REHOLD", 10);
    const cartId = fresh("cart");
    const first = await hold(cartId, sku, 3);
    const oldHoldId: string = first.body.holds[0].holdId;
    await passDeadline(sku, cartId);
    const movementsBefore = (await recordedMovements(sku));

    const r = await checkout(cartId);

    expect(r.status).toBe(200);
    expect(r.body.lines).toEqual([{ sku, location: "W1", qty: 3 }]);
    expect(await availability(sku)).toMatchObject({ onHand: 7, held: 0, available: 7 });
    const inspected = await inspectSku(sku);
    expect(await recordedMovements(sku)).toBe(movementsBefore + 1);
    expect(inspected.balances).toMatchObject({ "loc:W1": 7, customer: 3, supplier: -10 });
    expect(sumOf(inspected.balances)).toBe(0);
    const view = await viewCart(cartId);
    expect(view.body.state).toBe("checked_out");
    const states = Object.fromEntries(view.body.holds.map((h: { holdId: string; state: string }) => [h.holdId, h.state]));
    expect(states[oldHoldId]).toBe("expired");
    expect(Object.values(states).filter((s) => s === "committed")).toHaveLength(1);
  });

  it("answers hold-expired and sells nothing when another cart has taken the stock since", async () => {
    const sku = await stocked("GONE", 3);
    const late = fresh("cart");
    await hold(late, sku, 3);
    await passDeadline(sku, late);
    const quick = fresh("cart");
    await hold(quick, sku, 3);
    const movementsBefore = (await recordedMovements(sku));

    const r = await checkout(late);

    expect(r.status).toBe(409);
    expect(r.body.type).toBe("hold-expired");
    expect(r.body.lines).toEqual([expect.objectContaining({ sku, location: "W1", qty: 3, available: 0 })]);
    expect(await availability(sku)).toMatchObject({ onHand: 3, held: 3, available: 0 });
    const inspected = await inspectSku(sku);
    expect(await recordedMovements(sku)).toBe(movementsBefore);
    expect(inspected.balances).toEqual({ supplier: -3, "loc:W1": 3 });
    expect(inspected.holds.map((h) => h.cartId)).toEqual([quick]);
    const view = await viewCart(late);
    expect(view.body.state).toBe("open");
    expect(view.body.holds).toEqual([expect.objectContaining({ state: "expired" })]);
    expect((await viewCart(quick)).body.holds).toEqual([expect.objectContaining({ state: "active" })]);
  });

  it("sells neither line of a one-SKU cart when one of its two holds expired and its stock is gone (both phases in one call)", async () => {
    const sku = await stocked("ONESKU", 5);
    const cart = fresh("cart");
    await hold(cart, sku, 3, 5); // expires
    await shiftSkuClock(sku, 10_000);
    await shiftCartClock(cart, 10_000);
    await hold(cart, sku, 2); // live
    const other = fresh("cart");
    await hold(other, sku, 3); // takes what the expired hold had
    const movementsBefore = await recordedMovements(sku);

    const r = await checkout(cart);

    expect(r.status).toBe(409);
    expect(r.body.type).toBe("hold-expired");
    expect(r.body.lines).toEqual([expect.objectContaining({ sku, qty: 3, available: 0 })]);
    expect(await recordedMovements(sku)).toBe(movementsBefore);
    expect(await availability(sku)).toMatchObject({ onHand: 5, held: 5, available: 0 });
    const view = await viewCart(cart);
    expect(view.body.state).toBe("open");
    expect(view.body.holds.map((h: { qty: number; state: string }) => [h.qty, h.state]).sort()).toEqual([
      [2, "active"],
      [3, "expired"],
    ]);
    // Once the other cart lets go, the same checkout sells both lines, once.
    await releaseCart(other);
    const again = await checkout(cart);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.lines).toEqual([expect.objectContaining({ sku, location: "W1", qty: 5 })]);
    expect(await availability(sku)).toMatchObject({ onHand: 0, held: 0, available: 0 });
    expect((await inspectSku(sku)).balances).toEqual({ supplier: -5, "loc:W1": 0, customer: 5 });
  });

  it("tries a lost line again on the next checkout, and sells it once stock has arrived", async () => {
    const sku = await stocked("RETRY", 3);
    const late = fresh("cart");
    await hold(late, sku, 3);
    await passDeadline(sku, late);
    await hold(fresh("cart"), sku, 3);
    expect((await checkout(late)).body.type).toBe("hold-expired");

    await receive(sku, "W1", 5);
    const r = await checkout(late);

    expect(r.status).toBe(200);
    expect(r.body.lines).toEqual([{ sku, location: "W1", qty: 3 }]);
    expect(await availability(sku)).toMatchObject({ onHand: 5, held: 3, available: 2 });
    expect(sumOf((await inspectSku(sku)).balances)).toBe(0);
  });

  it("gives up an expired line when the cart is released, so a later checkout finds nothing to sell", async () => {
    const sku = await stocked("GIVEUP", 3);
    const cartId = fresh("cart");
    await hold(cartId, sku, 3);
    await passDeadline(sku, cartId);
    await releaseCart(cartId);

    const r = await checkout(cartId);

    expect(r.status).toBe(409);
    expect(r.body.type).toBe("cart-empty");
    expect(await availability(sku)).toMatchObject({ onHand: 3, held: 0, available: 3 });
  });

  it("sells nothing from any SKU when one SKU's expired hold cannot be held again", async () => {
    const lasting = await stocked("MULTI-A", 10);
    const fleeting = await stocked("MULTI-B", 2);
    const cartId = fresh("cart");
    await hold(cartId, lasting, 4, 600);
    await hold(cartId, fleeting, 2);
    await shiftSkuClock(fleeting, PAST_DEADLINE_MS);
    await hold(fresh("cart"), fleeting, 2);
    const movementsBefore = { lasting: (await recordedMovements(lasting)), fleeting: (await recordedMovements(fleeting)) };

    const r = await checkout(cartId);

    expect(r.status).toBe(409);
    expect(r.body.type).toBe("hold-expired");
    expect(r.body.lines).toEqual([expect.objectContaining({ sku: fleeting, qty: 2 })]);
    expect(await availability(lasting)).toMatchObject({ onHand: 10, held: 4, available: 6 });
    expect(await availability(fleeting)).toMatchObject({ onHand: 2, held: 2, available: 0 });
    expect((await recordedMovements(lasting))).toBe(movementsBefore.lasting);
    expect((await recordedMovements(fleeting))).toBe(movementsBefore.fleeting);
    expect((await inspectSku(lasting)).balances).toEqual({ supplier: -10, "loc:W1": 10 });
    expect((await viewCart(cartId)).body.state).toBe("open");
  });

  it("holds an expired hold again only once when the same checkout is prepared twice", async () => {
    const sku = await stocked("PREP", 10);
    const cartId = fresh("cart");
    const holdId: string = (await hold(cartId, sku, 3)).body.holds[0].holdId;
    await shiftSkuClock(sku, PAST_DEADLINE_MS);
    // What a cart coordinator sends again when it restarts between the SKU's answer and its own write.
    const prepare = { sku, cartId, requestId: fresh("chk"), holdIds: [holdId], pinMs: 60_000, ttlMs: 60_000 };

    const { first, again } = await inSku(sku, async (instance) => {
      const first = await instance.prepareCheckout(prepare);
      const again = await instance.prepareCheckout(prepare).catch((error: unknown) => ({ ok: false as const, error: String(error) }));
      return { first, again };
    });

    const reheld = first.ok && first.outcomes[0]?.ok === true ? first.outcomes[0].holds.map((h) => h.holdId) : [];
    expect(reheld).toHaveLength(1);
    expect(reheld).not.toContain(holdId);
    expect(again, JSON.stringify(again)).toMatchObject({ ok: true, outcomes: [{ holdId, ok: true, holds: [{ holdId: reheld[0], qty: 3, state: "active" }] }] });
    expect(await availability(sku)).toMatchObject({ onHand: 10, held: 3, available: 7 });
  });
});

describe("a hold ends once", () => {
  it("stays expired when the cart releases it after its deadline", async () => {
    const sku = await stocked("REL-EXP", 10);
    const cartId = fresh("cart");
    await hold(cartId, sku, 4);
    await shiftSkuClock(sku, PAST_DEADLINE_MS);

    const r = await releaseCart(cartId);

    expect(r.body).toEqual({ cartId, released: 0, units: 0 });
    expect((await viewCart(cartId)).body.holds).toEqual([expect.objectContaining({ state: "expired" })]);
    expect(await availability(sku)).toMatchObject({ onHand: 10, held: 0, available: 10 });
  });

  it("does not sell a released hold: checkout after release answers cart-empty", async () => {
    const sku = await stocked("REL-SELL", 10);
    const cartId = fresh("cart");
    await hold(cartId, sku, 4);
    await releaseCart(cartId);

    const r = await checkout(cartId);

    expect(r.status).toBe(409);
    expect(r.body.type).toBe("cart-empty");
    expect(await availability(sku)).toMatchObject({ onHand: 10, held: 0, available: 10 });
    expect(await recordedMovements(sku)).toBe(1); // the receipt; no sale
  });

  it("answers a commit or release of an ended hold with the state it ended in, changing no balance", async () => {
    const sku = await stocked("ONCE", 30);
    const [releasedCart, committedCart, expiredCart] = [fresh("cart"), fresh("cart"), fresh("cart")];
    const releasedId: string = (await hold(releasedCart, sku, 1)).body.holds[0].holdId;
    const committedId: string = (await hold(committedCart, sku, 2)).body.holds[0].holdId;
    const expiredId: string = (await hold(expiredCart, sku, 3, 5)).body.holds[0].holdId;
    await releaseCart(releasedCart);
    const sale = await checkout(committedCart);
    expect(sale.status).toBe(200);
    await shiftSkuClock(sku, 5_000 + 1_000);
    const before = { ...(await inspectSku(sku)), movements: await recordedMovements(sku) };
    expect(before.balances).toMatchObject({ "loc:W1": 28, customer: 2 });

    const { committing, releasing } = await inSku(sku, async (instance) => ({
      committing: await instance.commit({ sku, orderId: "ord-again", holdIds: [releasedId, committedId, expiredId], source: "api:test" }),
      releasing: await instance.release({ holdIds: [releasedId, committedId, expiredId] }),
    }));

    expect(committing.outcomes.map((o) => [o.holdId, o.state])).toEqual([
      [releasedId, "released"],
      [committedId, "committed"],
      [expiredId, "expired"],
    ]);
    // A second commit of a sold hold names the original sale and records no new one.
    expect(committing.outcomes.map((o) => o.movementId)).toEqual([null, `mv.${committedId}`, null]);
    expect(releasing.holds.map((h) => [h.holdId, h.state])).toEqual([
      [releasedId, "released"],
      [committedId, "committed"],
      [expiredId, "expired"],
    ]);
    const after = await inspectSku(sku);
    expect(after.balances).toEqual(before.balances);
    expect(await recordedMovements(sku)).toBe(before.movements);
    expect(after.holds).toEqual([]);
    expect(await availability(sku)).toMatchObject({ onHand: 28, held: 0, available: 28 });
  });
});
