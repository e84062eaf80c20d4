/**
 * I7, bad input changes nothing: every malformed, oversized or unknown thing a client can send to
 * the write routes is a 4xx problem+json, never a 5xx, and leaves the SKU's balances, holds and
 * outbox, the shopper's cart and the catalog exactly as they were.
 *
 * The random test at the end prints its seed; replay a failure with SEED=<seed>.
 */
import { createExecutionContext, env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../edge/index";
import { adminToken, call, catalog, expectInvalid, expectProblem, fresh, must, peek, receive, shopperToken, type Call } from "./helpers";
import { stockState } from "./objects";
import { rng, seedFrom } from "../support/seeded";

const sku = fresh("BAD");
const otherSku = fresh("BAD-OTHER");
const cartId = fresh("cart-bad");
const OWNER = "shopper-bad";
const BARCODE = `${Date.now().toString(36)}-0042`;
const HOLD_QTY_MAX = 10_000;
const RECEIPT_QTY_MAX = 100_000_000;

beforeAll(async () => {
  await catalog({ locations: [{ id: "W1" }, { id: "S1", kind: "store", reserve: 1 }], skus: [sku] });
  await must(call("PUT", `/v1/skus/${otherSku}`, { token: await adminToken(), body: { name: "other", barcode: BARCODE } }));
  await receive(sku, "W1", 30);
  await receive(sku, "S1", 5);
  // A live hold, so that a refused request has something in the cart and the authority to disturb.
  await must(call("POST", `/v1/carts/${cartId}/holds`, { token: await shopperToken(OWNER), body: { lines: [{ sku, qty: 3 }] } }));
});

const rows = async (table: "regions" | "locations" | "skus") => (await env.DB.prepare(`SELECT * FROM ${table} ORDER BY id`).all()).results;

/** Everything a refused request could have changed: the SKU's stock and authority, the cart, the catalog. */
async function snapshot() {
  const stock = await peek("GET", `/v1/skus/${sku}/availability`);
  const cart = await peek("GET", `/v1/carts/${cartId}`, { token: await shopperToken(OWNER) });
  // Guards against comparing two identical failures.
  expect(stock.status).toBe(200);
  expect(cart.status).toBe(200);
  return {
    availability: stock.body,
    authority: await stockState(sku),
    cart: cart.body,
    catalog: { regions: await rows("regions"), locations: await rows("locations"), skus: await rows("skus") },
  };
}

/** Sends the request and asserts, besides whatever `check` says of the answer, that nothing changed. */
async function refused(send: () => Promise<Call>, check: (r: Call) => void): Promise<Call> {
  const before = await snapshot();
  const r = await send();
  check(r);
  expect(await snapshot()).toEqual(before);
  return r;
}

type Body = { body: unknown } | { raw: string };
const json = (b: Body) => ("raw" in b ? { rawBody: b.raw, headers: { "content-type": "application/json" } } : { body: b.body });
const line = (over: Record<string, unknown> = {}) => ({ sku, qty: 1, ...over });

/** A hold body that would be valid but for an unknown `padding` field, padded to exactly `bytes` bytes. */
const padTo = (bytes: number): string => {
  const bare = JSON.stringify({ lines: [line()], padding: "" });
  return JSON.stringify({ lines: [line()], padding: "x".repeat(bytes - bare.length) });
};

const hold = async (b: Body, opts: { cart?: string; headers?: Record<string, string> } = {}) => {
  const sent = json(b);
  return call("POST", `/v1/carts/${opts.cart ?? cartId}/holds`, { token: await shopperToken(OWNER), ...sent, headers: { ...("headers" in sent ? sent.headers : {}), ...opts.headers } });
};
const receipt = async (b: Body, headers: Record<string, string> = {}) => {
  const sent = json(b);
  return call("POST", "/v1/receipts", { token: await adminToken(), ...sent, headers: { ...("headers" in sent ? sent.headers : {}), ...headers } });
};
const put = async (path: string, b: Body) => call("PUT", path, { token: await adminToken(), ...json(b) });

describe("POST /v1/carts/:cartId/holds", () => {
  it.each<[string, Body, string]>([
    ["a JSON array", { raw: "[]" }, ""],
    ["a JSON string", { raw: '"x"' }, ""],
    ["JSON null", { raw: "null" }, ""],
    ["a JSON number", { raw: "42" }, ""],
    ["an empty object", { body: {} }, "/lines"],
    ["lines that are one object, not a list", { body: { lines: line() } }, "/lines"],
    ["lines as a string", { body: { lines: "x" } }, "/lines"],
    ["zero lines", { body: { lines: [] } }, "/lines"],
    ["51 lines", { body: { lines: Array.from({ length: 51 }, () => line()) } }, "/lines"],
    ["a line that is not an object", { body: { lines: [5] } }, "/lines/0"],
    ["a line without sku", { body: { lines: [{ qty: 1 }] } }, "/lines/0/sku"],
    ["a line without qty", { body: { lines: [{ sku }] } }, "/lines/0/qty"],
    ["qty as a string", { body: { lines: [line({ qty: "1" })] } }, "/lines/0/qty"],
    ["sku as a number", { body: { lines: [line({ sku: 5 })] } }, "/lines/0/sku"],
    ["qty 0", { body: { lines: [line({ qty: 0 })] } }, "/lines/0/qty"],
    ["qty -1", { body: { lines: [line({ qty: -1 })] } }, "/lines/0/qty"],
    ["qty 1.5", { body: { lines: [line({ qty: 1.5 })] } }, "/lines/0/qty"],
    ["qty 1e20", { body: { lines: [line({ qty: 1e20 })] } }, "/lines/0/qty"],
    ["qty 1e400, which parses as Infinity", { raw: `{"lines":[{"sku":"${sku}","qty":1e400}]}` }, "/lines/0/qty"],
    ['qty "NaN"', { body: { lines: [line({ qty: "NaN" })] } }, "/lines/0/qty"],
    ['qty "Infinity"', { body: { lines: [line({ qty: "Infinity" })] } }, "/lines/0/qty"],
    ["qty null", { body: { lines: [line({ qty: null })] } }, "/lines/0/qty"],
    ["qty true", { body: { lines: [line({ qty: true })] } }, "/lines/0/qty"],
    ["qty [1]", { body: { lines: [line({ qty: [1] })] } }, "/lines/0/qty"],
    [`qty ${HOLD_QTY_MAX + 1}, above the per-line maximum`, { body: { lines: [line({ qty: HOLD_QTY_MAX + 1 })] } }, "/lines/0/qty"],
    ["a bad second line beside a good first one", { body: { lines: [line(), line({ qty: 0 })] } }, "/lines/1/qty"],
    ['sku "bad sku!"', { body: { lines: [line({ sku: "bad sku!" })] } }, "/lines/0/sku"],
    ["an empty sku", { body: { lines: [line({ sku: "" })] } }, "/lines/0/sku"],
    ["a 65-character sku", { body: { lines: [line({ sku: "x".repeat(65) })] } }, "/lines/0/sku"],
    ["sku null", { body: { lines: [line({ sku: null })] } }, "/lines/0/sku"],
    ['location "bad loc"', { body: { lines: [line({ location: "bad loc" })] } }, "/lines/0/location"],
    ["location null", { body: { lines: [line({ location: null })] } }, "/lines/0/location"],
    ["location as a number", { body: { lines: [line({ location: 7 })] } }, "/lines/0/location"],
    ["an unknown field beside lines", { body: { lines: [line()], note: "x" } }, ""],
    ["an unknown field in a line", { body: { lines: [line({ price: 1 })] } }, "/lines/0"],
    ["an own __proto__ field", { raw: `{"lines":[{"sku":"${sku}","qty":1}],"__proto__":{"ttlSeconds":60}}` }, ""],
    ["an own constructor field in a line", { raw: `{"lines":[{"sku":"${sku}","qty":1,"constructor":1}]}` }, "/lines/0"],
    ["ttlSeconds 4", { body: { lines: [line()], ttlSeconds: 4 } }, "/ttlSeconds"],
    ["ttlSeconds 3601", { body: { lines: [line()], ttlSeconds: 3601 } }, "/ttlSeconds"],
    ["ttlSeconds 10.5", { body: { lines: [line()], ttlSeconds: 10.5 } }, "/ttlSeconds"],
    ["ttlSeconds 0", { body: { lines: [line()], ttlSeconds: 0 } }, "/ttlSeconds"],
    ["ttlSeconds -60", { body: { lines: [line()], ttlSeconds: -60 } }, "/ttlSeconds"],
    ['ttlSeconds "60"', { body: { lines: [line()], ttlSeconds: "60" } }, "/ttlSeconds"],
    ["ttlSeconds null", { body: { lines: [line()], ttlSeconds: null } }, "/ttlSeconds"],
  ])("refuses %s with 400 naming the field, and holds nothing", async (_what, b, path) => {
    await refused(
      () => hold(b),
      (r) => expectInvalid(r, path),
    );
  });

  it.each([
    ["a body cut off mid-way", '{"lines":'],
    ["an empty body", ""],
    ["a bare NaN", `{"lines":[{"sku":"${sku}","qty":NaN}]}`],
    ["unquoted keys", `{lines:[{sku:"${sku}",qty:1}]}`],
    ["single quotes", `{'lines':[{'sku':'${sku}','qty':1}]}`],
    ["trailing garbage", `{"lines":[{"sku":"${sku}","qty":1}]}}`],
    ["a trailing comma", `{"lines":[{"sku":"${sku}","qty":1},]}`],
  ])("refuses %s with 400 malformed-json, and holds nothing", async (_what, raw) => {
    await refused(
      () => hold({ raw }),
      (r) => expectProblem(r, 400, "malformed-json"),
    );
  });

  it("refuses JSON nested 30,000 deep with a 400, and holds nothing", async () => {
    const raw = `${"[".repeat(30_000)}${"]".repeat(30_000)}`;
    await refused(
      () => hold({ raw }),
      (r) => {
        expect(r.status).toBe(400);
        expect(["invalid-request", "malformed-json"]).toContain(r.body.type);
        expectProblem(r, 400, r.body.type);
      },
    );
  });

  it.each<[string, () => unknown[], string]>([
    ["an unknown SKU", () => [{ sku: fresh("NO-SUCH"), qty: 1 }], "unknown-sku"],
    ["a known SKU and an unknown one", () => [line({ qty: 2 }), { sku: fresh("NO-SUCH"), qty: 1 }], "unknown-sku"],
    ["an unknown location", () => [line({ location: "NOWHERE" })], "unknown-location"],
    ["a known location and an unknown one", () => [line({ location: "W1" }), line({ location: "NOWHERE" })], "unknown-location"],
  ])("answers %s with 404 and holds nothing", async (_what, lines, type) => {
    await refused(
      () => hold({ body: { lines: lines() } }),
      (r) => expectProblem(r, 404, type),
    );
  });

  it("answers an unknown SKU in a new cart with 404, and the cart does not come into being", async () => {
    const newCart = fresh("cart-new");
    await refused(
      () => hold({ body: { lines: [{ sku: fresh("NO-SUCH"), qty: 1 }] } }, { cart: newCart }),
      (r) => expectProblem(r, 404, "unknown-sku"),
    );
    expectProblem(await call("GET", `/v1/carts/${newCart}`, { token: await shopperToken(OWNER) }), 404, "cart-not-found");
  });

  it.each<[string, (known: string) => unknown[], string]>([
    ["an unknown SKU", (known) => [{ sku: known, qty: 2 }, { sku: fresh("NO-SUCH"), qty: 1 }], "unknown-sku"],
    ["a known SKU at an unknown location", (known) => [{ sku: known, qty: 2 }, line({ location: "NOWHERE" })], "unknown-location"],
  ])("answers a line of an untouched SKU beside %s with 404, and that SKU's authority stays untouched", async (_what, lines, type) => {
    // A SKU with no holds and no alarm, so that a hold granted and then taken back would show.
    const untouched = fresh("BAD-UNTOUCHED");
    await catalog({ skus: [untouched] });
    await receive(untouched, "W1", 10);
    const before = { stock: (await peek("GET", `/v1/skus/${untouched}/availability`)).body, authority: await stockState(untouched) };
    await refused(
      () => hold({ body: { lines: lines(untouched) } }),
      (r) => expectProblem(r, 404, type),
    );
    expect({ stock: (await peek("GET", `/v1/skus/${untouched}/availability`)).body, authority: await stockState(untouched) }).toEqual(before);
  });

  it("never refuses a valid hold because of concurrent requests that name an unknown SKU", async () => {
    const scarce = fresh("BAD-SCARCE");
    await catalog({ skus: [scarce] });
    await receive(scarce, "W1", 1);
    const mallory = await shopperToken("mallory");
    const alice = await shopperToken("alice");
    // Each of these is refused whatever the stock; none may stand between Alice and the last unit.
    const doomed = Array.from({ length: 10 }, (_, i) =>
      call("POST", `/v1/carts/${scarce}-doomed-${i}/holds`, { token: mallory, body: { lines: [{ sku: scarce, qty: 1 }, { sku: fresh("NO-SUCH"), qty: 1 }] } }),
    );
    const honest = call("POST", `/v1/carts/${scarce}-alice/holds`, { token: alice, body: { lines: [{ sku: scarce, qty: 1 }] } });
    const [answers, mine] = [await Promise.all(doomed), await honest];
    for (const r of answers) expectProblem(r, 404, "unknown-sku");
    expect(mine.status, JSON.stringify(mine.body)).toBe(201);
    expect((await peek("GET", `/v1/skus/${scarce}/availability`)).body).toMatchObject({ onHand: 1, held: 1, available: 0 });
  });

  it("takes a body of exactly 64 KiB as far as its size goes: 400 for its padding, not 413", async () => {
    const raw = padTo(65_536);
    expect(new TextEncoder().encode(raw).length).toBe(65_536);
    await refused(
      () => hold({ raw }),
      (r) => expectInvalid(r, ""),
    );
  });

  it("refuses a body of 64 KiB and one byte with 413, and holds nothing", async () => {
    const raw = padTo(65_537);
    await refused(
      () => hold({ raw }),
      (r) => expectProblem(r, 413, "payload-too-large"),
    );
  });

  it("refuses a 70 KB body streamed without a Content-Length with 413, and holds nothing", async () => {
    const bytes = new TextEncoder().encode(padTo(70_000));
    const chunked = () => {
      let offset = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= bytes.length) return controller.close();
          controller.enqueue(bytes.slice(offset, offset + 8192));
          offset += 8192;
        },
      });
    };
    await refused(
      async () => {
        // Straight into the handler: through SELF, the unread rest of the stream is aborted with a logged error.
        const request = new Request(`http://edgestock.test/v1/carts/${cartId}/holds`, {
          method: "POST",
          headers: { authorization: `Bearer ${await shopperToken(OWNER)}`, "content-type": "application/json" },
          body: chunked(),
        });
        expect(request.headers.get("content-length")).toBeNull();
        const res = await worker.fetch(request, env, createExecutionContext());
        return { status: res.status, headers: res.headers, body: await res.json() };
      },
      (r) => expectProblem(r, 413, "payload-too-large"),
    );
  });

  it.each([
    ["a space", "a%20b"],
    ["65 characters", "x".repeat(65)],
    ["an encoded slash", "a%2Fb"],
    ["a NUL byte", "a%00b"],
    ["a non-ASCII letter", "caf%C3%A9"],
  ])("refuses a cart id with %s with 400 on every cart route, and changes nothing", async (_what, id) => {
    const shopper = await shopperToken(OWNER);
    for (const [method, path, body] of [
      ["POST", `/v1/carts/${id}/holds`, { lines: [line()] }],
      ["GET", `/v1/carts/${id}`, undefined],
      ["POST", `/v1/carts/${id}/checkout`, undefined],
      ["DELETE", `/v1/carts/${id}/holds`, undefined],
    ] as const) {
      await refused(
        () => call(method, path, { token: shopper, ...(body === undefined ? {} : { body }) }),
        (r) => expectInvalid(r, "/cartId"),
      );
    }
  });

  it.each([
    ["characters outside the id alphabet", "bad key!"],
    ["65 characters", "k".repeat(65)],
    ["nothing in it", ""],
  ])("refuses an Idempotency-Key with %s with 400, and holds nothing", async (_what, key) => {
    await refused(
      () => hold({ body: { lines: [line()] } }, { headers: { "idempotency-key": key } }),
      (r) => expectInvalid(r, "header/Idempotency-Key"),
    );
  });

  it("refuses a checkout with a bad Idempotency-Key with 400 and sells nothing", async () => {
    await refused(
      async () => call("POST", `/v1/carts/${cartId}/checkout`, { token: await shopperToken(OWNER), headers: { "idempotency-key": "bad key!" } }),
      (r) => expectInvalid(r, "header/Idempotency-Key"),
    );
  });
});

