import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { createStoreClient } from "../../../store-client/create-store-client";
import { openStoreDb } from "../../../store-client/db/store-db";
import { closeAll, freshDbName, makeEdge, openClient, STORE, TERMINAL, TOKEN } from "./support/harness";

afterEach(closeAll);

describe("recording ops in the outbox", () => {
  it("records a sale with the next seqs and returns at once, with no network at all", async () => {
    const refusingTransport = (): never => {
      throw new Error("no request may be made while recording");
    };
    const edge = makeEdge({});
    const { client, clock } = await openClient(edge, { transport: refusingTransport, navigator: { onLine: false }, autoSync: true });
    const recorded = await client.sell([
      { sku: "SKU-1", qty: 2 },
      { sku: "SKU-2", qty: 1, lot: "L-1" },
    ]);
    expect(recorded).toMatchObject({ ok: true, seqs: [1, 2] });
    const rows = await client.db.outbox.orderBy("seq").toArray();
    expect(rows).toEqual([
      expect.objectContaining({ seq: 1, state: "pending", overlay: 1, attempts: 0, result: null, recordedAtMs: clock.now(), op: { seq: 1, kind: "sale", sku: "SKU-1", qty: 2, occurredAt: new Date(clock.now()).toISOString() } }),
      expect.objectContaining({ seq: 2, state: "pending", op: expect.objectContaining({ sku: "SKU-2", lot: "L-1" }) }),
    ]);
    expect(await client.returnItems([{ sku: "SKU-1", qty: 1 }])).toMatchObject({ seqs: [3] });
    expect(await client.writeOff([{ sku: "SKU-1", qty: 1, reason: "damaged" }])).toMatchObject({ seqs: [4] });
    expect(await client.receive([{ sku: "SKU-3", qty: 10 }])).toMatchObject({ seqs: [5] });
    expect((await client.db.outbox.toArray()).map((r) => r.op.kind)).toEqual(["sale", "sale", "return", "write_off", "receipt"]);
    clock.advance(5_000);
    expect(await client.status()).toMatchObject({ connection: "offline", pendingCount: 5, oldestPendingAgeMs: 5_000, lastSyncAt: null });
  });

  it("records nothing for a call with an invalid line and says which", async () => {
    const { client } = await openClient(makeEdge({}));
    const result = await client.sell([{ sku: "SKU-1", qty: 1 }, { sku: "SKU-2", qty: 0 }]);
    expect(result).toEqual({ ok: false, problem: { kind: "invalid_lines", errors: [{ path: "lines[1].qty", message: expect.any(String) }] } });
    expect(await client.db.outbox.count()).toBe(0);
    expect(await client.sell([{ sku: "SKU-1", qty: 1 }])).toMatchObject({ seqs: [1] });
  });

  it("writes all ops of a call and the seq counter together, or none of them", async () => {
    const { client } = await openClient(makeEdge({}));
    await client.sell([{ sku: "SKU-1", qty: 1 }]);
    // Make IndexedDB fail on the second op of the next call, inside the recording transaction.
    const failOnSecond = (_key: unknown, row: { op: { sku: string } }): void => {
      if (row.op.sku === "SKU-FAIL") throw new Error("disk full");
    };
    client.db.outbox.hook("creating", failOnSecond);
    await expect(client.sell([{ sku: "SKU-2", qty: 1 }, { sku: "SKU-FAIL", qty: 1 }])).rejects.toThrow();
    client.db.outbox.hook("creating").unsubscribe(failOnSecond);
    expect((await client.db.outbox.toArray()).map((r) => r.seq)).toEqual([1]);
    expect(await client.sell([{ sku: "SKU-3", qty: 1 }])).toMatchObject({ seqs: [2] });
  });

  it("never hands out a seq twice when many calls race in one tab", async () => {
    const { client } = await openClient(makeEdge({}));
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => client.sell([{ sku: `SKU-${i % 5}`, qty: 1 }, { sku: "SKU-X", qty: 1 }])));
    const seqs = results.flatMap((r) => (r.ok ? r.seqs : [])).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    expect(await client.db.outbox.count()).toBe(80);
  });

  it("keeps the outbox and the seq counter across a reload of the database", async () => {
    const edge = makeEdge({ "SKU-1": { onHand: 10 } });
    const name = freshDbName("reload");
    const first = await openClient(edge, { db: name });
    await first.client.sell([{ sku: "SKU-1", qty: 1 }, { sku: "SKU-1", qty: 2 }]);
    await first.client.close();

    const second = await openClient(edge, { db: name });
    expect(await second.client.listOps()).toEqual([
      expect.objectContaining({ seq: 1, state: "pending", qty: 1 }),
      expect.objectContaining({ seq: 2, state: "pending", qty: 2 }),
    ]);
    expect(await second.client.sell([{ sku: "SKU-1", qty: 1 }])).toMatchObject({ seqs: [3] });
    expect((await second.client.stock("SKU-1")).onHand).toBe(-4);
    await second.client.sync();
    expect([...edge.applied.keys()]).toEqual([1, 2, 3].map((seq) => edge.keyOf(TERMINAL, seq)));
    expect(await second.client.stock("SKU-1")).toMatchObject({ onHand: 6, overlayOps: 0 });
  });

  it("keeps handing out higher seqs after answered ops were pruned", async () => {
    const edge = makeEdge({ "SKU-1": { onHand: 100 } });
    const { client } = await openClient(edge, { tuning: { historyMax: 2 } });
    for (let i = 0; i < 5; i++) await client.sell([{ sku: "SKU-1", qty: 1 }]);
    await client.sync();
    expect((await client.db.outbox.toArray()).map((r) => r.seq)).toEqual([4, 5]);
    expect(await client.sell([{ sku: "SKU-1", qty: 1 }])).toMatchObject({ seqs: [6] });
  });

  it("refuses to open a database that belongs to another terminal or store", async () => {
    const name = freshDbName("identity");
    const base = { baseUrl: "https://edge.test", token: TOKEN, storeId: STORE, terminalId: TERMINAL, window: null, navigator: null, autoSync: false } as const;
    const first = await createStoreClient({ ...base, db: name });
    await first.close();
    await expect(createStoreClient({ ...base, db: name, terminalId: "S001-pos-2" })).rejects.toThrow(/belongs to terminal S001-pos-1/);
    await expect(createStoreClient({ ...base, db: name, storeId: "S002" })).rejects.toThrow(/of store S001/);
    const db = openStoreDb(name);
    const again = await createStoreClient({ ...base, db });
    expect(again.db).toBe(db);
    await again.close();
    expect(db.isOpen()).toBe(true);
    db.close();
  });

  it("refuses a terminal or store id the edge would not accept", async () => {
    const base = { baseUrl: "https://edge.test", token: TOKEN, storeId: STORE, terminalId: TERMINAL, window: null, navigator: null, autoSync: false } as const;
    await expect(createStoreClient({ ...base, terminalId: "pos 1" })).rejects.toThrow(/terminalId/);
    await expect(createStoreClient({ ...base, storeId: "" })).rejects.toThrow(/storeId/);
    await expect(createStoreClient({ ...base, tuning: { requestTimeoutMs: 90_000, leaseMs: 60_000 } })).rejects.toThrow(/leaseMs/);
  });
});
