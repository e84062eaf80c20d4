/**
 * One simulated run's world: its ids, its clock, its tokens, the network, and the faults that live
 * inside the objects (the ledger sink failing or hanging, restarts, alarms delivered again).
 *
 * Time: every SKU authority reads the run's clock (`nowMs`), which starts in the future of real
 * time, so no alarm ever fires by itself; the run delivers alarms when its generator says so.
 * Objects forget their clock, their sink and any planted bug when restarted, so the world sets
 * them again on each object before the next step that needs it.
 */
import { abortAllDurableObjects, runDurableObjectAlarm } from "cloudflare:test";
import type { LedgerSink } from "../../../edge/sku/ledger-sink";
import type { LedgerWriter } from "../../../edge/sku/ledger-writer";
import { flushRetryDelayMs, type PlantedBug, type SkuAuthority } from "../../../edge/sku/sku-authority";
import { inSku, inWriter, skuStub, token } from "../helpers";
import { Lost, Network, type Answer, type FaultRates, type Wire } from "./network";

/** What the ledger sink of one SKU does at the moment. */
export type SinkMode = "ok" | "fail" | "land-then-fail" | "publish-fails" | "hang";

export const SIM_EPOCH_MS = Date.UTC(2027, 0, 15, 9, 0, 0);

export interface LocationSpec {
  readonly id: string;
  readonly kind: "store" | "warehouse";
  readonly reserve: number;
}

export type ObjectFaultKind = "restart" | "alarmAgain" | "sinkFail" | "sinkLandThenFail" | "sinkPublishFails" | "sinkHang" | "wipe" | "skew";

export class World {
  nowMs = SIM_EPOCH_MS;
  readonly trace: string[] = [];
  readonly network: Network;
  readonly sinkModes = new Map<string, SinkMode>();
  readonly objectFaults: Record<ObjectFaultKind, number> = { restart: 0, alarmAgain: 0, sinkFail: 0, sinkLandThenFail: 0, sinkPublishFails: 0, sinkHang: 0, wipe: 0, skew: 0 };
  /** Flushes or alarms waiting on a hanging sink, per SKU. */
  readonly hung = new Map<string, Promise<unknown>[]>();
  /** Opens a SKU's hanging sink; set from inside the object when a landing starts waiting. */
  readonly gates = new Map<string, () => void>();
  private readonly prepared = new Set<string>();
  private readonly tokens = new Map<string, string>();
  step = 0;
  /** Holds granted in this run (the rest phase only runs the alarm to expire them when there are). */
  holdsGranted = 0;

  constructor(
    readonly seed: number,
    readonly rid: string,
    readonly random: () => number,
    rates: FaultRates,
    readonly skus: readonly string[],
    readonly locations: readonly LocationSpec[],
    readonly plantedBug: PlantedBug,
  ) {
    this.network = new Network(random, rates, (line) => this.log(line));
  }

  log(line: string): void {
    this.trace.push(line);
  }

