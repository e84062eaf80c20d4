/**
 * The store client over a bad network: requests lost, answers lost after the edge applied them,
 * requests delivered twice or late (after newer ones), 503s and 429s, stalls until the deadline,
 * the browser going offline and online, the tab reloading — all from a seeded generator. Then the
 * network heals, and:
 * - the outbox drains: every op has the edge's answer, none is pending, none still counts twice
 *   (the ledger the pull reads lags the pushes by a random flush delay, as the real edge's does);
 * - every op the edge accepted took effect on it exactly once (I3), and the rest were rejected;
 * - the edge's stock is what the ops and the changes made elsewhere add up to;
 * - the terminal's local stock equals the edge's, SKU by SKU.
 * Replay a failure with SEED=<printed seed>.
 */
import "fake-indexeddb/auto";
import { afterEach, expect, it } from "vitest";
import type { StoreClient } from "../../../store-client/create-store-client";
import { stockDelta } from "../../../store-client/ops/op-rules";
import type { OpKind } from "../../../store-client/sync/protocol";
import { rng, seedFrom } from "../../support/seeded";
import { chaosNetwork, ROUGH_NETWORK } from "./support/chaos";
import { FakeWindow } from "./support/fake-window";
import { closeAll, freshDbName, makeEdge, openClient, TERMINAL } from "./support/harness";
import { ManualClock, ticks, underClock } from "./support/manual-clock";

afterEach(closeAll);

const SEED = seedFrom(process.env.SEED);
const SKUS = ["SKU-00001", "SKU-00002", "SKU-00003", "SKU-00004", "SKU-00005"];
const STEPS = 250;

