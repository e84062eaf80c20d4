import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import type { SyncStatus } from "../../../store-client/status/sync-status";
import type { TransportResponse } from "../../../store-client/sync/http";
import { FakeWindow } from "./support/fake-window";
import { closeAll, makeEdge, openClient, TERMINAL } from "./support/harness";
import { eventually, ticks } from "./support/manual-clock";

afterEach(closeAll);

const sku = (i: number): string => `SKU-${String(i).padStart(5, "0")}`;

describe("pushing the outbox", () => {
  it("pushes pending ops in seq order and records each op's answer on the op", async () => {
    const edge = makeEdge({ A: { onHand: 10 }, B: { onHand: 10 } });
    const { client } = await openClient(edge);
    await client.sell([{ sku: "A", qty: 2 }]);
    await client.writeOff([{ sku: "B", qty: 1, reason: "expired" }]);
    await client.receive([{ sku: "A", qty: 5 }]);

    const status = await client.sync();

    expect([...edge.appliedOps.values()].map((op) => op.seq)).toEqual([1, 2, 3]);
    expect(await client.listOps()).toEqual([
      expect.objectContaining({ seq: 1, state: "applied", attempts: 1, problem: null }),
      expect.objectContaining({ seq: 2, state: "applied", attempts: 1 }),
      expect.objectContaining({ seq: 3, state: "applied", attempts: 1 }),
    ]);
    expect(status).toMatchObject({ state: "idle", connection: "online", pendingCount: 0, oldestPendingAgeMs: null, problem: null });
    expect(status.lastSyncAt).not.toBeNull();
  });

  it("splits a long outbox into batches of at most 500 ops, lowest seqs first", async () => {
    const edge = makeEdge({ A: { onHand: 5_000 } });
    const { client } = await openClient(edge);
    for (let i = 0; i < 3; i++) await client.sell(Array.from({ length: 400 }, () => ({ sku: "A", qty: 1 })));
    await client.sync();
    expect(edge.pushSizes).toEqual([500, 500, 200]);
    expect(edge.stock.get("A")?.onHand).toBe(3_800);
    expect((await client.status()).pendingCount).toBe(0);
  });

  it("keeps a rejected op visible as needing attention and still applies the ops after it", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client } = await openClient(edge);
    await client.sell([{ sku: "GHOST", qty: 1 }]);
    await client.sell([{ sku: "A", qty: 1 }]);

    const status = await client.sync();

    expect(status.pendingCount).toBe(0);
    expect(status.needsAttention).toEqual([expect.objectContaining({ seq: 1, state: "rejected", sku: "GHOST", problem: { type: "unknown-sku", detail: "no SKU GHOST" } })]);
    expect(edge.applied.get(edge.keyOf(TERMINAL, 2))).toBe(1);
    expect(await client.stock("GHOST")).toMatchObject({ onHand: 0, overlayOps: 0 });

    // Still listed after later syncs, until a person acknowledges it.
    await client.sell([{ sku: "A", qty: 1 }]);
    expect((await client.sync()).needsAttention.map((v) => v.seq)).toEqual([1]);
    expect(await client.acknowledge(1)).toBe(true);
    expect(await client.acknowledge(1)).toBe(false);
    expect((await client.status()).needsAttention).toEqual([]);
  });

  it("reports a sale's shortfall until it is acknowledged", async () => {
    const edge = makeEdge({ A: { onHand: 3, held: 2 } });
    const { client } = await openClient(edge);
    await client.sell([{ sku: "A", qty: 2 }]);
    const status = await client.sync();
    expect(status.shortfalls).toEqual([expect.objectContaining({ seq: 1, state: "applied", shortfall: { location: "S001", units: 1, resourced: 0, short: 1 } })]);
    await client.acknowledge(1);
    expect((await client.status()).shortfalls).toEqual([]);
  });
});

