import { describe, expect, it } from "vitest";
import { overviewView, STALE_AFTER_MS } from "../../../../apps/manager/view/overview";

const NOW = Date.parse("2026-12-02T12:00:00Z");
const at = (msAgo: number) => new Date(NOW - msAgo).toISOString();

describe("the region overview", () => {
  it("flags a till stale after the threshold, or when the edge says so, and lists stale ones first", () => {
    const view = overviewView(
      {
        regionId: "north",
        stores: [
          {
            storeId: "S001",
            name: "Store 1",
            terminals: [
              { terminalId: "S001-pos-1", lastSyncAt: at(60_000), lastSeq: 40 },
              { terminalId: "S001-pos-2", lastSyncAt: at(STALE_AFTER_MS + 1), lastSeq: 12 },
              { terminalId: "S001-pos-3", lastSyncAt: at(1000), lastSeq: 3, stale: true },
            ],
            shortfalls: [{ sku: "A" }, { sku: "B" }],
            counts: [
              { countId: "c1", state: "open" },
              { countId: "c2", state: "submitted", absVariance: 7 },
            ],
            soldOut: ["SKU-1", { sku: "SKU-2" }],
          },
        ],
      },
      NOW,
    );
    const store = view.stores[0]!;
    expect(store.terminals.map((t) => [t.terminalId, t.stale])).toEqual([
      ["S001-pos-2", true],
      ["S001-pos-3", true],
      ["S001-pos-1", false],
    ]);
    expect(view.staleTerminals).toBe(2);
    expect(store.shortfalls).toBe(2);
    expect(store.countsByState).toEqual({ open: 1, submitted: 1 });
    expect(store.counts[1]!.absVariance).toBe(7);
    expect(store.soldOut).toEqual(["SKU-1", "SKU-2"]);
  });

  it("treats a till that never synced as stale and shows what it can of a thin answer", () => {
    const view = overviewView({ stores: [{ location: "S002", terminals: [{ terminalId: "t", lastSyncAt: null }], openShortfalls: 3 }] }, NOW);
    expect(view.stores[0]!.storeId).toBe("S002");
    expect(view.stores[0]!.terminals[0]!.stale).toBe(true);
    expect(view.shortfalls).toBe(3);
    expect(overviewView(null, NOW).stores).toEqual([]);
  });
});

describe("the stale threshold", () => {
  it("is the edge's when it gives one", () => {
    const view = overviewView({ staleAfterMs: 60_000, stores: [{ storeId: "S1", terminals: [{ terminalId: "t", lastSyncAt: at(2 * 60_000) }] }] }, NOW);
    expect(view.staleAfterMs).toBe(60_000);
    expect(view.stores[0]!.terminals[0]!.stale).toBe(true);
  });
});

describe("refused till operations", () => {
  it("lists each store's seq conflicts and counts them for the region, skipping malformed ones", () => {
    const view = overviewView(
      {
        regionId: "north",
        stores: [
          { storeId: "S001", terminals: [], seqConflicts: [{ terminalId: "S001-pos-1", incarnation: "db1", seq: 7, sku: "SKU-1", at: at(60_000) }, { seq: "x" }] },
          { storeId: "S002", terminals: [] },
        ],
      },
      NOW,
    );
    expect(view.stores[0]?.seqConflicts).toEqual([{ terminalId: "S001-pos-1", seq: 7, sku: "SKU-1", at: at(60_000) }]);
    expect(view.stores[1]?.seqConflicts).toEqual([]);
    expect(view.seqConflicts).toBe(1);
  });
});
