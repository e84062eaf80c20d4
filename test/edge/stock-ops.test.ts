/**
 * Stock leaving a location other than by sale: transfers between locations (sent, then received,
 * perhaps short) and write-offs to shrink, through their routes. Staff act at their own location,
 * admins anywhere. Every refusal — conflict, scope, unknown thing or malformed body — is a 4xx
 * problem+json that leaves the SKU's stock, holds, movements and transfers as they were (I7).
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { adminToken, call, catalog, expectInvalid, expectProblem, fresh, must, receive, shopperToken, token, type Call } from "./helpers";
import { inspectSku, ledgerBalances, settle, stockState, sumOf } from "./objects";

const W = "XW1"; // warehouse
const S = "XS1"; // store, no reserve
const R = "XR1"; // store keeping 3 units back from online orders
const OTHER = "XS9"; // a store with nothing to do with the stock here

const staff = (store: string) => token({ role: "staff", store, sub: `staff-${store}` });

/** A new SKU with the given units received at each location. */
async function stocked(prefix: string, at: Readonly<Record<string, number>>): Promise<string> {
  const sku = fresh(prefix);
  await catalog({ locations: [{ id: W }, { id: S, kind: "store" }, { id: R, kind: "store", reserve: 3 }, { id: OTHER, kind: "store" }], skus: [sku] });
  for (const [location, qty] of Object.entries(at)) await receive(sku, location, qty);
  return sku;
}

const send = async (body: unknown, auth?: string, headers: Record<string, string> = {}) =>
  call("POST", "/v1/transfers", { token: auth ?? (await adminToken()), body, headers });

const arrive = async (transferId: string, body: unknown, auth?: string, headers: Record<string, string> = {}) =>
  call("POST", `/v1/transfers/${transferId}/receive`, { token: auth ?? (await adminToken()), body, headers });

const writeOff = async (body: unknown, auth?: string, headers: Record<string, string> = {}) =>
  call("POST", "/v1/write-offs", { token: auth ?? (await adminToken()), body, headers });

/** Sends `qty` from `from` to `to` as an admin; answers the transfer id. */
async function sent(sku: string, from: string, to: string, qty: number): Promise<string> {
  const r = await send({ sku, from, to, qty });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.transferId;
}

interface Availability {
  onHand: number;
  held: number;
  available: number;
  inTransit: number;
  locations: { location: string; onHand: number; held: number; reserve: number; available: number }[];
  transfers: { transferId: string; from: string; to: string; qty: number }[];
}

async function availabilityOf(sku: string): Promise<Availability> {
  return (await must(call("GET", `/v1/skus/${sku}/availability`))).body;
}

const at = (a: Availability, location: string) => a.locations.find((l) => l.location === location) ?? { location, onHand: 0, held: 0, available: 0 };

const transferRows = async (sku: string) => (await env.DB.prepare("SELECT * FROM transfers WHERE sku = ? ORDER BY id").bind(sku).all()).results;

/** Everything a refused request could have changed: the authority's stock, its movements, availability, transfers. */
async function snapshot(sku: string) {
  return { stock: await stockState(sku), availability: await availabilityOf(sku), transfers: await transferRows(sku) };
}

/** Sends a request that must be refused, asserts what `check` says of the answer, and that nothing changed. */
async function refused(sku: string, request: () => Promise<Call>, check: (r: Call) => void): Promise<Call> {
  // What earlier requests left in the outbox lands first: its flush would change D1 mid-comparison.
  await settle(sku);
  const before = await snapshot(sku);
  const r = await request();
  check(r);
  expect(r.status).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
  expect(await snapshot(sku)).toEqual(before);
  return r;
}

async function holdIn(cartId: string, sku: string, qty: number, location: string): Promise<void> {
  await must(call("POST", `/v1/carts/${cartId}/holds`, { token: await shopperToken(), body: { lines: [{ sku, qty, location }] } }));
}

