/**
 * The cashier's view of stock: the server's confirmed figures with this terminal's unconfirmed ops
 * laid on top (a rebase, as Replicache does it). Pure.
 *
 * Invariant protected: an op counts exactly once. It counts in the overlay from the moment it is
 * recorded until a pull has brought confirmed figures that include it; from then on it counts only
 * through the confirmed figures. Which ops are in the overlay is decided by the sync engine (see
 * sync/sync-engine.ts, "When an op leaves the overlay"); this module only adds up.
 *
 * Offline allowance: `available` is what the edge lets online shoppers take from this store
 * (on hand − held − reserve). Selling past it takes units an online order is counting on. The sale
 * still goes through (an in-store sale is a fact, I2); the cashier is told.
 */
import type { WireOp } from "../sync/protocol";
import { stockDelta, type OpDraft } from "../ops/op-rules";

export interface ConfirmedStock {
  sku: string;
  onHand: number;
  available: number;
  pulledAtMs: number;
}

export interface LocalStock {
  sku: string;
  /** Confirmed on hand plus the overlay. */
  onHand: number;
  /** Confirmed available plus the overlay; may go below zero offline. */
  available: number;
  /** Units this store can still sell with no risk to online orders: never below zero. */
  allowance: number;
  /** Null until a pull has said anything about this SKU; then the overlay counts from zero. */
  confirmed: ConfirmedStock | null;
  /** Sum of the overlay's deltas, and how many ops make it up. */
  overlayDelta: number;
  overlayOps: number;
}

export interface AllowanceWarning {
  sku: string;
  /** Units of this SKU in the sale. */
  requested: number;
  /** Allowance before the sale. */
  allowance: number;
  /** Units sold beyond the allowance (1 … requested). */
  pastAllowanceBy: number;
}

export function localStock(sku: string, confirmed: ConfirmedStock | null, overlay: readonly Pick<WireOp, "kind" | "qty">[]): LocalStock {
  const overlayDelta = overlay.reduce((sum, op) => sum + stockDelta(op), 0);
  const onHand = (confirmed?.onHand ?? 0) + overlayDelta;
  const available = (confirmed?.available ?? 0) + overlayDelta;
  return { sku, onHand, available, allowance: Math.max(0, available), confirmed, overlayDelta, overlayOps: overlay.length };
}

/**
 * Which SKUs of a sale go past their allowance, one warning per SKU (lines of the same SKU add
 * up). `before` holds the local stock of every SKU in the sale; a SKU missing from it has no
 * allowance.
 */
export function allowanceWarnings(sale: readonly OpDraft[], before: ReadonlyMap<string, LocalStock>): AllowanceWarning[] {
  const requested = new Map<string, number>();
  for (const d of sale) {
    if (d.kind !== "sale") continue;
    requested.set(d.sku, (requested.get(d.sku) ?? 0) + d.qty);
  }
  const warnings: AllowanceWarning[] = [];
  for (const [sku, qty] of requested) {
    const allowance = before.get(sku)?.allowance ?? 0;
    if (qty > allowance) warnings.push({ sku, requested: qty, allowance, pastAllowanceBy: qty - allowance });
  }
  return warnings;
}
