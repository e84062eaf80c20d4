/**
 * Who is calling: a bearer JWT (HS256, signed with AUTH_SECRET) becomes a `Principal`, or the
 * request is refused with 401. Forged signatures, expired tokens, `alg: none` and tokens without
 * the claims their role needs are all 401; a valid token outside its role or scope is 403.
 */
import type { MiddlewareHandler } from "hono";
import { verify } from "hono/jwt";
import { z } from "zod";
import { ID_PATTERN } from "../../ledger/rules/ids";
import type { AppEnv } from "../http/app-env";
import { problem, ProblemError } from "../http/problem";

import { ROLES, type Role } from "./roles";

export { ROLES, type Role };

export interface Principal {
  readonly sub: string;
  readonly role: Role;
  /** The store (or warehouse) a terminal or staff member works at. */
  readonly store?: string;
  /** The region a manager looks after. */
  readonly region?: string;
}

const id = z.string().regex(ID_PATTERN);

const Claims = z
  .object({ sub: id, role: z.enum(ROLES), store: id.optional(), region: id.optional(), exp: z.number().int() })
  .refine((c) => !(c.role === "terminal" || c.role === "staff") || c.store !== undefined, { message: "terminal and staff tokens need a store claim" })
  .refine((c) => c.role !== "manager" || c.region !== undefined, { message: "manager tokens need a region claim" });

/** The HMAC key, imported once per isolate (and again only if the secret changes), not per request. */
let cachedKey: { readonly secret: string; readonly key: Promise<CryptoKey> } | undefined;
function signingKey(secret: string): Promise<CryptoKey> {
  if (cachedKey?.secret !== secret) {
    cachedKey = { secret, key: crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]) };
  }
  return cachedKey.key;
}

const unauthorized = (detail: string) => new ProblemError(problem("unauthorized", detail));

/** Reads the bearer token if there is one. A token that is present but not valid is always a 401. */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization");
  if (header === undefined) {
    c.set("principal", undefined);
    return next();
  }
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i.exec(header);
  if (match?.[1] === undefined) throw unauthorized("the Authorization header must be 'Bearer <JWT>'");
  c.set("principal", await verifyToken(match[1], c.env.AUTH_SECRET));
  return next();
};

/**
 * Tokens this isolate has verified, with their principal, until their `exp` (and only under the
 * secret they were verified with): a shopper's or a till's every request carries the same token,
 * and checking its signature again (base64, HMAC, the claims) was a fifth of a hold's CPU time
 * in the Worker. Bounded; the oldest entry goes first.
 */
const VERIFIED_MAX = 10_000;
const verified = new Map<string, { readonly secret: string; readonly expMs: number; readonly principal: Principal }>();

/** The principal a JWT names, or a 401 `ProblemError` (for a WebSocket's `token` parameter as for the header). */
export async function verifyToken(jwt: string, secret: string): Promise<Principal> {
  const known = verified.get(jwt);
  if (known !== undefined && known.secret === secret && Date.now() < known.expMs) return known.principal;
  if (known !== undefined) verified.delete(jwt);
  const entry = await verifyAnew(jwt, secret);
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
  verified.set(jwt, entry);
  return entry.principal;
}

async function verifyAnew(jwt: string, secret: string): Promise<{ readonly secret: string; readonly expMs: number; readonly principal: Principal }> {
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(jwt)) throw unauthorized("the token is not a JWT");
  let payload: unknown;
  try {
    payload = await verify(jwt, await signingKey(secret), "HS256");
  } catch (error) {
    // Handled: every verification failure (signature, algorithm, expiry, format) is the client's 401.
    throw unauthorized(`the token is not valid: ${error instanceof Error ? error.name : "verification failed"}`);
  }
  const claims = Claims.safeParse(payload);
  if (!claims.success) throw unauthorized(`the token's claims are not valid: ${claims.error.issues.map((i) => i.message).join("; ")}`);
  const { sub, role, store, region, exp } = claims.data;
  return { secret, expMs: exp * 1000, principal: { sub, role, ...(store === undefined ? {} : { store }), ...(region === undefined ? {} : { region }) } };
}

/** The caller, who must be signed in with one of `roles`. */
export function principalOf(c: { get(key: "principal"): Principal | undefined }, roles: readonly Role[]): Principal {
  const p = c.get("principal");
  if (p === undefined) throw unauthorized("this request needs a bearer token");
  if (!roles.includes(p.role)) throw new ProblemError(problem("forbidden", `role ${p.role} may not do this; allowed: ${roles.join(", ")}`));
  return p;
}

/** Route guard: only these roles get past. */
export const requireRole =
  (...roles: Role[]): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    principalOf(c, roles);
    return next();
  };

/** Staff act at their own location; admins anywhere. */
export function assertActsAt(p: Principal, location: string): void {
  if (p.role === "admin") return;
  if (p.role === "staff" && p.store === location) return;
  throw new ProblemError(problem("forbidden", `${p.role} ${p.sub} may not act at location ${location}`));
}