describe("POST /v1/transfers", () => {
  it("sends units from `from` at once: off its on hand, available at neither end, shown as in transit", async () => {
    const sku = await stocked("XFER", { [W]: 10 });
    const r = await send({ sku, from: W, to: S, qty: 4 }, await staff(W));

    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toEqual({ transferId: expect.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/), sku, from: W, to: S, qty: 4, state: "in_transit", received: null, lost: null, createdAt: expect.any(String) });
    const transferId: string = r.body.transferId;
    expect(Number.isNaN(Date.parse(r.body.createdAt))).toBe(false);

    const a = await availabilityOf(sku);
    expect(a).toMatchObject({ onHand: 6, held: 0, available: 6, inTransit: 4, transfers: [{ transferId, from: W, to: S, qty: 4 }] });
    expect(at(a, W)).toMatchObject({ onHand: 6, available: 6 });
    expect(at(a, S)).toMatchObject({ onHand: 0, available: 0 });
    const inside = await inspectSku(sku);
    expect(inside.balances).toMatchObject({ supplier: -10, [`loc:${W}`]: 6, [`transit:${transferId}`]: 4 });
    expect(sumOf(inside.balances)).toBe(0);
    expect(await transferRows(sku)).toEqual([expect.objectContaining({ id: transferId, sku, from_location: W, to_location: S, qty: 4, state: "in_transit" })]);

    await settle(sku);
    expect(await ledgerBalances(sku)).toEqual({ supplier: -10, [`loc:${W}`]: 6, [`transit:${transferId}`]: 4 });
  });

  it("receives a transfer in full at `to`: the units arrive there and the transfer is received", async () => {
    const sku = await stocked("XIN", { [W]: 10 });
    const transferId = await sent(sku, W, S, 4);

    const r = await arrive(transferId, { qty: 4 }, await staff(S));

    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ transferId, sku, from: W, to: S, qty: 4, state: "received", received: 4, lost: 0 });
    expect(r.body.movementIds).toEqual([expect.any(String)]);
    const a = await availabilityOf(sku);
    expect(a).toMatchObject({ onHand: 10, available: 10, inTransit: 0, transfers: [] });
    expect(at(a, S)).toMatchObject({ onHand: 4, available: 4 });
    expect(at(a, W)).toMatchObject({ onHand: 6 });

    await settle(sku);
    expect(await ledgerBalances(sku)).toEqual({ supplier: -10, [`loc:${W}`]: 6, [`loc:${S}`]: 4 });
    expect(await transferRows(sku)).toEqual([expect.objectContaining({ id: transferId, state: "received", received: 4, lost: 0 })]);
    const landed = await env.DB.prepare("SELECT id, from_account AS f, to_account AS t, qty, ref FROM movements WHERE sku = ? AND ref = ?").bind(sku, transferId).all();
    expect(landed.results).toHaveLength(2);
    expect(landed.results).toEqual(
      expect.arrayContaining([
        { id: r.body.movementIds[0], f: `transit:${transferId}`, t: `loc:${S}`, qty: 4, ref: transferId },
        expect.objectContaining({ f: `loc:${W}`, t: `transit:${transferId}`, qty: 4 }),
      ]),
    );
  });

  it("books what a short receipt did not bring to shrink:lost", async () => {
    const sku = await stocked("XSHORT", { [W]: 10 });
    const transferId = await sent(sku, W, S, 5);

    const r = await arrive(transferId, { qty: 3 }, await staff(S));

    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: "received", received: 3, lost: 2 });
    expect(r.body.movementIds).toHaveLength(2);
    expect(at(await availabilityOf(sku), S)).toMatchObject({ onHand: 3 });
    const balances = (await inspectSku(sku)).balances;
    expect(balances).toMatchObject({ [`loc:${W}`]: 5, [`loc:${S}`]: 3, "shrink:lost": 2 });
    expect(balances[`transit:${transferId}`] ?? 0).toBe(0);

    await settle(sku);
    expect(await ledgerBalances(sku)).toEqual({ supplier: -10, [`loc:${W}`]: 5, [`loc:${S}`]: 3, "shrink:lost": 2 });
    expect(await transferRows(sku)).toEqual([expect.objectContaining({ state: "received", received: 3, lost: 2 })]);
  });

  it("books a transfer that arrives empty (qty 0) wholly to shrink:lost", async () => {
    const sku = await stocked("XEMPTY", { [W]: 4 });
    const transferId = await sent(sku, W, S, 4);
    const r = await arrive(transferId, { qty: 0 });
    expect(r.body).toMatchObject({ state: "received", received: 0, lost: 4 });
    expect(r.body.movementIds).toHaveLength(1);
    await settle(sku);
    expect(await ledgerBalances(sku)).toEqual({ supplier: -4, "shrink:lost": 4 });
  });

  it("refuses a second receipt with 409 transfer-received and changes nothing", async () => {
    const sku = await stocked("XTWICE", { [W]: 10 });
    const transferId = await sent(sku, W, S, 5);
    expect((await arrive(transferId, { qty: 4 })).status).toBe(200);

    for (const qty of [4, 1, 5]) {
      await refused(
        sku,
        () => arrive(transferId, { qty }, undefined),
        (r) => expectProblem(r, 409, "transfer-received"),
      );
    }
    expect((await inspectSku(sku)).balances).toMatchObject({ [`loc:${S}`]: 4, "shrink:lost": 1 });
  });

  it("refuses an over-receipt with 409 over-receipt, changes nothing, and the transfer can still be received", async () => {
    const sku = await stocked("XOVER", { [W]: 10 });
    const transferId = await sent(sku, W, S, 3);

    await refused(
      sku,
      () => arrive(transferId, { qty: 4 }),
      (r) => expectProblem(r, 409, "over-receipt"),
    );
    expect((await availabilityOf(sku)).inTransit).toBe(3);

    const r = await arrive(transferId, { qty: 3 });
    expect(r.body).toMatchObject({ state: "received", received: 3, lost: 0 });
  });

  it("answers 404 transfer-not-found for a transfer that does not exist", async () => {
    const sku = await stocked("XNONE", { [W]: 2 });
    await refused(
      sku,
      () => arrive(fresh("tr_nope"), { qty: 1 }),
      (r) => expectProblem(r, 404, "transfer-not-found"),
    );
    await refused(
      sku,
      async () => arrive(fresh("tr_nope"), { qty: 1 }, await staff(S)),
      (r) => expectProblem(r, 404, "transfer-not-found"),
    );
  });

  it("refuses staff of another store with 403: sending from a location not theirs, receiving at one not theirs", async () => {
    const sku = await stocked("XSCOPE", { [W]: 10 });
    await refused(
      sku,
      async () => send({ sku, from: W, to: S, qty: 1 }, await staff(S)),
      (r) => expectProblem(r, 403, "forbidden"),
    );
    await refused(
      sku,
      async () => send({ sku, from: W, to: S, qty: 1 }, await staff(OTHER)),
      (r) => expectProblem(r, 403, "forbidden"),
    );
    const transferId = await sent(sku, W, S, 2);
    // Neither the sender's staff nor a bystander may receive at S.
    for (const store of [W, OTHER]) {
      await refused(
        sku,
        async () => arrive(transferId, { qty: 2 }, await staff(store)),
        (r) => expectProblem(r, 403, "forbidden"),
      );
    }
    expect((await arrive(transferId, { qty: 2 }, await staff(S))).status).toBe(200);
  });

  it("refuses every other role with 403 and a missing token with 401, on both routes", async () => {
    const sku = await stocked("XROLE", { [W]: 10 });
    const transferId = await sent(sku, W, S, 2);
    const others = [
      await shopperToken(),
      await token({ role: "terminal", store: W, sub: "t-1" }),
      await token({ role: "manager", region: "north", sub: "m-1" }),
      await token({ role: "service", sub: "svc-1" }),
    ];
    for (const auth of others) {
      await refused(sku, () => send({ sku, from: W, to: S, qty: 1 }, auth), (r) => expectProblem(r, 403, "forbidden"));
      await refused(sku, () => arrive(transferId, { qty: 2 }, auth), (r) => expectProblem(r, 403, "forbidden"));
    }
    await refused(sku, () => call("POST", "/v1/transfers", { body: { sku, from: W, to: S, qty: 1 } }), (r) => expectProblem(r, 401, "unauthorized"));
    await refused(sku, () => call("POST", `/v1/transfers/${transferId}/receive`, { body: { qty: 2 } }), (r) => expectProblem(r, 401, "unauthorized"));
  });

  it("refuses to send more than is on hand and not held with 409 insufficient-stock; units kept in reserve may leave", async () => {
    const sku = await stocked("XHELD", { [R]: 10 });
    // R keeps 3 back from online orders: 7 available, of which a cart holds 5.
    await holdIn(fresh("cart"), sku, 5, R);
    const r = await refused(
      sku,
      () => send({ sku, from: R, to: W, qty: 6 }),
      (x) => expectProblem(x, 409, "insufficient-stock"),
    );
    expect(r.body.movable).toBe(5);
    await refused(
      sku,
      () => send({ sku, from: W, to: R, qty: 1 }),
      (x) => expectProblem(x, 409, "insufficient-stock"),
    );

    const ok = await send({ sku, from: R, to: W, qty: 5 });
    expect(ok.status).toBe(201);
    const a = await availabilityOf(sku);
    expect(at(a, R)).toMatchObject({ onHand: 5, held: 5, available: 0 });
    expect(a.inTransit).toBe(5);
  });

  it("refuses a transfer from a location to itself with 400 naming `to`", async () => {
    const sku = await stocked("XSELF", { [W]: 5 });
    await refused(
      sku,
      () => send({ sku, from: W, to: W, qty: 1 }),
      (r) => expectInvalid(r, "/to"),
    );
  });

  it("answers 404 for an unknown location at either end or an unknown SKU", async () => {
    const sku = await stocked("XUNK", { [W]: 5 });
    const nowhere = fresh("NOWHERE");
    await refused(sku, () => send({ sku, from: W, to: nowhere, qty: 1 }), (r) => expectProblem(r, 404, "unknown-location"));
    await refused(sku, () => send({ sku, from: nowhere, to: W, qty: 1 }), (r) => expectProblem(r, 404, "unknown-location"));
    const ghost = fresh("GHOST");
    await refused(sku, () => send({ sku: ghost, from: W, to: S, qty: 1 }), (r) => expectProblem(r, 404, "unknown-sku"));
    expect(await transferRows(ghost)).toEqual([]);
  });

  it("replays a transfer sent again with the same Idempotency-Key: the same transfer, the stock moved once", async () => {
    const sku = await stocked("XIDEM", { [W]: 10 });
    const key = fresh("key");
    const auth = await staff(W);
    const first = await send({ sku, from: W, to: S, qty: 3 }, auth, { "idempotency-key": key });
    expect(first.status).toBe(201);

    const again = await send({ sku, from: W, to: S, qty: 3 }, auth, { "idempotency-key": key });

    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const a = await availabilityOf(sku);
    expect(at(a, W).onHand).toBe(7);
    expect(a.transfers).toEqual([{ transferId: first.body.transferId, from: W, to: S, qty: 3 }]);
    expect(await transferRows(sku)).toHaveLength(1);
    await settle(sku);
    expect(await ledgerBalances(sku)).toEqual({ supplier: -10, [`loc:${W}`]: 7, [`transit:${first.body.transferId}`]: 3 });

    await refused(
      sku,
      () => send({ sku, from: W, to: S, qty: 4 }, auth, { "idempotency-key": key }),
      (r) => expectProblem(r, 409, "idempotency-key-reused"),
    );
  });

  it("answers a receipt retried with the same Idempotency-Key with the original result, receiving once (I3)", async () => {
    const sku = await stocked("XRIDEM", { [W]: 10 });
    const transferId = await sent(sku, W, S, 4);
    const key = fresh("key");
    const first = await arrive(transferId, { qty: 3 }, await staff(S), { "idempotency-key": key });
    expect(first.status).toBe(200);
    await settle(sku); // the receipt's flush would otherwise change D1's transfer row mid-comparison
    const before = await snapshot(sku);

    const again = await arrive(transferId, { qty: 3 }, await staff(S), { "idempotency-key": key });

    expect(await snapshot(sku)).toEqual(before);
    expect([again.status, again.body]).toEqual([200, first.body]);
  });
});

