/**
 * The store client against the real Worker: a terminal sells 1,000 times while offline (its
 * transport refuses every request), then comes back online and syncs. Every sale lands exactly
 * once, and once the authority has flushed, the ledger and the authority agree. The client runs in
 * the same workerd as the Worker, on fake-indexeddb; its requests go through SELF.
 */
import "fake-indexeddb/auto";
import { SELF } from "cloudflare:test";
import { expect, it } from "vitest";
import { createStoreClient, type Transport } from "../../store-client";
import { adminToken, availability, call, catalog, fresh, must, receive, token } from "./helpers";
import { ledgerBalances, settle } from "./objects";

it("lands 1,000 offline sales exactly once when the terminal comes back online", async () => {
  const skus = [fresh("E2E-A"), fresh("E2E-B"), fresh("E2E-C")];
  await catalog({ locations: [{ id: "S1", kind: "store" }], skus });
  for (const sku of skus) await receive(sku, "S1", 400);
  const terminalId = fresh("pos");
  const terminalToken = await token({ role: "terminal", sub: terminalId, store: "S1" });

  let online = false;
  const transport: Transport = async (url, init) => {
    if (!online) throw new TypeError("network is down");
    return SELF.fetch(url, { method: init.method, headers: init.headers, ...(init.body === undefined ? {} : { body: init.body }) });
  };
  const client = await createStoreClient({
    baseUrl: "http://edgestock.test",
    token: terminalToken,
    storeId: "S1",
    terminalId,
    db: `e2e-${terminalId}`,
    transport,
    window: null,
    navigator: null,
    autoSync: false,
  });

  for (let i = 0; i < 1000; i++) {
    const recorded = await client.sell([{ sku: skus[i % 3] ?? "", qty: 1 }]);
    expect(recorded.ok).toBe(true);
  }
  await client.sync(); // offline: nothing leaves
  expect((await availability(skus[0] ?? "")).onHand).toBe(400);

  online = true;
  for (let round = 0; round < 10 && (await client.listOps({ state: "pending" })).length > 0; round++) await client.sync();
  expect(await client.listOps({ state: "pending" })).toEqual([]);

  // Sold 334 + 333 + 333; pushing the whole outbox again changes nothing.
  const expected = [400 - 334, 400 - 333, 400 - 333];
  for (const [i, sku] of skus.entries()) expect((await availability(sku)).onHand).toBe(expected[i]);
  const first = await client.db.outbox.get(1);
  const incarnation = (await client.db.meta.get("incarnation"))?.value;
  const replay = await must(call("POST", "/v1/sync/push", { token: terminalToken, body: { terminalId, incarnation, ops: [first?.op] } }));
  expect(replay.body.results[0].status).toBe("duplicate");

  for (const [i, sku] of skus.entries()) {
    await settle(sku);
    expect(await ledgerBalances(sku)).toEqual({ supplier: -400, "loc:S1": expected[i], customer: 400 - (expected[i] ?? 0) });
    const audit = await must(call("GET", `/v1/audit/skus/${sku}`, { token: await adminToken() }));
    expect(audit.body).toMatchObject({ consistent: true, unflushed: 0 });
  }
  await client.close();
});
