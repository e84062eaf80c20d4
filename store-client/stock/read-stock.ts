/**
 * Local stock read from the database: the thin shell over stock-view.ts. Callable inside a
 * transaction that includes `stock` and `outbox`, so a sale sees the same figures it writes against.
 */
import type { StoreDb } from "../db/store-db";
import { localStock, type ConfirmedStock, type LocalStock } from "./stock-view";

export async function readLocalStock(db: StoreDb, sku: string): Promise<LocalStock> {
  const [row, overlay] = await Promise.all([db.stock.get(sku), db.outbox.where("[op.sku+overlay]").equals([sku, 1]).toArray()]);
  const confirmed: ConfirmedStock | null = row === undefined ? null : { sku, onHand: row.onHand, available: row.available, pulledAtMs: row.pulledAtMs };
  return localStock(sku, confirmed, overlay.map((r) => r.op));
}

export async function readLocalStocks(db: StoreDb, skus: Iterable<string>): Promise<Map<string, LocalStock>> {
  const unique = [...new Set(skus)];
  const stocks = await Promise.all(unique.map((sku) => readLocalStock(db, sku)));
  return new Map(stocks.map((s) => [s.sku, s]));
}

/** Every SKU this terminal knows stock for: confirmed by a pull or touched by an op in the overlay. */
export async function readAllLocalStock(db: StoreDb): Promise<LocalStock[]> {
  const [rows, overlay] = await Promise.all([db.stock.toArray(), db.outbox.where("overlay").equals(1).toArray()]);
  const skus = new Set([...rows.map((r) => r.sku), ...overlay.map((r) => r.op.sku)]);
  const bySku = new Map(rows.map((r) => [r.sku, r]));
  return [...skus].sort().map((sku) => {
    const row = bySku.get(sku);
    const confirmed = row === undefined ? null : { sku, onHand: row.onHand, available: row.available, pulledAtMs: row.pulledAtMs };
    return localStock(sku, confirmed, overlay.filter((r) => r.op.sku === sku).map((r) => r.op));
  });
}
