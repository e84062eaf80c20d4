import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { closeAll, makeEdge, openClient } from "./support/harness";
import { ManualClock } from "./support/manual-clock";
import { rng, seedFrom } from "../../support/seeded";

afterEach(closeAll);

describe("local stock = confirmed stock + unconfirmed ops", () => {
  it("shows a sale at once, offline, before any sync", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client } = await openClient(edge);
    await client.sync();
    await client.sell([{ sku: "A", qty: 2 }]);
    expect(await client.stock("A")).toMatchObject({ onHand: 8, available: 8, confirmed: { onHand: 10 }, overlayOps: 1 });
  });

  it("counts an acknowledged sale once while the pull that confirms it has not arrived", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client, clock } = await openClient(edge);
    await client.sync();
    await client.sell([{ sku: "A", qty: 2 }]);
    edge.failNext("pull", 503);

    expect(await client.sync()).toMatchObject({ state: "backoff", problem: { during: "pull" } });
    // The edge applied it and said so; confirmed stock still says 10. Count it once, from the overlay.
    expect((await client.listOps())[0]?.state).toBe("applied");
    expect(await client.stock("A")).toMatchObject({ onHand: 8, confirmed: { onHand: 10 }, overlayOps: 1 });

    clock.advance(1_000);
    await client.settled();
    // Now the pull shows it: count it once, from confirmed stock.
    expect(await client.stock("A")).toMatchObject({ onHand: 8, confirmed: { onHand: 8 }, overlayOps: 0 });
  });

  it("after a sync counts nothing twice and loses nothing, with sales elsewhere in between", async () => {
    const edge = makeEdge({ A: { onHand: 10 }, B: { onHand: 4 } });
    const { client } = await openClient(edge);
    await client.sync();
    await client.sell([{ sku: "A", qty: 2 }, { sku: "B", qty: 1 }]);
    await client.returnItems([{ sku: "A", qty: 1 }]);
    await client.receive([{ sku: "B", qty: 6 }]);
    edge.changeElsewhere("A", { onHandDelta: -3 });
    expect(await client.stock("A")).toMatchObject({ onHand: 9 });
    expect(await client.stock("B")).toMatchObject({ onHand: 9 });

    await client.sync();

    expect(await client.stock("A")).toMatchObject({ onHand: 6, overlayOps: 0 });
    expect(await client.stock("B")).toMatchObject({ onHand: 9, overlayOps: 0 });
    expect(edge.stock.get("A")?.onHand).toBe(6);
    expect(edge.stock.get("B")?.onHand).toBe(9);
  });

  it("takes out of the overlay exactly what a page's figures include, even on a pull cut off half-way", async () => {
    const edge = makeEdge({ A: { onHand: 10 }, B: { onHand: 10 }, C: { onHand: 10 } });
    const { client, clock } = await openClient(edge, { tuning: { pullLimit: 1 } });
    await client.sync();
    await client.sell([{ sku: "A", qty: 1 }, { sku: "B", qty: 2 }, { sku: "C", qty: 3 }]);
    // The ledger has A, B, C in that order; the pull's first page brings A, the second fails.
    edge.failNext("pull", 503, { skip: 1 });

    expect(await client.sync()).toMatchObject({ state: "backoff", problem: { during: "pull" } });

    // A's figures include its sale, and say so: it counts once, from them.
    expect(await client.stock("A")).toMatchObject({ onHand: 9, confirmed: { onHand: 9 }, overlayOps: 0 });
    expect(await client.stock("B")).toMatchObject({ onHand: 8, confirmed: { onHand: 10 }, overlayOps: 1 });
    expect(await client.stock("C")).toMatchObject({ onHand: 7, confirmed: { onHand: 10 }, overlayOps: 1 });

    clock.advance(1_000);
    await client.settled();
    expect(await client.stock("A")).toMatchObject({ onHand: 9, overlayOps: 0 });
    expect(await client.stock("B")).toMatchObject({ onHand: 8, overlayOps: 0 });
    expect(await client.stock("C")).toMatchObject({ onHand: 7, overlayOps: 0 });
  });

  it("stops counting an op the edge rejected", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client } = await openClient(edge);
    await client.sync();
    await client.writeOff([{ sku: "GHOST", qty: 2, reason: "lost" }]);
    expect(await client.stock("GHOST")).toMatchObject({ onHand: -2, overlayOps: 1 });
    await client.sync();
    expect(await client.stock("GHOST")).toMatchObject({ onHand: 0, overlayOps: 0 });
  });

  it("does not settle an op recorded while the pull was running", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client } = await openClient(edge);
    await client.sync();
    let recordedDuringPull = false;
    const transport = edge.transport;
    const { client: during } = await openClient(edge, {
      db: client.db,
      transport: async (url, init) => {
        if (url.includes("/pull") && !recordedDuringPull) {
          recordedDuringPull = true;
          await during.sell([{ sku: "A", qty: 4 }]);
        }
        return transport(url, init);
      },
    });
    await during.sync();
    expect(recordedDuringPull).toBe(true);
    expect(await during.stock("A")).toMatchObject({ onHand: 6, confirmed: { onHand: 10 }, overlayOps: 1 });
    expect((await during.listOps({ state: "pending" })).map((o) => o.qty)).toEqual([4]);
  });
});

