/**
 * A terminal's ops are named by (terminal, incarnation, seq), and a repeat is recognised by the
 * op's fingerprint (docs/sync-protocol.md, "Identity"). These tests replay the failure that lost
 * sales: a terminal whose storage was wiped starts again at seq 1, and its new sales must land.
 */
import { expect, it } from "vitest";
import { availability, call, catalog, fresh, must, receive, token } from "./helpers";
import { flushUntilIdle, landedEvents, landedMovements } from "./objects";

const terminal = (sub: string, store = "S1") => token({ role: "terminal", sub, store });
const sale = (seq: number, sku: string, qty: number, occurredAt: string) => ({ seq, kind: "sale", sku, qty, occurredAt });
const push = async (t: string, body: object) => must(call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, ...body } }));
const statuses = (r: { body: { results: { status: string; problem?: { type: string } }[] } }) => r.body.results.map((x) => (x.problem === undefined ? x.status : `${x.status}:${x.problem.type}`));

async function stocked(prefix: string, qty: number): Promise<string> {
  const sku = fresh(prefix);
  await catalog({ locations: [{ id: "S1", kind: "store" }, { id: "W1" }], skus: [sku] });
  await receive(sku, "S1", qty);
  return sku;
}

it("lands every sale of a wiped terminal that starts again at seq 1 with a new incarnation", async () => {
  const sku = await stocked("WIPE", 20);
  const t = fresh("pos");
  expect(statuses(await push(t, { incarnation: "db-before", ops: [sale(1, sku, 1, "2026-12-01T09:00:00.000Z")] }))).toEqual(["applied"]);
  // The device was wiped: a new database, a new incarnation, seqs from 1 again.
  const after = await push(t, { incarnation: "db-after", ops: [sale(1, sku, 3, "2026-12-01T10:00:00.000Z"), sale(2, sku, 2, "2026-12-01T10:01:00.000Z")] });
  expect(statuses(after)).toEqual(["applied", "applied"]);
  expect(await availability(sku)).toMatchObject({ onHand: 20 - 6 });
  await flushUntilIdle(sku);
  const ids = (await landedMovements(sku)).map((m) => m.id).filter((id) => id.startsWith("pos.")).sort();
  expect(ids).toEqual([`pos.${t}.db-after.1`, `pos.${t}.db-after.2`, `pos.${t}.db-before.1`]);
});

it("refuses, never swallows, a reused seq with another body when the terminal names no incarnation", async () => {
  const sku = await stocked("REUSE", 20);
  const t = fresh("pos");
  await push(t, { ops: [sale(1, sku, 1, "2026-12-01T09:00:00.000Z")] });
  const reused = await push(t, { ops: [sale(1, sku, 3, "2026-12-01T10:00:00.000Z"), sale(2, sku, 2, "2026-12-01T10:01:00.000Z")] });
  expect(statuses(reused)).toEqual(["rejected:seq-conflict", "applied"]);
  expect(reused.body.results[0].problem.detail).toMatch(/different operation/);
  // The refused sale moved nothing; the new seq did.
  expect(await availability(sku)).toMatchObject({ onHand: 20 - 1 - 2 });
});

it("answers the same body under the same name as a duplicate, and another body as a seq conflict", async () => {
  const sku = await stocked("SAME", 10);
  const t = fresh("pos");
  const op = sale(5, sku, 2, "2026-12-01T09:00:00.000Z");
  await push(t, { incarnation: "db1", ops: [op] });
  expect(statuses(await push(t, { incarnation: "db1", ops: [op] }))).toEqual(["duplicate"]);
  for (const changed of [{ ...op, qty: 3 }, { ...op, kind: "return" }, { ...op, occurredAt: "2026-12-01T09:00:01.000Z" }, { ...op, lot: "L1" }]) {
    expect(statuses(await push(t, { incarnation: "db1", ops: [changed] }))).toEqual(["rejected:seq-conflict"]);
  }
  expect(await availability(sku)).toMatchObject({ onHand: 8 });
});

