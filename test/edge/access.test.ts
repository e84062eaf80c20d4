/**
 * Every cell of the access table (edge/auth/access.ts): each route, called by every role in every
 * scope — own store, another store of the same region, a store of another region; a manager of the
 * region and of another one — and without a token. A cell the table allows must get past
 * authorization (not 401 or 403); a cell it does not must be refused with 401 or 403 problem+json
 * and change nothing the request was about.
 *
 * The requests are about store S1 of region R1 (a transfer's `to` for its receipt). Callers:
 * staff and terminals of S1 (own store), of S2 (same region) and of S3 (region R2); managers of
 * R1 and R2; a shopper, an admin, a service.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ACCESS, keyOf, type AccessRule, type Caller, type RouteKey, type Scope } from "../../edge/auth/access-table";
import type { TokenClaims } from "./helpers";
import { adminToken, call, catalog, fresh, must, receive, token } from "./helpers";

interface Who {
  readonly name: string;
  readonly claims: TokenClaims | null;
  readonly store?: string;
  readonly region?: string;
}

const WHO: readonly Who[] = [
  { name: "no token", claims: null },
  { name: "a shopper", claims: { role: "shopper", sub: "shopper-acl" } },
  { name: "a terminal of S1", claims: { role: "terminal", sub: "acl-pos-s1", store: "S1" }, store: "S1" },
  { name: "a terminal of S2", claims: { role: "terminal", sub: "acl-pos-s2", store: "S2" }, store: "S2" },
  { name: "staff of S1", claims: { role: "staff", sub: "acl-staff-s1", store: "S1" }, store: "S1" },
  { name: "staff of S2 (same region)", claims: { role: "staff", sub: "acl-staff-s2", store: "S2" }, store: "S2" },
  { name: "staff of S3 (another region)", claims: { role: "staff", sub: "acl-staff-s3", store: "S3" }, store: "S3" },
  { name: "a manager of R1", claims: { role: "manager", sub: "acl-mgr-r1", region: "R1" }, region: "R1" },
  { name: "a manager of R2", claims: { role: "manager", sub: "acl-mgr-r2", region: "R2" }, region: "R2" },
  { name: "an admin", claims: { role: "admin", sub: "acl-admin" } },
  { name: "a service", claims: { role: "service", sub: "acl-service" } },
];

/** What the request is about, for the scope check. */
const TARGET = { store: "S1", region: "R1" };

/** Whether the table lets `who` through for a request about TARGET. */
function allows(rule: AccessRule, who: Who): boolean {
  if (rule.allow.anyone !== undefined) return true;
  if (who.claims === null) return false;
  const scope = rule.allow[who.claims.role as Caller];
  if (scope === undefined) return false;
  const inScope = { any: true, self: true, owner: true, "own-store": who.store === TARGET.store, "own-region": who.region === TARGET.region } satisfies Record<Scope, boolean>;
  return inScope[scope];
}

