import { describe, expect, it } from "vitest";
import { adminToken, availability, call, catalog, fresh, must, receive, shopperToken } from "./helpers";
import { inspectSku, recordedMovements, sumOf } from "./objects";

/** A new SKU with `qty` units received at warehouse W1. */
async function stocked(prefix: string, qty: number): Promise<string> {
  const sku = fresh(prefix);
  await catalog({ locations: [{ id: "W1" }], skus: [sku] });
  await receive(sku, "W1", qty);
  return sku;
}

const hold = async (cartId: string, lines: readonly { sku: string; qty: number; location?: string }[], opts: { token?: string; key?: string; ttlSeconds?: number } = {}) =>
  call("POST", `/v1/carts/${cartId}/holds`, {
    token: opts.token ?? (await shopperToken()),
    body: { lines, ...(opts.ttlSeconds === undefined ? {} : { ttlSeconds: opts.ttlSeconds }) },
    ...(opts.key === undefined ? {} : { headers: { "idempotency-key": opts.key } }),
  });

const checkout = async (cartId: string, opts: { token?: string; key?: string } = {}) =>
  call("POST", `/v1/carts/${cartId}/checkout`, {
    token: opts.token ?? (await shopperToken()),
    ...(opts.key === undefined ? {} : { headers: { "idempotency-key": opts.key } }),
  });

const viewCart = async (cartId: string, token?: string) => call("GET", `/v1/carts/${cartId}`, { token: token ?? (await shopperToken()) });
const releaseCart = async (cartId: string, token?: string) => call("DELETE", `/v1/carts/${cartId}/holds`, { token: token ?? (await shopperToken()) });

const at = (a: Awaited<ReturnType<typeof availability>>, location: string) => a.locations.find((l) => l.location === location);

