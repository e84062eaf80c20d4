/**
 * The ledger writer (edge/sku/ledger-writer.ts): SKU authorities hand it their flushes and it lands
 * them together, one D1 batch for many SKUs. What must hold: a flush leaves its outbox only once its
 * D1 batch is written, so the audit is exact while flushes wait in the writer; every movement and
 * event lands once whatever D1 does (failing before or after writing) and however often a flush is
 * handed over; a batch lands when enough has gathered or when its window has passed; its events
 * are published once it landed, and a failed publish fails its flushes.
 *
 * The test suite runs the writer with no gather window (vitest.config.ts); these tests set the
 * window on the writer itself. The random test prints its seed; replay with SEED=<seed>.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { GATHER_MAX_MS, GATHER_MOVEMENTS, gatherWindowMs, LedgerWriter, ledgerWriterShard, takeBatch } from "../../edge/sku/ledger-writer";
import { landInD1, publishEvents } from "../../edge/sku/ledger-sink";
import { adminToken, call, catalog, fresh, inSku, inWriter } from "./helpers";
import { flushUntilIdle, inspectSku, landedEvents, landedMovements, ledgerBalances, setSkuClock } from "./objects";
import { rng, seedFrom } from "../support/seeded";

const SEED = seedFrom(env.TEST_SEED);
const T0 = Date.parse("2031-03-01T09:00:00.000Z");
const W = "LWW1";

const nonZero = (o: Readonly<Record<string, number>>): Record<string, number> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0));

/** A new SKU at W, its authority's clock frozen far ahead so that no alarm flushes by itself. */
async function quietSku(prefix: string): Promise<string> {
  const sku = fresh(prefix);
  const r = await call("PUT", `/v1/skus/${sku}`, { token: await adminToken(), body: { name: sku } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  await setSkuClock(sku, T0);
  return sku;
}

async function receipt(sku: string, qty: number): Promise<string> {
  const r = await call("POST", "/v1/receipts", { token: await adminToken(), body: { sku, location: W, qty } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.movementId;
}

async function audit(sku: string): Promise<{ consistent: boolean; unflushed: number; ledger: Record<string, number>; flush: { batches: number; flushes: number } }> {
  const r = await call("GET", `/v1/audit/skus/${sku}`, { token: await adminToken() });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

const flush = (sku: string): Promise<string> => inSku(sku, (instance) => instance.flush());

async function until(what: string, test: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every movement and event of `sku` in D1 once, its balances the authority's, its events numbered 1..n. */
async function expectLandedOnce(sku: string, movementIds: readonly string[]): Promise<void> {
  const landed = await landedMovements(sku);
  expect(landed.map((m) => m.id).sort()).toEqual([...movementIds].sort());
  expect(await ledgerBalances(sku)).toEqual(nonZero((await inspectSku(sku)).balances));
  const seqs = (await landedEvents(sku)).map((e) => e.seq);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  const a = await audit(sku);
  expect(a.consistent).toBe(true);
  expect(a.unflushed).toBe(0);
}

describe("the ledger writer", () => {
  afterEach(async () => {
    await inWriter("any", (w) => {
      w.gatherMs = 0;
      w.d1 = (merged, landedAtMs) => landInD1(env.DB, merged, landedAtMs);
      w.publish = (events) => publishEvents(env.CHANGES, events);
    });
  });

  it("reads its window from LEDGER_GATHER_MS and takes flushes up to the batch bounds", () => {
    expect(gatherWindowMs(undefined)).toBe(GATHER_MAX_MS);
    expect(gatherWindowMs("")).toBe(GATHER_MAX_MS);
    expect(gatherWindowMs("250")).toBe(250);
    expect(gatherWindowMs("0")).toBe(0);
    expect(gatherWindowMs("-5")).toBe(GATHER_MAX_MS);
    expect(gatherWindowMs("soon")).toBe(GATHER_MAX_MS);
    const flushOf = (movements: number) => ({ sku: "s", batch: { movements: Array.from({ length: movements }, () => ({}) as never), events: [], transfers: [] } });
    expect(takeBatch([flushOf(1500), flushOf(400), flushOf(200)]).length).toBe(2);
    // One flush bigger than the bound still goes, alone.
    expect(takeBatch([flushOf(2500), flushOf(1)]).length).toBe(1);
  });

  it("gathers the flushes of many SKUs into one D1 batch, and the audit is exact while they wait", async () => {
    await catalog({ locations: [{ id: W }] });
    const perSku = 4;
    const skus: string[] = [];
    const ids = new Map<string, string[]>();
    for (let i = 0; i < GATHER_MOVEMENTS / perSku; i++) {
      const sku = await quietSku("GW");
      skus.push(sku);
      const mine: string[] = [];
      for (let k = 0; k < perSku; k++) mine.push(await receipt(sku, 1 + k));
      ids.set(sku, mine);
    }
    await inWriter(skus[0]!, (w) => (w.gatherMs = 60_000));
    const before = await inWriter(skus[0]!, (w) => w.writerStats());

    // All but the last SKU flush: their batches wait in the writer, short of GATHER_MOVEMENTS.
    const waiting = skus.slice(0, -1).map((sku) => flush(sku));
    await until("the flushes to wait in the writer", async () => (await inWriter(skus[0]!, (w) => w.writerStats().waiting)) === skus.length - 1);
    for (const sku of skus.slice(0, 3)) {
      const a = await audit(sku);
      expect(a.consistent).toBe(true);
      expect(a.unflushed).toBe(perSku);
      expect(a.ledger).toEqual({});
      expect(await landedMovements(sku)).toEqual([]);
    }

    // The last one brings the waiting movements to GATHER_MOVEMENTS: one D1 batch lands them all.
    expect(await flush(skus.at(-1)!)).toBe("idle");
    expect(await Promise.all(waiting)).toEqual(waiting.map(() => "idle"));
    const after = await inWriter(skus[0]!, (w) => w.writerStats());
    expect(after.batches - before.batches).toBe(1);
    expect(after.flushes - before.flushes).toBe(skus.length);
    expect(after.movements - before.movements).toBe(GATHER_MOVEMENTS);
    expect(after.failures).toBe(before.failures);
    // Per movement its row; per SKU one ledger row (balances and cursor); per batch one page of
    // events and its location entry.
    expect(after.rowsWritten - before.rowsWritten).toBeLessThanOrEqual(GATHER_MOVEMENTS + skus.length + 2);

    let shares = 0;
    for (const sku of skus) {
      await expectLandedOnce(sku, ids.get(sku)!);
      const a = await audit(sku);
      expect(a.flush.flushes).toBe(1);
      shares += a.flush.batches;
    }
    // Each SKU counts its share of the batch: together, the one D1 batch.
    expect(shares).toBeCloseTo(1, 2);
  });

  it("writes at most two D1 rows per movement when each of a hundred SKUs brings one, and their events share one page", async () => {
    await catalog({ locations: [{ id: W }] });
    const skus: string[] = [];
    for (let i = 0; i < GATHER_MOVEMENTS; i++) {
      const sku = await quietSku("GP");
      skus.push(sku);
      await receipt(sku, 1);
    }
    await inWriter(skus[0]!, (w) => (w.gatherMs = 60_000));
    const before = await inWriter(skus[0]!, (w) => w.writerStats());
    const pagesBefore = (await env.DB.prepare("SELECT COUNT(*) AS n FROM event_pages").first<{ n: number }>())!.n;
    expect(await Promise.all(skus.map((sku) => flush(sku)))).toEqual(skus.map(() => "idle"));
    const after = await inWriter(skus[0]!, (w) => w.writerStats());
    expect(after.batches - before.batches).toBe(1);
    const movements = after.movements - before.movements;
    const rows = after.rowsWritten - before.rowsWritten;
    console.log(`D1 rows for one D1 batch of ${movements} movements of ${skus.length} SKUs: ${rows}`);
    // Each movement its row and its SKU's ledger row; the batch one page and one location entry.
    expect(movements).toBe(GATHER_MOVEMENTS);
    expect(rows).toBeLessThanOrEqual(2 * movements + 2);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM event_pages").first<{ n: number }>())!.n).toBe(pagesBefore + 1);
    for (const sku of skus.slice(0, 5)) {
      expect(await ledgerBalances(sku)).toEqual({ supplier: -1, [`loc:${W}`]: 1 });
      // The receipt's stock.changed and the SKU's first sku.back_in_stock, once each.
      expect((await landedEvents(sku)).map((e) => e.seq)).toEqual([1, 2]);
    }
  });

  it("lands what waits once the oldest flush has waited its window, however little it is", async () => {
    await catalog({ locations: [{ id: W }] });
    const skus = [await quietSku("GT"), await quietSku("GT"), await quietSku("GT")];
    const ids = new Map<string, string[]>();
    for (const sku of skus) ids.set(sku, [await receipt(sku, 5)]);
    await inWriter(skus[0]!, (w) => (w.gatherMs = 300));
    const before = await inWriter(skus[0]!, (w) => w.writerStats());
    const started = Date.now();
    expect(await Promise.all(skus.map((sku) => flush(sku)))).toEqual(["idle", "idle", "idle"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const after = await inWriter(skus[0]!, (w) => w.writerStats());
    expect(after.batches - before.batches).toBe(1);
    expect(after.movements - before.movements).toBe(3);
    for (const sku of skus) await expectLandedOnce(sku, ids.get(sku)!);
  });

  it("a flush handed over twice, the second time with more, lands every movement and event once", async () => {
    await catalog({ locations: [{ id: W }] });
    const sku = await quietSku("GD");
    const ids = [await receipt(sku, 3), await receipt(sku, 4)];
    await inWriter(sku, (w) => (w.gatherMs = 60_000));
    // The first flush waits in the writer; the second reads the same outbox plus a new receipt.
    const first = flush(sku);
    await until("the first flush to wait", async () => (await inWriter(sku, (w) => w.writerStats().waiting)) === 1);
    ids.push(await receipt(sku, 5));
    const second = flush(sku);
    await until("the second flush to wait", async () => (await inWriter(sku, (w) => w.writerStats().waiting)) === 2);
    const before = await inWriter(sku, (w) => w.writerStats());
    await inWriter(sku, (w) => (w.gatherMs = 0));
    // A third flush wakes the writer with its window now closed; all three land in one D1 batch.
    const third = flush(sku);
    await Promise.all([first, second, third]);
    expect((await inWriter(sku, (w) => w.writerStats())).batches - before.batches).toBe(1);
    await flushUntilIdle(sku);
    await expectLandedOnce(sku, ids);
  });

  it("publishes each landed batch's events once; a failed publish fails its flushes, which land again and publish then", async () => {
    await catalog({ locations: [{ id: W }] });
    const skus = [await quietSku("GQ"), await quietSku("GQ")];
    const ids = new Map<string, string[]>();
    for (const sku of skus) ids.set(sku, [await receipt(sku, 2), await receipt(sku, 3)]);
    const published: string[][] = [];
    await inWriter(skus[0]!, (w) => {
      let calls = 0;
      w.publish = async (events) => {
        calls += 1;
        if (calls === 1) throw new Error("injected: queue unavailable");
        published.push(events.map((e) => `${e.sku}#${e.seq}`));
      };
    });
    // The first D1 batch's publish fails: its flushes fail, though their movements are in D1.
    expect(await Promise.all(skus.map((sku) => flush(sku)))).toContain("failed");
    for (const sku of skus) expect((await audit(sku)).consistent).toBe(true);
    for (const sku of skus) await flushUntilIdle(sku);
    for (const sku of skus) await expectLandedOnce(sku, ids.get(sku)!);
    // Every event of both SKUs was published, each once per successful publish.
    const landed = (await Promise.all(skus.map(async (sku) => (await landedEvents(sku)).map((e) => `${sku}#${e.seq}`)))).flat();
    expect(new Set(published.flat())).toEqual(new Set(landed));
    for (const batch of published) expect(new Set(batch).size).toBe(batch.length);
  });

  it(`lands every movement of many SKUs once while D1 fails before and after writing (seed ${SEED})`, async () => {
    console.log(`ledger writer under D1 failures: seed ${SEED} (replay: SEED=${SEED})`);
    const random = rng(SEED);
    await catalog({ locations: [{ id: W }] });
    const skus: string[] = [];
    for (let i = 0; i < 12; i++) skus.push(await quietSku("GF"));
    const ids = new Map<string, string[]>(skus.map((s) => [s, []]));
    const receiveSome = async () => {
      for (const sku of skus) {
        const n = Math.floor(random() * 4);
        for (let k = 0; k < n; k++) ids.get(sku)!.push(await receipt(sku, 1 + Math.floor(random() * 9)));
      }
    };
    const faults = { fail: 0, landThenFail: 0, ok: 0 };
    await inWriter(skus[0]!, (w) => {
      w.gatherMs = 30;
      const real = w.d1;
      w.d1 = async (merged, landedAtMs) => {
        const r = random();
        if (r < 0.3) {
          faults.fail += 1;
          throw new Error("injected: D1 unavailable");
        }
        const rows = await real(merged, landedAtMs);
        if (r < 0.55) {
          faults.landThenFail += 1;
          throw new Error("injected: D1 timed out after writing");
        }
        faults.ok += 1;
        return rows;
      };
    });
    for (let round = 0; round < 8; round++) {
      await receiveSome();
      // Every SKU flushes at once, some of them twice (a retry overlapping its first attempt).
      const outcomes = await Promise.all([...skus.map((sku) => flush(sku)), ...skus.filter(() => random() < 0.25).map((sku) => flush(sku))]);
      for (const o of outcomes) expect(["idle", "more", "failed"]).toContain(o);
      for (const sku of skus.filter(() => random() < 0.3)) expect((await audit(sku)).consistent).toBe(true);
    }
    expect(faults.fail + faults.landThenFail).toBeGreaterThan(0);
    await inWriter(skus[0]!, (w) => (w.d1 = (merged, landedAtMs) => landInD1(env.DB, merged, landedAtMs)));
    for (const sku of skus) await flushUntilIdle(sku);
    for (const sku of skus) await expectLandedOnce(sku, ids.get(sku)!);
  });
});
