/**
 * Test helpers over the Durable Objects' insides: their clocks, and the SKU authority's own view
 * of its stock. Built on `inSku` / `inCart` from `helpers.ts`.
 */
import type { SkuAuthority } from "../../edge/sku/sku-authority";
import { inCart, inSku } from "./helpers";

/** Runs the SKU authority's clock `offsetMs` ahead of real time. */
export async function shiftSkuClock(sku: string, offsetMs: number): Promise<void> {
  await inSku(sku, (instance) => {
    instance.now = () => Date.now() + offsetMs;
  });
}

const shiftedCarts = new Set<string>();

/**
 * Runs the cart coordinator's clock `offsetMs` ahead of real time (its view of which holds expired).
 * A coordinator serves a shard of carts, so call `resetCartClocks` after the test (afterEach) to keep
 * the shift from reaching other tests' carts in the same shard.
 */
export async function shiftCartClock(cartId: string, offsetMs: number): Promise<void> {
  shiftedCarts.add(cartId);
  await inCart(cartId, (instance) => {
    instance.now = () => Date.now() + offsetMs;
  });
}

export async function resetCartClocks(): Promise<void> {
  for (const cartId of shiftedCarts) await inCart(cartId, (instance) => (instance.now = () => Date.now()));
  shiftedCarts.clear();
}

/** The SKU authority's stocks, balances, active holds, outbox size and cached alarm time. */
export const inspectSku = (sku: string): Promise<ReturnType<SkuAuthority["inspect"]>> => inSku(sku, (instance) => instance.inspect());

/** Sum of every account of a SKU; double-entry keeps it at zero (I4). */
export const sumOf = (balances: Readonly<Record<string, number>>): number => Object.values(balances).reduce((n, b) => n + b, 0);