interface Request {
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

const sku = fresh("ACL");
const cartId = fresh("acl-cart");
let transferId = "";
let countId = "";

/** One well-formed request per route, about TARGET. A route missing here does not compile. */
const REQUESTS = {
  "GET /healthz": () => ({ path: "/healthz" }),
  "PUT /v1/regions/:regionId": () => ({ path: "/v1/regions/R1", body: { name: "R1" } }),
  "PUT /v1/locations/:locationId": () => ({ path: "/v1/locations/S1", body: { kind: "store", regionId: "R1", name: "S1", reserve: 0 } }),
  "PUT /v1/skus/:sku": () => ({ path: `/v1/skus/${sku}`, body: { name: sku } }),
  "GET /v1/catalog": () => ({ path: "/v1/catalog?limit=1" }),
  "GET /v1/skus/:sku/availability": () => ({ path: `/v1/skus/${sku}/availability` }),
  "POST /v1/receipts": () => ({ path: "/v1/receipts", body: { sku, location: "S1", qty: 1 } }),
  "POST /v1/transfers": () => ({ path: "/v1/transfers", body: { sku, from: "S1", to: "W1", qty: 1 } }),
  "POST /v1/transfers/:transferId/receive": () => ({ path: `/v1/transfers/${transferId}/receive`, body: { qty: 1 } }),
  "POST /v1/write-offs": () => ({ path: "/v1/write-offs", body: { sku, location: "S1", qty: 1, reason: "damaged" } }),
  "GET /v1/audit/skus/:sku": () => ({ path: `/v1/audit/skus/${sku}` }),
  "POST /v1/carts/:cartId/holds": () => ({ path: `/v1/carts/${cartId}/holds`, body: { lines: [{ sku, qty: 1 }] } }),
  "GET /v1/carts/:cartId": () => ({ path: `/v1/carts/${cartId}` }),
  "POST /v1/carts/:cartId/checkout": () => ({ path: `/v1/carts/${cartId}/checkout` }),
  "DELETE /v1/carts/:cartId/holds": () => ({ path: `/v1/carts/${cartId}/holds` }),
  "POST /v1/sync/push": (who: Who) => ({ path: "/v1/sync/push", body: { terminalId: who.claims?.sub ?? "acl-pos", incarnation: "acl", ops: [] } }),
  "GET /v1/sync/pull": () => ({ path: "/v1/sync/pull?limit=1" }),
  "GET /v1/sync/state": () => ({ path: "/v1/sync/state" }),
  "GET /v1/changes": () => ({ path: "/v1/changes?limit=1" }),
  "GET /v1/sold-out": () => ({ path: "/v1/sold-out?limit=1" }),
  "POST /v1/counts": () => ({ path: "/v1/counts", body: { location: "S1", skus: [sku] } }),
  "GET /v1/counts": () => ({ path: "/v1/counts?location=S1" }),
  "GET /v1/counts/:countId": () => ({ path: `/v1/counts/${countId}` }),
  "GET /v1/counts/:countId/sync": () => ({ path: `/v1/counts/${countId}/sync` }),
  "POST /v1/counts/:countId/submit": () => ({ path: `/v1/counts/${countId}/submit` }),
  "GET /v1/counts/:countId/report": () => ({ path: `/v1/counts/${countId}/report` }),
  "POST /v1/counts/:countId/approve": () => ({ path: `/v1/counts/${countId}/approve`, body: { acceptProvisional: true } }),
  "GET /v1/regions/:regionId/overview": () => ({ path: "/v1/regions/R1/overview" }),
} satisfies Record<RouteKey, (who: Who) => Request>;

beforeAll(async () => {
  await catalog({
    locations: [
      { id: "S1", kind: "store", region: "R1" },
      { id: "S2", kind: "store", region: "R1" },
      { id: "S3", kind: "store", region: "R2" },
      { id: "W1", kind: "warehouse", region: "R1" },
    ],
    skus: [sku],
  });
  await receive(sku, "S1", 1_000);
  await receive(sku, "W1", 1_000);
  // A transfer into S1, for the receipt route.
  const t = await must(call("POST", "/v1/transfers", { token: await adminToken(), body: { sku, from: "W1", to: "S1", qty: 50 } }));
  transferId = t.body.transferId;
  // A count at S1, for the count routes.
  const count = await must(call("POST", "/v1/counts", { token: await token({ role: "manager", sub: "acl-setup", region: "R1" }), body: { location: "S1", skus: [sku] } }));
  countId = count.body.countId;
});

const rules: readonly AccessRule[] = ACCESS;
// reason: every rule's key is a RouteKey by construction (the type is derived from the table).
const cells = rules.flatMap((rule) => WHO.map((who) => ({ key: keyOf(rule) as RouteKey, rule, who, allowed: allows(rule, who) })));

describe("the access table, cell by cell", () => {
  it("has a cell for every route and caller", () => {
    expect(cells.length).toBe(ACCESS.length * WHO.length);
  });

  it.each(cells)("$key by $who.name: allowed=$allowed", async ({ key, rule, who, allowed }) => {
    const request: Request = REQUESTS[key](who);
    const headers: Record<string, string> = { ...request.headers, ...(rule.websocket === true ? { upgrade: "websocket" } : {}) };
    const res = await call(rule.method, request.path, { ...(who.claims === null ? {} : { token: await token(who.claims) }), ...(request.body === undefined ? {} : { body: request.body }), headers });
    if (allowed) {
      expect(res.status, `${key} by ${who.name}: ${JSON.stringify(res.body)}`).not.toBe(401);
      expect(res.status, `${key} by ${who.name}: ${JSON.stringify(res.body)}`).not.toBe(403);
      expect(res.status, `${key} by ${who.name}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
    } else {
      const expected = who.claims === null ? 401 : 403;
      expect(res.status, `${key} by ${who.name}: ${JSON.stringify(res.body)}`).toBe(expected);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body.type).toBe(expected === 401 ? "unauthorized" : "forbidden");
    }
  });
});
