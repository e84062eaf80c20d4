/**
 * Holds: claims on a location's on-hand units, the pending half of a two-phase transfer.
 *
 *            grant                 commit (before expiresAt) ──▶ committed  (movement loc → customer)
 *   (none) ────────▶ active ──┼── release ──────────────────────▶ released
 *                              └── expire  (at or after expiresAt) ─▶ expired
 *
 * A hold ends exactly once (I6): every transition starts from `active`, and a hold that has ended
 * answers every later request with its final state. A hold is granted only while
 * `available = onHand − held − reserve ≥ qty` at its location (I1).
 *
 * Everything here is pure: the clock and new ids are inputs, nothing is read or written.
 */
import { locationAccount } from "./ids";
import type { Movement, MovementSource } from "./movement";

export const HOLD_TTL_MIN_S = 5;
export const HOLD_TTL_MAX_S = 3600;
export const HOLD_TTL_DEFAULT_S = 900;

export type LocationKind = "store" | "warehouse";

export interface LocationStock {
  readonly location: string;
  readonly kind: LocationKind;
  readonly onHand: number;
  readonly held: number;
  /** Units at this location that online orders may not take (walk-in customers keep them). */
  readonly reserve: number;
}

export type HoldState = "active" | "committed" | "released" | "expired";
export type HoldEnd = Exclude<HoldState, "active">;

export interface Hold {
  readonly holdId: string;
  readonly cartId: string;
  readonly location: string;
  readonly qty: number;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly state: HoldState;
  readonly endedAtMs: number | null;
}

export const available = (s: LocationStock): number => Math.max(0, s.onHand - s.held - s.reserve);

export interface Allocation {
  readonly location: string;
  readonly qty: number;
}

export type AllocationResult =
  | { readonly ok: true; readonly allocations: readonly Allocation[] }
  | { readonly ok: false; readonly available: number };

/**
 * Order in which locations serve a hold that names none: warehouses before stores (online orders
 * ship from warehouses, and store shelves stay for the customers walking in), then the most
 * available units first (fewest split shipments, and the largest pile absorbs the most traffic),
 * then by id so the choice is deterministic.
 */
export function sourcingOrder(stocks: readonly LocationStock[]): LocationStock[] {
  return [...stocks].sort(
    (a, b) =>
      (a.kind === b.kind ? 0 : a.kind === "warehouse" ? -1 : 1) ||
      available(b) - available(a) ||
      (a.location < b.location ? -1 : a.location > b.location ? 1 : 0),
  );
}

/**
 * Where `qty` units can be held. With a location: there, or not at all. Without: one location
 * that can cover the whole quantity if any (in `sourcingOrder`), otherwise split across locations
 * in that order. Never allocates more than a location's `available` (I1).
 */
export function allocate(stocks: readonly LocationStock[], qty: number, location?: string): AllocationResult {
  if (location !== undefined) {
    const s = stocks.find((x) => x.location === location);
    const avail = s === undefined ? 0 : available(s);
    return avail >= qty ? { ok: true, allocations: [{ location, qty }] } : { ok: false, available: avail };
  }
  const ordered = sourcingOrder(stocks);
  const whole = ordered.find((s) => available(s) >= qty);
  if (whole !== undefined) return { ok: true, allocations: [{ location: whole.location, qty }] };
  const total = ordered.reduce((sum, s) => sum + available(s), 0);
  if (total < qty) return { ok: false, available: total };
  const allocations: Allocation[] = [];
  let left = qty;
  for (const s of ordered) {
    if (left === 0) break;
    const take = Math.min(left, available(s));
    if (take > 0) {
      allocations.push({ location: s.location, qty: take });
      left -= take;
    }
  }
  return { ok: true, allocations };
}

export interface HoldLine {
  /** Stable per request; part of the hold ids, so a replayed request maps to the same holds. */
  readonly lineIndex: number;
  readonly qty: number;
  readonly location?: string | undefined;
}

export type GrantResult =
  | { readonly ok: true; readonly holds: readonly Hold[]; /** The stock once the holds are in: what the object would read back. */ readonly stocks: readonly LocationStock[] }
  | { readonly ok: false; readonly short: readonly { lineIndex: number; requested: number; available: number }[] };

/**
 * Grant every line or none. Lines are allocated one after another against the stock that the
 * earlier lines of the same request left, so two lines of one SKU cannot both take the last unit.
 * Hold ids are `<requestId>.<lineIndex>.<n>`.
 */
