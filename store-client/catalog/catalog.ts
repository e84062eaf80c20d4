/**
 * The local catalog: what a scanned barcode or a typed SKU is, answered from IndexedDB so it works
 * offline and at scanner speed (one indexed get).
 *
 * Where the catalog comes from is injected. The edge has no catalog listing endpoint yet
 * (`PUT /v1/skus/:sku` writes one SKU, nothing lists them), so the POS bootstraps with
 * `loadCatalog(items)` from whatever source it has (a bundled file, a back-office export) and
 * refreshes with `refreshCatalog(fetcher)`, which will call the listing endpoint once there is one.
 *
 * Invariant protected: a refresh replaces the catalog whole or not at all (one transaction, after
 * every item has been checked), so a scanner never sees half of an old and half of a new catalog.
 */
import { isId } from "../../ledger/rules/ids";
import type { FieldError } from "../ops/op-rules";
import { putMeta, type CatalogItem, type StoreDb } from "../db/store-db";

export type CatalogProblem = { kind: "invalid_catalog"; errors: FieldError[] } | { kind: "catalog_source_failed"; detail: string; cause: unknown };

export type CatalogLoaded = { ok: true; items: number } | { ok: false; problem: CatalogProblem };

/** At most this many errors are listed for a bad catalog: enough to fix it, not a copy of it. */
const ERRORS_LISTED_MAX = 20;

/** Check every item and keep only the known fields; pure. */
export function checkCatalog(items: readonly unknown[]): { ok: true; items: CatalogItem[] } | { ok: false; problem: CatalogProblem } {
  const errors: FieldError[] = [];
  const clean: CatalogItem[] = [];
  const seen = new Set<string>();
  if (!Array.isArray(items)) return { ok: false, problem: { kind: "invalid_catalog", errors: [{ path: "items", message: "a list" }] } };
  items.forEach((raw, i) => {
    const at = `items[${i}]`;
    const item = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
    const { sku, name, barcode, priceMinor } = item;
    if (typeof sku !== "string" || !isId(sku)) errors.push({ path: `${at}.sku`, message: "1–64 characters of A–Z a–z 0–9 . _ : -" });
    else if (seen.has(sku)) errors.push({ path: `${at}.sku`, message: `${sku} is listed twice` });
    if (typeof name !== "string") errors.push({ path: `${at}.name`, message: "a string" });
    if (barcode !== undefined && (typeof barcode !== "string" || barcode.length === 0)) errors.push({ path: `${at}.barcode`, message: "a non-empty string" });
    if (priceMinor !== undefined && (!Number.isSafeInteger(priceMinor) || (priceMinor as number) < 0)) {
      errors.push({ path: `${at}.priceMinor`, message: "a whole number of minor units, 0 or more" });
    }
    if (typeof sku !== "string" || typeof name !== "string") return;
    seen.add(sku);
    const out: CatalogItem = { sku, name };
    if (typeof barcode === "string") out.barcode = barcode;
    if (typeof priceMinor === "number") out.priceMinor = priceMinor;
    clean.push(out);
  });
  if (errors.length > 0) return { ok: false, problem: { kind: "invalid_catalog", errors: errors.slice(0, ERRORS_LISTED_MAX) } };
  return { ok: true, items: clean };
}

/**
 * Add or update items (`mode: "merge"`, the default), or make the catalog exactly these items
 * (`mode: "replace"`). Nothing is written when any item is invalid.
 */
export async function loadCatalog(db: StoreDb, items: readonly unknown[], nowMs: number, mode: "merge" | "replace" = "merge"): Promise<CatalogLoaded> {
  const checked = checkCatalog(items);
  if (!checked.ok) return checked;
  await db.transaction("rw", db.catalog, db.meta, async () => {
    if (mode === "replace") await db.catalog.clear();
    await db.catalog.bulkPut(checked.items);
    await putMeta(db, "catalogLoadedAtMs", nowMs);
  });
  return { ok: true, items: checked.items.length };
}

/** Fetch the whole catalog from `fetcher` and replace the local one with it. */
export async function refreshCatalog(db: StoreDb, fetcher: () => Promise<readonly unknown[]>, nowMs: () => number): Promise<CatalogLoaded> {
  let items: readonly unknown[];
  try {
    items = await fetcher();
  } catch (cause) {
    // The old catalog stays; the caller decides when to try again.
    return { ok: false, problem: { kind: "catalog_source_failed", detail: cause instanceof Error ? cause.message : String(cause), cause } };
  }
  return loadCatalog(db, items, nowMs(), "replace");
}

/** The item with this barcode. Barcodes are unique at the edge (409 `barcode-in-use`). */
export async function findByBarcode(db: StoreDb, barcode: string): Promise<CatalogItem | undefined> {
  return db.catalog.where("barcode").equals(barcode).first();
}

export async function findBySku(db: StoreDb, sku: string): Promise<CatalogItem | undefined> {
  return db.catalog.get(sku);
}
