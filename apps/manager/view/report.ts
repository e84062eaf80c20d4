/**
 * A count's report as the dashboard shows it, from `GET /v1/counts/:countId/report`. Pure.
 *
 * The variance chart lists SKUs by the size of their variance, largest first (by value where a
 * price is known for every SKU shown, else by units), ties by SKU, so the lines worth a look
 * come first whichever way they went.
 */

export interface ReportLine {
  sku: string;
  counted: number;
  expected: number;
  variance: number;
}

export interface ReportView {
  countId: string;
  location: string;
  state: string;
  startedAt: string | null;
  submittedAt: string | null;
  provisional: boolean;
  pendingTerminals: { terminalId: string; lastSyncAt: string | null }[];
  lines: ReportLine[];
  /** Sum of |variance| over the lines. */
  absVariance: number;
}

export interface VarianceBar {
  sku: string;
  variance: number;
  valueMinor: number | null;
  /** 0…1 of the largest bar. */
  share: number;
}

type Raw = Record<string, unknown>;
const isRaw = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const int = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export function reportView(raw: unknown): ReportView {
  const r = isRaw(raw) ? raw : {};
  const lines = (Array.isArray(r.lines) ? r.lines : []).filter(isRaw).map((l): ReportLine => {
    const counted = int(l.counted);
    const expected = int(l.expected);
    return { sku: str(l.sku) ?? "?", counted, expected, variance: typeof l.variance === "number" ? l.variance : counted - expected };
  });
  const pendingTerminals = (Array.isArray(r.pendingTerminals) ? r.pendingTerminals : [])
    .filter(isRaw)
    .map((t) => ({ terminalId: str(t.terminalId) ?? "?", lastSyncAt: str(t.lastSyncAt) }));
  return {
    countId: str(r.countId) ?? "?",
    location: str(r.location) ?? "?",
    state: str(r.state) ?? "unknown",
    startedAt: str(r.startedAt),
    submittedAt: str(r.submittedAt),
    provisional: r.provisional === true,
    pendingTerminals,
    lines,
    absVariance: lines.reduce((n, l) => n + Math.abs(l.variance), 0),
  };
}

/** The chart's bars: SKUs with a variance, largest first. */
export function varianceBars(lines: readonly ReportLine[], priceMinor: (sku: string) => number | undefined = () => undefined): VarianceBar[] {
  const withVariance = lines.filter((l) => l.variance !== 0);
  const priced = withVariance.length > 0 && withVariance.every((l) => priceMinor(l.sku) !== undefined);
  const bars = withVariance.map((l) => {
    const p = priceMinor(l.sku);
    return { sku: l.sku, variance: l.variance, valueMinor: p === undefined ? null : p * l.variance, share: 0 };
  });
  const size = (b: VarianceBar) => Math.abs(priced ? (b.valueMinor ?? 0) : b.variance);
  bars.sort((a, b) => size(b) - size(a) || a.sku.localeCompare(b.sku));
  const largest = bars.length === 0 ? 0 : size(bars[0]!);
  for (const b of bars) b.share = largest === 0 ? 0 : size(b) / largest;
  return bars;
}

export type ApproveStep = { kind: "approve" } | { kind: "approve_anyway"; waitingFor: string[] } | { kind: "done" } | { kind: "not_ready"; why: string };

/** What the approve button does for a report in this state. */
export function approveStep(report: ReportView): ApproveStep {
  if (report.state === "approved") return { kind: "done" };
  if (report.state === "open") return { kind: "not_ready", why: "The count is still open: the clerks have not submitted it." };
  if (report.provisional) return { kind: "approve_anyway", waitingFor: report.pendingTerminals.map((t) => t.terminalId) };
  return { kind: "approve" };
}
