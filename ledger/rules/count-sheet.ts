/**
 * The rules of a shelf count (docs/counts.md), pure: what an entry of the count sheet may be, who
 * may write it, what a line's counted quantity and variance are, and what the expected quantity
 * at the count's start is (I8). No Yjs here: the CountSession hands these rules plain keys and
 * values, so they are tested without a document or a runtime.
 *
 * The sheet: root map `lines`, key = SKU, value = map of `"<counterId>:<zone>"` → quantity.
 * A counter writes only entries under their own id; quantities are whole numbers from 0 up.
 */
import type { Movement } from "./movement";

/** Largest quantity one entry may hold. */
export const ENTRY_QTY_MAX = 1_000_000;
/** Entries one SKU's line may hold (counters × zones). */
export const ENTRIES_PER_LINE_MAX = 64;
/** A zone: letters, digits, `. _ -`, at most 32 characters (no `:`, which separates it from the counter). */
export const ZONE_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;

export interface CountShape {
  /** The SKUs this count covers. */
  readonly skus: ReadonlySet<string>;
  /** The zones named at creation; empty means any zone of the pattern. */
  readonly zones: ReadonlySet<string>;
}

export const entryKey = (counterId: string, zone: string): string => `${counterId}:${zone}`;

/** `"<counterId>:<zone>"` split at its last colon (counter ids may contain colons, zones may not). */
export function parseEntryKey(key: string): { counterId: string; zone: string } | null {
  const at = key.lastIndexOf(":");
  if (at <= 0 || at === key.length - 1) return null;
  return { counterId: key.slice(0, at), zone: key.slice(at + 1) };
}

export const isEntryQty = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= ENTRY_QTY_MAX;

/** One entry a sender's update writes: the line's SKU, the entry key, and the value after it (undefined: deleted). */
export interface EntryWrite {
  readonly sku: string;
  readonly key: string;
  readonly value: unknown;
}

/**
 * Why `counterId` may not make this write, or null if it may. Refusals name the first offending
 * entry, so the clerk's device (and the log) can say what was wrong.
 */
export function refuseEntryWrite(w: EntryWrite, counterId: string, shape: CountShape): string | null {
  if (!shape.skus.has(w.sku)) return `SKU ${w.sku} is not part of this count`;
  const parsed = parseEntryKey(w.key);
  if (parsed === null) return `entry key "${w.key.slice(0, 40)}" is not "<counterId>:<zone>"`;
  if (parsed.counterId !== counterId) return `entry ${w.key.slice(0, 40)} belongs to another counter`;
  if (!ZONE_PATTERN.test(parsed.zone) || (shape.zones.size > 0 && !shape.zones.has(parsed.zone))) return `zone "${parsed.zone.slice(0, 32)}" is not a zone of this count`;
  if (w.value !== undefined && !isEntryQty(w.value)) return `entry ${w.key.slice(0, 40)} must be a whole number from 0 to ${ENTRY_QTY_MAX}`;
  return null;
}

/** Counted quantity of a line: the sum of its entries (entries that are not quantities count 0). */
export const countedOf = (entries: Readonly<Record<string, unknown>>): number => Object.values(entries).reduce((n: number, v) => n + (isEntryQty(v) ? v : 0), 0);

/**
 * What a movement does to the units at `account` as of `asOfMs` by occurredAt: +qty in, −qty out,
 * 0 if it happened after or does not touch the account.
 */
export function effectAsOf(m: { readonly from: string; readonly to: string; readonly qty: number; readonly occurredAtMs: number }, account: string, asOfMs: number): number {
  if (m.occurredAtMs > asOfMs) return 0;
  if (m.to === account) return m.qty;
  if (m.from === account) return -m.qty;
  return 0;
}

export interface ReportLine {
  readonly sku: string;
  readonly counted: number;
  readonly expected: number;
  readonly variance: number;
  readonly entries: Record<string, number>;
}

/** The report's lines: variance = counted − expected, in SKU order. */
export function reportLines(skus: readonly string[], entriesOf: (sku: string) => Record<string, number>, expectedOf: (sku: string) => number): ReportLine[] {
  return [...skus].sort().map((sku) => {
    const entries = entriesOf(sku);
    const counted = countedOf(entries);
    const expected = expectedOf(sku);
    return { sku, counted, expected, variance: counted - expected, entries };
  });
}

/** A terminal that may still hold sales from before the count: it has not synced since before `startedAtMs`. */
export const isPendingTerminal = (lastSyncAtMs: number, startedAtMs: number): boolean => lastSyncAtMs < startedAtMs;

/** The adjustment movement of a line with a variance: `variance → loc` for more found, `loc → variance` for fewer. */
export function adjustmentMovement(input: { countId: string; sku: string; location: string; variance: number; nowMs: number; source: Movement["source"] }): Movement | null {
  if (input.variance === 0) return null;
  const loc = `loc:${input.location}` as const;
  return {
    id: adjustmentMovementId(input.countId, input.sku),
    sku: input.sku,
    from: input.variance > 0 ? "variance" : loc,
    to: input.variance > 0 ? loc : "variance",
    qty: Math.abs(input.variance),
    occurredAtMs: input.nowMs,
    recordedAtMs: input.nowMs,
    source: input.source,
    ref: input.countId,
    lot: null,
    expiresOn: null,
  };
}

/** Stable: the same count and SKU always name the same adjustment, so it lands once (I3). */
export const adjustmentMovementId = (countId: string, sku: string): string => `count.${countId}.${sku}`;
