import { describe, expect, it } from "vitest";
import { statusLine, attentionOverflow } from "../../../../apps/pos/view/status-line";
import type { SyncStatus } from "../../../../store-client/status/sync-status";

const NOW = Date.parse("2026-12-02T12:00:00Z");

function status(over: Partial<SyncStatus> = {}): SyncStatus {
  return {
    connection: "online",
    state: "idle",
    pendingCount: 0,
    oldestPendingAgeMs: null,
    lastSyncAt: "2026-12-02T11:59:30Z",
    needsAttention: [],
    shortfalls: [],
    attentionCount: 0,
    problem: null,
    nextAttemptAt: null,
    otherTabSyncing: false,
    previousDatabase: null,
    ...over,
  };
}

describe("the POS status line", () => {
  it("says online and all synced when nothing is only on this device", () => {
    const line = statusLine(status(), NOW);
    expect(line.text).toBe("online · all synced · last sync 30 s ago");
    expect(line.tone).toBe("ok");
    expect(line.problem).toBeNull();
  });

  it("says offline, how many are pending and how old the oldest is", () => {
    const line = statusLine(status({ connection: "offline", pendingCount: 20, oldestPendingAgeMs: 5 * 60_000 }), NOW);
    expect(line.text).toBe("offline · 20 pending, oldest 5 min old (only on this device) · last sync 30 s ago");
    expect(line.tone).toBe("offline");
  });

  it("says syncing while a push or pull runs, and never synced before the first", () => {
    const line = statusLine(status({ connection: "syncing", lastSyncAt: null, pendingCount: 1, oldestPendingAgeMs: 1000 }), NOW);
    expect(line.text).toBe("syncing · 1 pending, oldest a few seconds old (only on this device) · never synced");
    expect(line.tone).toBe("busy");
  });

  it("tells the cashier to sign in again after a 401, and that the sales are kept", () => {
    const line = statusLine(
      status({ connection: "error", state: "error", pendingCount: 3, oldestPendingAgeMs: 60_000, problem: { kind: "unauthorized", status: 401, problem: null, detail: "expired", during: "push", atMs: NOW } }),
      NOW,
    );
    expect(line.tone).toBe("error");
    expect(line.text.startsWith("error · 3 pending")).toBe(true);
    expect(line.problem).toMatch(/not signed in any more.*kept on this device/);
  });

  it("says when this device's storage was reset and since when sales are missing", () => {
    const line = statusLine(status({ previousDatabase: { lastSeq: 40, lastSyncAt: "2026-12-01T18:00:00Z" } }), NOW);
    expect(line.problem).toContain("after 2026-12-01T18:00:00Z did not reach head office");
  });

  it("counts the items needing attention that are not listed", () => {
    expect(attentionOverflow(status({ attentionCount: 3 }))).toBe("3 more items need a look");
    expect(attentionOverflow(status({ attentionCount: 0 }))).toBeNull();
  });
});