it("puts one terminal.seq_conflict event on the changefeed per conflicting body, however often it is pushed", async () => {
  const sku = await stocked("EVENT", 10);
  const t = fresh("pos");
  await push(t, { incarnation: "db1", ops: [sale(1, sku, 1, "2026-12-01T09:00:00.000Z")] });
  const other = sale(1, sku, 4, "2026-12-01T11:00:00.000Z");
  await push(t, { incarnation: "db1", ops: [other] });
  await push(t, { incarnation: "db1", ops: [other] });
  await flushUntilIdle(sku);
  const conflicts = (await landedEvents(sku)).filter((e) => e.type === "terminal.seq_conflict");
  expect(conflicts).toHaveLength(1);
  expect(conflicts[0]).toMatchObject({ location: "S1", movementId: `pos.${t}.db1.1`, conflict: { terminalId: t, incarnation: "db1", seq: 1 } });
  // Gapless: the conflict took the next number of the SKU's sequence.
  const seqs = (await landedEvents(sku)).map((e) => e.seq).sort((a, b) => a - b);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
});

it("tells a terminal where it stands: the incarnation that pushed last and its last seq", async () => {
  const sku = await stocked("STATE", 10);
  const t = fresh("pos");
  const before = await must(call("GET", "/v1/sync/state", { token: await terminal(t) }));
  expect(before.body).toEqual({ terminalId: t, incarnation: null, lastSeq: 0, lastSyncAt: null });
  await push(t, { incarnation: "db-old", ops: [sale(1, sku, 1, "2026-12-01T09:00:00.000Z"), sale(2, sku, 1, "2026-12-01T09:00:01.000Z")] });
  const known = await must(call("GET", "/v1/sync/state", { token: await terminal(t) }));
  expect(known.body).toMatchObject({ terminalId: t, incarnation: "db-old", lastSeq: 2 });
  expect(Date.parse(known.body.lastSyncAt)).toBeGreaterThan(Date.now() - 60_000);
  // A new database's first push starts its own count.
  await push(t, { incarnation: "db-new", ops: [sale(1, sku, 1, "2026-12-01T10:00:00.000Z")] });
  expect((await must(call("GET", "/v1/sync/state", { token: await terminal(t) }))).body).toMatchObject({ incarnation: "db-new", lastSeq: 1 });
});

it("refuses the sync state to anyone but a terminal", async () => {
  expect((await call("GET", "/v1/sync/state")).status).toBe(401);
  expect((await call("GET", "/v1/sync/state", { token: await token({ role: "staff", store: "S1" }) })).status).toBe(403);
});

it("refuses an incarnation that is not an id with 400, applying nothing", async () => {
  const sku = await stocked("BADINC", 5);
  const t = fresh("pos");
  const r = await call("POST", "/v1/sync/push", { token: await terminal(t), body: { terminalId: t, incarnation: "no spaces/allowed", ops: [sale(1, sku, 1, "2026-12-01T09:00:00.000Z")] } });
  expect(r.status).toBe(400);
  expect(r.body.errors.some((e: { path: string }) => e.path === "/incarnation")).toBe(true);
  expect(await availability(sku)).toMatchObject({ onHand: 5 });
});

it("shows a refused seq conflict to the region's manager in the overview", async () => {
  const sku = fresh("SEEN");
  const region = fresh("reg");
  const store = fresh("ST");
  await catalog({ locations: [{ id: store, kind: "store", region }], skus: [sku] });
  await receive(sku, store, 10);
  const t = fresh("pos");
  const tok = await token({ role: "terminal", sub: t, store });
  await must(call("POST", "/v1/sync/push", { token: tok, body: { terminalId: t, incarnation: "db1", ops: [sale(3, sku, 1, "2026-12-01T09:00:00.000Z")] } }));
  await must(call("POST", "/v1/sync/push", { token: tok, body: { terminalId: t, incarnation: "db1", ops: [sale(3, sku, 2, "2026-12-01T10:00:00.000Z")] } }));
  await flushUntilIdle(sku);
  const overview = await must(call("GET", `/v1/regions/${region}/overview`, { token: await token({ role: "manager", region }) }));
  const here = overview.body.stores.find((s: { storeId: string }) => s.storeId === store);
  expect(here.seqConflicts).toEqual([expect.objectContaining({ terminalId: t, incarnation: "db1", seq: 3, sku })]);
});
