/**
 * Terminals pushing ops and pulling their store's stock (docs/sync-protocol.md), against the real
 * Worker and objects: each op applies once by (terminalId, seq), sales are never refused for stock,
 * and a store sale that takes units online holds counted on is a shortfall, said out loud.
 */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { availability, call, catalog, fresh, inSku, must, receive, shopperToken, token } from "./helpers";
import { settle } from "./objects";

const terminal = (sub: string, store = "S1") => token({ role: "terminal", sub, store });
// One clock reading per seq: an op is the same op only if its whole body is the same (its fingerprint).
const rungAt = new Date().toISOString();
const sale = (seq: number, sku: string, qty = 1) => ({ seq, kind: "sale", sku, qty, occurredAt: rungAt });

async function stocked(prefix: string, qty: number, where = "S1"): Promise<string> {
  const sku = fresh(prefix);
  await catalog({ locations: [{ id: "S1", kind: "store" }, { id: "W1" }], skus: [sku] });
  await receive(sku, where, qty);
  return sku;
}

it("applies a batch once: the same batch again is all duplicates, and stock moved once", async () => {
  const sku = await stocked("PUSH", 10);
  const t = fresh("pos");
  const body = { terminalId: t, ops: [sale(1, sku), sale(2, sku, 2), { ...sale(3, sku), kind: "return" }] };
  const first = await must(call("POST", "/v1/sync/push", { token: await terminal(t), body }));
  expect(first.body.results.map((r: { status: string }) => r.status)).toEqual(["applied", "applied", "applied"]);
  const again = await must(call("POST", "/v1/sync/push", { token: await terminal(t), body }));
  expect(again.body.results.map((r: { seq: number; status: string }) => [r.seq, r.status])).toEqual([[1, "duplicate"], [2, "duplicate"], [3, "duplicate"]]);
  expect(await availability(sku)).toMatchObject({ onHand: 8 });
});

it("applies only the new ops of an overlapping retry", async () => {
  const sku = await stocked("OVERLAP", 10);
  const t = fresh("pos");
  await must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ops: [sale(1, sku), sale(2, sku)] } }));
  const r = await must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ops: [sale(2, sku), sale(3, sku), sale(4, sku)] } }));
  expect(r.body.results.map((x: { status: string }) => x.status)).toEqual(["duplicate", "applied", "applied"]);
  expect(await availability(sku)).toMatchObject({ onHand: 6 });
});

it("applies an op once when eight pushes of it arrive together", async () => {
  const sku = await stocked("EIGHT", 10);
  const t = fresh("pos");
  const tok = await terminal(t);
  const replies = await Promise.all(Array.from({ length: 8 }, () => call("POST", "/v1/sync/push", { token: tok, body: { terminalId: t, ops: [sale(7, sku, 3)] } })));
  const statuses = replies.map((r) => r.body.results[0].status).sort();
  expect(statuses).toEqual(["applied", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate"]);
  expect(await availability(sku)).toMatchObject({ onHand: 7 });
});

it("refuses a push as another terminal, and pushes by anyone but a terminal", async () => {
  const sku = await stocked("WHO", 5);
  const mine = await call("POST", "/v1/sync/push", { token: await terminal("pos-a"), body: { terminalId: "pos-b", ops: [sale(1, sku)] } });
  expect(mine.status).toBe(403);
  const shopper = await call("POST", "/v1/sync/push", { token: await shopperToken(), body: { terminalId: "shopper-1", ops: [sale(1, sku)] } });
  expect(shopper.status).toBe(403);
  expect((await call("POST", "/v1/sync/push", { body: { terminalId: "x", ops: [] } })).status).toBe(401);
  expect(await availability(sku)).toMatchObject({ onHand: 5 });
});

it.each([
  ["seqs out of order", (sku: string) => [sale(2, sku), sale(1, sku)]],
  ["a repeated seq", (sku: string) => [sale(1, sku), sale(1, sku)]],
  ["a fractional quantity", (sku: string) => [{ ...sale(1, sku), qty: 1.5 }]],
  ["an unknown kind", (sku: string) => [{ ...sale(1, sku), kind: "gift" }]],
  ["a bad time", (sku: string) => [{ ...sale(1, sku), occurredAt: "yesterday" }]],
  ["an extra field", (sku: string) => [{ ...sale(1, sku), price: 3 }]],
  ["a valid op beside a broken one", (sku: string) => [sale(1, sku), { ...sale(2, sku), qty: 0 }]],
])("answers a batch with %s with 400 and applies nothing", async (_what, ops) => {
  const sku = await stocked("BAD", 5);
  const t = fresh("pos");
  const r = await call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ops: ops(sku) } });
  expect(r.status).toBe(400);
  expect(r.body.type).toBe("invalid-request");
  expect(await availability(sku)).toMatchObject({ onHand: 5 });
});

it("refuses more than 500 ops in one push", async () => {
  const sku = await stocked("MANY", 5);
  const t = fresh("pos");
  const ops = Array.from({ length: 501 }, (_, i) => sale(i + 1, sku));
  const r = await call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ops } });
  expect(r.status).toBe(400);
  expect(await availability(sku)).toMatchObject({ onHand: 5 });
});

