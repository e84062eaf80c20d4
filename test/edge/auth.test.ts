/**
 * Who may call what: a missing or invalid bearer token is a 401, a valid token outside its role or
 * scope is a 403, another shopper's cart does not exist (404) — and none of them changes any
 * stock, hold or cart (I7).
 */
import { env } from "cloudflare:test";
import { sign } from "hono/jwt";
import { beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../edge/auth/auth";
import { availability, call, catalog, expectProblem, fresh, must, peek, receive, shopperToken, token } from "./helpers";
import { stockState } from "./objects";

const OTHER_SECRET = "not-the-secret-0123456789abcdef0123456789abcdef";

const sku = fresh("AUTH");
const cartId = fresh("cart-a");
const OWNER = "shopper-a";

beforeAll(async () => {
  await catalog({ locations: [{ id: "W1" }, { id: "S1", kind: "store" }], skus: [sku] });
  await receive(sku, "W1", 20);
  await must(call("POST", `/v1/carts/${cartId}/holds`, { token: await shopperToken(OWNER), body: { lines: [{ sku, qty: 2 }] } }));
});

/** Everything a refused request could have touched: the SKU's stock, its authority, the cart, the catalog row. */
async function snapshot() {
  const stock = await peek("GET", `/v1/skus/${sku}/availability`);
  const cart = await peek("GET", `/v1/carts/${cartId}`, { token: await shopperToken(OWNER) });
  const row = await env.DB.prepare("SELECT * FROM skus WHERE id = ?").bind(sku).first();
  // Guards against comparing two identical failures.
  expect(stock.status).toBe(200);
  expect(cart.status).toBe(200);
  return { availability: stock.body, authority: await stockState(sku), cart: { status: cart.status, body: cart.body }, row };
}

const base64urlOf = (binary: string): string => btoa(binary).replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_");
const base64url = (value: unknown): string => base64urlOf(JSON.stringify(value));
const nowS = () => Math.floor(Date.now() / 1000);

/** An HS256 token over any header and payload text, signed with the right secret: only its content is wrong. */
async function signedRaw(header: unknown, payloadText: string): Promise<string> {
  const input = `${base64url(header)}.${base64urlOf(payloadText)}`;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(env.AUTH_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input)));
  return `${input}.${base64urlOf(String.fromCharCode(...mac))}`;
}

/** Claims a valid token of this role would carry, so each bad credential differs from a good one in one way. */
const claimsOf = (role: Role) => ({
  sub: role === "shopper" ? OWNER : `${role}-1`,
  role,
  ...(role === "staff" || role === "terminal" ? { store: "W1" } : {}),
  ...(role === "manager" ? { region: "north" } : {}),
  iat: nowS(),
  exp: nowS() + 3600,
});