it.each([0, 1, 2, 3].map((run) => [run, SEED + run * 7_919]))(
  `drains the outbox through a bad network and converges on the edge's stock (run %i, SEED=${SEED}, run seed %i)`,
  async (_run, seed) => {
    console.log(`chaos: SEED=${SEED} run seed=${seed}`);
    const random = rng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const qty = (): number => 1 + Math.floor(random() * 3);

    const initial = new Map(SKUS.map((sku) => [sku, 20 + Math.floor(random() * 40)]));
    const clock = new ManualClock();
    // The ledger the pull reads lands each change up to 2 s after it happened.
    const flushLagMs = Math.floor(random() * 2_000);
    const edge = makeEdge(Object.fromEntries(SKUS.map((sku) => [sku, { onHand: initial.get(sku)!, held: Math.floor(random() * 4) }])), { now: () => clock.now(), flushLagMs });
    const network = chaosNetwork(edge, rng(seed + 1), ROUGH_NETWORK);
    const win = new FakeWindow();
    const nav = { onLine: true };
    const dbName = freshDbName("chaos");
    let tabs = 0;
    const open = async (): Promise<StoreClient> =>
      (
        await openClient(edge, {
          db: dbName,
          transport: network.transport,
          clock,
          window: win,
          navigator: nav,
          random: rng(seed + 2 + tabs),
          instanceId: `tab-${++tabs}`,
          autoSync: true,
          // Small batches and pages, so one run goes through many of them.
          tuning: { historyMax: 1_000_000, requestTimeoutMs: 10_000, pullLimit: 2, pushBatch: { opsMax: 4, bodyBytesMax: 60_000 } },
        })
      ).client;

    let client = await open();
    const recorded = new Map<number, { kind: OpKind; sku: string; qty: number }>();
    const elsewhere = new Map<string, number>();
    const remember = (kind: OpKind, lines: { sku: string; qty: number }[], seqs: number[]): void =>
      seqs.forEach((seq, i) => recorded.set(seq, { kind, sku: lines[i]!.sku, qty: lines[i]!.qty }));
    const someSku = (): string => (random() < 0.04 ? "SKU-GHOST" : pick(SKUS));

    for (let step = 0; step < STEPS; step++) {
      const roll = random();
      if (roll < 0.55) {
        const kind = pick<OpKind>(["sale", "sale", "sale", "return", "write_off", "receipt"]);
        const lines = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ sku: someSku(), qty: qty() }));
        const result =
          kind === "sale"
            ? await client.sell(lines)
            : kind === "return"
              ? await client.returnItems(lines)
              : kind === "write_off"
                ? await client.writeOff(lines.map((l) => ({ ...l, reason: "damaged" as const })))
                : await client.receive(lines);
        if (!result.ok) throw new Error(`recording failed: ${JSON.stringify(result.problem)}`);
        remember(kind, lines, result.seqs);
      } else if (roll < 0.62) {
        const sku = pick(SKUS);
        const delta = random() < 0.5 ? -qty() : qty();
        edge.changeElsewhere(sku, { onHandDelta: delta, held: Math.floor(random() * 5) });
        elsewhere.set(sku, (elsewhere.get(sku) ?? 0) + delta);
      } else if (roll < 0.8) {
        clock.advance(Math.floor(random() * 15_000));
      } else if (roll < 0.84) {
        nav.onLine = false;
        win.dispatch("offline");
      } else if (roll < 0.9) {
        nav.onLine = true;
        win.dispatch("online");
      } else if (roll < 0.95) {
        void client.sync();
      } else if (roll < 0.97) {
        await client.close();
        client = await open();
      }
      await ticks(Math.floor(random() * 5));
    }

    // The network heals.
    network.enabled = false;
    nav.onLine = true;
    win.dispatch("online");
    await network.flushLate();
    for (let round = 0; ; round++) {
      expect(round, "outbox drained within 50 rounds").toBeLessThan(50);
      const status = await underClock(clock, client.sync());
      const overlay = await client.db.outbox.where("overlay").equals(1).count();
      if (status.state === "idle" && status.pendingCount === 0 && overlay === 0) break;
      expect(status.state, `no sync error: ${JSON.stringify(status.problem)}`).not.toBe("error");
      clock.advance(5_000);
    }
    // Everything has landed in the ledger; one more pull brings the last of it.
    clock.advance(flushLagMs + 1);
    expect(await underClock(clock, client.sync())).toMatchObject({ state: "idle", pendingCount: 0 });
    console.log(`chaos run seed=${seed}: ${recorded.size} ops, ${edge.requests} requests, faults ${JSON.stringify(network.stats)}`);

    // The outbox: every op recorded once, answered, counted only through confirmed stock.
    const rows = await client.db.outbox.orderBy("seq").toArray();
    expect(rows.map((r) => r.seq)).toEqual([...recorded.keys()].sort((a, b) => a - b));
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
    for (const row of rows) {
      const answer = edge.answers.get(edge.keyOf(TERMINAL, row.seq));
      expect(answer, `edge answered seq ${row.seq}`).toBeDefined();
      expect(row.overlay).toBe(0);
      if (answer?.status === "rejected") {
        expect(row.state).toBe("rejected");
        expect(row.op.sku).toBe("SKU-GHOST");
      } else {
        expect(["applied", "duplicate"]).toContain(row.state);
        expect(edge.applied.get(edge.keyOf(TERMINAL, row.seq)), `seq ${row.seq} applied exactly once`).toBe(1);
      }
    }
    expect(edge.applied.size).toBe(rows.filter((r) => r.state !== "rejected").length);

    // The edge's stock is what everything adds up to.
    for (const sku of SKUS) {
      const fromOps = rows.filter((r) => r.state !== "rejected" && r.op.sku === sku).reduce((sum, r) => sum + stockDelta(r.op), 0);
      expect(edge.stock.get(sku)?.onHand, `${sku} at the edge`).toBe(initial.get(sku)! + (elsewhere.get(sku) ?? 0) + fromOps);
      // And the terminal sees exactly that.
      expect(await client.stock(sku), `${sku} at the terminal`).toMatchObject({ onHand: edge.stock.get(sku)!.onHand, available: edge.available(sku), overlayOps: 0 });
    }
    expect(await client.stock("SKU-GHOST")).toMatchObject({ onHand: 0, overlayOps: 0 });

    // The run was really rough: the edge saw ops again, and requests failed.
    expect([...edge.posted.values()].some((times) => times > 1)).toBe(true);
    expect(network.stats.dropRequest + network.stats.dropResponse + network.stats.overloaded + network.stats.stall).toBeGreaterThan(0);
  },
  60_000,
);