describe("local stock against an edge whose pull lags its pushes (the ledger lands ~250 ms later)", () => {
  const lagging = (clock: ManualClock, skus: Parameters<typeof makeEdge>[0]) => makeEdge(skus, { now: () => clock.now(), flushLagMs: 250 });

  it("keeps counting an acknowledged sale until the figures include it, and pulls again soon to confirm it", async () => {
    const clock = new ManualClock();
    const edge = lagging(clock, { A: { onHand: 10 } });
    const { client } = await openClient(edge, { clock, tuning: { confirmPullMs: 1_000, intervalMs: 30_000 } });
    await client.sync();
    await client.sell([{ sku: "A", qty: 2 }]);

    const status = await client.sync();
    // The pull right after the push does not show the sale yet: it still counts, once.
    expect(await client.stock("A")).toMatchObject({ onHand: 8, confirmed: { onHand: 10 }, overlayOps: 1 });
    expect(Date.parse(status.nextAttemptAt ?? "") - clock.now()).toBe(1_000);

    clock.advance(1_000);
    await client.settled();
    expect(await client.stock("A")).toMatchObject({ onHand: 8, confirmed: { onHand: 8 }, overlayOps: 0 });
    expect((await client.db.stock.get("A"))?.includesSeq).toBe(1);
  });

  it("counts a sale once the moment another sale's sync pulls figures that include it", async () => {
    const clock = new ManualClock();
    const edge = lagging(clock, { A: { onHand: 10 }, B: { onHand: 10 } });
    const { client } = await openClient(edge, { clock, tuning: { confirmPullMs: 10_000 } });
    await client.sync();
    await client.sell([{ sku: "A", qty: 2 }]);
    await client.sync();
    clock.advance(300);
    await client.sell([{ sku: "B", qty: 1 }]);
    await client.sync();
    // The ledger has the first sale now; the figures say they include it: never twice.
    expect(await client.stock("A")).toMatchObject({ onHand: 8, confirmed: { onHand: 8 }, overlayOps: 0 });
    // The second has not landed: it counts from the overlay, once.
    expect(await client.stock("B")).toMatchObject({ onHand: 9, confirmed: { onHand: 10 }, overlayOps: 1 });
    clock.advance(10_000);
    await client.settled();
    expect(await client.stock("B")).toMatchObject({ onHand: 9, confirmed: { onHand: 9 }, overlayOps: 0 });
  });

  it("never counts an op twice or misses one, across random orders of sale, push, flush and pull", async () => {
    const seed = seedFrom(process.env.SEED);
    console.log(`exact overlay random orders: SEED=${seed}`);
    const random = rng(seed);
    const clock = new ManualClock();
    const skus = ["A", "B", "C"];
    const edge = makeEdge(Object.fromEntries(skus.map((sku) => [sku, { onHand: 1_000 }])), { now: () => clock.now(), flushLagMs: 250 });
    const { client } = await openClient(edge, { clock, tuning: { confirmPullMs: 400, intervalMs: 5_000, pullLimit: 2 } });
    await client.sync();
    for (let step = 0; step < 200; step++) {
      const roll = random();
      const sku = skus[Math.floor(random() * skus.length)] ?? "A";
      if (roll < 0.45) await client.sell([{ sku, qty: 1 + Math.floor(random() * 3) }]);
      else if (roll < 0.6) await client.returnItems([{ sku, qty: 1 }]);
      else if (roll < 0.8) await client.sync();
      else {
        clock.advance(Math.floor(random() * 600));
        await client.settled();
      }
      // The truth: the edge's stock plus what it has not been told yet. Local stock must equal it.
      const pending = await client.listOps({ state: "pending", limit: 10_000 });
      for (const s of skus) {
        const untold = pending.filter((o) => o.sku === s).reduce((n, o) => n + (o.kind === "sale" ? -o.qty : o.qty), 0);
        expect((await client.stock(s)).onHand, `SEED=${seed} step ${step} sku ${s}`).toBe((edge.stock.get(s)?.onHand ?? 0) + untold);
      }
    }
  });
});

describe("offline allowance", () => {
  it("warns when a sale goes past the units this store can sell without risk to online orders, and records it anyway", async () => {
    // 6 on hand, 3 held for online carts, 1 kept back: 2 available.
    const edge = makeEdge({ A: { onHand: 6, held: 3, reserve: 1 }, B: { onHand: 20 } });
    const { client } = await openClient(edge);
    await client.sync();
    expect(await client.stock("A")).toMatchObject({ onHand: 6, available: 2, allowance: 2 });

    expect(await client.sell([{ sku: "A", qty: 2 }, { sku: "B", qty: 1 }])).toMatchObject({ ok: true, warnings: [] });
    const past = await client.sell([{ sku: "A", qty: 1 }, { sku: "B", qty: 1 }]);
    expect(past).toMatchObject({ ok: true, seqs: [3, 4], warnings: [{ sku: "A", requested: 1, allowance: 0, pastAllowanceBy: 1 }] });
    expect(await client.stock("A")).toMatchObject({ onHand: 3, available: -1, allowance: 0 });

    // A delivery raises it again.
    await client.receive([{ sku: "A", qty: 5 }]);
    expect(await client.sell([{ sku: "A", qty: 5 }])).toMatchObject({ warnings: [{ sku: "A", requested: 5, allowance: 4, pastAllowanceBy: 1 }] });
  });

  it("warns for the whole quantity of a SKU this terminal has no stock figures for", async () => {
    const { client } = await openClient(makeEdge({}));
    expect(await client.sell([{ sku: "NEW", qty: 2 }, { sku: "NEW", qty: 1 }])).toMatchObject({ warnings: [{ sku: "NEW", requested: 3, allowance: 0, pastAllowanceBy: 3 }] });
  });

  it("follows the allowance the edge reports after online holds change", async () => {
    const edge = makeEdge({ A: { onHand: 5 } });
    const { client } = await openClient(edge);
    await client.sync();
    edge.changeElsewhere("A", { held: 4 });
    await client.sync();
    expect(await client.sell([{ sku: "A", qty: 2 }])).toMatchObject({ warnings: [{ sku: "A", allowance: 1, pastAllowanceBy: 1 }] });
  });
});