describe("POST /v1/write-offs", () => {
  it("moves written-off units to shrink:<reason>, for each reason", async () => {
    const sku = await stocked("WO", { [S]: 10 });
    const auth = await staff(S);
    const expected: Record<string, number> = {};
    let onHand = 10;
    for (const [reason, qty] of [["damaged", 1], ["lost", 2], ["stolen", 3], ["expired", 1]] as const) {
      const r = await writeOff({ sku, location: S, qty, reason }, auth);
      onHand -= qty;
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body).toEqual({ movementId: expect.any(String), sku, location: S, qty, reason, lot: null, onHand, available: onHand });
      expected[`shrink:${reason}`] = qty;
    }
    const inside = await inspectSku(sku);
    expect(inside.balances).toEqual({ supplier: -10, [`loc:${S}`]: 3, ...expected });
    expect(at(await availabilityOf(sku), S)).toMatchObject({ onHand: 3, available: 3 });

    await settle(sku);
    expect(await ledgerBalances(sku)).toEqual({ supplier: -10, [`loc:${S}`]: 3, ...expected });
  });

  it("cannot write off held units: 409 insufficient-stock and nothing changes, while the unheld ones can go", async () => {
    const sku = await stocked("WOHELD", { [W]: 5 });
    await holdIn(fresh("cart"), sku, 4, W);
    const r = await refused(
      sku,
      () => writeOff({ sku, location: W, qty: 2, reason: "damaged" }),
      (x) => expectProblem(x, 409, "insufficient-stock"),
    );
    expect(r.body.movable).toBe(1);

    const ok = await writeOff({ sku, location: W, qty: 1, reason: "damaged" });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ onHand: 4, available: 0 });
    expect(at(await availabilityOf(sku), W)).toMatchObject({ onHand: 4, held: 4, available: 0 });
  });

  it.each<[string, unknown]>([
    ["an unknown reason", "broken"],
    ["a reason in capitals", "DAMAGED"],
    ["an empty reason", ""],
    ["a null reason", null],
    ["a numeric reason", 3],
  ])("refuses %s with 400 naming /reason, and writes off nothing", async (_what, reason) => {
    const sku = await stocked("WOWHY", { [W]: 5 });
    await refused(
      sku,
      () => writeOff({ sku, location: W, qty: 1, reason }),
      (r) => expectInvalid(r, "/reason"),
    );
  });

  it("lets staff of the location and admins write off, and refuses everyone else, changing nothing", async () => {
    const sku = await stocked("WOROLE", { [S]: 10 });
    const body = { sku, location: S, qty: 1, reason: "stolen" };
    for (const auth of [
      await staff(W),
      await staff(OTHER),
      await shopperToken(),
      await token({ role: "terminal", store: S, sub: "t-1" }),
      await token({ role: "manager", region: "north", sub: "m-1" }),
      await token({ role: "service", sub: "svc-1" }),
    ]) {
      await refused(sku, () => writeOff(body, auth), (r) => expectProblem(r, 403, "forbidden"));
    }
    await refused(sku, () => call("POST", "/v1/write-offs", { body }), (r) => expectProblem(r, 401, "unauthorized"));

    expect((await writeOff(body, await staff(S))).status).toBe(201);
    expect((await writeOff(body, await adminToken())).status).toBe(201);
    expect((await inspectSku(sku)).balances).toMatchObject({ [`loc:${S}`]: 8, "shrink:stolen": 2 });
  });

  it("replays a write-off sent again with the same Idempotency-Key: the same movement, written off once", async () => {
    const sku = await stocked("WOIDEM", { [W]: 6 });
    const key = fresh("key");
    const first = await writeOff({ sku, location: W, qty: 2, reason: "expired" }, undefined, { "idempotency-key": key });
    expect(first.status).toBe(201);
    const again = await writeOff({ sku, location: W, qty: 2, reason: "expired" }, undefined, { "idempotency-key": key });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await inspectSku(sku)).balances).toMatchObject({ [`loc:${W}`]: 4, "shrink:expired": 2 });
    await settle(sku);
    expect(await ledgerBalances(sku)).toEqual({ supplier: -6, [`loc:${W}`]: 4, "shrink:expired": 2 });
  });

  it("answers 404 for an unknown location or SKU", async () => {
    const sku = await stocked("WOUNK", { [W]: 5 });
    await refused(sku, () => writeOff({ sku, location: fresh("NOWHERE"), qty: 1, reason: "lost" }), (r) => expectProblem(r, 404, "unknown-location"));
    await refused(sku, () => writeOff({ sku: fresh("GHOST"), location: W, qty: 1, reason: "lost" }), (r) => expectProblem(r, 404, "unknown-sku"));
  });
});

