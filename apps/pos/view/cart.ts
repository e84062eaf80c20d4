/**
 * The lines a cashier is building up (a sale, a return, a delivery, a write-off), before they are
 * recorded. Pure: every change answers a new cart.
 */
import type { CatalogItem } from "../../../store-client/db/store-db";

export interface CartLine {
  sku: string;
  name: string;
  qty: number;
  priceMinor?: number;
}

export type Cart = readonly CartLine[];

/** One more of this item: the same SKU adds to its line, a new one goes at the end. */
export function addItem(cart: Cart, item: CatalogItem, qty = 1): Cart {
  const at = cart.findIndex((l) => l.sku === item.sku);
  if (at === -1) {
    const line: CartLine = { sku: item.sku, name: item.name, qty };
    if (item.priceMinor !== undefined) line.priceMinor = item.priceMinor;
    return [...cart, line];
  }
  return cart.map((l, i) => (i === at ? { ...l, qty: l.qty + qty } : l));
}

/** Set a line's quantity; 0 or less removes it. */
export function setQty(cart: Cart, sku: string, qty: number): Cart {
  if (!Number.isFinite(qty) || qty <= 0) return cart.filter((l) => l.sku !== sku);
  return cart.map((l) => (l.sku === sku ? { ...l, qty: Math.floor(qty) } : l));
}

export interface CartTotal {
  units: number;
  /** The value in minor units when every line has a price, else null. */
  valueMinor: number | null;
  /** The value of the lines that have a price. */
  pricedMinor: number;
  unpricedLines: number;
}

export function cartTotal(cart: Cart): CartTotal {
  let units = 0;
  let pricedMinor = 0;
  let unpricedLines = 0;
  for (const l of cart) {
    units += l.qty;
    if (l.priceMinor === undefined) unpricedLines++;
    else pricedMinor += l.priceMinor * l.qty;
  }
  return { units, valueMinor: unpricedLines === 0 && cart.length > 0 ? pricedMinor : null, pricedMinor, unpricedLines };
}
