import { describe, expect, it } from "vitest";
import {
  allocate,
  available,
  commitHold,
  expireDue,
  extendHold,
  grantHolds,
  releaseHold,
  sourcingOrder,
  type Hold,
  type LocationStock,
} from "../../ledger/rules/holds";

const loc = (location: string, onHand: number, opts: Partial<LocationStock> = {}): LocationStock => ({ location, kind: "warehouse", onHand, held: 0, reserve: 0, ...opts });

const activeHold = (over: Partial<Hold> = {}): Hold => ({
  holdId: "r.0.0",
  cartId: "c1",
  location: "W1",
  qty: 2,
  createdAtMs: 1_000,
  expiresAtMs: 61_000,
  state: "active",
  endedAtMs: null,
  ...over,
});

describe("available", () => {
  it.each([
    [{ onHand: 10, held: 3, reserve: 2 }, 5],
    [{ onHand: 10, held: 0, reserve: 10 }, 0],
    [{ onHand: 2, held: 3, reserve: 0 }, 0],
    [{ onHand: 0, held: 0, reserve: 5 }, 0],
  ])("is on hand minus held minus reserve, never below zero: %o → %i", (s, expected) => {
    expect(available(loc("S1", s.onHand, s))).toBe(expected);
  });
});

describe("allocate", () => {
  it("holds at the named location or nowhere", () => {
    const stocks = [loc("W1", 10), loc("S1", 3, { kind: "store" })];
    expect(allocate(stocks, 3, "S1")).toEqual({ ok: true, allocations: [{ location: "S1", qty: 3 }] });
    expect(allocate(stocks, 4, "S1")).toEqual({ ok: false, available: 3 });
    expect(allocate(stocks, 1, "S9")).toEqual({ ok: false, available: 0 });
  });

  it("prefers a warehouse over a store that has more", () => {
    const stocks = [loc("S1", 100, { kind: "store" }), loc("W1", 5)];
    expect(allocate(stocks, 5)).toEqual({ ok: true, allocations: [{ location: "W1", qty: 5 }] });
  });

  it("takes the whole quantity from one location when one can cover it", () => {
    const stocks = [loc("W1", 4), loc("W2", 9), loc("S1", 50, { kind: "store" })];
    expect(allocate(stocks, 6)).toEqual({ ok: true, allocations: [{ location: "W2", qty: 6 }] });
  });

  it("splits across locations in sourcing order when no single one can", () => {
    const stocks = [loc("W1", 4), loc("W2", 3), loc("S1", 5, { kind: "store", reserve: 2 })];
    expect(allocate(stocks, 9)).toEqual({ ok: true, allocations: [{ location: "W1", qty: 4 }, { location: "W2", qty: 3 }, { location: "S1", qty: 2 }] });
  });

  it("never takes a store's reserve and reports what is available", () => {
    const stocks = [loc("S1", 5, { kind: "store", reserve: 5 }), loc("W1", 1, { held: 1 })];
    expect(allocate(stocks, 1)).toEqual({ ok: false, available: 0 });
  });

  it("orders ties by location id so the choice is deterministic", () => {
    expect(sourcingOrder([loc("W2", 5), loc("W1", 5)]).map((s) => s.location)).toEqual(["W1", "W2"]);
  });
});