/** Each bad credential, as the whole Authorization header value (undefined: no header). */
const badCredentials: [string, (role: Role) => Promise<string | undefined>][] = [
  ["no Authorization header", async () => undefined],
  ["a Basic scheme", async () => "Basic dXNlcjpwYXNz"],
  ["'Bearer' with no token", async () => "Bearer"],
  ["'Bearer ' with an empty token", async () => "Bearer "],
  ["a header of garbage", async () => "garbage"],
  ["a bearer token that is not a JWT", async () => "Bearer not-a-jwt"],
  ["a valid token followed by more text", async (role) => `Bearer ${await sign(claimsOf(role), env.AUTH_SECRET, "HS256")} extra`],
  ["a token signed with another secret", async (role) => `Bearer ${await sign(claimsOf(role), OTHER_SECRET, "HS256")}`],
  [
    "a shopper token whose payload was edited to claim the role",
    async (role) => {
      const [header, , signature] = (await sign(claimsOf("shopper"), env.AUTH_SECRET, "HS256")).split(".");
      return `Bearer ${header}.${base64url(claimsOf(role === "shopper" ? "admin" : role))}.${signature}`;
    },
  ],
  ["an expired token", async (role) => `Bearer ${await sign({ ...claimsOf(role), iat: nowS() - 120, exp: nowS() - 60 }, env.AUTH_SECRET, "HS256")}`],
  ["an alg:none token with an empty signature", async (role) => `Bearer ${base64url({ alg: "none", typ: "JWT" })}.${base64url(claimsOf(role))}.`],
  ["an HS512 token signed with the right secret", async (role) => `Bearer ${await sign(claimsOf(role), env.AUTH_SECRET, "HS512")}`],
  [
    "a token without exp",
    async (role) => {
      const { exp: _exp, ...claims } = claimsOf(role);
      return `Bearer ${await sign(claims, env.AUTH_SECRET, "HS256")}`;
    },
  ],
  ["a staff token without a store", async () => `Bearer ${await token({ role: "staff", sub: "staff-1" })}`],
  ["a terminal token without a store", async () => `Bearer ${await token({ role: "terminal", sub: "t-1" })}`],
  ["a manager token without a region", async () => `Bearer ${await token({ role: "manager", sub: "m-1" })}`],
  ["a token with an unknown role", async (role) => `Bearer ${await sign({ ...claimsOf(role), role: "superuser" }, env.AUTH_SECRET, "HS256")}`],
  ["a signed token whose payload is null", async () => `Bearer ${await signedRaw({ alg: "HS256", typ: "JWT" }, "null")}`],
  ["a signed token whose payload is a list", async (role) => `Bearer ${await signedRaw({ alg: "HS256", typ: "JWT" }, JSON.stringify([claimsOf(role)]))}`],
  ["a signed token whose payload is not JSON", async () => `Bearer ${await signedRaw({ alg: "HS256", typ: "JWT" }, "{role:admin")}`],
  ["a signed token with a crit header", async (role) => `Bearer ${await signedRaw({ alg: "HS256", typ: "JWT", crit: ["exp"] }, JSON.stringify(claimsOf(role)))}`],
  ["a token whose subject is not an id", async (role) => `Bearer ${await sign({ ...claimsOf(role), sub: "a b" }, env.AUTH_SECRET, "HS256")}`],
];

/** Protected routes, each with the role that may call it and a body that role could send successfully. */
const protectedRoutes: { name: string; role: Role; method: string; path: () => string; body?: () => unknown }[] = [
  { name: "POST holds", role: "shopper", method: "POST", path: () => `/v1/carts/${cartId}/holds`, body: () => ({ lines: [{ sku, qty: 1 }] }) },
  { name: "GET cart", role: "shopper", method: "GET", path: () => `/v1/carts/${cartId}` },
  { name: "POST checkout", role: "shopper", method: "POST", path: () => `/v1/carts/${cartId}/checkout` },
  { name: "DELETE holds", role: "shopper", method: "DELETE", path: () => `/v1/carts/${cartId}/holds` },
  { name: "POST receipts", role: "admin", method: "POST", path: () => "/v1/receipts", body: () => ({ sku, location: "W1", qty: 5 }) },
  { name: "PUT skus", role: "admin", method: "PUT", path: () => `/v1/skus/${sku}`, body: () => ({ name: "renamed" }) },
];

