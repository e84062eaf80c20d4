import { describe, expect, it } from "vitest";
import { expiredLotMovements, expiryInstantMs, fefo, splitByLots, splitOverdrawingLots, splitTakingLots, takeFromLots, UNNAMED_LOT, type LotBalance } from "../../ledger/rules/lots";
import type { Movement } from "../../ledger/rules/movement";

const lots: LotBalance[] = [
  { lot: UNNAMED_LOT, expiresOn: null, qty: 4 },
  { lot: "B", expiresOn: "2026-12-10", qty: 3 },
  { lot: "A", expiresOn: "2026-12-01", qty: 2 },
  { lot: "C", expiresOn: "2026-12-10", qty: 5 },
];

describe("first expiry, first out", () => {
  it("orders lots by expiry, undated stock last, ties by lot name", () => {
    expect(fefo(lots).map((l) => l.lot)).toEqual(["A", "B", "C", UNNAMED_LOT]);
  });

  it("takes from the soonest-expiring lots first, across as many as needed", () => {
    expect(takeFromLots(lots, 6)).toEqual([
      { lot: "A", expiresOn: "2026-12-01", qty: 2 },
      { lot: "B", expiresOn: "2026-12-10", qty: 3 },
      { lot: "C", expiresOn: "2026-12-10", qty: 1 },
    ]);
  });

  it("takes only from a named lot, and not more than it holds", () => {
    expect(takeFromLots(lots, 3, "C")).toEqual([{ lot: "C", expiresOn: "2026-12-10", qty: 3 }]);
    expect(takeFromLots(lots, 6, "C")).toBeNull();
    expect(takeFromLots(lots, 1, "Z")).toBeNull();
  });

  it("cannot take more than all lots hold", () => {
    expect(takeFromLots(lots, 15)).toBeNull();
    expect(takeFromLots(lots, 14)?.reduce((n, t) => n + t.qty, 0)).toBe(14);
  });
});

describe("splitting a movement by lots", () => {
  const template: Movement = { id: "mv.h1", sku: "P", from: "loc:S1", to: "customer", qty: 5, occurredAtMs: 1, recordedAtMs: 1, source: "system", ref: "o1", lot: null, expiresOn: null };

  it("keeps the template's id for the first part and numbers the rest, quantities adding up", () => {
    const parts = splitByLots(template, [
      { lot: "A", expiresOn: "2026-12-01", qty: 2 },
      { lot: UNNAMED_LOT, expiresOn: null, qty: 3 },
    ]);
    expect(parts.map((m) => [m.id, m.lot, m.expiresOn, m.qty])).toEqual([
      ["mv.h1", "A", "2026-12-01", 2],
      ["mv.h1.1", null, null, 3],
    ]);
  });
});

describe("taking a movement's units from the lots", () => {
  const sale = (qty: number): Movement => ({ id: "mv.h2", sku: "P", from: "loc:S1", to: "customer", qty, occurredAtMs: 1, recordedAtMs: 1, source: "system", ref: "o2", lot: null, expiresOn: null });

  it("splits an online sale by first expiry, and refuses one the lots do not cover", () => {
    expect(splitTakingLots(sale(3), lots).map((m) => [m.id, m.lot, m.qty])).toEqual([
      ["mv.h2", "A", 2],
      ["mv.h2.1", "B", 1],
    ]);
    expect(() => splitTakingLots(sale(15), lots)).toThrow(/do not cover 15 units/);
  });

  it("takes what a store sale needs beyond the lots from the unnamed lot, below zero (I2)", () => {
    const small: LotBalance[] = [{ lot: "A", expiresOn: "2026-12-01", qty: 2 }];
    expect(splitOverdrawingLots(sale(5), small).map((m) => [m.lot, m.qty])).toEqual([
      ["A", 2],
      [null, 3],
    ]);
    expect(splitOverdrawingLots(sale(2), []).map((m) => [m.lot, m.qty])).toEqual([[null, 2]]);
    expect(splitOverdrawingLots(sale(1), small).map((m) => [m.lot, m.qty])).toEqual([["A", 1]]);
  });
});

describe("expiry of lots", () => {
  it("ends a lot at the end of its expiry day, UTC", () => {
    expect(expiryInstantMs("2026-12-01")).toBe(Date.parse("2026-12-02T00:00:00Z"));
  });

  it("moves exactly the lots past their day to shrink:expired, dated at the expiry instant", () => {
    const now = Date.parse("2026-12-05T08:00:00Z");
    const moves = expiredLotMovements("P", "S1", lots, now);
    expect(moves.map((m) => [m.from, m.to, m.lot, m.qty, m.occurredAtMs])).toEqual([["loc:S1", "shrink:expired", "A", 2, Date.parse("2026-12-02T00:00:00Z")]]);
  });

  it("leaves a lot on its last day alone", () => {
    expect(expiredLotMovements("P", "S1", lots, Date.parse("2026-12-01T23:59:59Z"))).toEqual([]);
  });
});