describe("POST /v1/receipts", () => {
  const good = () => ({ sku, location: "W1", qty: 5 });
  const without = (key: "sku" | "location" | "qty") => {
    const { [key]: _gone, ...rest } = good();
    return rest;
  };

  it.each<[string, Body, string]>([
    ["a JSON array", { raw: "[]" }, ""],
    ["a JSON string", { raw: '"x"' }, ""],
    ["JSON null", { raw: "null" }, ""],
    ["an empty object", { body: {} }, "/sku"],
    ["no sku", { body: without("sku") }, "/sku"],
    ["no location", { body: without("location") }, "/location"],
    ["no qty", { body: without("qty") }, "/qty"],
    ['qty "1"', { body: { ...good(), qty: "1" } }, "/qty"],
    ["sku 5", { body: { ...good(), sku: 5 } }, "/sku"],
    ["qty 0", { body: { ...good(), qty: 0 } }, "/qty"],
    ["qty -1", { body: { ...good(), qty: -1 } }, "/qty"],
    ["qty 1.5", { body: { ...good(), qty: 1.5 } }, "/qty"],
    ["qty 1e20", { body: { ...good(), qty: 1e20 } }, "/qty"],
    ['qty "NaN"', { body: { ...good(), qty: "NaN" } }, "/qty"],
    ["qty null", { body: { ...good(), qty: null } }, "/qty"],
    [`qty ${RECEIPT_QTY_MAX + 1}, above the maximum`, { body: { ...good(), qty: RECEIPT_QTY_MAX + 1 } }, "/qty"],
    ['sku "bad sku!"', { body: { ...good(), sku: "bad sku!" } }, "/sku"],
    ["a 65-character sku", { body: { ...good(), sku: "x".repeat(65) } }, "/sku"],
    ['location "bad loc!"', { body: { ...good(), location: "bad loc!" } }, "/location"],
    ['lot "bad lot!"', { body: { ...good(), lot: "bad lot!" } }, "/lot"],
    ["lot as a number", { body: { ...good(), lot: 5 } }, "/lot"],
    ['expiresOn "2026-13-45"', { body: { ...good(), expiresOn: "2026-13-45" } }, "/expiresOn"],
    ['expiresOn "2026-02-30"', { body: { ...good(), expiresOn: "2026-02-30" } }, "/expiresOn"],
    ['expiresOn "tomorrow"', { body: { ...good(), expiresOn: "tomorrow" } }, "/expiresOn"],
    ['ref "bad ref!"', { body: { ...good(), ref: "bad ref!" } }, "/ref"],
    ["an unknown field", { body: { ...good(), price: 3 } }, ""],
  ])("refuses %s with 400 naming the field, and receives nothing", async (_what, b, path) => {
    await refused(
      () => receipt(b),
      (r) => expectInvalid(r, path),
    );
  });

  it("refuses a body cut off mid-way with 400 malformed-json, and receives nothing", async () => {
    await refused(
      () => receipt({ raw: `{"sku":"${sku}","location":` }),
      (r) => expectProblem(r, 400, "malformed-json"),
    );
  });

  it.each([
    ["an unknown SKU", () => ({ ...good(), sku: fresh("NO-SUCH") }), "unknown-sku"],
    ["an unknown location", () => ({ ...good(), location: "NOWHERE" }), "unknown-location"],
  ])("answers %s with 404 and receives nothing", async (_what, body, type) => {
    await refused(
      () => receipt({ body: body() }),
      (r) => expectProblem(r, 404, type),
    );
  });

  it("refuses a bad Idempotency-Key with 400 and receives nothing", async () => {
    await refused(
      () => receipt({ body: good() }, { "idempotency-key": "bad key!" }),
      (r) => expectInvalid(r, "header/Idempotency-Key"),
    );
  });
});

