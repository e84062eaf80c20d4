/**
 * The changefeed's events, derived from a SKU's stock before and after one change of state. Each
 * event takes the next number of the SKU's own sequence, so a consumer dedupes by `id` and sees a
 * gap as a missing number. Derived events fire exactly at transitions: `sku.sold_out` when the
 * SKU's total availability goes from above zero to zero, `sku.back_in_stock` on the way back, and
 * `stock.low` when a location's availability falls to or below the SKU's threshold from above it.
 * Pure: the caller passes the sequence, the clock and the movement.
 */
import { available, type LocationStock } from "./holds";

export type EventType = "stock.changed" | "stock.low" | "sku.sold_out" | "sku.back_in_stock" | "hold.shortfall" | "terminal.seq_conflict" | "count.approved";

export interface StockLevel {
  readonly onHand: number;
  readonly held: number;
  readonly available: number;
}

export interface StockEvent {
  /** `<sku>:<seq>`: stable, the consumers' dedupe key. */
  readonly id: string;
  readonly sku: string;
  readonly seq: number;
  readonly type: EventType;
  /** The location concerned; null for events about the SKU as a whole. */
  readonly location: string | null;
  readonly before: StockLevel;
  readonly after: StockLevel;
  readonly movementId: string | null;
  readonly occurredAt: string;
  readonly recordedAt: string;
  /** `hold.shortfall` only: units the holds at the location lost, how many were re-sourced elsewhere, how many are short. */
  readonly shortfall?: Shortfall;
  /** Set when a terminal's op caused the change: its name, so the terminal can tell which of its ops a figure includes. */
  readonly op?: OpName;
  /** `terminal.seq_conflict` only: which op name was pushed again with another body. */
  readonly conflict?: SeqConflict;
  /** `count.approved` only: the count whose approval adjusted this SKU, and by how much. */
  readonly count?: CountApproval;
  /**
   * `stock.changed` only, when it stands for more than one change (see `foldEvents`): how many.
   * `before` is the stock before the first of them, `after` after the last, `movementId`,
   * `occurredAt` and `recordedAt` are the last one's.
   */
  readonly coalesced?: number;
}

/** A count's approval adjusted a SKU at a location: `delta` = counted − expected (docs/counts.md). */
export interface CountApproval {
  readonly countId: string;
  readonly delta: number;
}

/** A terminal op's name (docs/sync-protocol.md, "Identity"). */
export interface OpName {
  readonly terminalId: string;
  readonly incarnation: string | null;
  readonly seq: number;
}

/**
 * A terminal pushed an op under a name (terminal, incarnation, seq) that an earlier op with a
 * different body already has: the new op was refused, and a person has to find out why (a
 * restored backup, two devices sharing one identity). `movementId` is the earlier op's movement.
 */
export interface SeqConflict {
  readonly terminalId: string;
  readonly incarnation: string | null;
  readonly seq: number;
  readonly movementId: string | null;
}

export interface Shortfall {
  readonly location: string;
  readonly units: number;
  readonly resourced: number;
  readonly short: number;
}

export interface EventContext {
  readonly sku: string;
  /** The first sequence number to use; events take consecutive numbers from it. */
  readonly nextSeq: number;
  readonly movementId: string | null;
  readonly occurredAtMs: number;
  readonly recordedAtMs: number;
  /** `stock.low` threshold per location; 0 turns it off. */
  readonly lowStock: number;
  /** The terminal op that caused the change, if one did. */
  readonly op?: OpName | undefined;
}

const level = (s: LocationStock | undefined): StockLevel =>
  s === undefined ? { onHand: 0, held: 0, available: 0 } : { onHand: s.onHand, held: s.held, available: available(s) };

const total = (stocks: readonly LocationStock[]): StockLevel =>
  stocks.reduce((t, s) => ({ onHand: t.onHand + s.onHand, held: t.held + s.held, available: t.available + available(s) }), { onHand: 0, held: 0, available: 0 });

