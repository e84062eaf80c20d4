/**
 * The SkuAuthority as a shell: random operations against the real object (real SQLite storage),
 * with the object's clock moved by the test, checking after every step that the stored state
 * keeps I1, I4 and I6 — and that the outbox always describes exactly the balance changes.
 * Replay a failure with SEED=<printed seed>.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { expect, it } from "vitest";
import type { Movement } from "../../ledger/rules/movement";
import type { SkuAuthority } from "../../edge/sku/sku-authority";
import { catalog, fresh, inSku } from "./helpers";
import { ledgerBalances, settle } from "./objects";
import { rng, seedFrom } from "../support/seeded";

const SEED = seedFrom(env.TEST_SEED);


const stubOf = (sku: string) => env.SKU.get(env.SKU.idFromName(sku));

function outboxOf(state: DurableObjectState): Movement[] {
  return state.storage.sql.exec<{ body: string }>("SELECT body FROM outbox ORDER BY seq").toArray().map((r) => JSON.parse(r.body) as Movement);
}

function checkStored(instance: SkuAuthority, state: DurableObjectState, reserves: Record<string, number>, ledger: Record<string, number>): void {
  const view = instance.inspect();
  const balances = view.balances;
  const total = Object.values(balances).reduce((a, b) => a + b, 0);
  expect(total, "all accounts of the SKU sum to zero").toBe(0);
  // What the ledger has, plus what waits in the outbox, is exactly what the authority holds (I4).
  const replayed = new Map<string, number>(Object.entries(ledger));
  for (const m of outboxOf(state)) {
    replayed.set(m.from, (replayed.get(m.from) ?? 0) - m.qty);
    replayed.set(m.to, (replayed.get(m.to) ?? 0) + m.qty);
  }
  const nonZero = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0));
  expect(nonZero(Object.fromEntries(replayed)), "ledger + outbox replays to exactly the balances").toEqual(nonZero(balances));
  // Every unit in a stock account belongs to a lot: the lots add up to the balance.
  const lots = Object.fromEntries(state.storage.sql.exec<{ account: string; n: number }>("SELECT account, SUM(qty) AS n FROM lots GROUP BY account").toArray().map((r) => [r.account, r.n]));
  for (const [account, balance] of Object.entries(balances)) {
    if (account.startsWith("loc:") || account.startsWith("transit:")) expect(lots[account] ?? 0, `lots of ${account} add up to its balance`).toBe(balance);
  }
  for (const s of view.stocks) {
    const active = view.holds.filter((h) => h.location === s.location).reduce((n, h) => n + h.qty, 0);
    expect(s.held, `held at ${s.location} equals its active holds`).toBe(active);
    if (s.held > 0) expect(s.onHand - s.held - (reserves[s.location] ?? 0), `holds at ${s.location} stay out of the reserve`).toBeGreaterThanOrEqual(0);
  }
}

it("keeps conservation, single endings and availability over a random workload on the real object", async () => {
  console.log(`authority random workload: SEED=${SEED}`);
  const random = rng(SEED);
  const sku = fresh("RND");
  const reserves = { "RW1": 0, "RS1": 3 };
  await catalog({ locations: [{ id: "RW1" }, { id: "RS1", kind: "store", reserve: 3 }], skus: [sku] });
  const stub = stubOf(sku);
  let offsetMs = 0;
  const holdIds: string[] = [];
  const ended = new Map<string, string>();
  for (let step = 0; step < 150; step++) {
    const roll = random();
    const pick = () => holdIds[Math.floor(random() * holdIds.length)];
    await inSku(sku, async (instance) => {
      instance.now = () => 1_800_000_000_000 + offsetMs;
      if (roll < 0.2) {
        const lot = random() < 0.5 ? null : `L${Math.floor(random() * 3)}`;
        const r = await instance.receive({ sku, location: random() < 0.5 ? "RW1" : "RS1", qty: 1 + Math.floor(random() * 6), lot, expiresOn: lot === null ? null : `2027-0${1 + Math.floor(random() * 3)}-15`, ref: null, source: "system", idempotency: null });
        expect(r.ok).toBe(true);
      } else if (roll < 0.55) {
        const location = random() < 0.3 ? "RS1" : random() < 0.5 ? "RW1" : undefined;
        const r = await instance.hold({ sku, cartId: "c", requestId: `q${step}`, lines: [{ lineIndex: 0, qty: 1 + Math.floor(random() * 4), location }], ttlMs: 5_000 + Math.floor(random() * 20_000) });
        if (r.ok) holdIds.push(...r.holds.map((h) => h.holdId));
        else expect(r.problem.kind).toBe("insufficient_stock");
      } else if (roll < 0.7 && holdIds.length > 0) {
        const id = pick() ?? "";
        const r = await instance.commit({ sku, orderId: "o", holdIds: [id], source: "system" });
        for (const o of r.outcomes) if (o.state !== "active") ended.set(o.holdId, ended.get(o.holdId) ?? o.state);
      } else if (roll < 0.85 && holdIds.length > 0) {
        const r = await instance.release({ holdIds: [pick() ?? ""] });
        for (const h of r.holds) if (h.state !== "active") ended.set(h.holdId, ended.get(h.holdId) ?? h.state);
      } else {
        offsetMs += Math.floor(random() * 15_000);
        if (random() < 0.5) await instance.flush();
      }
    });
    // The alarm expires holds and, when due, flushes the outbox to D1.
    if (roll >= 0.95) await runDurableObjectAlarm(stub);
    const landed = await ledgerBalances(sku);
    await inSku(sku, (instance, state) => checkStored(instance, state, reserves, landed));
  }
  // A hold's first reported ending is its only one.
  await inSku(sku, (_instance, state) => {
    for (const [holdId, first] of ended) {
      const row = state.storage.sql.exec<{ state: string }>("SELECT state FROM holds WHERE hold_id = ?", holdId).one();
      expect(row.state, `hold ${holdId} ended once`).toBe(first);
    }
  });
});

it("writes a movement's outbox row in the same transaction as its balances, so a failure leaves neither", async () => {
  const sku = fresh("TXN");
  await catalog({ locations: [{ id: "RW1" }], skus: [sku] });
  const stub = stubOf(sku);
  await inSku(sku, async (instance, state) => {
    const r = await instance.receive({ sku, location: "RW1", qty: 5, lot: null, expiresOn: null, ref: null, source: "system", idempotency: null });
    expect(r.ok).toBe(true);
    const before = { balances: instance.inspect().balances, outbox: outboxOf(state) };
    const first = before.outbox[0];
    if (first === undefined) throw new Error("the receipt left no outbox row");
    // The same movement id again violates the outbox's unique key after the balances were written.
    const store = (instance as unknown as { store: { recordMovement(m: Movement): void } }).store;
    expect(() => state.storage.transactionSync(() => store.recordMovement(first))).toThrow(/UNIQUE/);
    expect(instance.inspect().balances).toEqual(before.balances);
    expect(outboxOf(state)).toEqual(before.outbox);
  });
});

it("expires holds from the alarm it set for the earliest deadline", async () => {
  const sku = fresh("ALM");
  await catalog({ locations: [{ id: "RW1" }], skus: [sku] });
  const stub = stubOf(sku);
  await inSku(sku, async (instance) => {
    instance.now = () => 1_800_000_000_000;
    await instance.receive({ sku, location: "RW1", qty: 5, lot: null, expiresOn: null, ref: null, source: "system", idempotency: null });
  });
  await settle(sku);
  await inSku(sku, async (instance, state) => {
    const late = await instance.hold({ sku, cartId: "c", requestId: "late", lines: [{ lineIndex: 0, qty: 1 }], ttlMs: 30_000 });
    const early = await instance.hold({ sku, cartId: "c", requestId: "early", lines: [{ lineIndex: 0, qty: 2 }], ttlMs: 10_000 });
    expect(late.ok && early.ok).toBe(true);
    expect(await state.storage.getAlarm()).toBe(1_800_000_010_000);
    instance.now = () => 1_800_000_010_000;
  });
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  await inSku(sku, async (instance, state) => {
    const view = instance.inspect();
    expect(view.holds.map((h) => h.holdId)).toEqual(["late.0.0"]);
    expect(view.stocks.find((s) => s.location === "RW1")).toMatchObject({ onHand: 5, held: 1 });
    expect(await state.storage.getAlarm()).toBe(1_800_000_030_000);
  });
});