describe("401 unauthorized", () => {
  const cases = protectedRoutes.flatMap((route) => badCredentials.map(([what, make]) => ({ route: route.name, what, r: route, make })));

  it.each(cases)("$route refuses $what with 401 and changes nothing", async ({ r, make }) => {
    const before = await snapshot();
    const authorization = await make(r.role);
    const res = await call(r.method, r.path(), { ...(r.body === undefined ? {} : { body: r.body() }), headers: authorization === undefined ? {} : { authorization } });
    expectProblem(res, 401, "unauthorized");
    expect(await snapshot()).toEqual(before);
  });

  it.each(badCredentials.filter(([what]) => what !== "no Authorization header"))(
    "refuses %s with 401 even where no token is needed",
    async (_what, make) => {
      const res = await call("GET", `/v1/skus/${sku}/availability`, { headers: { authorization: (await make("shopper")) ?? "" } });
      expectProblem(res, 401, "unauthorized");
    },
  );

  it("answers availability without a token", async () => {
    const res = await call("GET", `/v1/skus/${sku}/availability`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sku, held: 2, available: res.body.onHand - 2 });
    expect(res.body.onHand).toBeGreaterThanOrEqual(20);
  });

  it.each([
    ["a hold with an empty body", "POST", () => `/v1/carts/${cartId}/holds`, {}],
    ["a receipt with an empty body", "POST", () => "/v1/receipts", {}],
    ["a cart id with a space", "GET", () => "/v1/carts/a%20b", undefined],
  ])("answers %s without a token with 401 before looking at the request", async (_what, method, path, body) => {
    const res = await call(method, path(), body === undefined ? {} : { body });
    expectProblem(res, 401, "unauthorized");
  });

  it("answers a shopper's malformed receipt with 403: the role is checked before the body", async () => {
    expectProblem(await call("POST", "/v1/receipts", { token: await shopperToken(), body: {} }), 403, "forbidden");
  });

  it("accepts the bearer scheme in any case", async () => {
    const res = await call("GET", `/v1/carts/${cartId}`, { headers: { authorization: `bearer ${await sign(claimsOf("shopper"), env.AUTH_SECRET, "HS256")}` } });
    expect(res.status).toBe(200);
    expect(res.body.holds).toHaveLength(1);
  });

  it("refuses a token that was accepted once as soon as it has expired (a verified token is remembered only until its exp)", async () => {
    const expS = nowS() + 2;
    const authorization = `Bearer ${await sign({ ...claimsOf("shopper"), exp: expS }, env.AUTH_SECRET, "HS256")}`;
    const first = await call("GET", `/v1/carts/${cartId}`, { headers: { authorization } });
    expect(first.status).toBe(200);
    // Accepted again from memory while it is valid.
    expect((await call("GET", `/v1/carts/${cartId}`, { headers: { authorization } })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expS * 1000 - Date.now()) + 200));
    expectProblem(await call("GET", `/v1/carts/${cartId}`, { headers: { authorization } }), 401, "unauthorized");
  });

  it.each([
    ["hono's sign", () => sign(claimsOf("shopper"), env.AUTH_SECRET, "HS256")],
    ["the hand-built signer", () => signedRaw({ alg: "HS256", typ: "JWT" }, JSON.stringify(claimsOf("shopper")))],
  ])("accepts a good token from %s, built like the refused ones", async (_how, make) => {
    // The control for the table above: the same claims and builders do get through when nothing is wrong.
    const res = await call("GET", `/v1/carts/${cartId}`, { headers: { authorization: `Bearer ${await make()}` } });
    expect(res.status).toBe(200);
    expect(res.body.holds).toHaveLength(1);
  });
});