describe("grantHolds", () => {
  const req = (lines: { lineIndex: number; qty: number; location?: string }[]) => ({ requestId: "r", cartId: "c1", lines, ttlMs: 60_000 });

  it("grants every line with ids derived from the request and a deadline of now + ttl", () => {
    const g = grantHolds([loc("W1", 5)], req([{ lineIndex: 0, qty: 2 }, { lineIndex: 1, qty: 3 }]), 1_000);
    expect(g).toEqual({
      ok: true,
      holds: [
        { holdId: "r.0.0", cartId: "c1", location: "W1", qty: 2, createdAtMs: 1_000, expiresAtMs: 61_000, state: "active", endedAtMs: null },
        { holdId: "r.1.0", cartId: "c1", location: "W1", qty: 3, createdAtMs: 1_000, expiresAtMs: 61_000, state: "active", endedAtMs: null },
      ],
      stocks: [{ ...loc("W1", 5), held: 5 }],
    });
  });

  it("answers the stock with the holds in, location by location, and leaves its input as it was", () => {
    const input = [loc("S1", 4, { kind: "store" }), loc("W1", 2)];
    const g = grantHolds(input, req([{ lineIndex: 0, qty: 3 }, { lineIndex: 1, qty: 1, location: "S1" }]), 0);
    if (!g.ok) throw new Error("expected a grant");
    const heldAt = (l: string) => g.holds.filter((h) => h.location === l).reduce((n, h) => n + h.qty, 0);
    expect(g.stocks).toEqual(input.map((s) => ({ ...s, held: s.held + heldAt(s.location) })));
    expect(input.map((s) => s.held)).toEqual([0, 0]);
  });

  it("counts earlier lines of the same request, so two lines cannot take the same last unit", () => {
    const g = grantHolds([loc("W1", 3)], req([{ lineIndex: 0, qty: 2 }, { lineIndex: 1, qty: 2 }]), 0);
    expect(g).toEqual({ ok: false, short: [{ lineIndex: 1, requested: 2, available: 1 }] });
  });

  it("grants nothing when any line is short", () => {
    const g = grantHolds([loc("W1", 10), loc("S1", 1, { kind: "store" })], req([{ lineIndex: 0, qty: 1 }, { lineIndex: 1, qty: 2, location: "S1" }]), 0);
    expect(g.ok).toBe(false);
  });

  it("refuses a quantity that is not a positive integer (a bug upstream, not a client error)", () => {
    expect(() => grantHolds([loc("W1", 10)], req([{ lineIndex: 0, qty: 0 }]), 0)).toThrow(/positive integer/);
    expect(() => grantHolds([loc("W1", 10)], req([{ lineIndex: 0, qty: 1.5 }]), 0)).toThrow(/positive integer/);
  });
});

describe("ending a hold", () => {
  const ctx = { sku: "SKU1", nowMs: 2_000, source: "api:checkout" as const, ref: "ord_1" };

  it("commits a live hold into a sale from its location to the customer", () => {
    const r = commitHold(activeHold(), ctx);
    expect(r).toEqual({
      ok: true,
      hold: { ...activeHold(), state: "committed", endedAtMs: 2_000 },
      movement: { id: "mv.r.0.0", sku: "SKU1", from: "loc:W1", to: "customer", qty: 2, occurredAtMs: 2_000, recordedAtMs: 2_000, source: "api:checkout", ref: "ord_1", lot: null, expiresOn: null },
    });
  });

  it("does not commit at or after the deadline", () => {
    expect(commitHold(activeHold(), { ...ctx, nowMs: 61_000 })).toMatchObject({ ok: false, kind: "hold_expired" });
  });

  it.each(["committed", "released", "expired"] as const)("does not end a %s hold again", (state) => {
    const ended = activeHold({ state, endedAtMs: 1_500 });
    expect(commitHold(ended, ctx)).toEqual({ ok: false, kind: "hold_not_active", hold: ended });
    expect(releaseHold(ended, 2_000)).toEqual({ ok: false, kind: "hold_not_active", hold: ended });
    expect(expireDue([ended], 100_000)).toEqual([]);
  });

  it("expires exactly the active holds whose deadline has come, stamped with their deadline", () => {
    const due = activeHold({ holdId: "a", expiresAtMs: 5_000 });
    const notYet = activeHold({ holdId: "b", expiresAtMs: 5_001 });
    expect(expireDue([due, notYet], 5_000)).toEqual([{ ...due, state: "expired", endedAtMs: 5_000 }]);
  });

  it("extends only a live hold, and never shortens it", () => {
    expect(extendHold(activeHold(), 90_000, 2_000)?.expiresAtMs).toBe(90_000);
    expect(extendHold(activeHold(), 10_000, 2_000)?.expiresAtMs).toBe(61_000);
    expect(extendHold(activeHold(), 90_000, 61_000)).toBeNull();
  });
});