describe("failures", () => {
  it("stops with an error status on a 400 and sends nothing more until asked", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client, clock } = await openClient(edge, { autoSync: true });
    edge.failNext("push", 400, { times: 1_000, body: { type: "invalid-request", title: "Invalid request", status: 400, detail: "seqs not ascending" } });
    await client.sell([{ sku: "A", qty: 1 }]);
    await client.settled();

    const status = await client.status();
    expect(status).toMatchObject({ state: "error", connection: "error", pendingCount: 1, nextAttemptAt: null });
    expect(status.problem).toMatchObject({ kind: "refused", status: 400, during: "push", problem: { type: "invalid-request", detail: "seqs not ascending" } });

    const requests = edge.requests;
    clock.advance(3_600_000);
    await client.sell([{ sku: "A", qty: 1 }]);
    await client.settled();
    expect(edge.requests).toBe(requests);

    edge.clearFailures();
    expect(await client.sync()).toMatchObject({ state: "idle", pendingCount: 0, problem: null });
    expect(edge.stock.get("A")?.onHand).toBe(8);
  });

  it("retries 5xx with capped exponential backoff and jitter, then drains", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    // random 0.5: each delay is 3/4 of its ceiling (base 1 s, doubling).
    const { client, clock } = await openClient(edge, { random: () => 0.5 });
    edge.failNext("push", 500, { times: 3 });
    await client.sell([{ sku: "A", qty: 1 }]);

    let status = await client.sync();
    expect(status).toMatchObject({ state: "backoff", connection: "online", problem: { kind: "server_error", status: 500 } });
    expect(Date.parse(status.nextAttemptAt ?? "") - clock.now()).toBe(750);

    for (const delayMs of [750, 1_500]) {
      const before = edge.requests;
      clock.advance(delayMs - 1);
      await client.settled();
      expect(edge.requests).toBe(before);
      clock.advance(1);
      await client.settled();
      expect(edge.requests).toBe(before + 1);
    }
    status = await client.status();
    expect(Date.parse(status.nextAttemptAt ?? "") - clock.now()).toBe(3_000);
    clock.advance(3_000);
    await client.settled();
    expect(await client.status()).toMatchObject({ state: "idle", pendingCount: 0, problem: null });
    expect(edge.applied.get(edge.keyOf(TERMINAL, 1))).toBe(1);
  });

  it("caps the backoff delay", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client, clock } = await openClient(edge, { random: () => 0.999_999, tuning: { backoff: { baseMs: 1_000, capMs: 4_000, retryAfterMaxMs: 60_000 } } });
    // The first try and four retries fail; the fifth retry gets through.
    edge.failNext("pull", 502, { times: 5 });
    await client.sync();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const status = await client.status();
      const delayMs = Date.parse(status.nextAttemptAt ?? "") - clock.now();
      delays.push(delayMs);
      clock.advance(delayMs);
      await client.settled();
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 4_000, 4_000]);
    expect((await client.status()).state).toBe("idle");
  });

  it("waits at least as long as a 429's Retry-After", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client, clock } = await openClient(edge);
    edge.failNext("push", 429, { headers: { "retry-after": "7" } });
    await client.sell([{ sku: "A", qty: 1 }]);
    const status = await client.sync();
    expect(status.problem).toMatchObject({ kind: "overloaded", status: 429, retryAfterMs: 7_000 });
    expect(Date.parse(status.nextAttemptAt ?? "") - clock.now()).toBe(7_000);
  });

  it("shows offline after a network failure and retries the same batch", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    let down = true;
    const { client, clock } = await openClient(edge, {
      // The network goes down between the terminal's first check-in (GET /v1/sync/state) and its push.
      transport: async (url, init) => {
        if (down && url.includes("/v1/sync/push")) throw new TypeError("fetch failed");
        return edge.handle(url, init);
      },
    });
    await client.sell([{ sku: "A", qty: 1 }]);
    expect(await client.sync()).toMatchObject({ state: "backoff", connection: "offline", pendingCount: 1, problem: { kind: "network", during: "push" } });
    down = false;
    clock.advance(1_000);
    await client.settled();
    expect(await client.status()).toMatchObject({ state: "idle", connection: "online", pendingCount: 0 });
    expect((await client.listOps())[0]).toMatchObject({ attempts: 2, state: "applied" });
  });

  it("gives up on a request that never answers once its deadline passes", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    let stall = true;
    const { client, clock } = await openClient(edge, {
      tuning: { requestTimeoutMs: 5_000 },
      transport: (url, init) =>
        stall
          ? new Promise<TransportResponse>(() => undefined) // never answers, ignores the abort
          : edge.handle(url, init),
    });
    await client.sell([{ sku: "A", qty: 1 }]);
    const syncing = client.sync();
    await ticks(10);
    expect((await client.status()).state).toBe("pushing");
    clock.advance(4_999);
    await ticks(10);
    expect((await client.status()).state).toBe("pushing");
    clock.advance(1);
    await syncing;
    expect(await client.status()).toMatchObject({ state: "backoff", connection: "offline", problem: { kind: "timeout" } });
    stall = false;
    clock.advance(1_000);
    await client.settled();
    expect(await client.status()).toMatchObject({ state: "idle", pendingCount: 0 });
  });

  it("retries a batch whose answer was lost after the edge applied it: answered duplicate, applied once", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    let loseAnswers = 1;
    const { client, clock } = await openClient(edge, {
      transport: async (url, init) => {
        const response = await edge.handle(url, init);
        if (url.includes("/push") && loseAnswers-- > 0) throw new TypeError("fetch failed");
        return response;
      },
    });
    await client.sync();
    await client.sell([{ sku: "A", qty: 2 }, { sku: "A", qty: 1 }]);
    expect(await client.sync()).toMatchObject({ state: "backoff", pendingCount: 2 });
    expect(edge.stock.get("A")?.onHand).toBe(7);
    // The edge applied it; the terminal does not know yet, and counts it once, as pending.
    expect(await client.stock("A")).toMatchObject({ onHand: 7, confirmed: { onHand: 10 }, overlayOps: 2 });
    clock.advance(1_000);
    await client.settled();
    expect((await client.listOps()).map((o) => o.state)).toEqual(["duplicate", "duplicate"]);
    expect([...edge.posted.values()]).toEqual([2, 2]);
    expect([...edge.applied.values()]).toEqual([1, 1]);
    expect(await client.stock("A")).toMatchObject({ onHand: 7, confirmed: { onHand: 7 }, overlayOps: 0 });
  });

  it("retries an answer that is not the documented shape, applying none of it", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client, clock } = await openClient(edge);
    edge.failNext("push", 200, { body: { results: [] } });
    await client.sell([{ sku: "A", qty: 1 }]);
    expect(await client.sync()).toMatchObject({ state: "backoff", problem: { kind: "bad_answer" } });
    expect((await client.listOps())[0]?.state).toBe("pending");
    clock.advance(1_000);
    await client.settled();
    expect((await client.listOps())[0]?.state).toBe("applied");
  });

  it("stops on a 401 until it has a new token and is asked to sync", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client, clock } = await openClient(edge, { token: "expired-token" });
    await client.sell([{ sku: "A", qty: 1 }]);
    expect(await client.sync()).toMatchObject({ state: "error", problem: { kind: "unauthorized", status: 401 } });
    clock.advance(600_000);
    await client.settled();
    expect((await client.status()).state).toBe("error");
    client.setToken(async () => "token-pos-1");
    expect(await client.sync()).toMatchObject({ state: "idle", pendingCount: 0 });
  });
});