describe("403 forbidden", () => {
  const adminRoutes = [
    { name: "PUT regions", path: () => "/v1/regions/north", body: { name: "taken over" } },
    { name: "PUT locations", path: () => "/v1/locations/W1", body: { kind: "warehouse", regionId: "north", name: "taken over", reserve: 20 } },
    { name: "PUT skus", path: () => `/v1/skus/${sku}`, body: { name: "taken over" } },
  ];
  const catalogRows = async () => ({
    regions: (await env.DB.prepare("SELECT * FROM regions ORDER BY id").all()).results,
    locations: (await env.DB.prepare("SELECT * FROM locations ORDER BY id").all()).results,
    skus: (await env.DB.prepare("SELECT * FROM skus ORDER BY id").all()).results,
  });

  const nonAdmins: { role: Role; store?: string; region?: string }[] = [
    { role: "shopper" },
    { role: "staff", store: "W1" },
    { role: "terminal", store: "W1" },
    { role: "manager", region: "north" },
    { role: "service" },
  ];
  it.each(adminRoutes.flatMap((route) => nonAdmins.map((who) => ({ route: route.name, role: who.role, who, r: route }))))(
    "$route refuses a $role with 403 and leaves the catalog as it was",
    async ({ r, who }) => {
      const before = { ...(await snapshot()), catalog: await catalogRows() };
      const res = await call("PUT", r.path(), { token: await token(who), body: r.body });
      expectProblem(res, 403, "forbidden");
      expect({ ...(await snapshot()), catalog: await catalogRows() }).toEqual(before);
    },
  );

  it.each([
    { who: "a shopper", claims: { role: "shopper" as const, sub: OWNER } },
    { who: "staff of store S1", claims: { role: "staff" as const, store: "S1" } },
    { who: "a terminal of W1", claims: { role: "terminal" as const, store: "W1" } },
    { who: "a manager of the region", claims: { role: "manager" as const, region: "north" } },
    { who: "a service", claims: { role: "service" as const } },
  ])("refuses a receipt at W1 by $who with 403 and receives nothing", async ({ claims }) => {
    const before = await snapshot();
    const res = await call("POST", "/v1/receipts", { token: await token(claims), body: { sku, location: "W1", qty: 5 } });
    expectProblem(res, 403, "forbidden");
    expect(await snapshot()).toEqual(before);
  });

  it("lets staff of W1 receive at W1", async () => {
    const before = await availability(sku);
    const res = await call("POST", "/v1/receipts", { token: await token({ role: "staff", sub: "clerk-w1", store: "W1" }), body: { sku, location: "W1", qty: 5 } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ sku, location: "W1", qty: 5, movementId: expect.any(String) });
    expect(await availability(sku)).toMatchObject({ onHand: before.onHand + 5, held: before.held, available: before.available + 5 });
  });

  const cartCallers: { role: Role; store?: string; region?: string }[] = [
    { role: "terminal", store: "W1" },
    { role: "staff", store: "W1" },
    { role: "manager", region: "north" },
    { role: "service" },
    { role: "admin" },
  ];
  const cartRoutes = protectedRoutes.filter((r) => r.role === "shopper");
  it.each(cartRoutes.flatMap((route) => cartCallers.map((who) => ({ route: route.name, role: who.role, who, r: route }))))(
    "$route refuses a $role with 403, since carts are for shoppers, and changes nothing",
    async ({ r, who }) => {
      const before = await snapshot();
      const res = await call(r.method, r.path(), { token: await token({ ...who, sub: OWNER }), ...(r.body === undefined ? {} : { body: r.body() }) });
      expectProblem(res, 403, "forbidden");
      expect(await snapshot()).toEqual(before);
    },
  );
});

describe("a cart belongs to the shopper who first held in it", () => {
  const intruder = () => shopperToken("shopper-b");

  it.each([
    { name: "GET", method: "GET", path: () => `/v1/carts/${cartId}` },
    { name: "checkout", method: "POST", path: () => `/v1/carts/${cartId}/checkout` },
    { name: "DELETE holds", method: "DELETE", path: () => `/v1/carts/${cartId}/holds` },
    { name: "checkout with an Idempotency-Key", method: "POST", path: () => `/v1/carts/${cartId}/checkout`, headers: { "idempotency-key": "k-1" } },
  ])("answers another shopper's $name with 404 cart-not-found and leaves the cart as it was", async ({ method, path, headers }) => {
    const before = await snapshot();
    const res = await call(method, path(), { token: await intruder(), ...(headers === undefined ? {} : { headers }) });
    expectProblem(res, 404, "cart-not-found");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses another shopper's hold in the cart with 404 and holds nothing", async () => {
    const before = await snapshot();
    const res = await call("POST", `/v1/carts/${cartId}/holds`, { token: await intruder(), body: { lines: [{ sku, qty: 3 }] } });
    expectProblem(res, 404, "cart-not-found");
    const after = await snapshot();
    expect(after).toEqual(before);
    expect(after.cart.body.holds).toHaveLength(1);
  });

  it("still serves the owner after the intrusions", async () => {
    const res = await call("GET", `/v1/carts/${cartId}`, { token: await shopperToken(OWNER) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ cartId, state: "open", holds: [{ sku, qty: 2, state: "active" }] });
  });

  it("answers a shopper's GET of a cart no one has held in with 404 cart-not-found", async () => {
    const res = await call("GET", `/v1/carts/${fresh("cart-none")}`, { token: await shopperToken("shopper-c") });
    expectProblem(res, 404, "cart-not-found");
  });
});
