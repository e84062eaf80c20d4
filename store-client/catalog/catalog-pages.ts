/**
 * The catalog from the edge: `GET /v1/catalog` paged by SKU id, with progress, for bootstrapping a
 * terminal and refreshing its catalog. The pages are gathered first and handed to
 * `refreshCatalog`, which replaces the local catalog in one transaction (catalog.ts): a scanner
 * never sees half of a catalog, and a failed page leaves the old one in place.
 *
 * Also the two catalog reads a POS screen needs beyond a barcode lookup: search by name, and what
 * the local catalog holds and since when.
 */
import type { StoreClient } from "../create-store-client";
import { getMeta, type CatalogItem, type StoreDb } from "../db/store-db";
import type { Transport } from "../sync/http";
import type { CatalogLoaded } from "./catalog";

/** The edge's largest page (edge/catalog/catalog-routes.ts). */
export const CATALOG_PAGE_MAX = 1000;
/** A bound on the loop: 2,000 pages of 1,000 is a catalog of two million SKUs. */
const CATALOG_PAGES_MAX = 2000;

export interface CatalogProgress {
  pages: number;
  items: number;
  /** True once the last page is in. */
  done: boolean;
}

export interface CatalogSource {
  baseUrl: string;
  token: string | (() => string | Promise<string>);
  transport?: Transport;
  pageSize?: number;
  onProgress?: (progress: CatalogProgress) => void;
  signal?: AbortSignal;
}

/** One page of the edge's answer as catalog items; throws on anything else. */
function pageItems(body: unknown): { items: CatalogItem[]; next: string | null } {
  const page = body as { items?: unknown; next?: unknown };
  if (typeof page !== "object" || page === null || !Array.isArray(page.items) || !(page.next === null || typeof page.next === "string")) {
    throw new Error("GET /v1/catalog answered something that is not a catalog page");
  }
  const items = page.items.map((raw: unknown) => {
    const r = raw as { sku?: unknown; name?: unknown; barcode?: unknown; priceMinor?: unknown };
    // The edge sends `barcode: null` for an item without one; the local catalog leaves it out.
    const item = { sku: r.sku, name: r.name } as CatalogItem;
    if (typeof r.barcode === "string") item.barcode = r.barcode;
    if (typeof r.priceMinor === "number") item.priceMinor = r.priceMinor;
    return item;
  });
  return { items, next: page.next };
}

/** Every page of the edge's catalog, in SKU order. Rejects on the first failed page. */
export async function fetchCatalog(source: CatalogSource): Promise<CatalogItem[]> {
  const transport: Transport = source.transport ?? ((url, init) => globalThis.fetch(url, init));
  const size = Math.min(source.pageSize ?? CATALOG_PAGE_MAX, CATALOG_PAGE_MAX);
  const base = source.baseUrl.replace(/\/+$/, "");
  const all: CatalogItem[] = [];
  let after: string | null = null;
  for (let pages = 1; pages <= CATALOG_PAGES_MAX; pages++) {
    const token = typeof source.token === "string" ? source.token : await source.token();
    const query = new URLSearchParams({ limit: String(size) });
    if (after !== null) query.set("after", after);
    const init: Parameters<Transport>[1] = { method: "GET", headers: { authorization: `Bearer ${token}`, accept: "application/json" } };
    if (source.signal !== undefined) init.signal = source.signal;
    const res = await transport(`${base}/v1/catalog?${query.toString()}`, init);
    if (res.status !== 200) throw new Error(`GET /v1/catalog answered ${res.status}`);
    const page = pageItems(await res.json());
    all.push(...page.items);
    after = page.next;
    source.onProgress?.({ pages, items: all.length, done: after === null });
    if (after === null) return all;
  }
  throw new Error(`the catalog has more than ${CATALOG_PAGES_MAX} pages`);
}

/** Replace the client's catalog with the edge's, page by page with progress, in one transaction at the end. */
export function syncCatalog(client: StoreClient, source: CatalogSource): Promise<CatalogLoaded> {
  return client.refreshCatalog(() => fetchCatalog(source));
}

export interface CatalogState {
  items: number;
  loadedAtMs: number | null;
}

export async function catalogState(client: Pick<StoreClient, "db">): Promise<CatalogState> {
  const db: StoreDb = client.db;
  const [items, loadedAtMs] = await Promise.all([db.catalog.count(), getMeta(db, "catalogLoadedAtMs")]);
  return { items, loadedAtMs: loadedAtMs ?? null };
}

/** Matches by exact barcode or SKU first, then names containing every word typed (any case), at most `limit`. */
export async function searchCatalog(client: Pick<StoreClient, "db">, text: string, limit = 20): Promise<CatalogItem[]> {
  const db: StoreDb = client.db;
  const q = text.trim();
  if (q.length === 0) return [];
  const exact = (await db.catalog.where("barcode").equals(q).first()) ?? (await db.catalog.get(q));
  if (exact !== undefined) return [exact];
  const words = q.toLowerCase().split(/\s+/);
  // A scan that stops at `limit` matches: typed searches are rare next to scans, and this needs
  // no index to keep up to date.
  return db.catalog
    .filter((item) => {
      const name = item.name.toLowerCase();
      return words.every((w) => name.includes(w) || item.sku.toLowerCase().includes(w));
    })
    .limit(limit)
    .toArray();
}