describe("bad input on the stock routes changes nothing", () => {
  // One SKU with stock at W and S, a transfer in transit, and a hold, for every refusal to disturb.
  let shared: Promise<{ sku: string; transferId: string }> | undefined;
  const setup = () =>
    (shared ??= (async () => {
      const sku = await stocked("XBAD", { [W]: 20, [S]: 5 });
      const transferId = await sent(sku, W, S, 4);
      await holdIn(fresh("cart"), sku, 2, S);
      return { sku, transferId };
    })());

  const transferBody = (sku: string, over: Record<string, unknown> = {}) => ({ sku, from: W, to: S, qty: 1, ...over });
  const drop = (o: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

  it.each<[string, (sku: string) => unknown, string]>([
    ["an empty object", () => ({}), "/sku"],
    ["a JSON array", (sku) => [transferBody(sku)], ""],
    ["no sku", (sku) => drop(transferBody(sku), "sku"), "/sku"],
    ["no from", (sku) => drop(transferBody(sku), "from"), "/from"],
    ["no to", (sku) => drop(transferBody(sku), "to"), "/to"],
    ["no qty", (sku) => drop(transferBody(sku), "qty"), "/qty"],
    ["qty 0", (sku) => transferBody(sku, { qty: 0 }), "/qty"],
    ["qty -1", (sku) => transferBody(sku, { qty: -1 }), "/qty"],
    ["qty 1.5", (sku) => transferBody(sku, { qty: 1.5 }), "/qty"],
    ['qty "1"', (sku) => transferBody(sku, { qty: "1" }), "/qty"],
    ["qty above the maximum", (sku) => transferBody(sku, { qty: 100_000_001 }), "/qty"],
    ["qty null", (sku) => transferBody(sku, { qty: null }), "/qty"],
    ['sku "bad sku!"', (sku) => transferBody(sku, { sku: "bad sku!" }), "/sku"],
    ["a 65-character from", (sku) => transferBody(sku, { from: "x".repeat(65) }), "/from"],
    ["to as a number", (sku) => transferBody(sku, { to: 7 }), "/to"],
    ["an unknown field", (sku) => transferBody(sku, { note: "x" }), ""],
  ])("POST /v1/transfers refuses %s with 400 naming the field", async (_what, body, path) => {
    const { sku } = await setup();
    await refused(sku, () => send(body(sku)), (r) => expectInvalid(r, path));
  });

  it.each<[string, unknown, string]>([
    ["an empty object", {}, "/qty"],
    ["qty -1", { qty: -1 }, "/qty"],
    ["qty 2.5", { qty: 2.5 }, "/qty"],
    ['qty "2"', { qty: "2" }, "/qty"],
    ["qty null", { qty: null }, "/qty"],
    ["qty above the maximum", { qty: 100_000_001 }, "/qty"],
    ["an unknown field", { qty: 2, lot: "A" }, ""],
  ])("POST /v1/transfers/:id/receive refuses %s with 400 naming the field", async (_what, body, path) => {
    const { sku, transferId } = await setup();
    await refused(sku, () => arrive(transferId, body), (r) => expectInvalid(r, path));
  });

  it.each<[string, string]>([
    ["with a space", "bad%20id"],
    ["of 65 characters", "t".repeat(65)],
  ])("POST /v1/transfers/:id/receive refuses a transfer id %s with 400", async (_what, id) => {
    const { sku } = await setup();
    await refused(sku, () => arrive(id, { qty: 1 }), (r) => expectProblem(r, 400, "invalid-request"));
  });

  const writeOffBody = (sku: string, over: Record<string, unknown> = {}) => ({ sku, location: W, qty: 1, reason: "damaged", ...over });

  it.each<[string, (sku: string) => unknown, string]>([
    ["an empty object", () => ({}), "/sku"],
    ["no location", (sku) => drop(writeOffBody(sku), "location"), "/location"],
    ["no qty", (sku) => drop(writeOffBody(sku), "qty"), "/qty"],
    ["no reason", (sku) => drop(writeOffBody(sku), "reason"), "/reason"],
    ["qty 0", (sku) => writeOffBody(sku, { qty: 0 }), "/qty"],
    ["qty -3", (sku) => writeOffBody(sku, { qty: -3 }), "/qty"],
    ["qty 0.5", (sku) => writeOffBody(sku, { qty: 0.5 }), "/qty"],
    ['lot "bad lot"', (sku) => writeOffBody(sku, { lot: "bad lot" }), "/lot"],
    ["lot null", (sku) => writeOffBody(sku, { lot: null }), "/lot"],
    ["location as a list", (sku) => writeOffBody(sku, { location: [W] }), "/location"],
    ["an unknown field", (sku) => writeOffBody(sku, { by: "me" }), ""],
  ])("POST /v1/write-offs refuses %s with 400 naming the field", async (_what, body, path) => {
    const { sku } = await setup();
    await refused(sku, () => writeOff(body(sku)), (r) => expectInvalid(r, path));
  });

  const routes = (transferId: string) => [
    ["/v1/transfers", "transfers"],
    [`/v1/transfers/${transferId}/receive`, "receive"],
    ["/v1/write-offs", "write-offs"],
  ];

  it.each([
    ["a body cut off mid-way", '{"qty":'],
    ["an empty body", ""],
    ["trailing garbage", '{"qty":1}}'],
    ["single quotes", "{'qty':1}"],
  ])("refuses %s with 400 malformed-json on every route", async (_what, raw) => {
    const { sku, transferId } = await setup();
    for (const [path] of routes(transferId)) {
      await refused(
        sku,
        async () => call("POST", path!, { token: await adminToken(), rawBody: raw, headers: { "content-type": "application/json" } }),
        (r) => expectProblem(r, 400, "malformed-json"),
      );
    }
  });

  it("refuses a body that is not JSON with 415, and one over 64 KiB with 413, on every route", async () => {
    const { sku, transferId } = await setup();
    for (const [path] of routes(transferId)) {
      await refused(
        sku,
        async () => call("POST", path!, { token: await adminToken(), rawBody: "qty=1", headers: { "content-type": "application/x-www-form-urlencoded" } }),
        (r) => expectProblem(r, 415, "unsupported-media-type"),
      );
      await refused(
        sku,
        async () => call("POST", path!, { token: await adminToken(), body: { sku, from: W, to: S, location: W, reason: "lost", qty: 1, pad: "x".repeat(65 * 1024) } }),
        (r) => expectProblem(r, 413, "payload-too-large"),
      );
    }
  });

  it("refuses a bad Idempotency-Key with 400 on transfers and write-offs", async () => {
    const { sku } = await setup();
    await refused(sku, () => send(transferBody(sku), undefined, { "idempotency-key": "bad key!" }), (r) => expectProblem(r, 400, "invalid-request"));
    await refused(sku, () => writeOff(writeOffBody(sku), undefined, { "idempotency-key": "k".repeat(65) }), (r) => expectProblem(r, 400, "invalid-request"));
  });
});
