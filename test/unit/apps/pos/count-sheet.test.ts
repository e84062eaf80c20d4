import { describe, expect, it } from "vitest";
import { presenceLine, sheetRows } from "../../../../apps/pos/count/count-sheet";

describe("the count sheet on the till", () => {
  it("shows the clerk's own entry in the zone, everyone's total, and the others' entries", () => {
    const entries: Record<string, Record<string, number>> = {
      A: { "clerk-1:front": 4, "clerk-2:back": 6, "clerk-1:back": 1 },
      B: {},
    };
    const rows = sheetRows(["A", "B"], (s) => `Item ${s}`, (s) => entries[s] ?? {}, "clerk-1", "front");
    expect(rows).toEqual([
      { sku: "A", name: "Item A", mine: 4, total: 11, others: ["you in back: 1", "clerk-2 in back: 6"] },
      { sku: "B", name: "Item B", mine: null, total: 0, others: [] },
    ]);
  });

  it("says who is counting, this clerk first", () => {
    expect(presenceLine([{ counterId: "clerk-2", zone: "back" }, { counterId: "clerk-1", zone: "front" }], "clerk-1")).toBe("Counting now: you (front), clerk-2 (back)");
    expect(presenceLine([], "clerk-1")).toBe("Nobody else is counting right now.");
  });
});
