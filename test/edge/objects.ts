/**
 * Test helpers over the Durable Objects' insides: their clocks, and the SKU authority's own view
 * of its stock. Built on `inSku` / `inCart` from `helpers.ts`.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import type { LedgerSink } from "../../edge/sku/ledger-sink";
import type { SkuAuthority } from "../../edge/sku/sku-authority";
import type { StockEvent } from "../../ledger/rules/events";
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

// ---- the ledger flush, with faults ------------------------------------------------------------

/**
 * Freezes the SKU authority's clock at `atMs`. With a clock in the future of real time, every alarm
 * the object sets falls due long after the test, so no background flush or expiry runs: the test
 * flushes and runs the alarm itself, in an order that a seed replays exactly.
 */
export async function setSkuClock(sku: string, atMs: number): Promise<void> {
  await inSku(sku, (instance) => {
    instance.now = () => atMs;
  });
}

/** What one landing attempt does: succeed, fail before writing, write and then fail, or fail to publish. */
export type Fault = "none" | "fail" | "land-then-fail" | "publish-fails";

/** Everything a sink was handed, whether or not it landed. */
export interface SinkLog {
  lands: number;
  publishes: number;
  readonly movementIds: Set<string>;
  readonly eventIds: Set<string>;
}

export const sinkLog = (): SinkLog => ({ lands: 0, publishes: 0, movementIds: new Set(), eventIds: new Set() });

/**
 * A sink over the real one that records what it is handed and fails as `next()` says for each
 * landing attempt: "land-then-fail" writes to D1 and then throws (a time-out after the write), so
 * the authority lands the same batch again later.
 */
export function faultySink(real: LedgerSink, next: () => Fault, log: SinkLog = sinkLog()): LedgerSink {
  let fault: Fault = "none";
  return {
    async land(batch, sku, landedAtMs) {
      log.lands += 1;
      for (const m of batch.movements) log.movementIds.add(m.id);
      for (const e of batch.events) log.eventIds.add(e.id);
      fault = next();
      if (fault === "fail") throw new Error("injected: D1 unavailable");
      const out = await real.land(batch, sku, landedAtMs);
      if (fault === "land-then-fail") throw new Error("injected: D1 timed out after writing");
      return out;
    },
    async publish(events) {
      log.publishes += 1;
      if (fault === "publish-fails") throw new Error("injected: queue unavailable");
      await real.publish(events);
    },
  };
}

/**
 * Installs a sink whose `land` waits (D1 hanging mid-flush) until the returned `open()`, then lands
 * for real. The gate is opened from inside the object: a promise resolved from the test's own
 * context does not resume work inside the object.
 */
export async function useHangingSink(sku: string, log: SinkLog = sinkLog()): Promise<{ open: () => Promise<void> }> {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  await useSink(sku, (real) => ({
    async land(batch, s, landedAtMs) {
      log.lands += 1;
      for (const m of batch.movements) log.movementIds.add(m.id);
      await gate;
      return real.land(batch, s, landedAtMs);
    },
    publish: (events) => real.publish(events),
  }));
  return { open: () => inSku(sku, () => release()) };
}

const realSinks = new Map<string, LedgerSink>();

/** Replaces the SKU authority's ledger sink with `make(real)`; `restoreSink` puts the real one back. */
export async function useSink(sku: string, make: (real: LedgerSink) => LedgerSink): Promise<void> {
  await inSku(sku, (instance) => {
    const real = realSinks.get(sku) ?? instance.ledger;
    realSinks.set(sku, real);
    instance.ledger = make(real);
  });
}

export async function restoreSink(sku: string): Promise<void> {
  const real = realSinks.get(sku);
  if (real !== undefined) await inSku(sku, (instance) => (instance.ledger = real));
}

/** One flush, now, with whatever sink the object has. */
export const flushNow = (sku: string): Promise<"idle" | "more" | "failed" | "paused"> => inSku(sku, (instance) => instance.flush());

/** Flushes until the outbox is empty; every round must succeed. */
export async function flushUntilIdle(sku: string, roundsMax = 20): Promise<void> {
  for (let round = 0; round < roundsMax; round++) {
    const outcome = await flushNow(sku);
    if (outcome === "idle") return;
    if (outcome !== "more") throw new Error(`flush of ${sku} answered ${outcome}`);
  }
  throw new Error(`flush of ${sku} still had more after ${roundsMax} rounds`);
}

export interface LandedMovement {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly qty: number;
  readonly ref: string | null;
  readonly lot: string | null;
}

/** The movements of a SKU in D1. */
export async function landedMovements(sku: string): Promise<LandedMovement[]> {
  const rows = await env.DB.prepare("SELECT id, from_account AS `from`, to_account AS `to`, qty, ref, lot FROM movements WHERE sku = ? ORDER BY recorded_at, id")
    .bind(sku)
    .all<LandedMovement>();
  return rows.results;
}

/** The events of a SKU in D1, by seq, with their bodies parsed. */
export async function landedEvents(sku: string): Promise<(StockEvent & { readonly rowSeq: number; readonly rowType: string })[]> {
  const rows = await env.DB.prepare("SELECT id, seq, type, body FROM events WHERE sku = ? ORDER BY seq, position").bind(sku).all<{ id: string; seq: number; type: string; body: string }>();
  return rows.results.map((r) => ({ ...(JSON.parse(r.body) as StockEvent), id: r.id, rowSeq: r.seq, rowType: r.type }));
}

/** Movements the SKU has recorded, wherever they are now (outbox or ledger): flushing moves none. */
export const recordedMovements = async (sku: string): Promise<number> => (await stockState(sku)).movements;
