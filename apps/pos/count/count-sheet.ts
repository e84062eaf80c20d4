/**
 * The count screen's view of a count sheet: the store client's (store-client/counts/) — the clerk's
 * own entries per SKU and zone, the totals, who else is counting, the connection, whether the sheet
 * is frozen. The screen never touches the Yjs document itself. The rows it shows are computed here.
 */
import type { CountSheet } from "../../../store-client/counts/count-sheet";

export type { CountSheet, SheetConnection } from "../../../store-client/counts/count-sheet";

/** Opens a count's sheet for a clerk; null where this build has no count client. */
export type OpenCount = ((countId: string, staffToken: string) => Promise<CountSheet>) | null;

export interface CountSummary {
  countId: string;
  location: string;
  startedAt: string;
  state: string;
  skus: string[];
  zones: string[];
  blind: boolean;
}

export interface SheetRow {
  sku: string;
  name: string;
  /** This clerk's entry in the current zone, if any. */
  mine: number | null;
  /** Everyone's, every zone. */
  total: number;
  /** Other counters' entries, as "who in zone: n". */
  others: string[];
}

/** The rows of the sheet for this clerk in this zone. Pure. */
export function sheetRows(skus: readonly string[], nameOf: (sku: string) => string, entriesOf: (sku: string) => Record<string, number>, me: string, zone: string): SheetRow[] {
  return skus.map((sku) => {
    const entries = entriesOf(sku);
    let total = 0;
    const others: string[] = [];
    let mine: number | null = null;
    for (const [key, qty] of Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))) {
      total += qty;
      const at = key.lastIndexOf(":");
      const who = key.slice(0, at);
      const where = key.slice(at + 1);
      if (who === me && where === zone) mine = qty;
      else others.push(`${who === me ? "you" : who} in ${where}: ${qty}`);
    }
    return { sku, name: nameOf(sku), mine, total, others };
  });
}

/** "Counting now: you (A), S001-clerk-2 (B)". Pure. */
export function presenceLine(present: readonly { counterId: string; zone?: string }[], me: string): string {
  if (present.length === 0) return "Nobody else is counting right now.";
  const names = [...present]
    .sort((a, b) => Number(b.counterId === me) - Number(a.counterId === me) || a.counterId.localeCompare(b.counterId))
    .map((p) => `${p.counterId === me ? "you" : p.counterId}${p.zone === undefined ? "" : ` (${p.zone})`}`);
  return `Counting now: ${names.join(", ")}`;
}
