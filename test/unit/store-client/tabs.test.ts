/**
 * Two tabs of one terminal: two store clients on the same IndexedDB database. They share the
 * outbox and the seq counter; only one of them syncs at a time, through Web Locks when the
 * browser has them and through a lease in the database when it does not.
 */
import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import type { NavigatorLike, StoreClient } from "../../../store-client/create-store-client";
import { putMeta } from "../../../store-client/db/store-db";
import { rng, seedFrom } from "../../support/seeded";
import { FakeLocks } from "./support/fake-window";
import { closeAll, freshDbName, makeEdge, openClient, TERMINAL } from "./support/harness";
import { eventually, ManualClock, ticks } from "./support/manual-clock";

afterEach(closeAll);

const SEED = seedFrom(process.env.SEED);

const lockKinds = [
  ["Web Locks", (): (() => NavigatorLike) => { const locks = new FakeLocks(); return () => ({ onLine: true, locks }); }],
  ["a lease in the database", (): (() => NavigatorLike) => () => ({ onLine: true })],
] as const;

async function allSeqs(client: StoreClient): Promise<number[]> {
  return (await client.db.outbox.toArray()).map((r) => r.seq).sort((a, b) => a - b);
}

describe.each(lockKinds)("two tabs of one terminal, locked with %s", (_kind, makeNavigator) => {
  it("never hand out the same seq twice, however their calls interleave", async () => {
    const edge = makeEdge({ A: { onHand: 100 } });
    const nav = makeNavigator();
    const name = freshDbName("tabs-seq");
    const a = await openClient(edge, { db: name, navigator: nav(), instanceId: "tab-a" });
    const b = await openClient(edge, { db: name, navigator: nav(), instanceId: "tab-b", clock: a.clock });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).client.sell([{ sku: "A", qty: 1 }, { sku: "A", qty: 1 }])));
    const handedOut = results.flatMap((r) => (r.ok ? r.seqs : [])).sort((x, y) => x - y);
    expect(handedOut).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(await allSeqs(a.client)).toEqual(handedOut);
  });

  it("let only one tab push at a time; the other sees it syncing and nothing is posted twice", async () => {
    const edge = makeEdge({ A: { onHand: 100 } });
    const nav = makeNavigator();
    const name = freshDbName("tabs-lock");
    const a = await openClient(edge, { db: name, navigator: nav(), instanceId: "tab-a" });
    const b = await openClient(edge, { db: name, navigator: nav(), instanceId: "tab-b", clock: a.clock });
    await a.client.sell([{ sku: "A", qty: 1 }]);
    await b.client.sell([{ sku: "A", qty: 2 }]);

    edge.holdPushes();
    const aSyncing = a.client.sync();
    await eventually(() => edge.inFlightPushes === 1);
    const bStatus = await b.client.sync();
    expect(bStatus.otherTabSyncing).toBe(true);
    expect(edge.pushRequests).toBe(1);

    edge.releasePushes();
    await aSyncing;
    // Tab A pushed both tabs' ops (one outbox), once each.
    expect(edge.pushSizes).toEqual([2]);
    expect([...edge.posted.values()]).toEqual([1, 1]);
    expect((await b.client.status()).pendingCount).toBe(0);

    // Tab B tries again after its lock retry and finds nothing left to push.
    a.clock.advance(2_000);
    await b.client.settled();
    expect(await b.client.status()).toMatchObject({ otherTabSyncing: false, state: "idle" });
    expect(edge.pushRequests).toBe(1);
    expect((await b.client.stock("A")).onHand).toBe(97);
  });

  it(`push every op exactly once when both sell and sync at random (SEED=${SEED})`, async () => {
    console.log(`two tabs: SEED=${SEED}`);
    const random = rng(SEED);
    const edge = makeEdge({ A: { onHand: 1_000 }, B: { onHand: 1_000 } }, { latency: () => ticks(Math.floor(random() * 4)) });
    const nav = makeNavigator();
    const name = freshDbName("tabs-random");
    const clock = new ManualClock();
    const tabs = [
      (await openClient(edge, { db: name, navigator: nav(), instanceId: "tab-a", clock, autoSync: true })).client,
      (await openClient(edge, { db: name, navigator: nav(), instanceId: "tab-b", clock, autoSync: true })).client,
    ];
    let contended = false;
    for (let step = 0; step < 80; step++) {
      const tab = tabs[Math.floor(random() * 2)]!;
      const roll = random();
      if (roll < 0.7) await tab.sell([{ sku: random() < 0.5 ? "A" : "B", qty: 1 + Math.floor(random() * 3) }]);
      else if (roll < 0.85) void tab.sync();
      else clock.advance(Math.floor(random() * 3_000));
      await ticks(Math.floor(random() * 6));
      for (const t of tabs) contended ||= (await t.status()).otherTabSyncing;
    }
    for (let round = 0; round < 50; round++) {
      await Promise.all(tabs.map((t) => t.settled()));
      const statuses = await Promise.all(tabs.map((t) => t.status()));
      if (statuses.every((s) => s.pendingCount === 0 && s.state === "idle")) break;
      clock.advance(2_000);
      await ticks(5);
    }

    const seqs = await allSeqs(tabs[0]!);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThan(20);
    expect(contended).toBe(true);
    expect(edge.maxInFlightPushes).toBe(1);
    for (const seq of seqs) {
      expect(edge.posted.get(edge.keyOf(TERMINAL, seq)), `seq ${seq} posted`).toBe(1);
      expect(edge.applied.get(edge.keyOf(TERMINAL, seq)), `seq ${seq} applied`).toBe(1);
    }
    for (const t of tabs) expect((await t.status()).pendingCount).toBe(0);
  });
});

describe("the lease lock", () => {
  it("is held by a tab that died only until it runs out", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client, clock } = await openClient(edge, { navigator: { onLine: true }, instanceId: "tab-b", tuning: { leaseMs: 60_000, lockRetryMs: 5_000 } });
    await putMeta(client.db, "syncLease", { owner: "tab-that-died", expiresAtMs: clock.now() + 30_000 });
    await client.sell([{ sku: "A", qty: 1 }]);
    expect(await client.sync()).toMatchObject({ otherTabSyncing: true, pendingCount: 1 });
    for (let i = 0; i < 5; i++) {
      clock.advance(5_000);
      await client.settled();
    }
    expect(edge.requests).toBe(0);
    clock.advance(5_000);
    await client.settled();
    expect(await client.status()).toMatchObject({ otherTabSyncing: false, pendingCount: 0 });
    expect(await client.db.meta.get("syncLease")).toBeUndefined();
  });
});

describe("status across tabs", () => {
  it("tells one tab's subscribers about ops another tab recorded and synced", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const name = freshDbName("tabs-status");
    const a = await openClient(edge, { db: name, instanceId: "tab-a" });
    const b = await openClient(edge, { db: name, instanceId: "tab-b", clock: a.clock });
    const seen: { pendingCount: number; lastSyncAt: string | null }[] = [];
    const unsubscribe = b.client.subscribe((s) => seen.push(s));
    await eventually(() => seen.length > 0);

    await a.client.sell([{ sku: "A", qty: 1 }, { sku: "A", qty: 1 }]);
    await eventually(() => seen.at(-1)?.pendingCount === 2);
    await a.client.sync();
    await eventually(() => seen.at(-1)?.pendingCount === 0 && seen.at(-1)?.lastSyncAt !== null);
    unsubscribe();
  });
});
