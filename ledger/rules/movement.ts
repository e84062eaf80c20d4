/**
 * A movement: `qty` units of one SKU from one account to another. Double-entry by construction:
 * the units leave `from` and arrive in `to`, so per SKU all accounts always sum to zero (I4).
 * `id` is stable and is the ledger's dedupe key (I3, I5).
 */
import type { Account } from "./ids";

export type MovementSource = `api:${string}` | `terminal:${string}` | "system";

export interface Movement {
  readonly id: string;
  readonly sku: string;
  readonly from: Account;
  readonly to: Account;
  readonly qty: number;
  /** When it happened in the world (the client's clock for POS ops), ms since epoch. */
  readonly occurredAtMs: number;
  /** When the authority recorded it, ms since epoch. */
  readonly recordedAtMs: number;
  readonly source: MovementSource;
  /** What the movement belongs to: a hold, an order, a transfer, a count, a client reference. */
  readonly ref: string | null;
  readonly lot: string | null;
  /** ISO date (YYYY-MM-DD) of the lot's expiry, if any. */
  readonly expiresOn: string | null;
}

export function assertMovement(m: Movement): void {
  if (!Number.isSafeInteger(m.qty) || m.qty <= 0) throw new Error(`movement ${m.id}: qty must be a positive integer, got ${m.qty}`);
  if (m.from === m.to) throw new Error(`movement ${m.id}: from and to are the same account ${m.from}`);
}

/** Apply a movement to a map of account balances (mutates and returns it). */
export function applyMovement(balances: Map<string, number>, m: Movement): Map<string, number> {
  assertMovement(m);
  balances.set(m.from, (balances.get(m.from) ?? 0) - m.qty);
  balances.set(m.to, (balances.get(m.to) ?? 0) + m.qty);
  return balances;
}
