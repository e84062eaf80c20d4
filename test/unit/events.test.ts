/**
 * foldEvents: a busy location's stock.changed events become one per flush, and nothing else moves.
 * The rule is pure; the object applies it to its newest unflushed event (test/edge/ledger.test.ts).
 */
import { describe, expect, it } from "vitest";
import { foldEvents, stockEvents, type StockEvent } from "../../ledger/rules/events";
import type { LocationStock } from "../../ledger/rules/holds";

const at = (onHand: number, held = 0, location = "W1"): LocationStock => ({ location, kind: "warehouse", onHand, held, reserve: 0 });

/** The events of one change from `before` to `after`, numbered from `seq`. */
function change(before: LocationStock[], after: LocationStock[], seq: number, extra: { movementId?: string; op?: { terminalId: string; incarnation: string | null; seq: number } } = {}): StockEvent[] {
  return stockEvents(before, after, { sku: "A", nextSeq: seq, movementId: extra.movementId ?? `m${seq}`, occurredAtMs: seq * 1000, recordedAtMs: seq * 1000, lowStock: 0, op: extra.op });
}

describe("foldEvents", () => {
  it("folds a stock.changed of the newest event's location into it: the first before, the last after, movement and times", () => {
    const [newest] = change([at(5)], [at(4)], 7, { movementId: "m-a" });
    const drafts = change([at(4)], [at(3)], 8, { movementId: "m-b" });
    const { replaced, appended } = foldEvents(newest, drafts, 8);
    expect(appended).toEqual([]);
    expect(replaced).toEqual({ ...newest, after: { onHand: 3, held: 0, available: 3 }, movementId: "m-b", occurredAt: drafts[0]?.occurredAt, recordedAt: drafts[0]?.recordedAt, coalesced: 2 });
    // And again: the count goes on.
    const third = foldEvents(replaced ?? undefined, change([at(3)], [at(2)], 8), 8);
    expect(third.replaced).toMatchObject({ id: "A:7", seq: 7, before: { onHand: 5 }, after: { onHand: 2 }, coalesced: 3 });
  });

  it("never folds a transition: the sell-out is a new event, and the change after it starts a new one", () => {
    const [newest] = change([at(5)], [at(4)], 3);
    const drafts = change([at(4)], [at(0)], 4); // stock.changed, then sku.sold_out
    expect(drafts.map((d) => d.type)).toEqual(["stock.changed", "sku.sold_out"]);
    const { replaced, appended } = foldEvents(newest, drafts, 4);
    expect(replaced).toMatchObject({ seq: 3, after: { onHand: 0 }, coalesced: 2 });
    expect(appended).toEqual([{ ...drafts[1], id: "A:4", seq: 4 }]);
    // The next change's newest event is the sell-out: nothing folds across it.
    const next = change([at(0)], [at(2)], 5); // stock.changed, back in stock
    const after = foldEvents(appended[0], next, 5);
    expect(after.replaced).toBeNull();
    expect(after.appended.map((e) => [e.type, e.seq])).toEqual([
      ["stock.changed", 5],
      ["sku.back_in_stock", 6],
    ]);
  });

  it("folds only at the same location, and never an event a terminal's op caused", () => {
    const [newest] = change([at(5)], [at(4)], 2);
    expect(foldEvents(newest, change([at(3, 0, "W2")], [at(2, 0, "W2")], 3), 3).replaced).toBeNull();
    const op = { terminalId: "S1-till-1", incarnation: "i1", seq: 9 };
    const byOp = change([at(4)], [at(3)], 3, { op });
    const r = foldEvents(newest, byOp, 3);
    expect(r.replaced).toBeNull();
    expect(r.appended).toEqual(byOp);
    // Nor is anything folded into an op's event.
    expect(foldEvents(byOp[0], change([at(3)], [at(2)], 4), 4).replaced).toBeNull();
  });

  it("numbers the events that stay new from nextSeq, gapless, when the first of them folded", () => {
    const [newest] = change([at(5), at(1, 0, "W2")], [at(4), at(1, 0, "W2")], 10);
    // One change at both locations, W1 first (locations by id): W1 folds, W2 takes the next number.
    const drafts = change([at(4), at(1, 0, "W2")], [at(3), at(2, 0, "W2")], 11);
    expect(drafts.map((d) => [d.location, d.seq])).toEqual([
      ["W1", 11],
      ["W2", 12],
    ]);
    const { replaced, appended } = foldEvents(newest, drafts, 11);
    expect(replaced).toMatchObject({ seq: 10, location: "W1" });
    expect(appended.map((e) => [e.location, e.seq, e.id])).toEqual([["W2", 11, "A:11"]]);
  });

  it("with no newest event to fold into, changes nothing but the numbering it was given", () => {
    const drafts = change([at(0)], [at(3)], 1);
    expect(foldEvents(undefined, drafts, 1)).toEqual({ replaced: null, appended: drafts });
  });
});