describe("pulling the store's stock", () => {
  it("pulls page after page while the edge says there is more, from its cursor", async () => {
    const skus = Object.fromEntries(Array.from({ length: 1_200 }, (_, i) => [sku(i), { onHand: i }]));
    const edge = makeEdge(skus);
    const { client } = await openClient(edge, { tuning: { pullLimit: 500 } });
    await client.sync();
    expect(edge.pullRequests).toBe(3);
    const stock = await client.allStock();
    expect(stock).toHaveLength(1_200);
    expect(stock.every((s) => s.onHand === Number(s.sku.slice(4)))).toBe(true);

    edge.changeElsewhere(sku(7), { onHandDelta: -3 });
    await client.sync();
    expect(edge.pullRequests).toBe(4);
    expect((await client.stock(sku(7))).onHand).toBe(4);
  });

  it("pulls on its interval while idle, bringing changes made elsewhere", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client, clock } = await openClient(edge, { tuning: { intervalMs: 30_000 } });
    await client.sync();
    edge.changeElsewhere("A", { onHandDelta: -4 });
    clock.advance(29_999);
    await client.settled();
    expect((await client.stock("A")).onHand).toBe(10);
    clock.advance(1);
    await client.settled();
    expect((await client.stock("A")).onHand).toBe(6);
  });
});

