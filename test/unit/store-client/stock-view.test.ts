import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { allowanceWarnings, localStock, type LocalStock } from "../../../store-client/stock/stock-view";

const confirmed = (onHand: number, available: number) => ({ sku: "A", onHand, available, pulledAtMs: 0 });

describe("local stock as confirmed figures plus the overlay of unconfirmed ops", () => {
  it("adds every overlay op's delta to the confirmed figures", () => {
    const stock = localStock("A", confirmed(10, 6), [
      { kind: "sale", qty: 3 },
      { kind: "return", qty: 1 },
      { kind: "write_off", qty: 2 },
      { kind: "receipt", qty: 5 },
    ]);
    expect(stock).toMatchObject({ onHand: 11, available: 7, allowance: 7, overlayDelta: 1, overlayOps: 4 });
  });

  it("counts from zero for a SKU no pull has named, and never offers a negative allowance", () => {
    expect(localStock("A", null, [{ kind: "sale", qty: 2 }])).toMatchObject({ onHand: -2, available: -2, allowance: 0, confirmed: null });
    expect(localStock("A", confirmed(1, -1), [])).toMatchObject({ onHand: 1, available: -1, allowance: 0 });
  });
});

describe("offline allowance warnings", () => {
  const stocks = new Map<string, LocalStock>([
    ["A", localStock("A", { sku: "A", onHand: 5, available: 2, pulledAtMs: 0 }, [])],
    ["B", localStock("B", { sku: "B", onHand: 9, available: 9, pulledAtMs: 0 }, [])],
  ]);

  it("says nothing for a sale within the allowance", () => {
    expect(allowanceWarnings([{ kind: "sale", sku: "A", qty: 2 }, { kind: "sale", sku: "B", qty: 9 }], stocks)).toEqual([]);
  });

  it("says by how many units a sale goes past the allowance, adding up lines of the same SKU", () => {
    const sale = [
      { kind: "sale", sku: "A", qty: 1 },
      { kind: "sale", sku: "B", qty: 1 },
      { kind: "sale", sku: "A", qty: 2 },
    ] as const;
    expect(allowanceWarnings(sale, stocks)).toEqual([{ sku: "A", requested: 3, allowance: 2, pastAllowanceBy: 1 }]);
  });

  it("treats a SKU with no known stock as having no allowance", () => {
    expect(allowanceWarnings([{ kind: "sale", sku: "Z", qty: 2 }], stocks)).toEqual([{ sku: "Z", requested: 2, allowance: 0, pastAllowanceBy: 2 }]);
  });
});
