/**
 * Each local database is an incarnation of its terminal (store-db.ts): its pushes name it, a new
 * database gets a new one, and before its first push a new database learns from the edge whether
 * an earlier database of the terminal had synced.
 */
import "fake-indexeddb/auto";
import { Dexie } from "dexie";
import { afterEach, expect, it } from "vitest";
import { openStoreDb, putMeta } from "../../../store-client/db/store-db";
import { closeAll, freshDbName, makeEdge, openClient, STORE, TERMINAL } from "./support/harness";

afterEach(closeAll);

const incarnationOf = async (db: Dexie & { meta: { get(k: string): Promise<{ value: unknown } | undefined> } }) => (await db.meta.get("incarnation"))?.value;

it("gives every new database its own incarnation id and names it in every push", async () => {
  const edge = makeEdge({ A: { onHand: 10 } });
  const { client: one } = await openClient(edge);
  const { client: two } = await openClient(edge);
  const a = await incarnationOf(one.db);
  const b = await incarnationOf(two.db);
  expect(a).toMatch(/^[0-9a-f]{32}$/);
  expect(b).toMatch(/^[0-9a-f]{32}$/);
  expect(a).not.toBe(b);
  await one.sell([{ sku: "A", qty: 1 }]);
  await one.sync();
  expect([...edge.applied.keys()]).toEqual([`${TERMINAL}/${a}#1`]);
});

it("keeps the same incarnation when the same database is opened again", async () => {
  const edge = makeEdge({ A: { onHand: 10 } });
  const name = freshDbName("reopen");
  const { client } = await openClient(edge, { db: name });
  const first = await incarnationOf(client.db);
  await client.close();
  const { client: again } = await openClient(edge, { db: name });
  expect(await incarnationOf(again.db)).toBe(first);
});

it("lands the sales of a wiped terminal that starts again at seq 1, and says the device started afresh", async () => {
  const edge = makeEdge({ A: { onHand: 20 } });
  const name = freshDbName("wiped");
  const { client: before } = await openClient(edge, { db: name });
  await before.sell([{ sku: "A", qty: 1 }]);
  expect(await before.sync()).toMatchObject({ pendingCount: 0, previousDatabase: null });
  await before.close();
  await Dexie.delete(name);

  const { client: after } = await openClient(edge, { db: name });
  await after.sell([{ sku: "A", qty: 3 }]);
  await after.sell([{ sku: "A", qty: 2 }]);
  const status = await after.sync();
  expect(status).toMatchObject({ pendingCount: 0, needsAttention: [], previousDatabase: { lastSeq: 1, lastSyncAt: new Date(0).toISOString() } });
  expect(edge.stock.get("A")?.onHand).toBe(20 - 6);
});

it("says nothing about a previous database for a terminal the edge has never seen", async () => {
  const edge = makeEdge({ A: { onHand: 5 } });
  const { client } = await openClient(edge);
  await client.sell([{ sku: "A", qty: 1 }]);
  expect(await client.sync()).toMatchObject({ pendingCount: 0, previousDatabase: null });
  // The check is made once per database: later syncs do not ask again.
  const asked = edge.requests;
  await client.sync();
  expect(edge.requests - asked).toBe(1); // the pull only
});

it("keeps naming ops without an incarnation in a database made before incarnations, so pending ops keep their names", async () => {
  const edge = makeEdge({ A: { onHand: 10 } });
  const name = freshDbName("legacy");
  const db = openStoreDb(name);
  await db.open();
  await putMeta(db, "identity", { terminalId: TERMINAL, storeId: STORE });
  db.close();
  const { client } = await openClient(edge, { db: name });
  expect(await incarnationOf(client.db)).toBeNull();
  await client.sell([{ sku: "A", qty: 1 }]);
  await client.sync();
  expect([...edge.applied.keys()]).toEqual([`${TERMINAL}#1`]);
  expect(edge.pushRequests).toBe(1);
});