describe("admin PUTs", () => {
  it.each<[string, string, Body, string]>([
    ["a region without a name", "/v1/regions/north", { body: {} }, "/name"],
    ["a region with an empty name", "/v1/regions/north", { body: { name: "" } }, "/name"],
    ["a region with a blank name", "/v1/regions/north", { body: { name: "   " } }, "/name"],
    ["a region with a 201-character name", "/v1/regions/north", { body: { name: "n".repeat(201) } }, "/name"],
    ["a region named by a number", "/v1/regions/north", { body: { name: 5 } }, "/name"],
    ["a region with an unknown field", "/v1/regions/north", { body: { name: "North", manager: "m-1" } }, ""],
    ["a region id with a space", "/v1/regions/a%20b", { body: { name: "x" } }, "/regionId"],
    ["a 65-character region id", `/v1/regions/${"r".repeat(65)}`, { body: { name: "x" } }, "/regionId"],
    ["a location of an unknown kind", "/v1/locations/W1", { body: { kind: "shop", regionId: "north", name: "W1" } }, "/kind"],
    ["a location without a kind", "/v1/locations/W1", { body: { regionId: "north", name: "W1" } }, "/kind"],
    ["a location without a region", "/v1/locations/W1", { body: { kind: "warehouse", name: "W1" } }, "/regionId"],
    ["a location whose region id has bad characters", "/v1/locations/W1", { body: { kind: "warehouse", regionId: "no rth", name: "W1" } }, "/regionId"],
    ["a reserve of -1", "/v1/locations/S1", { body: { kind: "store", regionId: "north", name: "S1", reserve: -1 } }, "/reserve"],
    ["a reserve of 1.5", "/v1/locations/S1", { body: { kind: "store", regionId: "north", name: "S1", reserve: 1.5 } }, "/reserve"],
    ["a reserve of 1,000,001", "/v1/locations/S1", { body: { kind: "store", regionId: "north", name: "S1", reserve: 1_000_001 } }, "/reserve"],
    ['a reserve of "3"', "/v1/locations/S1", { body: { kind: "store", regionId: "north", name: "S1", reserve: "3" } }, "/reserve"],
    ["a location with an unknown field", "/v1/locations/W1", { body: { kind: "warehouse", regionId: "north", name: "W1", city: "x" } }, ""],
    ["a location id with bad characters", "/v1/locations/W%201", { body: { kind: "warehouse", regionId: "north", name: "W 1" } }, "/locationId"],
    ["a SKU without a name", "/v1/skus/SKU-X", { body: {} }, "/name"],
    ["a SKU with a 2-character barcode", "/v1/skus/SKU-X", { body: { name: "x", barcode: "12" } }, "/barcode"],
    ["a SKU with a barcode containing a space", "/v1/skus/SKU-X", { body: { name: "x", barcode: "12 34" } }, "/barcode"],
    ['a SKU with perishable "yes"', "/v1/skus/SKU-X", { body: { name: "x", perishable: "yes" } }, "/perishable"],
    ["a SKU with an unknown field", "/v1/skus/SKU-X", { body: { name: "x", price: 3 } }, ""],
    ["a SKU id with bad characters", "/v1/skus/bad%20sku!", { body: { name: "x" } }, "/sku"],
    ["a 65-character SKU id", `/v1/skus/${"s".repeat(65)}`, { body: { name: "x" } }, "/sku"],
    ["JSON that is not an object", "/v1/skus/SKU-X", { raw: "[]" }, ""],
  ])("refuses %s with 400 naming the field, and changes no catalog row", async (_what, path, b, errorPath) => {
    await refused(
      () => put(path, b),
      (r) => expectInvalid(r, errorPath),
    );
  });

  it("answers a location in an unknown region with 404 unknown-region, and the location does not come into being", async () => {
    const location = fresh("W-NEW");
    await refused(
      () => put(`/v1/locations/${location}`, { body: { kind: "warehouse", regionId: "atlantis", name: "nowhere" } }),
      (r) => expectProblem(r, 404, "unknown-region"),
    );
    expect(await env.DB.prepare("SELECT id FROM locations WHERE id = ?").bind(location).first()).toBeNull();
  });

  it("answers a barcode that belongs to another SKU with 409 barcode-in-use, and leaves the SKU as it was", async () => {
    await refused(
      () => put(`/v1/skus/${sku}`, { body: { name: "renamed", barcode: BARCODE } }),
      (r) => expectProblem(r, 409, "barcode-in-use"),
    );
  });

  it("answers a new SKU with a barcode that is taken with 409, and the SKU does not come into being", async () => {
    const newSku = fresh("SKU-NEW");
    await refused(
      () => put(`/v1/skus/${newSku}`, { body: { name: "new", barcode: BARCODE } }),
      (r) => expectProblem(r, 409, "barcode-in-use"),
    );
    expect(await env.DB.prepare("SELECT id FROM skus WHERE id = ?").bind(newSku).first()).toBeNull();
  });
});