/** The events one change of state produces, in a deterministic order (locations by id, then the SKU). */
export function stockEvents(before: readonly LocationStock[], after: readonly LocationStock[], ctx: EventContext): StockEvent[] {
  const drafts: { type: EventType; location: string | null; before: StockLevel; after: StockLevel }[] = [];
  const locations = [...new Set([...before, ...after].map((s) => s.location))].sort();
  for (const location of locations) {
    const b = level(before.find((s) => s.location === location));
    const a = level(after.find((s) => s.location === location));
    // At a store, a change of `available` alone (a hold granted or ended) is news too: the store's
    // terminals sell against it (their offline allowance) and learn it only from these events.
    const isStore = (after.find((s) => s.location === location) ?? before.find((s) => s.location === location))?.kind === "store";
    if (b.onHand !== a.onHand || (isStore && b.available !== a.available)) drafts.push({ type: "stock.changed", location, before: b, after: a });
    if (ctx.lowStock > 0 && b.available > ctx.lowStock && a.available <= ctx.lowStock) drafts.push({ type: "stock.low", location, before: b, after: a });
  }
  const tb = total(before);
  const ta = total(after);
  if (tb.available > 0 && ta.available === 0) drafts.push({ type: "sku.sold_out", location: null, before: tb, after: ta });
  if (tb.available === 0 && ta.available > 0) drafts.push({ type: "sku.back_in_stock", location: null, before: tb, after: ta });
  return drafts.map((d, i) => ({
    id: `${ctx.sku}:${ctx.nextSeq + i}`,
    sku: ctx.sku,
    seq: ctx.nextSeq + i,
    ...d,
    movementId: ctx.movementId,
    occurredAt: new Date(ctx.occurredAtMs).toISOString(),
    recordedAt: new Date(ctx.recordedAtMs).toISOString(),
    ...(ctx.op === undefined ? {} : { op: ctx.op }),
  }));
}

/** The `hold.shortfall` event: a sale in the store took units that online holds were counting on. */
export function shortfallEvent(at: StockLevel, shortfall: Shortfall, ctx: EventContext): StockEvent {
  return {
    id: `${ctx.sku}:${ctx.nextSeq}`,
    sku: ctx.sku,
    seq: ctx.nextSeq,
    type: "hold.shortfall",
    location: shortfall.location,
    before: at,
    after: at,
    movementId: ctx.movementId,
    occurredAt: new Date(ctx.occurredAtMs).toISOString(),
    recordedAt: new Date(ctx.recordedAtMs).toISOString(),
    shortfall,
  };
}

/** The `terminal.seq_conflict` event: an op was refused because its name was taken (see SeqConflict). */
export function seqConflictEvent(at: StockLevel, location: string, conflict: SeqConflict, ctx: EventContext): StockEvent {
  return {
    id: `${ctx.sku}:${ctx.nextSeq}`,
    sku: ctx.sku,
    seq: ctx.nextSeq,
    type: "terminal.seq_conflict",
    location,
    before: at,
    after: at,
    movementId: conflict.movementId,
    occurredAt: new Date(ctx.occurredAtMs).toISOString(),
    recordedAt: new Date(ctx.recordedAtMs).toISOString(),
    conflict,
  };
}

/** The `count.approved` event: a count's approval posted this SKU's variance as an adjustment. */
export function countApprovedEvent(before: StockLevel, after: StockLevel, location: string, count: CountApproval, ctx: EventContext): StockEvent {
  return {
    id: `${ctx.sku}:${ctx.nextSeq}`,
    sku: ctx.sku,
    seq: ctx.nextSeq,
    type: "count.approved",
    location,
    before,
    after,
    movementId: ctx.movementId,
    occurredAt: new Date(ctx.occurredAtMs).toISOString(),
    recordedAt: new Date(ctx.recordedAtMs).toISOString(),
    count,
  };
}

/** Whether `next` may be folded into `last`: both a location's `stock.changed`, neither caused by a terminal's op. */
const foldable = (last: StockEvent, next: StockEvent): boolean =>
  last.type === "stock.changed" && next.type === "stock.changed" && last.location === next.location && last.op === undefined && next.op === undefined;

/**
 * The events of one change, folded where possible into the SKU's newest event that has not been
 * handed to a flush yet (`newest`, or undefined): a busy SKU's `stock.changed` of one location
 * becomes one event per flush instead of one per sale. Only the newest event is ever extended, so
 * no event's place in the sequence changes and every derived event (`sku.sold_out`,
 * `sku.back_in_stock`, `stock.low`, `hold.shortfall`, …) stays exactly where its transition is: it
 * is never folded, and nothing is folded across it. An event caused by a terminal's op is never
 * folded either (the op's name tells the till which of its ops a figure includes). The events
 * that stay new are numbered from `nextSeq`, gapless.
 */
export function foldEvents(newest: StockEvent | undefined, drafts: readonly StockEvent[], nextSeq: number): { readonly replaced: StockEvent | null; readonly appended: readonly StockEvent[] } {
  let replaced: StockEvent | null = null;
  const appended: StockEvent[] = [];
  let last = newest;
  for (const d of drafts) {
    if (last !== undefined && foldable(last, d)) {
      const merged: StockEvent = { ...last, after: d.after, movementId: d.movementId, occurredAt: d.occurredAt, recordedAt: d.recordedAt, coalesced: (last.coalesced ?? 1) + (d.coalesced ?? 1) };
      if (appended.length === 0) replaced = merged;
      else appended[appended.length - 1] = merged;
      last = merged;
      continue;
    }
    const seq = nextSeq + appended.length;
    const event: StockEvent = { ...d, id: `${d.sku}:${seq}`, seq };
    appended.push(event);
    last = event;
  }
  return { replaced, appended };
}
