import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { draftOps, numberOps, stockDelta, type Line, type WriteOffLine } from "../../../store-client/ops/op-rules";

describe("what a cashier's action becomes", () => {
  it("turns each line into one op of the action's kind, keeping only the protocol's fields", () => {
    const lines = [{ sku: "SKU-1", qty: 2, lot: "L-7", price: 999 } as Line, { sku: "SKU-2", qty: 1 }];
    expect(draftOps("sale", lines)).toEqual({
      ok: true,
      drafts: [
        { kind: "sale", sku: "SKU-1", qty: 2, lot: "L-7" },
        { kind: "sale", sku: "SKU-2", qty: 1 },
      ],
    });
  });

  it("keeps a write-off's reason and requires one from the closed list", () => {
    expect(draftOps("write_off", [{ sku: "A", qty: 1, reason: "damaged" }])).toEqual({ ok: true, drafts: [{ kind: "write_off", sku: "A", qty: 1, reason: "damaged" }] });
    const missing = draftOps("write_off", [{ sku: "A", qty: 1 } as WriteOffLine]);
    const unknown = draftOps("write_off", [{ sku: "A", qty: 1, reason: "eaten" } as unknown as WriteOffLine]);
    for (const result of [missing, unknown]) expect(result).toMatchObject({ ok: false, problem: { kind: "invalid_lines", errors: [{ path: "lines[0].reason" }] } });
  });

  it.each([
    ["a zero quantity", { sku: "A", qty: 0 }, "lines[0].qty"],
    ["a negative quantity", { sku: "A", qty: -1 }, "lines[0].qty"],
    ["a fractional quantity", { sku: "A", qty: 1.5 }, "lines[0].qty"],
    ["a quantity past the edge's limit", { sku: "A", qty: 100_001 }, "lines[0].qty"],
    ["an empty SKU", { sku: "", qty: 1 }, "lines[0].sku"],
    ["a SKU with a space", { sku: "SKU 1", qty: 1 }, "lines[0].sku"],
    ["a SKU of 65 characters", { sku: "A".repeat(65), qty: 1 }, "lines[0].sku"],
    ["a lot with a slash", { sku: "A", qty: 1, lot: "L/1" }, "lines[0].lot"],
  ])("refuses %s, which the edge would answer with a 400 for the whole batch", (_name, line, path) => {
    expect(draftOps("sale", [line as Line])).toMatchObject({ ok: false, problem: { errors: [{ path }] } });
  });

  it("names every bad line at once and drafts nothing", () => {
    const result = draftOps("receipt", [{ sku: "ok", qty: 1 }, { sku: "bad sku", qty: 0 }]);
    expect(result).toMatchObject({ ok: false, problem: { errors: [{ path: "lines[1].sku" }, { path: "lines[1].qty" }] } });
  });

  it("refuses no lines and more lines than one push batch holds", () => {
    expect(draftOps("sale", [])).toMatchObject({ ok: false, problem: { errors: [{ path: "lines" }] } });
    const tooMany = Array.from({ length: 501 }, () => ({ sku: "A", qty: 1 }));
    expect(draftOps("sale", tooMany)).toMatchObject({ ok: false, problem: { errors: [{ path: "lines", message: "at most 500 lines" }] } });
  });

  it("numbers ops consecutively from the next seq, all at the time of the action", () => {
    const drafted = draftOps("sale", [{ sku: "A", qty: 1 }, { sku: "B", qty: 2 }]);
    if (!drafted.ok) throw new Error("expected drafts");
    const at = Date.UTC(2026, 10, 25, 10, 2, 11, 120);
    expect(numberOps(drafted.drafts, 41, at)).toEqual([
      { kind: "sale", sku: "A", qty: 1, seq: 41, occurredAt: "2026-11-25T10:02:11.120Z" },
      { kind: "sale", sku: "B", qty: 2, seq: 42, occurredAt: "2026-11-25T10:02:11.120Z" },
    ]);
    expect(() => numberOps(drafted.drafts, 0, at)).toThrow(/positive/);
  });

  it.each([
    ["sale", -3],
    ["write_off", -3],
    ["return", 3],
    ["receipt", 3],
  ] as const)("moves stock on the shelf: a %s of 3 is %i", (kind, delta) => {
    expect(stockDelta({ kind, qty: 3 })).toBe(delta);
  });
});