describe("every write route", () => {
  const routes: [string, () => Promise<{ method: string; path: string; token: string; body: unknown }>][] = [
    ["POST holds", async () => ({ method: "POST", path: `/v1/carts/${cartId}/holds`, token: await shopperToken(OWNER), body: { lines: [line()] } })],
    ["POST receipts", async () => ({ method: "POST", path: "/v1/receipts", token: await adminToken(), body: { sku, location: "W1", qty: 5 } })],
    ["PUT regions", async () => ({ method: "PUT", path: "/v1/regions/north", token: await adminToken(), body: { name: "Renamed" } })],
    ["PUT locations", async () => ({ method: "PUT", path: "/v1/locations/S1", token: await adminToken(), body: { kind: "store", regionId: "north", name: "S1", reserve: 4 } })],
    ["PUT skus", async () => ({ method: "PUT", path: `/v1/skus/${sku}`, token: await adminToken(), body: { name: "Renamed" } })],
  ];

  it.each(routes)("%s refuses a text/plain body with 415, and changes nothing", async (_name, route) => {
    const { method, path, token, body } = await route();
    await refused(
      () => call(method, path, { token, rawBody: JSON.stringify(body), headers: { "content-type": "text/plain" } }),
      (r) => expectProblem(r, 415, "unsupported-media-type"),
    );
  });

  it.each(routes)("%s refuses a form-encoded body with 415, and changes nothing", async (_name, route) => {
    const { method, path, token } = await route();
    await refused(
      () => call(method, path, { token, rawBody: "name=Renamed", headers: { "content-type": "application/x-www-form-urlencoded" } }),
      (r) => expectProblem(r, 415, "unsupported-media-type"),
    );
  });

  it.each(routes)("%s refuses a 70 KB body with 413, and changes nothing", async (_name, route) => {
    const { method, path, token, body } = await route();
    // Otherwise valid apart from its padding, so only the size can be the reason.
    const padded = { ...(body as object), padding: "x".repeat(70_000) };
    await refused(
      () => call(method, path, { token, body: padded }),
      (r) => expectProblem(r, 413, "payload-too-large"),
    );
  });

  it.each(routes)("%s refuses a JSON body sent without any Content-Type with 415, and changes nothing", async (_name, route) => {
    const { method, path, token, body } = await route();
    await refused(
      async () => {
        // Bytes rather than a string, so that fetch adds no text/plain of its own.
        const res = await SELF.fetch(`http://edgestock.test${path}`, { method, headers: { authorization: `Bearer ${token}` }, body: new TextEncoder().encode(JSON.stringify(body)) });
        return { status: res.status, headers: res.headers, body: await res.json() };
      },
      (r) => expectProblem(r, 415, "unsupported-media-type"),
    );
  });

  it.each(routes)("%s refuses a body cut off mid-way with 400 malformed-json, and changes nothing", async (_name, route) => {
    const { method, path, token, body } = await route();
    await refused(
      () => call(method, path, { token, rawBody: JSON.stringify(body).slice(0, -3), headers: { "content-type": "application/json" } }),
      (r) => expectProblem(r, 400, "malformed-json"),
    );
  });

  it.each(routes)("%s refuses a JSON array with 400, and changes nothing", async (_name, route) => {
    const { method, path, token } = await route();
    await refused(
      () => call(method, path, { token, body: [] }),
      (r) => expectInvalid(r, ""),
    );
  });
});

