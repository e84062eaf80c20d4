/**
 * Who may call what, as one table: every route × role × scope. The routes take their role guards
 * from it (`allowed` in access.ts), a test generates a request for every cell of it (test/edge/access.test.ts),
 * and the README's API table says the same thing in words (`whoText`; test/unit/access-readme.test.ts
 * checks that they match).
 *
 * Scopes, for a request about a location (the receipt's location, the count's store, ...):
 * - `any`: wherever the request is about;
 * - `own-store`: only a location that is the caller's own (`store` claim);
 * - `own-region`: only a location in the caller's region (`region` claim);
 * - `self`: the caller acts as itself and for its own store only, whatever it names (a terminal's sync);
 * - `owner`: any caller of the role, on what is theirs: someone else's (a shopper's cart) does not
 *   exist for them (404, covered by the cart tests), so it is no 403 cell.
 * A role missing from a rule is refused with 403; a request without a token with 401, unless the
 * rule allows `anyone`.
 */
import { ROLES, type Role } from "./roles";

export type Scope = "any" | "own-store" | "own-region" | "self" | "owner";
export type Caller = "anyone" | Role;

export interface AccessRule {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** As the README's API table writes it, parameters as `:name`. */
  readonly path: string;
  /** What a scope is measured against, in the README's words ("the location", "`from`"). */
  readonly about?: string;
  readonly allow: Partial<Record<Caller, Scope>>;
  /** A WebSocket upgrade (refused before the upgrade, like any other request). */
  readonly websocket?: true;
}

export const ACCESS = [
  { method: "GET", path: "/healthz", allow: { anyone: "any" } },
  { method: "PUT", path: "/v1/regions/:regionId", allow: { admin: "any" } },
  { method: "PUT", path: "/v1/locations/:locationId", allow: { admin: "any" } },
  { method: "PUT", path: "/v1/skus/:sku", allow: { admin: "any" } },
  { method: "GET", path: "/v1/catalog", allow: { terminal: "any", staff: "any", manager: "any", admin: "any" } },
  { method: "GET", path: "/v1/skus/:sku/availability", allow: { anyone: "any" } },
  { method: "POST", path: "/v1/receipts", about: "the location", allow: { staff: "own-store", admin: "any" } },
  { method: "POST", path: "/v1/transfers", about: "`from`", allow: { staff: "own-store", admin: "any" } },
  { method: "POST", path: "/v1/transfers/:transferId/receive", about: "`to`", allow: { staff: "own-store", admin: "any" } },
  { method: "POST", path: "/v1/write-offs", about: "the location", allow: { staff: "own-store", admin: "any" } },
  { method: "GET", path: "/v1/audit/skus/:sku", allow: { admin: "any" } },
  { method: "POST", path: "/v1/carts/:cartId/holds", allow: { shopper: "any" } },
  { method: "GET", path: "/v1/carts/:cartId", allow: { shopper: "owner" } },
  { method: "POST", path: "/v1/carts/:cartId/checkout", allow: { shopper: "owner" } },
  { method: "DELETE", path: "/v1/carts/:cartId/holds", allow: { shopper: "owner" } },
  { method: "POST", path: "/v1/sync/push", allow: { terminal: "self" } },
  { method: "GET", path: "/v1/sync/pull", allow: { terminal: "self" } },
  { method: "GET", path: "/v1/sync/state", allow: { terminal: "self" } },
  { method: "GET", path: "/v1/changes", allow: { service: "any", admin: "any" } },
  { method: "GET", path: "/v1/sold-out", allow: { service: "any", admin: "any" } },
  { method: "POST", path: "/v1/counts", about: "the store", allow: { staff: "own-store", manager: "own-region" } },
  { method: "GET", path: "/v1/counts", about: "the store", allow: { staff: "own-store", manager: "own-region" } },
  { method: "GET", path: "/v1/counts/:countId", about: "the store", allow: { staff: "own-store", manager: "own-region" } },
  { method: "GET", path: "/v1/counts/:countId/sync", about: "the store", allow: { staff: "own-store", manager: "own-region" }, websocket: true },
  { method: "POST", path: "/v1/counts/:countId/submit", about: "the store", allow: { staff: "own-store", manager: "own-region" } },
  { method: "GET", path: "/v1/counts/:countId/report", about: "the store", allow: { staff: "own-store", manager: "own-region" } },
  { method: "POST", path: "/v1/counts/:countId/approve", about: "the store", allow: { manager: "own-region" } },
  { method: "GET", path: "/v1/regions/:regionId/overview", allow: { manager: "own-region" } },
] as const satisfies readonly AccessRule[];

type KeyOf<R> = R extends { readonly method: infer M extends string; readonly path: infer P extends string } ? `${M} ${P}` : never;
/** "METHOD /path" of every rule, and nothing else. */
export type RouteKey = KeyOf<(typeof ACCESS)[number]>;

export const keyOf = (rule: AccessRule): string => `${rule.method} ${rule.path}`;

export function ruleOf(key: RouteKey): AccessRule {
  const rule = (ACCESS as readonly AccessRule[]).find((r) => keyOf(r) === key);
  // The key's type only admits routes of the table.
  if (rule === undefined) throw new Error(`no access rule for ${key}`);
  return rule;
}

/** The roles a rule lets in at all (scopes are checked by the route, where the location is known). */
export function rolesOf(rule: AccessRule): Role[] {
  return ROLES.filter((r) => rule.allow[r] !== undefined);
}

/** The rule in the README's words, e.g. "staff of the location, admin". */
export function whoText(rule: AccessRule): string {
  const callers: readonly Caller[] = ["anyone", ...ROLES];
  return callers
    .flatMap((c) => {
      const scope = rule.allow[c];
      if (scope === undefined) return [];
      if (c === "anyone") return ["anyone"];
      switch (scope) {
        case "any":
          return [c];
        case "own-store":
          return [`${c} of ${rule.about ?? "the location"}`];
        case "own-region":
          return [`${c} of ${rule.about === undefined ? "the region" : `${rule.about}'s region`}`];
        case "self":
          return [`${c} (as itself, for its store)`];
        case "owner":
          return [`${c} (owner)`];
      }
    })
    .join(", ");
}