export function grantHolds(
  stocks: readonly LocationStock[],
  req: { readonly requestId: string; readonly cartId: string; readonly lines: readonly HoldLine[]; readonly ttlMs: number },
  nowMs: number,
): GrantResult {
  let working = stocks.map((s) => ({ ...s }));
  const holds: Hold[] = [];
  const short: { lineIndex: number; requested: number; available: number }[] = [];
  for (const line of req.lines) {
    assertPositiveQty(line.qty);
    const result = allocate(working, line.qty, line.location);
    if (!result.ok) {
      short.push({ lineIndex: line.lineIndex, requested: line.qty, available: result.available });
      continue;
    }
    result.allocations.forEach((a, n) => {
      holds.push({
        holdId: `${req.requestId}.${line.lineIndex}.${n}`,
        cartId: req.cartId,
        location: a.location,
        qty: a.qty,
        createdAtMs: nowMs,
        expiresAtMs: nowMs + req.ttlMs,
        state: "active",
        endedAtMs: null,
      });
      working = working.map((s) => (s.location === a.location ? { ...s, held: s.held + a.qty } : s));
    });
  }
  return short.length > 0 ? { ok: false, short } : { ok: true, holds, stocks: working };
}

export type EndResult =
  | { readonly ok: true; readonly hold: Hold; readonly movement: Movement | null }
  | { readonly ok: false; readonly kind: "hold_not_active" | "hold_expired"; readonly hold: Hold };

/** Whether a hold still claims stock at `nowMs` (an active hold past its deadline has expired, lazily). */
export const isLive = (h: Hold, nowMs: number): boolean => h.state === "active" && nowMs < h.expiresAtMs;

/**
 * Commit a live hold: it becomes a sale, a movement `loc:<location> → customer`. A hold past its
 * deadline cannot be committed (`hold_expired`); one already ended cannot end again (`hold_not_active`).
 */
export function commitHold(
  hold: Hold,
  ctx: { readonly sku: string; readonly nowMs: number; readonly source: MovementSource; readonly ref: string },
): EndResult {
  if (hold.state !== "active") return { ok: false, kind: "hold_not_active", hold };
  if (ctx.nowMs >= hold.expiresAtMs) return { ok: false, kind: "hold_expired", hold };
  const ended: Hold = { ...hold, state: "committed", endedAtMs: ctx.nowMs };
  const movement: Movement = {
    id: `mv.${hold.holdId}`,
    sku: ctx.sku,
    from: locationAccount(hold.location),
    to: "customer",
    qty: hold.qty,
    occurredAtMs: ctx.nowMs,
    recordedAtMs: ctx.nowMs,
    source: ctx.source,
    ref: ctx.ref,
    lot: null,
    expiresOn: null,
  };
  return { ok: true, hold: ended, movement };
}

/** Release a hold the cart no longer wants. Only an active hold can be released. */
export function releaseHold(hold: Hold, nowMs: number): EndResult {
  if (hold.state !== "active") return { ok: false, kind: "hold_not_active", hold };
  if (nowMs >= hold.expiresAtMs) return { ok: false, kind: "hold_expired", hold };
  return { ok: true, hold: { ...hold, state: "released", endedAtMs: nowMs }, movement: null };
}

/** The holds that have reached their deadline at `nowMs`, each ended as expired. */
export function expireDue(holds: readonly Hold[], nowMs: number): Hold[] {
  return holds
    .filter((h) => h.state === "active" && h.expiresAtMs <= nowMs)
    .map((h) => ({ ...h, state: "expired" as const, endedAtMs: h.expiresAtMs }));
}

/** Push a live hold's deadline to at least `untilMs` (checkout pins holds while it commits). */
export function extendHold(hold: Hold, untilMs: number, nowMs: number): Hold | null {
  if (!isLive(hold, nowMs)) return null;
  return hold.expiresAtMs >= untilMs ? hold : { ...hold, expiresAtMs: untilMs };
}

/** A receipt: units arrive from the supplier at a location. */
export function receiptMovement(args: {
  readonly id: string;
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
  readonly nowMs: number;
  readonly source: MovementSource;
  readonly ref: string | null;
  readonly lot: string | null;
  readonly expiresOn: string | null;
}): Movement {
  assertPositiveQty(args.qty);
  return {
    id: args.id,
    sku: args.sku,
    from: "supplier",
    to: locationAccount(args.location),
    qty: args.qty,
    occurredAtMs: args.nowMs,
    recordedAtMs: args.nowMs,
    source: args.source,
    ref: args.ref,
    lot: args.lot,
    expiresOn: args.expiresOn,
  };
}

function assertPositiveQty(qty: number): void {
  if (!Number.isSafeInteger(qty) || qty <= 0) throw new Error(`qty must be a positive integer, got ${qty}`);
}
