import { describe, expect, it } from "vitest";
import { attentionList } from "../../../../apps/pos/view/attention";
import type { OpView } from "../../../../store-client/status/sync-status";

const op = (over: Partial<OpView>): OpView => ({ seq: 1, kind: "sale", sku: "SKU-1", qty: 2, occurredAt: "2026-12-02T10:00:00Z", state: "applied", problem: null, shortfall: null, attempts: 1, ...over });
const names = (sku: string) => ({ "SKU-1": "Coffee 500 g", "SKU-2": "Tea" })[sku] ?? sku;

describe("the attention list", () => {
  it("puts rejections first, in a cashier's words, then shortfalls", () => {
    const list = attentionList(
      {
        needsAttention: [op({ seq: 7, kind: "write_off", sku: "SKU-2", qty: 1, state: "rejected", problem: { type: "unknown-location", title: "Unknown location", status: 404, detail: "location S9 does not exist" } })],
        shortfalls: [op({ seq: 3, shortfall: { location: "S001", units: 2, resourced: 0, short: 2 } })],
      },
      names,
    );
    expect(list.map((i) => [i.seq, i.kind])).toEqual([
      [7, "rejected"],
      [3, "shortfall"],
    ]);
    expect(list[0]!.title).toBe("Write-off of 1 × Tea was not recorded: this store is not set up at head office.");
    expect(list[0]!.action).toContain("Stock was not changed at head office");
    expect(list[1]!.title).toBe("Sale of 2 × Coffee 500 g went through, but 2 units had been promised to online orders.");
    expect(list[1]!.action).toBe("2 units of online orders could not be served elsewhere; the online team has been told.");
  });

  it("says when the online orders were served from elsewhere", () => {
    const [item] = attentionList({ needsAttention: [], shortfalls: [op({ qty: 1, shortfall: { location: "S001", units: 1, resourced: 1, short: 0 } })] }, names);
    expect(item!.title).toBe("Sale of 1 × Coffee 500 g went through, but 1 unit had been promised to online orders.");
    expect(item!.action).toBe("Those orders are now served from another location; nothing to do here.");
  });

  it("falls back to head office's own detail for a rejection it has no words for", () => {
    const [item] = attentionList({ needsAttention: [op({ state: "rejected", kind: "receipt", problem: { type: "odd", title: "Odd", status: 409, detail: "something odd" } })], shortfalls: [] }, names);
    expect(item!.title).toBe("Delivery of 2 × Coffee 500 g was not recorded: head office said: something odd.");
  });
});