describe("unknown routes", () => {
  it.each([
    ["GET", "/nope"],
    ["GET", "/v1/nope"],
    ["POST", "/v1/skus/SKU-X/availability"],
    ["GET", "/v1/receipts"],
    ["DELETE", "/v1/receipts"],
    ["PUT", "/v1/carts/c-1/holds"],
    ["GET", "/v2/skus/SKU-X/availability"],
  ])("answers %s %s with 404 not-found problem+json", async (method, path) => {
    const r = await refused(
      async () => call(method, path, { token: await adminToken(), ...(method === "GET" || method === "DELETE" ? {} : { body: {} }) }),
      (res) => expectProblem(res, 404, "not-found"),
    );
    expect(r.body.detail).toContain(method);
  });
});


const ID = /^[A-Za-z0-9._:-]{1,64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown) => typeof v === "string" && ID.test(v);
const isIntIn = (v: unknown, min: number, max: number) => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;

/** The hold contract, written out independently of the server's schema: is this parsed body acceptable? */
function holdBodyIsValid(b: unknown): boolean {
  if (!isObject(b)) return false;
  if (Object.keys(b).some((k) => k !== "lines" && k !== "ttlSeconds")) return false;
  if ("ttlSeconds" in b && !isIntIn(b.ttlSeconds, 5, 3600)) return false;
  const lines = b.lines;
  if (!Array.isArray(lines) || lines.length < 1 || lines.length > 50) return false;
  return lines.every(
    (l) => isObject(l) && Object.keys(l).every((k) => k === "sku" || k === "qty" || k === "location") && isId(l.sku) && isIntIn(l.qty, 1, HOLD_QTY_MAX) && (!("location" in l) || isId(l.location)),
  );
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function randomMalformedHolds(seed: number, count: number): string[] {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const numbers = [0, -1, 1, 1.5, 4, 5, 3600, 3601, HOLD_QTY_MAX, HOLD_QTY_MAX + 1, 1e20, -0, 2 ** 53, Number.MAX_VALUE, 0.1];
  const strings = ["", "1", "x", "W1", "S1", "NOWHERE", sku, "bad sku!", "NaN", "Infinity", "x".repeat(65), "é", "\u0000", "null", "[]"];
  const keys = ["sku", "qty", "location", "lines", "ttlSeconds", "extra", "", "Qty", "constructor", "toString", "0"];

  const value = (depth: number): Json => {
    switch (int(depth > 2 ? 4 : 6)) {
      case 0:
        return null;
      case 1:
        return random() < 0.5;
      case 2:
        return random() < 0.5 ? pick(numbers) : int(20_000) - 5_000;
      case 3:
        return pick(strings);
      case 4:
        return Array.from({ length: int(4) }, () => value(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(keys), value(depth + 1)]));
    }
  };

  /** Every place in the document a mutation can land: the containers, with the key or index in them. */
  const places = (doc: Json): { parent: Json[] | { [key: string]: Json }; key: string | number }[] => {
    if (Array.isArray(doc)) return doc.flatMap((v, i) => [{ parent: doc, key: i }, ...places(v)]);
    if (isObject(doc)) return Object.entries(doc).flatMap(([k, v]) => [{ parent: doc as { [key: string]: Json }, key: k }, ...places(v)]);
    return [];
  };

  const mutate = (doc: Json): Json => {
    const spots = places(doc);
    if (spots.length === 0 || random() < 0.08) return value(0);
    const { parent, key } = pick(spots);
    const action = int(3);
    if (Array.isArray(parent)) {
      const i = key as number;
      if (action === 0) parent[i] = value(1);
      else if (action === 1) parent.splice(i, 1);
      else parent.splice(i, 0, value(1));
    } else {
      const k = key as string;
      if (action === 0) parent[k] = value(1);
      else if (action === 1) delete parent[k];
      // defineProperty, not assignment, so that a key like "constructor" becomes an own field.
      else Object.defineProperty(parent, pick(keys), { value: value(1), enumerable: true, writable: true, configurable: true });
    }
    return doc;
  };

  const bodies: string[] = [];
  while (bodies.length < count) {
    const lineCount = 1 + int(3);
    let doc: Json = {
      lines: Array.from({ length: lineCount }, () => ({ sku, qty: 1 + int(5), ...(random() < 0.3 ? { location: "W1" } : {}) })),
      ...(random() < 0.5 ? { ttlSeconds: 5 + int(3596) } : {}),
    };
    let text = JSON.stringify(doc);
    for (let tries = 0; holdBodyIsValid(JSON.parse(text)); tries += 1) {
      doc = tries < 20 ? mutate(doc) : [];
      text = JSON.stringify(doc);
    }
    // Some bodies stop being JSON at all: any strict prefix of a serialized container is malformed.
    if (random() < 0.1 && text.length > 1) text = text.slice(0, 1 + int(text.length - 1));
    bodies.push(text);
  }
  return bodies;
}