describe("holding stock in a cart", () => {
  it("holds nothing when one SKU of the request is short, naming the short line with what was requested and what is available", async () => {
    const plenty = await stocked("AON-A", 10);
    const scarce = await stocked("AON-B", 2);
    const cartId = fresh("cart");

    const r = await hold(cartId, [{ sku: plenty, qty: 3 }, { sku: scarce, qty: 5 }]);

    expect(r.status).toBe(409);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    expect(r.body.type).toBe("insufficient-stock");
    expect(r.body.lines).toEqual([{ sku: scarce, requested: 5, available: 2 }]);
    expect(await availability(plenty)).toMatchObject({ onHand: 10, held: 0, available: 10 });
    expect(await availability(scarce)).toMatchObject({ onHand: 2, held: 0, available: 2 });
    expect((await inspectSku(plenty)).holds).toEqual([]);
    const view = await viewCart(cartId);
    expect(view.status).toBe(404);
    expect(view.body.type).toBe("cart-not-found");
  });

  it("releases what other SKUs granted when a line names an SKU that does not exist", async () => {
    const known = await stocked("AON-K", 4);
    const cartId = fresh("cart");

    const r = await hold(cartId, [{ sku: known, qty: 4 }, { sku: fresh("NOPE"), qty: 1 }]);

    expect(r.status).toBe(404);
    expect(r.body.type).toBe("unknown-sku");
    expect(await availability(known)).toMatchObject({ onHand: 4, held: 0, available: 4 });
    expect((await viewCart(cartId)).status).toBe(404);
  });

  it("holds a line that names a location only at that location, even when another location has more", async () => {
    const sku = fresh("LOC");
    const [near, far] = [fresh("W"), fresh("W")];
    await catalog({ locations: [{ id: near }, { id: far }], skus: [sku] });
    await receive(sku, near, 2);
    await receive(sku, far, 10);

    const short = await hold(fresh("cart"), [{ sku, qty: 3, location: near }]);
    expect(short.status).toBe(409);
    expect(short.body.lines).toEqual([{ sku, requested: 3, available: 2 }]);

    const cartId = fresh("cart");
    const r = await hold(cartId, [{ sku, qty: 2, location: near }]);
    expect(r.status).toBe(201);
    expect(r.body.holds).toEqual([expect.objectContaining({ sku, location: near, qty: 2 })]);
    const a = await availability(sku);
    expect(at(a, near)).toMatchObject({ onHand: 2, held: 2, available: 0 });
    expect(at(a, far)).toMatchObject({ onHand: 10, held: 0, available: 10 });
  });

  it("takes an unlocated line whole from the warehouse with the most available, before any store", async () => {
    const sku = fresh("SRC");
    const [small, big, store] = [fresh("W"), fresh("W"), fresh("S")];
    await catalog({ locations: [{ id: small }, { id: big }, { id: store, kind: "store" }], skus: [sku] });
    await receive(sku, small, 3);
    await receive(sku, big, 5);
    await receive(sku, store, 50);

    const first = await hold(fresh("cart"), [{ sku, qty: 4 }]);
    expect(first.status).toBe(201);
    expect(first.body.holds).toEqual([expect.objectContaining({ location: big, qty: 4 })]);

    // The big warehouse now has 1 left, so the small one is the one with the most.
    const second = await hold(fresh("cart"), [{ sku, qty: 2 }]);
    expect(second.body.holds).toEqual([expect.objectContaining({ location: small, qty: 2 })]);

    const a = await availability(sku);
    expect(at(a, store)).toMatchObject({ onHand: 50, held: 0 });
    expect(a).toMatchObject({ onHand: 58, held: 6 });
  });

  it("splits an unlocated line across warehouses first, then stores, and never takes a store's reserve", async () => {
    const sku = fresh("SPLIT");
    const [small, big, store] = [fresh("W"), fresh("W"), fresh("S")];
    await catalog({ locations: [{ id: small }, { id: big }, { id: store, kind: "store", reserve: 4 }], skus: [sku] });
    await receive(sku, small, 3);
    await receive(sku, big, 5);
    await receive(sku, store, 10);

    const split = await hold(fresh("cart"), [{ sku, qty: 9 }]);
    expect(split.status).toBe(201);
    expect(split.body.holds.map((h: { location: string; qty: number }) => [h.location, h.qty])).toEqual([
      [big, 5],
      [small, 3],
      [store, 1],
    ]);

    const tooMuch = await hold(fresh("cart"), [{ sku, qty: 6 }]);
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.lines).toEqual([{ sku, requested: 6, available: 5 }]);

    const rest = await hold(fresh("cart"), [{ sku, qty: 5 }]);
    expect(rest.status).toBe(201);
    const a = await availability(sku);
    expect(at(a, store)).toMatchObject({ onHand: 10, held: 6, reserve: 4, available: 0 });

    const beyondReserve = await hold(fresh("cart"), [{ sku, qty: 1 }]);
    expect(beyondReserve.status).toBe(409);
    expect(beyondReserve.body.lines).toEqual([{ sku, requested: 1, available: 0 }]);
    expect(await availability(sku)).toMatchObject({ onHand: 18, held: 14, available: 0 });
  });

  it("leaves the cart's earlier holds as they were when a later request for it is refused", async () => {
    const sku = await stocked("KEEP", 5);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku, qty: 2 }]));
    const before = (await viewCart(cartId)).body;

    const refused = await hold(cartId, [{ sku, qty: 4 }]);

    expect(refused.status).toBe(409);
    expect(refused.body.lines).toEqual([{ sku, requested: 4, available: 3 }]);
    expect((await viewCart(cartId)).body).toEqual(before);
    expect(await availability(sku)).toMatchObject({ onHand: 5, held: 2, available: 3 });
  });

  it("returns the original response when the same Idempotency-Key and body are sent again, and holds the stock once", async () => {
    const sku = await stocked("IDEM", 10);
    const cartId = fresh("cart");

    const first = await hold(cartId, [{ sku, qty: 3 }], { key: "k-1" });
    const again = await hold(cartId, [{ sku, qty: 3 }], { key: "k-1" });

    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(await availability(sku)).toMatchObject({ onHand: 10, held: 3, available: 7 });
    const view = await viewCart(cartId);
    expect(view.body.holds).toHaveLength(1);
    expect((await inspectSku(sku)).holds).toHaveLength(1);
  });

  it("holds once when two requests with the same Idempotency-Key arrive together", async () => {
    const sku = await stocked("IDEM", 10);
    const cartId = fresh("cart");

    const [one, two] = await Promise.all([hold(cartId, [{ sku, qty: 3 }], { key: "k-1" }), hold(cartId, [{ sku, qty: 3 }], { key: "k-1" })]);

    expect(one.status).toBe(201);
    expect(two.body).toEqual(one.body);
    expect(await availability(sku)).toMatchObject({ held: 3, available: 7 });
  });

  it("refuses the same Idempotency-Key with another body and changes nothing", async () => {
    const sku = await stocked("IDEM", 10);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku, qty: 3 }], { key: "k-1" }));
    const before = (await viewCart(cartId)).body;

    const reused = await hold(cartId, [{ sku, qty: 4 }], { key: "k-1" });

    expect(reused.status).toBe(409);
    expect(reused.body.type).toBe("idempotency-key-reused");
    expect(await availability(sku)).toMatchObject({ onHand: 10, held: 3, available: 7 });
    expect((await viewCart(cartId)).body).toEqual(before);
  });

  it("refuses new holds in a cart that has been checked out", async () => {
    const sku = await stocked("DONE", 10);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku, qty: 2 }]));
    await must(checkout(cartId));

    const r = await hold(cartId, [{ sku, qty: 1 }]);

    expect(r.status).toBe(409);
    expect(r.body.type).toBe("cart-checked-out");
    expect(await availability(sku)).toMatchObject({ onHand: 8, held: 0, available: 8 });
    expect((await viewCart(cartId)).body.holds).toHaveLength(1);
  });
});

