/**
 * What a browser test uses: the running Worker (from global-setup.mjs), tokens signed with its
 * secret, the API as a plain client, and Chromium with a fresh profile per test.
 */
import { execFileSync } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { expect, inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    authSecret: string;
    chromiumPath: string;
    skuCount: number;
    persistTo: string;
  }
}

export const base = (): string => inject("baseUrl");

/**
 * Run SQL on the test Worker's local D1, as `wrangler d1 execute --local` does: for setting up
 * what only time can make otherwise (a till that last synced hours ago).
 */
export function d1(sql: string): void {
  execFileSync(process.execPath, [join("node_modules", "wrangler", "bin", "wrangler.js"), "d1", "execute", "DB", "--local", "--persist-to", inject("persistTo"), "--command", sql], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true", WRANGLER_SEND_ERROR_REPORTS: "false", CI: "true" },
    stdio: ["ignore", "ignore", "pipe"],
  });
}

/** Whether the edge answers this request with a 200 (a route not built yet answers 403 or 404). */
export async function answers200(method: string, path: string, tokenValue: string | null): Promise<boolean> {
  return (await api(method, path, tokenValue)).status === 200;
}

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export interface Claims {
  sub: string;
  role: "terminal" | "staff" | "manager" | "admin" | "service" | "shopper";
  store?: string;
  region?: string;
}

export function token(claims: Claims, ttlS = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ ...claims, iat: now, exp: now + ttlS })}`;
  return `${input}.${createHmac("sha256", inject("authSecret")).update(input).digest("base64url")}`;
}

/** A name no other test (or earlier run) uses. */
export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export async function api<T = unknown>(method: string, path: string, tokenValue: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base()}${path}`, {
    method,
    headers: {
      accept: "application/json",
      ...(tokenValue === null ? {} : { authorization: `Bearer ${tokenValue}` }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text === "" ? null : JSON.parse(text)) as T };
}

export const admin = (): string => token({ sub: "browser-tests", role: "admin" });

export interface CatalogRow {
  sku: string;
  name: string;
  barcode: string | null;
}

export async function catalog(): Promise<CatalogRow[]> {
  const t = token({ sub: "browser-catalog", role: "terminal", store: "S001" });
  const { body } = await api<{ items: CatalogRow[] }>("GET", "/v1/catalog?limit=1000", t);
  return body.items;
}

export interface Availability {
  onHand: number;
  available: number;
  locations: { location: string; onHand: number; held: number; reserve: number; available: number }[];
}

export async function availability(sku: string): Promise<Availability> {
  return (await api<Availability>("GET", `/v1/skus/${sku}/availability`, null)).body;
}

export async function atStore(sku: string, store: string): Promise<{ onHand: number; held: number; reserve: number; available: number }> {
  return (await availability(sku)).locations.find((l) => l.location === store) ?? { onHand: 0, held: 0, reserve: 0, available: 0 };
}

export interface Audit {
  consistent: boolean;
  ledger: Record<string, number>;
  unflushed: number;
}

/** The SKU's audit once every movement is in D1: the ledger's balances per account. */
export async function flushedAudit(sku: string): Promise<Audit> {
  let audit: Audit | null = null;
  await expect
    .poll(
      async () => {
        audit = (await api<Audit>("GET", `/v1/audit/skus/${sku}`, admin())).body;
        return audit.unflushed;
      },
      { timeout: 30_000, interval: 250 },
    )
    .toBe(0);
  return audit as unknown as Audit;
}

export interface Browser {
  context: BrowserContext;
  profile: string;
  relaunch(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Chromium on its own profile directory; `relaunch` closes it and opens the same profile again. */
export async function launch(profile = mkdtempSync(join(tmpdir(), "edgestock-profile-"))): Promise<Browser> {
  const open = () =>
    chromium.launchPersistentContext(profile, {
      executablePath: inject("chromiumPath"),
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 800 },
    });
  const browser: Browser = {
    context: await open(),
    profile,
    async relaunch() {
      await browser.context.close();
      browser.context = await open();
      return browser.context;
    },
    async close() {
      await browser.context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
  return browser;
}

export const statusOf = (page: Page) => page.getByRole("status").first();

/** Open the POS signed in through the `#token=` hook; resolves once the till is ready to work offline. */
export async function openPos(page: Page, terminalToken: string | null): Promise<void> {
  await page.goto(`${base()}/pos${terminalToken === null ? "" : `#token=${terminalToken}`}`);
  await expect.poll(() => page.getByText("Ready to work offline").count(), { timeout: 30_000 }).toBe(1);
}

/** Scan one barcode and complete the sale with Enter on the empty box. */
export async function sellByBarcode(page: Page, barcode: string): Promise<void> {
  const box = page.getByLabel("Scan or search");
  await box.fill(barcode);
  await box.press("Enter");
  await expect.poll(() => page.getByRole("button", { name: /^Remove / }).count()).toBe(1);
  await box.press("Enter");
  await expect.poll(() => page.getByRole("alert").filter({ hasText: "Sale recorded" }).count()).toBe(1);
}
