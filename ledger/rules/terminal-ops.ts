/**
 * What a point-of-sale terminal's operations do, and what happens to online holds when a sale in
 * the store takes the units they were counting on.
 *
 * Terminal ops are facts (I2): a sale is the item in the customer's hand, so it is never refused
 * for stock. Each op becomes one movement whose id is `pos.<terminalId>.<incarnation>.<seq>` (or
 * `pos.<terminalId>.<seq>` for a push that names no incarnation) — the same op pushed again maps
 * to the same movement and is recognised (I3).
 *
 * An op is named by (terminal, incarnation, seq), where the incarnation is the id of the
 * terminal's local database: a wiped or replaced device starts a new incarnation, so its seqs
 * start again without colliding. A repeat is recognised by the op's fingerprint: the same name
 * with another body is a seq conflict, refused loudly and never taken for a duplicate (I3).
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

/** The name of an op in the authority's records: unique per terminal database. */
export function opKey(terminalId: string, incarnation: string | null): string {
  // `/` cannot occur in an id, so the two parts never run together ambiguously.
  return incarnation === null ? terminalId : `${terminalId}/${incarnation}`;
}

/**
 * What an op says, as one string: two ops with the same name and the same fingerprint are one op
 * sent twice. Every field of the body takes part, in a fixed order, so that a wiped terminal's new
 * sale is never mistaken for its predecessor's (the occurrence time alone almost always differs).
 */
export function opFingerprint(op: TerminalOp): string {
  return JSON.stringify([op.kind, op.sku, op.qty, op.occurredAt, op.reason ?? null, op.lot ?? null]);
}

/** What an op's earlier record says about this push of it. */
export type Repeat = { readonly kind: "new" } | { readonly kind: "same" } | { readonly kind: "conflict" };

/**
 * Compare an op with the record of the op of the same name. A record without a fingerprint
 * predates fingerprints: it can only be taken as the same op, as it always was.
 */
export function classifyRepeat(seen: { readonly fingerprint: string | null } | undefined, op: TerminalOp): Repeat {
  if (seen === undefined) return { kind: "new" };
  if (seen.fingerprint === null || seen.fingerprint === opFingerprint(op)) return { kind: "same" };
  return { kind: "conflict" };
}

export type OpMovement = { readonly ok: true; readonly movement: Movement } | { readonly ok: false; readonly detail: string };

export function opMovement(op: TerminalOp, ctx: { readonly terminalId: string; readonly incarnation?: string | null; readonly location: string; readonly nowMs: number }): OpMovement {
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
  const name = ctx.incarnation === undefined || ctx.incarnation === null ? `${ctx.terminalId}.${op.seq}` : `${ctx.terminalId}.${ctx.incarnation}.${op.seq}`;
  return {
    ok: true,
    movement: {
      id: `pos.${name}`,
      sku: op.sku,
      ...accounts,
      qty: op.qty,
      occurredAtMs: Number.isFinite(occurredAtMs) ? occurredAtMs : ctx.nowMs,
      recordedAtMs: ctx.nowMs,
      source: `terminal:${ctx.terminalId}`,
      ref: name.replaceAll(".", ":"),
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