describe("checking out a cart", () => {
  it("turns each hold into a sale from its location to the customer", async () => {
    const a = await stocked("SELL-A", 10);
    const b = await stocked("SELL-B", 4);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku: a, qty: 2 }, { sku: a, qty: 3 }, { sku: b, qty: 4 }]));
    const movementsBefore = { a: (await recordedMovements(a)), b: (await recordedMovements(b)) };

    const r = await checkout(cartId);

    expect(r.status).toBe(200);
    expect(r.body.orderId).toEqual(expect.any(String));
    expect(r.body.cartId).toBe(cartId);
    expect(r.body.lines).toEqual(
      expect.arrayContaining([
        { sku: a, location: "W1", qty: 5 },
        { sku: b, location: "W1", qty: 4 },
      ]),
    );
    expect(r.body.lines).toHaveLength(2);
    expect(await availability(a)).toMatchObject({ onHand: 5, held: 0, available: 5 });
    expect(await availability(b)).toMatchObject({ onHand: 0, held: 0, available: 0 });

    const ia = await inspectSku(a);
    expect(await recordedMovements(a)).toBe(movementsBefore.a + 2);
    expect(ia.holds).toEqual([]);
    expect(ia.balances).toMatchObject({ "loc:W1": 5, customer: 5, supplier: -10 });
    expect(sumOf(ia.balances)).toBe(0);
    const ib = await inspectSku(b);
    expect(await recordedMovements(b)).toBe(movementsBefore.b + 1);
    expect(ib.balances).toMatchObject({ "loc:W1": 0, customer: 4, supplier: -4 });
    expect(sumOf(ib.balances)).toBe(0);

    const view = await viewCart(cartId);
    expect(view.body).toMatchObject({ cartId, state: "checked_out", order: r.body, expiresAt: null });
    expect(view.body.holds.map((h: { state: string }) => h.state)).toEqual(["committed", "committed", "committed"]);
  });

  it("returns the same order when checkout is sent again, with the same Idempotency-Key or without one, and sells once", async () => {
    const sku = await stocked("ONCE", 10);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku, qty: 3 }]));

    const first = await checkout(cartId, { key: "pay-1" });
    const sameKey = await checkout(cartId, { key: "pay-1" });
    const noKey = await checkout(cartId);
    const otherKey = await checkout(cartId, { key: "pay-2" });

    expect(first.status).toBe(200);
    for (const r of [sameKey, noKey, otherKey]) {
      expect(r.status).toBe(200);
      expect(r.body).toEqual(first.body);
    }
    expect(await availability(sku)).toMatchObject({ onHand: 7, held: 0, available: 7 });
    const inspected = await inspectSku(sku);
    expect(inspected.balances).toMatchObject({ "loc:W1": 7, customer: 3 });
    expect(await recordedMovements(sku)).toBe(2); // the receipt and one sale
  });

  it("sells a line that was split across locations from each location it was held at", async () => {
    const sku = fresh("SPLIT-SELL");
    const [small, big] = [fresh("W"), fresh("W")];
    await catalog({ locations: [{ id: small }, { id: big }], skus: [sku] });
    await receive(sku, small, 3);
    await receive(sku, big, 5);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku, qty: 7 }]));
    const movementsBefore = (await recordedMovements(sku));

    const r = await checkout(cartId);

    expect(r.status).toBe(200);
    expect(r.body.lines).toEqual([
      { sku, location: big, qty: 5 },
      { sku, location: small, qty: 2 },
    ]);
    const inspected = await inspectSku(sku);
    expect(await recordedMovements(sku)).toBe(movementsBefore + 2);
    expect(inspected.balances).toMatchObject({ [`loc:${big}`]: 0, [`loc:${small}`]: 1, customer: 7, supplier: -8 });
    expect(sumOf(inspected.balances)).toBe(0);
  });

  it("sells once when two checkouts of the same cart arrive together", async () => {
    const sku = await stocked("RACE", 10);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku, qty: 3 }]));

    const [one, two] = await Promise.all([checkout(cartId), checkout(cartId)]);

    expect(one.status).toBe(200);
    expect(two.status).toBe(200);
    expect(two.body).toEqual(one.body);
    expect(await availability(sku)).toMatchObject({ onHand: 7, held: 0 });
    expect((await recordedMovements(sku))).toBe(2);
  });

  it("refuses to check out a cart whose holds were all released", async () => {
    const sku = await stocked("EMPTY", 5);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku, qty: 2 }]));
    await must(releaseCart(cartId));

    const r = await checkout(cartId);

    expect(r.status).toBe(409);
    expect(r.body.type).toBe("cart-empty");
    expect(await availability(sku)).toMatchObject({ onHand: 5, held: 0, available: 5 });
    expect((await recordedMovements(sku))).toBe(1);
    expect((await viewCart(cartId)).body.state).toBe("open");
  });
});

