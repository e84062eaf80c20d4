/**
 * What a point-of-sale terminal's operations do, and what happens to online holds when a sale in
 * the store takes the units they were counting on.
 *
 * Terminal ops are facts (I2): a sale is the item in the customer's hand, so it is never refused
 * for stock. Each op becomes one movement whose id is `pos.<terminalId>.<seq>` — the same op pushed
 * again maps to the same movement and is recognised (I3).
 *
 * Shortfall: after an outflow at a location, if the holds there claim more than is on hand, the
 * newest holds are moved to other locations that can cover them (re-sourced), and those that
 * cannot be moved are marked short; checkout then treats them like expired holds.
 */
import { allocate, available, type Hold, type LocationStock } from "./holds";
import { locationAccount, type ShrinkReason } from "./ids";
import type { Movement } from "./movement";

export type TerminalOpKind = "sale" | "return" | "write_off" | "receipt";

export interface TerminalOp {
  readonly seq: number;
  readonly kind: TerminalOpKind;
  readonly sku: string;
  readonly qty: number;
  readonly occurredAt: string;
  readonly reason?: ShrinkReason | undefined;
  readonly lot?: string | undefined;
}

export type OpMovement = { readonly ok: true; readonly movement: Movement } | { readonly ok: false; readonly detail: string };

export function opMovement(op: TerminalOp, ctx: { readonly terminalId: string; readonly location: string; readonly nowMs: number }): OpMovement {
  const loc = locationAccount(ctx.location);
  const route: Record<TerminalOpKind, () => Pick<Movement, "from" | "to"> | string> = {
    sale: () => ({ from: loc, to: "customer" }),
    return: () => ({ from: "customer", to: loc }),
    receipt: () => ({ from: "supplier", to: loc }),
    write_off: () => (op.reason === undefined ? "a write-off needs a reason: damaged, lost, stolen or expired" : { from: loc, to: `shrink:${op.reason}` }),
  };
  const accounts = route[op.kind]();
  if (typeof accounts === "string") return { ok: false, detail: accounts };
  const occurredAtMs = Date.parse(op.occurredAt);
  return {
    ok: true,
    movement: {
      id: `pos.${ctx.terminalId}.${op.seq}`,
      sku: op.sku,
      ...accounts,
      qty: op.qty,
      occurredAtMs: Number.isFinite(occurredAtMs) ? occurredAtMs : ctx.nowMs,
      recordedAtMs: ctx.nowMs,
      source: `terminal:${ctx.terminalId}`,
      ref: `${ctx.terminalId}:${op.seq}`,
      lot: op.lot ?? null,
      expiresOn: null,
    },
  };
}

export interface ShortfallPlan {
  /** Units the holds at the location claimed beyond what is on hand. */
  readonly units: number;
  readonly moves: readonly { readonly holdId: string; readonly to: string; readonly qty: number }[];
  readonly short: readonly string[];
  readonly resourced: number;
  readonly shortUnits: number;
}

/**
 * How to cover the holds at `location` after its on-hand fell below what they claim. Newest holds
 * give way first (the oldest customers keep their place); a hold moves whole to one other location
 * that has it available, or is marked short.
 */
export function planShortfall(stocks: readonly LocationStock[], holds: readonly Hold[], location: string): ShortfallPlan | null {
  const here = stocks.find((s) => s.location === location);
  if (here === undefined) return null;
  const deficit = here.held - Math.max(0, here.onHand);
  if (deficit <= 0) return null;
  let working = stocks.filter((s) => s.location !== location).map((s) => ({ ...s }));
  const moves: { holdId: string; to: string; qty: number }[] = [];
  const short: string[] = [];
  let left = deficit;
  let resourced = 0;
  let shortUnits = 0;
  const newestFirst = holds.filter((h) => h.state === "active" && h.location === location).sort((a, b) => b.createdAtMs - a.createdAtMs || (a.holdId < b.holdId ? 1 : -1));
  for (const h of newestFirst) {
    if (left <= 0) break;
    const target = allocate(working, h.qty);
    const single = target.ok && target.allocations.length === 1 ? target.allocations[0] : undefined;
    if (single !== undefined && available(working.find((s) => s.location === single.location) ?? here) >= h.qty) {
      moves.push({ holdId: h.holdId, to: single.location, qty: h.qty });
      working = working.map((s) => (s.location === single.location ? { ...s, held: s.held + h.qty } : s));
      resourced += h.qty;
    } else {
      short.push(h.holdId);
      shortUnits += h.qty;
    }
    left -= h.qty;
  }
  return { units: deficit, moves, short, resourced, shortUnits };
}
