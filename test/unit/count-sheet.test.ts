/** The count sheet's pure rules (ledger/rules/count-sheet.ts): entry shape, ownership, variance, I8. */
import { describe, expect, it } from "vitest";
import { adjustmentMovement, countedOf, effectAsOf, isPendingTerminal, parseEntryKey, refuseEntryWrite, reportLines } from "../../ledger/rules/count-sheet";

const shape = { skus: new Set(["A", "B"]), zones: new Set(["front", "back"]) };
const anyZone = { skus: new Set(["A"]), zones: new Set<string>() };

describe("an entry write", () => {
  it.each([
    ["the clerk's own entry", { sku: "A", key: "anna:front", value: 3 }, null],
    ["zero", { sku: "A", key: "anna:front", value: 0 }, null],
    ["a delete of the clerk's own entry", { sku: "A", key: "anna:back", value: undefined }, null],
    ["another counter's entry", { sku: "A", key: "ben:front", value: 3 }, /another counter/],
    ["an unknown SKU", { sku: "C", key: "anna:front", value: 3 }, /not part of this count/],
    ["a negative quantity", { sku: "A", key: "anna:front", value: -1 }, /whole number/],
    ["a fraction", { sku: "A", key: "anna:front", value: 0.5 }, /whole number/],
    ["a string", { sku: "A", key: "anna:front", value: "3" }, /whole number/],
    ["NaN", { sku: "A", key: "anna:front", value: Number.NaN }, /whole number/],
    ["a key without a zone", { sku: "A", key: "anna", value: 1 }, /counterId>:<zone/],
    ["an empty zone", { sku: "A", key: "anna:", value: 1 }, /counterId>:<zone/],
    ["a zone the count does not name", { sku: "A", key: "anna:roof", value: 1 }, /zone/],
  ])("%s", (_name, write, expected) => {
    const why = refuseEntryWrite(write, "anna", shape);
    if (expected === null) expect(why).toBeNull();
    else expect(why).toMatch(expected);
  });

  it("takes a counter id with colons (the key splits at its last colon)", () => {
    expect(parseEntryKey("store:S1:anna:front")).toEqual({ counterId: "store:S1:anna", zone: "front" });
    expect(refuseEntryWrite({ sku: "A", key: "store:S1:anna:aisle-3", value: 2 }, "store:S1:anna", anyZone)).toBeNull();
  });
});

describe("a line", () => {
  it("counts the sum of its entries, and its variance is counted − expected", () => {
    expect(countedOf({ "anna:front": 3, "ben:back": 4 })).toBe(7);
    const lines = reportLines(["B", "A"], (s) => (s === "A" ? { "anna:front": 3, "ben:back": 4 } : {}), (s) => (s === "A" ? 9 : 2));
    expect(lines).toEqual([
      { sku: "A", counted: 7, expected: 9, variance: -2, entries: { "anna:front": 3, "ben:back": 4 } },
      { sku: "B", counted: 0, expected: 2, variance: -2, entries: {} },
    ]);
  });

  it("is adjusted by its variance: found units from variance, missing ones to it, nothing for none", () => {
    const base = { countId: "c1", sku: "A", location: "S1", nowMs: 5, source: "api:m" as const };
    expect(adjustmentMovement({ ...base, variance: 2 })).toMatchObject({ id: "count.c1.A", from: "variance", to: "loc:S1", qty: 2, ref: "c1" });
    expect(adjustmentMovement({ ...base, variance: -3 })).toMatchObject({ id: "count.c1.A", from: "loc:S1", to: "variance", qty: 3, ref: "c1" });
    expect(adjustmentMovement({ ...base, variance: 0 })).toBeNull();
  });
});

describe("I8: what a movement does to the expected quantity", () => {
  const start = 1_000;
  it.each([
    ["a sale before the start lowers it", { from: "loc:S1", to: "customer", qty: 2, occurredAtMs: 999 }, -2],
    ["a sale at the start lowers it", { from: "loc:S1", to: "customer", qty: 2, occurredAtMs: 1_000 }, -2],
    ["a sale after the start does not", { from: "loc:S1", to: "customer", qty: 2, occurredAtMs: 1_001 }, 0],
    ["a receipt before the start raises it", { from: "supplier", to: "loc:S1", qty: 5, occurredAtMs: 10 }, 5],
    ["another store's sale does not", { from: "loc:S2", to: "customer", qty: 1, occurredAtMs: 10 }, 0],
  ])("%s", (_name, m, effect) => {
    expect(effectAsOf(m, "loc:S1", start)).toBe(effect);
  });

  it("is provisional for a terminal last synced before the start, not one synced since", () => {
    expect(isPendingTerminal(999, 1_000)).toBe(true);
    expect(isPendingTerminal(1_000, 1_000)).toBe(false);
  });
});