describe("a cart belongs to the shopper who first held in it", () => {
  it("does not exist for another shopper, who can neither see, check out, release nor hold in it", async () => {
    const sku = await stocked("MINE", 10);
    const cartId = fresh("cart");
    const owner = await shopperToken("alice");
    const other = await shopperToken("mallory");
    await must(hold(cartId, [{ sku, qty: 3 }], { token: owner }));
    const before = (await viewCart(cartId, owner)).body;

    const replies = [
      await viewCart(cartId, other),
      await checkout(cartId, { token: other }),
      await releaseCart(cartId, other),
      await hold(cartId, [{ sku, qty: 1 }], { token: other }),
    ];

    for (const r of replies) {
      expect(r.status).toBe(404);
      expect(r.body.type).toBe("cart-not-found");
    }
    expect(await availability(sku)).toMatchObject({ onHand: 10, held: 3, available: 7 });
    expect((await viewCart(cartId, owner)).body).toEqual(before);
    expect(before.holds).toEqual([expect.objectContaining({ sku, qty: 3, state: "active" })]);
  });
});

describe("releasing a cart", () => {
  it("releases every hold of the cart and gives the units back", async () => {
    const a = await stocked("REL-A", 10);
    const b = await stocked("REL-B", 10);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku: a, qty: 2 }, { sku: b, qty: 3 }]));
    expect(await availability(a)).toMatchObject({ held: 2, available: 8 });

    const r = await releaseCart(cartId);

    expect(r.status).toBe(200);
    expect(r.body).toEqual({ cartId, released: 2, units: 5 });
    expect(await availability(a)).toMatchObject({ onHand: 10, held: 0, available: 10 });
    expect(await availability(b)).toMatchObject({ onHand: 10, held: 0, available: 10 });
    const view = await viewCart(cartId);
    expect(view.body.holds.map((h: { state: string }) => h.state)).toEqual(["released", "released"]);
    expect(view.body.expiresAt).toBeNull();
  });

  it("releases nothing after checkout and leaves the sale standing", async () => {
    const sku = await stocked("REL-DONE", 10);
    const cartId = fresh("cart");
    await must(hold(cartId, [{ sku, qty: 4 }]));
    await must(checkout(cartId));

    const r = await releaseCart(cartId);

    expect(r.status).toBe(200);
    expect(r.body).toEqual({ cartId, released: 0, units: 0 });
    expect(await availability(sku)).toMatchObject({ onHand: 6, held: 0, available: 6 });
    expect((await inspectSku(sku)).balances).toMatchObject({ "loc:W1": 6, customer: 4 });
    const view = await viewCart(cartId);
    expect(view.body.state).toBe("checked_out");
    expect(view.body.holds).toEqual([expect.objectContaining({ state: "committed" })]);
  });
});

