/**
 * Lots and expiry. Every unit on hand at a location belongs to a lot: the one its receipt named,
 * or the unnamed lot "" for stock received without one. Units leave first-expiry-first-out (FEFO):
 * the lot that expires soonest goes first, undated stock last, so shelves sell what would spoil.
 * A perishable SKU's lot expires at the end of its `expiresOn` day (UTC); from then on its units
 * are moved to `shrink:expired` and never count as available.
 *
 * Invariant: at every location, the lots sum to the on-hand balance (`loc:<location>`).
 */
import { locationAccount } from "./ids";
import type { Movement } from "./movement";

export const UNNAMED_LOT = "";

export interface LotBalance {
  readonly lot: string;
  /** YYYY-MM-DD, or null for stock without an expiry. */
  readonly expiresOn: string | null;
  readonly qty: number;
}

export interface LotTake {
  readonly lot: string;
  readonly expiresOn: string | null;
  readonly qty: number;
}

/** FEFO order: earliest expiry first, undated last, then by lot name. */
export function fefo(lots: readonly LotBalance[]): LotBalance[] {
  return [...lots].sort((a, b) => {
    if (a.expiresOn !== b.expiresOn) {
      if (a.expiresOn === null) return 1;
      if (b.expiresOn === null) return -1;
      return a.expiresOn < b.expiresOn ? -1 : 1;
    }
    return a.lot < b.lot ? -1 : a.lot > b.lot ? 1 : 0;
  });
}

/**
 * Which lots `qty` units leave from: the named lot only, or FEFO across all. Null when the lots
 * cannot cover the quantity (the caller has checked the on-hand balance, so this is a bug there).
 */
export function takeFromLots(lots: readonly LotBalance[], qty: number, lot?: string): LotTake[] | null {
  const candidates = lot === undefined ? fefo(lots) : lots.filter((l) => l.lot === lot);
  const takes: LotTake[] = [];
  let left = qty;
  for (const l of candidates) {
    if (left === 0) break;
    const take = Math.min(left, l.qty);
    if (take > 0) {
      takes.push({ lot: l.lot, expiresOn: l.expiresOn, qty: take });
      left -= take;
    }
  }
  return left === 0 ? takes : null;
}

/**
 * One movement per lot taken, from a template movement for the whole quantity. The first keeps the
 * template's id, so a single-lot movement has the id it would have had without lots.
 */
export function splitByLots(template: Movement, takes: readonly LotTake[]): Movement[] {
  return takes.map((t, i) => ({
    ...template,
    id: i === 0 ? template.id : `${template.id}.${i}`,
    qty: t.qty,
    lot: t.lot === UNNAMED_LOT ? null : t.lot,
    expiresOn: t.expiresOn,
  }));
}

/** The instant a lot expiring on `expiresOn` stops being sellable: the end of that day, UTC. */
export const expiryInstantMs = (expiresOn: string): number => Date.parse(`${expiresOn}T00:00:00Z`) + 24 * 3600_000;

/** Movements that take a perishable SKU's expired lots at a location to `shrink:expired`. */
export function expiredLotMovements(sku: string, location: string, lots: readonly LotBalance[], nowMs: number): Movement[] {
  return lots
    .filter((l) => l.expiresOn !== null && l.qty > 0 && expiryInstantMs(l.expiresOn) <= nowMs)
    .map((l) => ({
      id: `exp.${location}.${l.lot === UNNAMED_LOT ? "-" : l.lot}.${l.expiresOn}.${nowMs}`,
      sku,
      from: locationAccount(location),
      to: "shrink:expired" as const,
      qty: l.qty,
      occurredAtMs: l.expiresOn === null ? nowMs : expiryInstantMs(l.expiresOn),
      recordedAtMs: nowMs,
      source: "system" as const,
      ref: null,
      lot: l.lot === UNNAMED_LOT ? null : l.lot,
      expiresOn: l.expiresOn,
    }));
}

/** A movement out of a stock account, split into one movement per lot it takes (FEFO); the lots must cover it. */
export function splitTakingLots(template: Movement, lots: readonly LotBalance[]): Movement[] {
  const takes = takeFromLots(lots, template.qty);
  if (takes === null) throw new Error(`movement ${template.id}: the lots of ${template.from} do not cover ${template.qty} units`);
  return splitByLots(template, takes);
}

/**
 * Like `splitTakingLots`, for facts from the store (a till's sale, a count): what the lots do not
 * cover comes from the unnamed lot, below zero (I2).
 */
export function splitOverdrawingLots(template: Movement, lots: readonly LotBalance[]): Movement[] {
  const inLots = lots.reduce((n, l) => n + l.qty, 0);
  const covered = Math.min(inLots, template.qty);
  const takes = covered === 0 ? [] : (takeFromLots(lots, covered) ?? []);
  const rest = template.qty - covered;
  return splitByLots(template, rest > 0 ? [...takes, { lot: UNNAMED_LOT, expiresOn: null, qty: rest }] : takes);
}