describe("the state machine", () => {
  it("goes idle → pushing → pulling → idle, and tells subscribers on the way", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const { client } = await openClient(edge);
    const seen: SyncStatus[] = [];
    const unsubscribe = client.subscribe((s) => seen.push(s));
    await eventually(() => seen.length > 0);
    expect(seen.at(-1)).toMatchObject({ state: "idle", pendingCount: 0 });
    await client.sell([{ sku: "A", qty: 1 }]);
    await eventually(() => seen.at(-1)?.pendingCount === 1);
    await client.sync();
    await eventually(() => seen.at(-1)?.pendingCount === 0 && seen.at(-1)?.state === "idle");
    const states = seen.map((s) => s.state).filter((s, i, all) => i === 0 || all[i - 1] !== s);
    expect(states).toEqual(["idle", "pushing", "pulling", "idle"]);
    unsubscribe();
    const count = seen.length;
    await client.sell([{ sku: "A", qty: 1 }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toHaveLength(count);
  });

  it("closes at once while a request is in flight, even when the transport ignores the abort", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    let sent = 0;
    const { client, clock } = await openClient(edge, {
      transport: (url, init) => {
        if (url.includes("/v1/sync/state")) return edge.handle(url, init);
        sent += 1;
        return new Promise<TransportResponse>(() => undefined);
      },
    });
    await client.sell([{ sku: "A", qty: 1 }]);
    const syncing = client.sync();
    await eventually(() => sent === 1);
    await client.close();
    await syncing;
    expect(clock.pendingTimers()).toBe(0);
    expect(sent).toBe(1);
    // Nothing was lost: the op is still in the outbox for the next session.
    const { client: reopened } = await openClient(edge, { db: client.db.name });
    expect(await reopened.listOps({ state: "pending" })).toEqual([expect.objectContaining({ seq: 1, attempts: 1 })]);
  });

  it("stops on close: no timers left, no requests after", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const win = new FakeWindow();
    const { client, clock } = await openClient(edge, { window: win, autoSync: true });
    edge.failNext("push", 503, { times: 1 });
    await client.sell([{ sku: "A", qty: 1 }]);
    await client.settled();
    expect((await client.status()).state).toBe("backoff");
    await client.close();
    expect(clock.pendingTimers()).toBe(0);
    expect(win.listenerCount()).toBe(0);
    const requests = edge.requests;
    clock.advance(600_000);
    win.dispatch("online");
    await ticks(10);
    expect(edge.requests).toBe(requests);
    await expect(client.sell([{ sku: "A", qty: 1 }])).rejects.toThrow(/closed/);
  });
});

describe("online and offline", () => {
  it("syncs at once when the browser comes back online", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const win = new FakeWindow();
    const nav = { onLine: false };
    const { client } = await openClient(edge, { window: win, navigator: nav, autoSync: true });
    await client.sell([{ sku: "A", qty: 3 }]);
    await client.settled();
    expect(edge.requests).toBe(0);
    expect(await client.status()).toMatchObject({ connection: "offline", pendingCount: 1 });

    win.dispatch("online");
    await client.settled();
    expect(await client.status()).toMatchObject({ connection: "online", pendingCount: 0, state: "idle" });
    expect(edge.stock.get("A")?.onHand).toBe(7);
  });

  it("stops retrying while offline and retries at once, with a fresh backoff, when back online", async () => {
    const edge = makeEdge({ A: { onHand: 10 } });
    const win = new FakeWindow();
    const { client, clock } = await openClient(edge, { window: win, autoSync: true });
    edge.failNext("push", 503, { times: 3 });
    await client.sell([{ sku: "A", qty: 1 }]);
    await client.settled();
    clock.advance(750);
    await client.settled();
    expect(await client.status()).toMatchObject({ state: "backoff" });

    win.dispatch("offline");
    expect(await client.status()).toMatchObject({ state: "idle", connection: "offline", nextAttemptAt: null });
    const requests = edge.requests;
    clock.advance(3_600_000);
    await client.sell([{ sku: "A", qty: 1 }]);
    await client.settled();
    expect(edge.requests).toBe(requests);

    win.dispatch("online");
    await client.settled();
    expect(edge.requests).toBe(requests + 1);
    const status = await client.status();
    expect(status).toMatchObject({ state: "backoff" });
    // The third 503: a fresh backoff starts again from its first delay.
    expect(Date.parse(status.nextAttemptAt ?? "") - clock.now()).toBe(750);
  });
});