describe("random malformed holds", () => {
  it("answers 200 random malformed hold bodies with 400 problem+json each, and holds nothing", async () => {
    const seed = seedFrom(env.TEST_SEED);
    console.log(`bad-input random malformed holds: SEED=${seed}`);
    const bodies = randomMalformedHolds(seed, 200);
    const newCart = fresh("cart-fuzz");
    const shopper = await shopperToken(OWNER);
    const before = await snapshot();

    const wrong: { i: number; text: string; status: number; body: unknown }[] = [];
    for (const [i, text] of bodies.entries()) {
      const r = await call("POST", `/v1/carts/${i % 2 === 0 ? cartId : newCart}/holds`, { token: shopper, rawBody: text, headers: { "content-type": "application/json" } });
      const b = r.body as { type?: unknown; status?: unknown; detail?: unknown; errors?: unknown } | null;
      const wellFormed =
        r.status === 400 &&
        r.headers.get("content-type") === "application/problem+json" &&
        b !== null &&
        b.status === 400 &&
        typeof b.detail === "string" &&
        b.detail !== "" &&
        (b.type === "malformed-json" || (b.type === "invalid-request" && Array.isArray(b.errors) && b.errors.length > 0));
      if (!wellFormed) wrong.push({ i, text, status: r.status, body: r.body });
    }

    expect(wrong, `SEED=${seed}`).toEqual([]);
    expect(await snapshot()).toEqual(before);
    expectProblem(await call("GET", `/v1/carts/${newCart}`, { token: shopper }), 404, "cart-not-found");
  });
});
