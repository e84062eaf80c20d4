/**
 * Identifiers and the account names of the ledger.
 *
 * Every id a client sends (SKU, location, region, cart, terminal, idempotency key) is 1–64
 * characters of `A–Z a–z 0–9 . _ : -`. Accounts are strings: `loc:<locationId>` is stock on hand
 * at a location; the others are where units come from and go to (DESIGN, "Accounts and movements").
 */

export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export const isId = (value: string): boolean => ID_PATTERN.test(value);

export type ShrinkReason = "damaged" | "lost" | "stolen" | "expired";

export type Account =
  | `loc:${string}`
  | `transit:${string}`
  | "supplier"
  | "customer"
  | `shrink:${ShrinkReason}`
  | "variance";

export const locationAccount = (locationId: string): `loc:${string}` => `loc:${locationId}`;

/** The location id of a `loc:` account, or undefined for every other account. */
export const locationOf = (account: string): string | undefined =>
  account.startsWith("loc:") ? account.slice(4) : undefined;
