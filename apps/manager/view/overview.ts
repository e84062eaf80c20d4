/**
 * The region overview as the dashboard shows it, from `GET /v1/regions/:regionId/overview`. Pure.
 *
 * The answer is read leniently (a field missing is shown as unknown, not a crash), because the
 * dashboard must keep showing what it can while the edge's answer grows. A terminal is stale when
 * the edge says so, or when it has not synced for STALE_AFTER_MS: its sales may not be in any
 * figure the manager sees, and a count at its store will be provisional.
 */

export const STALE_AFTER_MS = 15 * 60 * 1000;

export interface TerminalRow {
  terminalId: string;
  lastSyncAt: string | null;
  lastSeq: number | null;
  ageMs: number | null;
  stale: boolean;
}

export interface CountRow {
  countId: string;
  state: string;
  startedAt: string | null;
  absVariance: number | null;
}

export interface StoreRow {
  storeId: string;
  name: string;
  terminals: TerminalRow[];
  staleTerminals: number;
  shortfalls: number;
  counts: CountRow[];
  countsByState: Record<string, number>;
  soldOut: string[];
  /** Till operations refused because their seq was already taken by another operation. */
  seqConflicts: SeqConflictRow[];
}

export interface SeqConflictRow {
  terminalId: string;
  seq: number;
  sku: string;
  at: string | null;
}

export interface OverviewView {
  regionId: string;
  /** After how long without a sync a till counts as stale: the edge's figure when it gives one. */
  staleAfterMs: number;
  stores: StoreRow[];
  staleTerminals: number;
  shortfalls: number;
  soldOut: number;
  seqConflicts: number;
}

type Raw = Record<string, unknown>;
const isRaw = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function terminalRow(raw: unknown, nowMs: number, staleAfterMs: number): TerminalRow | null {
  if (!isRaw(raw)) return null;
  const terminalId = str(raw.terminalId) ?? str(raw.id);
  if (terminalId === null) return null;
  const lastSyncAt = str(raw.lastSyncAt);
  const at = lastSyncAt === null ? NaN : Date.parse(lastSyncAt);
  const ageMs = Number.isNaN(at) ? null : Math.max(0, nowMs - at);
  const flagged = typeof raw.stale === "boolean" ? raw.stale : null;
  return { terminalId, lastSyncAt, lastSeq: num(raw.lastSeq), ageMs, stale: flagged ?? (ageMs === null || ageMs > staleAfterMs) };
}

function countRow(raw: unknown): CountRow | null {
  if (!isRaw(raw)) return null;
  const countId = str(raw.countId) ?? str(raw.id);
  if (countId === null) return null;
  return { countId, state: str(raw.state) ?? "unknown", startedAt: str(raw.startedAt), absVariance: num(raw.absVariance) ?? num(raw.absoluteVariance) };
}

function shortfallsOf(raw: Raw): number {
  const v = raw.shortfalls ?? raw.openShortfalls;
  if (Array.isArray(v)) return v.length;
  return num(v) ?? 0;
}

function seqConflictsOf(raw: Raw): SeqConflictRow[] {
  return list(raw.seqConflicts).flatMap((c) => {
    if (!isRaw(c)) return [];
    const terminalId = str(c.terminalId);
    const seq = num(c.seq);
    const sku = str(c.sku);
    return terminalId === null || seq === null || sku === null ? [] : [{ terminalId, seq, sku, at: str(c.at) }];
  });
}

function soldOutOf(raw: Raw): string[] {
  return list(raw.soldOut ?? raw.soldOutSkus)
    .map((s) => (typeof s === "string" ? s : isRaw(s) ? str(s.sku) : null))
    .filter((s): s is string => s !== null);
}

export function overviewView(raw: unknown, nowMs: number): OverviewView {
  const body = isRaw(raw) ? raw : {};
  const staleAfterMs = num(body.staleAfterMs) ?? STALE_AFTER_MS;
  const stores = list(body.stores)
    .filter(isRaw)
    .map((s): StoreRow => {
      const terminals = list(s.terminals)
        .map((t) => terminalRow(t, nowMs, staleAfterMs))
        .filter((t): t is TerminalRow => t !== null)
        // Stale first, then the longest since a sync: what needs a look comes first.
        .sort((a, b) => Number(b.stale) - Number(a.stale) || (b.ageMs ?? Infinity) - (a.ageMs ?? Infinity) || a.terminalId.localeCompare(b.terminalId));
      const counts = list(s.counts).map(countRow).filter((c): c is CountRow => c !== null);
      const countsByState: Record<string, number> = {};
      for (const c of counts) countsByState[c.state] = (countsByState[c.state] ?? 0) + 1;
      const storeId = str(s.storeId) ?? str(s.location) ?? str(s.id) ?? "?";
      return { storeId, name: str(s.name) ?? storeId, terminals, staleTerminals: terminals.filter((t) => t.stale).length, shortfalls: shortfallsOf(s), counts, countsByState, soldOut: soldOutOf(s), seqConflicts: seqConflictsOf(s) };
    });
  return {
    regionId: str(body.regionId) ?? str(body.region) ?? "?",
    staleAfterMs,
    stores,
    staleTerminals: stores.reduce((n, s) => n + s.staleTerminals, 0),
    shortfalls: stores.reduce((n, s) => n + s.shortfalls, 0),
    soldOut: stores.reduce((n, s) => n + s.soldOut.length, 0),
    seqConflicts: stores.reduce((n, s) => n + s.seqConflicts.length, 0),
  };
}
