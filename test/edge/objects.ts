/**
 * Test helpers over the Durable Objects' insides: their clocks, and the SKU authority's own view
 * of its stock. Built on `inSku` / `inCart` from `helpers.ts`.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import type { SkuAuthority } from "../../edge/sku/sku-authority";
import { inCart, inSku, skuStub } from "./helpers";

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

/**
 * Bring a SKU's object to rest: flush its outbox to the ledger now and let its pending alarm run,
 * so that the next alarm it sets is for what the test does next (a hold's deadline, say).
 */
export async function settle(sku: string): Promise<void> {
  await inSku(sku, (instance) => instance.flush());
  await runDurableObjectAlarm(skuStub(sku));
}

/** The ledger's balances of a SKU in D1, by account. */
export async function ledgerBalances(sku: string): Promise<Record<string, number>> {
  const rows = await env.DB.prepare("SELECT account, balance FROM balances WHERE sku = ?").bind(sku).all<{ account: string; balance: number }>();
  return Object.fromEntries(rows.results.filter((r) => r.balance !== 0).map((r) => [r.account, r.balance]));
}

/**
 * A SKU's stock state for "nothing changed" comparisons: stocks, balances, active holds, and the
 * number of movements recorded (landed in D1 plus waiting in the outbox). The split between landed
 * and waiting, and the alarm, move on their own as the background flush runs, so they are left out.
 */
export async function stockState(sku: string): Promise<{ stocks: unknown; balances: Record<string, number>; holds: unknown; movements: number }> {
  // Read the outbox first: a movement leaves it only after landing in D1, so between the two reads
  // every movement is in at least one of them, and a movement mid-flush is in both (hence the union).
  const inside = await inSku(sku, (instance, state) => ({
    view: instance.inspect(),
    waiting: state.storage.sql.exec<{ movement_id: string }>("SELECT movement_id FROM outbox").toArray().map((r) => r.movement_id),
  }));
  const landed = await env.DB.prepare("SELECT id FROM movements WHERE sku = ?").bind(sku).all<{ id: string }>();
  const ids = new Set([...inside.waiting, ...landed.results.map((r) => r.id)]);
  return { stocks: inside.view.stocks, balances: inside.view.balances, holds: inside.view.holds, movements: ids.size };
}