it("rejects an op it understands but will not apply, without blocking the ops after it", async () => {
  const sku = await stocked("REJ", 5);
  const t = fresh("pos");
  const r = await must(
    call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ops: [sale(1, "NO-SUCH-SKU"), { ...sale(2, sku), kind: "write_off" }, sale(3, sku)] } }),
  );
  expect(r.body.results.map((x: { status: string; problem?: { type: string } }) => [x.status, x.problem?.type])).toEqual([
    ["rejected", "unknown-sku"],
    ["rejected", "invalid-request"],
    ["applied", undefined],
  ]);
  const again = await must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ops: [{ ...sale(2, sku), kind: "write_off" }] } }));
  expect(again.body.results[0].status).toBe("rejected");
  expect(await availability(sku)).toMatchObject({ onHand: 4 });
});

it("never refuses a store sale for stock, and records the terminal's sync", async () => {
  const sku = await stocked("FACT", 1);
  const t = fresh("pos");
  const r = await must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ops: [sale(1, sku, 3)] } }));
  expect(r.body.results[0].status).toBe("applied");
  expect(await availability(sku)).toMatchObject({ onHand: -2, available: 0 });
  const row = await env.DB.prepare("SELECT store_id, last_seq FROM terminals WHERE id = ?").bind(t).first();
  expect(row).toEqual({ store_id: "S1", last_seq: 1 });
});

it("re-sources online holds when a store sale takes their units, and marks short what it cannot", async () => {
  const sku = await stocked("SHORT", 4);
  await receive(sku, "W1", 2);
  const shopper = await shopperToken();
  // Two carts hold the store's units (the warehouse's 2 are held by a third cart first).
  await must(call("POST", `/v1/carts/${fresh("w")}/holds`, { token: shopper, body: { lines: [{ sku, qty: 1, location: "W1" }] } }));
  const older = fresh("old");
  await must(call("POST", `/v1/carts/${older}/holds`, { token: shopper, body: { lines: [{ sku, qty: 2, location: "S1" }] } }));
  const newer = fresh("new");
  await must(call("POST", `/v1/carts/${newer}/holds`, { token: shopper, body: { lines: [{ sku, qty: 1, location: "S1" }] } }));
  // The store sells 3 of its 4 units offline: the holds at S1 claim 3, only 1 is left.
  const t = fresh("pos");
  const r = await must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ops: [sale(1, sku, 3)] } }));
  expect(r.body.results[0]).toEqual({ seq: 1, status: "applied", shortfall: { location: "S1", units: 2, resourced: 1, short: 2 } });
  // The newest hold moved to the warehouse; the older one is short, and its checkout says so.
  const held = await inSku(sku, (i) => i.inspect().holds.map((h) => [h.qty, h.location]).sort());
  expect(held).toEqual([[1, "W1"], [1, "W1"], [2, "S1"]]);
  expect((await must(call("POST", `/v1/carts/${newer}/checkout`, { token: shopper }))).body.lines).toEqual([{ sku, location: "W1", qty: 1 }]);
  const lost = await call("POST", `/v1/carts/${older}/checkout`, { token: shopper });
  expect(lost.status).toBe(409);
  expect(lost.body.type).toBe("hold-expired");
  await settle(sku);
  const types = await env.DB.prepare("SELECT type FROM events WHERE sku = ? ORDER BY seq").bind(sku).all<{ type: string }>();
  expect(types.results.map((e) => e.type)).toContain("hold.shortfall");
});

it("pulls the store's stock changes since a cursor, once they reached the ledger", async () => {
  const sku = await stocked("PULL", 9);
  const t = fresh("pos");
  await must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ops: [sale(1, sku, 2)] } }));
  await settle(sku);
  const first = await must(call("GET", "/v1/sync/pull", { token: await terminal(t) }));
  expect(first.body.changes).toContainEqual({ sku, location: "S1", onHand: 7, available: 7, includesSeq: 1 });
  const next = await must(call("GET", `/v1/sync/pull?since=${first.body.cursor}`, { token: await terminal(t) }));
  expect(next.body.changes.find((ch: { sku: string }) => ch.sku === sku)).toBeUndefined();
  expect(next.body.more).toBe(false);
  expect((await call("GET", "/v1/sync/pull?since=abc", { token: await terminal(t) })).status).toBe(400);
});

it("serves the catalog to terminals page by page, by SKU id", async () => {
  const prefix = fresh("CAT");
  const skus = [`${prefix}-1`, `${prefix}-2`, `${prefix}-3`];
  await catalog({ skus });
  const t = await terminal("pos-cat");
  const seen: string[] = [];
  let after: string | null = `${prefix}-0`;
  while (after !== null) {
    const page: { body: { items: { sku: string; name: string; barcode: string | null }[]; next: string | null } } = await must(call("GET", `/v1/catalog?limit=2&after=${after}`, { token: t }));
    seen.push(...page.body.items.map((i) => i.sku).filter((s) => s.startsWith(prefix)));
    after = page.body.next;
  }
  expect(seen).toEqual(skus);
  expect((await call("GET", "/v1/catalog", { token: await shopperToken() })).status).toBe(403);
  expect((await call("GET", "/v1/catalog?limit=0", { token: t })).status).toBe(400);
});
