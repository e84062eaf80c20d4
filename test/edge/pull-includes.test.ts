/**
 * The pull says which of the pulling database's ops its figures include (`includesSeq`, per SKU),
 * so the store client takes an op out of its overlay exactly when the confirmed figure counts it.
 * The real Worker and objects, with the flush run by hand to put pull before and after it.
 */
import { expect, it } from "vitest";
import { call, catalog, fresh, must, receive, shopperToken, token } from "./helpers";
import { flushUntilIdle } from "./objects";

const terminal = (sub: string) => token({ role: "terminal", sub, store: "S1" });
const sale = (seq: number, sku: string, qty = 1) => ({ seq, kind: "sale", sku, qty, occurredAt: "2026-12-01T09:00:00.000Z" });
const pull = async (t: string, query: string) => (await must(call("GET", `/v1/sync/pull?${query}`, { token: await terminal(t) }))).body;

async function stocked(prefix: string, qty: number): Promise<string> {
  const sku = fresh(prefix);
  await catalog({ locations: [{ id: "S1", kind: "store" }, { id: "W1" }], skus: [sku] });
  await receive(sku, "S1", qty);
  await flushUntilIdle(sku);
  return sku;
}

it("says which of this database's ops a figure includes, only once the flush has landed them", async () => {
  const sku = await stocked("INCL", 10);
  const t = fresh("pos");
  const start = await pull(t, "incarnation=dbA");
  await must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, incarnation: "dbA", ops: [sale(1, sku), sale(2, sku, 2)] } }));
  // Before the flush the ledger has nothing new: no figure claims the ops.
  const early = await pull(t, `incarnation=dbA&since=${start.cursor}`);
  expect(early.changes.filter((c: { sku: string }) => c.sku === sku)).toEqual([]);
  await flushUntilIdle(sku);
  const late = await pull(t, `incarnation=dbA&since=${early.cursor}`);
  expect(late.changes.find((c: { sku: string }) => c.sku === sku)).toEqual({ sku, location: "S1", onHand: 7, available: 7, includesSeq: 2 });
});

it("counts only the pulling database's ops: another incarnation or terminal gets no includesSeq", async () => {
  const sku = await stocked("MINE", 10);
  const t = fresh("pos");
  const start = await pull(t, "incarnation=dbA");
  await must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, incarnation: "dbA", ops: [sale(1, sku)] } }));
  await flushUntilIdle(sku);
  const other = await pull(t, `incarnation=dbB&since=${start.cursor}`);
  expect(other.changes.find((c: { sku: string }) => c.sku === sku)).toEqual({ sku, location: "S1", onHand: 9, available: 9 });
  const someoneElse = await pull(fresh("pos"), `incarnation=dbA&since=${start.cursor}`);
  expect(someoneElse.changes.find((c: { sku: string }) => c.sku === sku)).not.toHaveProperty("includesSeq");
  const mine = await pull(t, `incarnation=dbA&since=${start.cursor}`);
  expect(mine.changes.find((c: { sku: string }) => c.sku === sku)).toMatchObject({ onHand: 9, includesSeq: 1 });
});

it("keeps the highest included seq of a SKU when a later change in the page is not this terminal's", async () => {
  const sku = await stocked("LATER", 10);
  const t = fresh("pos");
  const start = await pull(t, "incarnation=dbA");
  await must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, incarnation: "dbA", ops: [sale(4, sku)] } }));
  await receive(sku, "S1", 5);
  await flushUntilIdle(sku);
  const page = await pull(t, `incarnation=dbA&since=${start.cursor}`);
  expect(page.changes.find((c: { sku: string }) => c.sku === sku)).toEqual({ sku, location: "S1", onHand: 14, available: 14, includesSeq: 4 });
});

it("follows online holds at the store: a hold and its release each move `available` in the pull", async () => {
  const sku = await stocked("HELD", 10);
  const t = fresh("pos");
  const start = await pull(t, "incarnation=dbA");
  const cart = fresh("cart");
  const shopper = await shopperToken();
  await must(call("POST", `/v1/carts/${cart}/holds`, { token: shopper, body: { lines: [{ sku, qty: 3, location: "S1" }] } }));
  await flushUntilIdle(sku);
  const held = await pull(t, `incarnation=dbA&since=${start.cursor}`);
  expect(held.changes.find((c: { sku: string }) => c.sku === sku)).toEqual({ sku, location: "S1", onHand: 10, available: 7 });
  await must(call("DELETE", `/v1/carts/${cart}/holds`, { token: shopper }));
  await flushUntilIdle(sku);
  const released = await pull(t, `incarnation=dbA&since=${held.cursor}`);
  expect(released.changes.find((c: { sku: string }) => c.sku === sku)).toEqual({ sku, location: "S1", onHand: 10, available: 10 });
});
