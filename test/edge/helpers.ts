/**
 * Test helpers for the edge: signed tokens, JSON requests through the Worker, and a small catalog.
 */
import { createExecutionContext, env, runInDurableObject, SELF } from "cloudflare:test";
import { sign } from "hono/jwt";
import { expect } from "vitest";
import type { Role } from "../../edge/auth/auth";
import type { CartCoordinator } from "../../edge/cart/cart-coordinator";
import worker from "../../edge/index";
import { ledgerWriterShard, type LedgerWriter } from "../../edge/sku/ledger-writer";
import type { SkuAuthority } from "../../edge/sku/sku-authority";
import { cartShard } from "../../edge/stubs";

export interface TokenClaims {
  readonly role: Role;
  readonly sub?: string;
  readonly store?: string;
  readonly region?: string;
  readonly ttlSeconds?: number;
}

export async function token(claims: TokenClaims, secret: string = env.AUTH_SECRET): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { ttlSeconds = 3600, sub = `${claims.role}-1`, ...rest } = claims;
  return sign({ ...rest, sub, iat: now, exp: now + ttlSeconds }, secret, "HS256");
}

export interface Call {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any; // reason: tests read arbitrary JSON shapes and assert on them
}

export interface CallOptions {
  readonly token?: string;
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
}

export async function call(method: string, path: string, opts: CallOptions = {}): Promise<Call> {
  return send((url, init) => SELF.fetch(url, init), method, path, opts);
}

/**
 * Like `call`, but straight into the Worker's fetch handler instead of through SELF. Under the pool,
 * every SELF.fetch gets slower with each one the file has made before (workers-sdk#15446), so a
 * file that reads state around hundreds of requests reads it this way; the routes are the same.
 */
export async function peek(method: string, path: string, opts: CallOptions = {}): Promise<Call> {
  return send(async (url, init) => worker.fetch(new Request(url, init), env, createExecutionContext()), method, path, opts);
}

async function send(fetcher: (url: string, init: RequestInit) => Promise<Response>, method: string, path: string, opts: CallOptions): Promise<Call> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetcher(`http://edgestock.test${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    // not JSON: the test sees the raw text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export const adminToken = () => token({ role: "admin", sub: "admin-1" });
export const shopperToken = (sub = "shopper-1") => token({ role: "shopper", sub });

/** Regions, locations and SKUs through the admin API; returns nothing, asserts every call worked. */
export async function catalog(spec: {
  locations?: readonly { id: string; kind?: "store" | "warehouse"; reserve?: number; region?: string }[];
  skus?: readonly string[];
}): Promise<void> {
  const admin = await adminToken();
  for (const region of new Set((spec.locations ?? []).map((l) => l.region ?? "north"))) {
    await must(call("PUT", `/v1/regions/${region}`, { token: admin, body: { name: region } }));
  }
  for (const l of spec.locations ?? []) {
    await must(call("PUT", `/v1/locations/${l.id}`, { token: admin, body: { kind: l.kind ?? "warehouse", regionId: l.region ?? "north", name: l.id, reserve: l.reserve ?? 0 } }));
  }
  for (const sku of spec.skus ?? []) await must(call("PUT", `/v1/skus/${sku}`, { token: admin, body: { name: sku } }));
}

export async function receive(sku: string, location: string, qty: number): Promise<void> {
  await must(call("POST", "/v1/receipts", { token: await adminToken(), body: { sku, location, qty } }));
}

export async function availability(sku: string): Promise<{ onHand: number; held: number; available: number; locations: { location: string; onHand: number; held: number; reserve: number; available: number }[] }> {
  return (await must(call("GET", `/v1/skus/${sku}/availability`))).body;
}

export async function must(p: Promise<Call>): Promise<Call> {
  const r = await p;
  if (r.status >= 300) throw new Error(`expected success, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r;
}

let unique = 0;
/** A fresh id for this test file run (D1 and object storage persist across tests within a file). */
export const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(unique++).toString(36)}`;

/**
 * Asserts an RFC 9457 answer: the status, the problem+json media type, the `type` slug, a `status`
 * member equal to the HTTP status, and a title and detail a person can read.
 */
export function expectProblem(r: Call, status: number, type: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json\b/);
  expect(r.body).toMatchObject({ type, status });
  expect(r.body.title).toEqual(expect.any(String));
  expect(r.body.detail).toEqual(expect.any(String));
  expect(r.body.detail.trim()).not.toBe("");
}

/** Asserts a 400 invalid-request whose `errors` list names `path` (a JSON pointer into what was sent). */
export function expectInvalid(r: Call, path: string): void {
  expectProblem(r, 400, "invalid-request");
  expect(Array.isArray(r.body.errors)).toBe(true);
  expect(r.body.errors.length).toBeGreaterThan(0);
  for (const e of r.body.errors) {
    expect(e).toEqual({ path: expect.any(String), message: expect.any(String) });
    expect(e.message.trim()).not.toBe("");
  }
  expect(r.body.errors.map((e: { path: string }) => e.path)).toContain(path);
}

/**
 * `runInDurableObject` typed for our objects. The pool's signature wants an object whose `env` is
 * the test `Cloudflare.Env` (which adds test bindings), so our classes need a cast to pass.
 */
export function inSku<R>(sku: string, fn: (instance: SkuAuthority, state: DurableObjectState) => R | Promise<R>): Promise<R> {
  const stub = env.SKU.get(env.SKU.idFromName(sku)) as unknown as DurableObjectStub;
  return runInDurableObject(stub, (instance, state) => fn(instance as unknown as SkuAuthority, state));
}

export function inCart<R>(cartId: string, fn: (instance: CartCoordinator, state: DurableObjectState) => R | Promise<R>): Promise<R> {
  const stub = env.CART.get(env.CART.idFromName(cartShard(cartId))) as unknown as DurableObjectStub;
  return runInDurableObject(stub, (instance, state) => fn(instance as unknown as CartCoordinator, state));
}

/** The ledger writer that lands `sku`'s flushes. */
export function inWriter<R>(sku: string, fn: (writer: LedgerWriter) => R | Promise<R>): Promise<R> {
  const stub = env.LEDGER.get(env.LEDGER.idFromName(ledgerWriterShard(sku))) as unknown as DurableObjectStub;
  return runInDurableObject(stub, (instance) => fn(instance as unknown as LedgerWriter));
}

export const skuStub = (sku: string) => env.SKU.get(env.SKU.idFromName(sku));
