/**
 * The failure that lost sales, end to end through the real store client and the real Worker: a
 * terminal syncs a sale, its browser storage is wiped, and the new database starts again at seq 1.
 * Every sale of both databases lands once, and the new one tells the cashier that the device
 * started afresh and what the edge last had from it.
 */
import "fake-indexeddb/auto";
import { SELF } from "cloudflare:test";
import { Dexie } from "dexie";
import { expect, it } from "vitest";
import { createStoreClient, type Transport } from "../../store-client";
import { adminToken, availability, call, catalog, fresh, must, receive, token } from "./helpers";
import { settle } from "./objects";

const transport: Transport = async (url, init) => SELF.fetch(url, { method: init.method, headers: init.headers, ...(init.body === undefined ? {} : { body: init.body }) });

it("lands every sale of a terminal whose storage was wiped, and says the device lost what it had not synced", async () => {
  const sku = fresh("WIPED");
  await catalog({ locations: [{ id: "S1", kind: "store" }], skus: [sku] });
  await receive(sku, "S1", 50);
  const terminalId = fresh("pos");
  const open = async () =>
    createStoreClient({ baseUrl: "http://edgestock.test", token: await token({ role: "terminal", sub: terminalId, store: "S1" }), storeId: "S1", terminalId, db: `wiped-${terminalId}`, transport, window: null, navigator: null, autoSync: false });

  const before = await open();
  expect(await before.sell([{ sku, qty: 1 }])).toMatchObject({ ok: true, seqs: [1] });
  expect(await before.sync()).toMatchObject({ pendingCount: 0, previousDatabase: null });
  // A sale rung up after the last sync, then "clear browsing data": it never reaches the edge.
  await before.sell([{ sku, qty: 4 }]);
  await before.close();
  await Dexie.delete(`wiped-${terminalId}`);

  const after = await open();
  expect(await after.sell([{ sku, qty: 3 }])).toMatchObject({ ok: true, seqs: [1] });
  expect(await after.sell([{ sku, qty: 2 }])).toMatchObject({ ok: true, seqs: [2] });
  const status = await after.sync();
  expect(status).toMatchObject({ pendingCount: 0, needsAttention: [], previousDatabase: { lastSeq: 1 } });
  expect(Date.parse(status.previousDatabase?.lastSyncAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
  expect((await after.listOps()).map((o) => [o.seq, o.state])).toEqual([[1, "applied"], [2, "applied"]]);
  expect(await availability(sku)).toMatchObject({ onHand: 50 - 1 - 3 - 2 });

  await settle(sku);
  const audit = await must(call("GET", `/v1/audit/skus/${sku}`, { token: await adminToken() }));
  expect(audit.body).toMatchObject({ consistent: true, ledger: { "loc:S1": 44, customer: 6 } });
  await after.close();
});
