import { describe, expect, it } from "vitest";
import { approveStep, reportView, varianceBars } from "../../../../apps/manager/view/report";

const raw = {
  countId: "c1",
  location: "S001",
  state: "submitted",
  startedAt: "2026-12-02T10:00:00Z",
  submittedAt: "2026-12-02T10:30:00Z",
  provisional: true,
  pendingTerminals: [{ terminalId: "S001-pos-2", lastSyncAt: "2026-12-02T09:00:00Z" }],
  lines: [
    { sku: "A", counted: 10, expected: 10, variance: 0, entries: {} },
    { sku: "B", counted: 7, expected: 10, variance: -3, entries: {} },
    { sku: "C", counted: 15, expected: 10, variance: 5, entries: {} },
    { sku: "D", counted: 9, expected: 12, variance: -3, entries: {} },
  ],
};

describe("a count's report on the dashboard", () => {
  it("charts variances largest first whichever way they went, ties by SKU, zero left out", () => {
    const bars = varianceBars(reportView(raw).lines);
    expect(bars.map((b) => [b.sku, b.variance, b.share])).toEqual([
      ["C", 5, 1],
      ["B", -3, 0.6],
      ["D", -3, 0.6],
    ]);
  });

  it("orders by value when every SKU shown has a price", () => {
    const prices: Record<string, number> = { B: 1000, C: 100, D: 50 };
    const bars = varianceBars(reportView(raw).lines, (sku) => prices[sku]);
    expect(bars.map((b) => [b.sku, b.valueMinor])).toEqual([
      ["B", -3000],
      ["C", 500],
      ["D", -150],
    ]);
  });

  it("sums the absolute variance and keeps the tills a provisional report waits for", () => {
    const view = reportView(raw);
    expect(view.absVariance).toBe(11);
    expect(view.pendingTerminals).toEqual([{ terminalId: "S001-pos-2", lastSyncAt: "2026-12-02T09:00:00Z" }]);
  });

  it("asks to approve anyway when provisional, plainly when final, not at all when open or approved", () => {
    expect(approveStep(reportView(raw))).toEqual({ kind: "approve_anyway", waitingFor: ["S001-pos-2"] });
    expect(approveStep(reportView({ ...raw, provisional: false, pendingTerminals: [] }))).toEqual({ kind: "approve" });
    expect(approveStep(reportView({ ...raw, state: "open" })).kind).toBe("not_ready");
    expect(approveStep(reportView({ ...raw, state: "approved" })).kind).toBe("done");
  });
});