describe("receipts with an Idempotency-Key", () => {
  const receipt = async (body: object, key: string) => call("POST", "/v1/receipts", { token: await adminToken(), body, headers: { "idempotency-key": key } });

  it("returns the same movementId when a receipt is sent again with the same key, and adds the stock once", async () => {
    const sku = fresh("RCPT");
    await catalog({ locations: [{ id: "W1" }], skus: [sku] });
    const body = { sku, location: "W1", qty: 12, lot: "L1" };

    const first = await receipt(body, "rcpt-1");
    const again = await receipt(body, "rcpt-1");

    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.movementId).toBe(first.body.movementId);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await availability(sku)).toMatchObject({ onHand: 12, held: 0, available: 12 });
    const inspected = await inspectSku(sku);
    expect(await recordedMovements(sku)).toBe(1);
    expect(inspected.balances).toEqual({ supplier: -12, "loc:W1": 12 });
  });

  it("refuses the same key with another quantity and adds nothing", async () => {
    const sku = fresh("RCPT");
    await catalog({ locations: [{ id: "W1" }], skus: [sku] });
    await must(receipt({ sku, location: "W1", qty: 12 }, "rcpt-1"));

    const reused = await receipt({ sku, location: "W1", qty: 13 }, "rcpt-1");

    expect(reused.status).toBe(409);
    expect(reused.body.type).toBe("idempotency-key-reused");
    expect(await availability(sku)).toMatchObject({ onHand: 12 });
    expect((await recordedMovements(sku))).toBe(1);
  });

  // Receipt keys live in the SKU's authority (no global store on the receipt path), so a key is
  // scoped to the caller and the SKU, as the README says.
  it("treats the same key on a receipt of another SKU as that SKU's own receipt", async () => {
    const [first, second] = [fresh("RCPT"), fresh("RCPT")];
    await catalog({ locations: [{ id: "W1" }], skus: [first, second] });
    const a = await must(receipt({ sku: first, location: "W1", qty: 12 }, "rcpt-shared"));

    const b = await receipt({ sku: second, location: "W1", qty: 7 }, "rcpt-shared");

    expect(b.status).toBe(201);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    expect(b.body.movementId).not.toBe(a.body.movementId);
    expect(await availability(first)).toMatchObject({ onHand: 12 });
    expect(await availability(second)).toMatchObject({ onHand: 7 });
  });
});
