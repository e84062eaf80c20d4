import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import type { OutboxRow } from "../../../store-client/db/store-db";
import { answered, prunable, takeBatch } from "../../../store-client/sync/outbox-rules";

const row = (seq: number, over: Partial<OutboxRow> = {}): OutboxRow => ({
  seq,
  op: { seq, kind: "sale", sku: `SKU-${String(seq).padStart(5, "0")}`, qty: 1, occurredAt: "2026-11-25T10:00:00.000Z" },
  state: "pending",
  overlay: 1,
  attention: 0,
  result: null,
  attempts: 0,
  recordedAtMs: 0,
  lastAttemptAtMs: null,
  ackedAtMs: null,
  settledAtMs: null,
  ...over,
});

describe("choosing the next push batch", () => {
  const pending = Array.from({ length: 1200 }, (_, i) => row(i + 1));

  it("takes at most 500 ops, the lowest seqs first", () => {
    const batch = takeBatch(pending, "S001-pos-1", { opsMax: 500, bodyBytesMax: 1_000_000 });
    expect(batch.map((r) => r.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  });

  it("stops before the request body would pass the byte budget, and the body really fits", () => {
    const limits = { opsMax: 500, bodyBytesMax: 2_000 };
    const batch = takeBatch(pending, "S001-pos-1", limits);
    const body = JSON.stringify({ terminalId: "S001-pos-1", ops: batch.map((r) => r.op) });
    expect(body.length).toBeLessThanOrEqual(limits.bodyBytesMax);
    const oneMore = JSON.stringify({ terminalId: "S001-pos-1", ops: pending.slice(0, batch.length + 1).map((r) => r.op) });
    expect(oneMore.length).toBeGreaterThan(limits.bodyBytesMax);
  });

  it("always takes at least one op, so a large op cannot wedge the outbox", () => {
    expect(takeBatch(pending, "S001-pos-1", { opsMax: 500, bodyBytesMax: 10 })).toHaveLength(1);
  });

  it("refuses rows that are out of seq order or not pending (a bug upstream)", () => {
    expect(() => takeBatch([row(2), row(1)], "T", { opsMax: 500, bodyBytesMax: 60_000 })).toThrow(/out of order/);
    expect(() => takeBatch([row(1, { state: "applied" })], "T", { opsMax: 500, bodyBytesMax: 60_000 })).toThrow(/not pending/);
    expect(() => takeBatch([row(1)], "T", { opsMax: 501, bodyBytesMax: 60_000 })).toThrow(/opsMax/);
  });
});

describe("what an answer does to an op", () => {
  it("keeps an applied or duplicate op in the overlay until confirmed figures include it", () => {
    expect(answered({ seq: 3, status: "applied" }, 5, 2)).toEqual({ state: "applied", result: { seq: 3, status: "applied" }, overlay: 1, attention: 0, ackedAtMs: 5, settledAtMs: null });
    expect(answered({ seq: 3, status: "duplicate" }, 5, 0)).toMatchObject({ state: "duplicate", overlay: 1, attention: 0 });
  });

  it("takes an acknowledged op out of the overlay at once when the figures already include it", () => {
    expect(answered({ seq: 3, status: "applied" }, 5, 3)).toMatchObject({ state: "applied", overlay: 0, settledAtMs: 5 });
    expect(answered({ seq: 3, status: "duplicate" }, 5, 7)).toMatchObject({ state: "duplicate", overlay: 0, settledAtMs: 5 });
  });

  it("takes a rejected op out of the overlay at once and asks a person to look", () => {
    const result = { seq: 1, status: "rejected" as const, problem: { type: "unknown-sku" } };
    expect(answered(result, 5, 0)).toEqual({ state: "rejected", result, overlay: 0, attention: 1, ackedAtMs: 5, settledAtMs: 5 });
  });

  it("asks a person to look at an applied sale that caused a shortfall", () => {
    expect(answered({ seq: 1, status: "applied", shortfall: { location: "S001", units: 1, resourced: 0, short: 1 } }, 5, 0)).toMatchObject({ attention: 1, overlay: 1 });
  });
});

describe("pruning answered ops", () => {
  it("keeps pending, overlay and attention rows, and the newest done ones up to the history size", () => {
    const rows = [
      row(1, { state: "applied", overlay: 0 }),
      row(2, { state: "rejected", overlay: 0, attention: 1 }),
      row(3, { state: "applied", overlay: 0 }),
      row(4, { state: "applied", overlay: 1 }),
      row(5, { state: "duplicate", overlay: 0 }),
      row(6),
    ];
    expect(prunable(rows, 1).sort()).toEqual([1, 3]);
    expect(prunable(rows, 0).sort()).toEqual([1, 3, 5]);
  });
});