  note(what: string): void {
    this.log(`#${this.step} +${((this.nowMs - SIM_EPOCH_MS) / 1000).toFixed(1)}s ${what}`);
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.random() * items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  async tokenFor(key: string, claims: Parameters<typeof token>[0]): Promise<string> {
    const known = this.tokens.get(key);
    if (known !== undefined) return known;
    const t = await token({ ...claims, ttlSeconds: 6 * 3600 });
    this.tokens.set(key, t);
    return t;
  }

  /**
   * A client's request: sent through the network, tried again with the same request (and so the
   * same Idempotency-Key) when nothing came back, up to `triesMax`; null when every try was lost.
   */
  async request(who: string, method: string, path: string, authorization: string, body?: unknown, idempotencyKey?: string, triesMax = 3): Promise<Answer | null> {
    const headers: Record<string, string> = { authorization: `Bearer ${authorization}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
    const wire: Wire = { who, method, path, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
    for (let attempt = 0; attempt < triesMax; attempt++) {
      try {
        return await this.network.send(wire);
      } catch (error) {
        if (!(error instanceof Lost)) throw error;
      }
    }
    return null;
  }

  /** Give every SKU object of the run its clock, its sink and the planted bug, where a restart took them. */
  async prepare(): Promise<void> {
    await this.prepareWriter();
    for (const sku of this.skus) {
      if (this.prepared.has(sku)) continue;
      await inSku(sku, (instance) => {
        instance.now = () => this.nowMs;
        // Two attempts of one seed differ only in their ids' prefix; their retries come at the same instants.
        instance.retryDelayMs = (name, failuresInRow) => flushRetryDelayMs(name.replaceAll(this.rid, ""), failuresInRow);
        instance.plantedBug = this.plantedBug;
        instance.ledger = this.sink(sku, instance.ledger);
      });
      this.prepared.add(sku);
    }
  }

  /**
   * The ledger writer publishes the events of what it landed to the real Queue: a SKU in
   * "publish-fails" makes the publish of any D1 batch carrying its events fail there, after D1 was
   * written (every flush of that batch fails back to its authority, whatever its SKU).
   */
  private async prepareWriter(): Promise<void> {
    const first = this.skus[0];
    if (first === undefined || this.prepared.has(WRITER)) return;
    // One writer serves every SKU (LEDGER_WRITER_SHARDS = 1); a run's SKUs all reach it.
    await inWriter(first, (instance) => {
      const real = realPublishes.get(instance) ?? instance.publish;
      instance.publish = async (events) => {
        if (events.some((e) => this.sinkModes.get(e.sku) === "publish-fails")) throw new Error("injected: queue unavailable");
        await real(events);
      };
      realPublishes.set(instance, real);
    });
    this.prepared.add(WRITER);
  }

  /** Every object restarts; whatever waited on a hanging sink is gone with it. */
  async restart(): Promise<void> {
    this.objectFaults.restart += 1;
    for (const waiting of this.hung.values()) for (const p of waiting) p.catch(() => undefined);
    await abortAllDurableObjects();
    this.hung.clear();
    this.gates.clear();
    this.prepared.clear();
    for (const sku of this.skus) this.sinkModes.set(sku, "ok");
  }

  setSinkMode(sku: string, mode: SinkMode): void {
    this.sinkModes.set(sku, mode);
    const kind = ({ ok: null, fail: "sinkFail", "land-then-fail": "sinkLandThenFail", "publish-fails": "sinkPublishFails", hang: "sinkHang" } as const)[mode];
    if (kind !== null) this.objectFaults[kind] += 1;
  }

  /** Let a hanging sink land, and wait for what waited on it. */
  async openGate(sku: string): Promise<void> {
    this.sinkModes.set(sku, "ok");
    const waiting = this.hung.get(sku) ?? [];
    this.hung.delete(sku);
    const release = this.gates.get(sku);
    this.gates.delete(sku);
    if (release !== undefined) await inSku(sku, () => release());
    for (const p of waiting) await p.catch(() => undefined);
  }

  /** The object's alarm, delivered by the runtime; while its sink hangs, left waiting. */
  async alarm(sku: string): Promise<void> {
    await this.prepare();
    if (this.sinkModes.get(sku) === "hang") return this.leaveWaiting(sku, inSku(sku, (i) => i.alarm()));
    await runDurableObjectAlarm(skuStub(sku));
  }

  /** The alarm handler run again (the runtime delivers alarms at least once). */
  async alarmAgain(sku: string): Promise<void> {
    await this.prepare();
    this.objectFaults.alarmAgain += 1;
    const run = inSku(sku, (i) => i.alarm());
    if (this.sinkModes.get(sku) === "hang") return this.leaveWaiting(sku, run);
    await run;
  }

  async flush(sku: string): Promise<string> {
    await this.prepare();
    const run = inSku(sku, (i) => i.flush());
    if (this.sinkModes.get(sku) === "hang") {
      this.leaveWaiting(sku, run);
      return "waiting";
    }
    return run;
  }

  inSku<R>(sku: string, fn: (instance: SkuAuthority, state: DurableObjectState) => R | Promise<R>): Promise<R> {
    return inSku(sku, fn);
  }

  private leaveWaiting(sku: string, p: Promise<unknown>): void {
    p.catch(() => undefined);
    this.hung.set(sku, [...(this.hung.get(sku) ?? []), p]);
  }

  /** The object's real sink behind the run's faults; `real` stays the one the object was built with. */
  private sink(sku: string, current: LedgerSink): LedgerSink {
    const real = realSinks.get(current) ?? current;
    const world = this;
    const faulty: LedgerSink = {
      async land(batch, s, landedAtMs) {
        const mode = world.sinkModes.get(sku) ?? "ok";
        if (mode === "fail") throw new Error("injected: D1 unavailable");
        if (mode === "hang") {
          // Made inside the object, so that opening it from inside the object resumes this landing.
          await new Promise<void>((resolve) => {
            const before = world.gates.get(sku);
            world.gates.set(sku, () => {
              before?.();
              resolve();
            });
          });
        }
        const out = await real.land(batch, s, landedAtMs);
        if (mode === "land-then-fail") throw new Error("injected: D1 timed out after writing");
        return out;
      },
      // "publish-fails" is the writer's (prepareWriter): the authority's own publish is a no-op there.
      publish: (events) => real.publish(events),
    };
    realSinks.set(faulty, real);
    return faulty;
  }
}

/** What `prepared` calls the ledger writer (SKU names never start with a space). */
const WRITER = " ledger writer";

/** The writer's real publish behind the run's faults. */
const realPublishes = new WeakMap<LedgerWriter, LedgerWriter["publish"]>();

/** The real sink behind each faulty one, so that preparing an object twice does not stack faults. */
const realSinks = new WeakMap<LedgerSink, LedgerSink>();
