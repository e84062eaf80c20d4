/**
 * The simulated people and machines. Each actor offers steps with weights; the run's generator
 * picks one step at a time. Terminals run the real store client (fake-indexeddb) through the
 * faulty network; shoppers and staff call the HTTP API through it, retrying with the same
 * Idempotency-Key when an answer is lost; the environment moves time, delivers alarms, fails the
 * ledger, restarts objects, wipes terminals and skews their clocks.
 *
 * To add an actor (counts, once they exist): implement `Actor`, construct it in `castOf` in
 * simulate.ts, and add whatever its answers imply to the checks.
 */
import { Dexie } from "dexie";
import { createStoreClient, type StoreClient } from "../../../store-client";
import { rng } from "../../support/seeded";
import { TerminalClock, terminalTransport } from "./network";
import type { World } from "./world";

export interface Step {
  readonly weight: number;
  readonly run: () => Promise<void>;
}

export interface Actor {
  readonly name: string;
  steps(): Step[];
}

/** Requests a terminal waits for before giving up; small, so the simulated wait is short. */
export const TERMINAL_TIMEOUT_MS = 5_000;

/** Hold TTLs the shoppers ask for, in seconds (the API allows 5–3600). */
const TTL_S = [5, 15, 30, 60, 120] as const;

export class Terminal implements Actor {
  client: StoreClient | null = null;
  readonly clock: TerminalClock;
  incarnations = 0;

  constructor(
    private readonly w: World,
    readonly name: string,
    readonly terminalId: string,
    readonly store: string,
  ) {
    this.clock = new TerminalClock(() => w.nowMs);
  }

  get dbName(): string {
    return `sim-${this.terminalId}`;
  }

  async open(): Promise<StoreClient> {
    const tok = await this.w.tokenFor(this.terminalId, { role: "terminal", sub: this.terminalId, store: this.store });
    this.incarnations += 1;
    this.client = await createStoreClient({
      baseUrl: "http://edgestock.test",
      token: tok,
      storeId: this.store,
      terminalId: this.terminalId,
      db: this.dbName,
      transport: terminalTransport(this.w.network, this.name, this.clock, TERMINAL_TIMEOUT_MS),
      clock: this.clock,
      random: rng(this.w.seed * 31 + this.incarnations * 7 + this.name.length),
      window: null,
      navigator: null,
      autoSync: false,
      tuning: { requestTimeoutMs: TERMINAL_TIMEOUT_MS, leaseMs: 60_000 },
    });
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }

  steps(): Step[] {
    const w = this.w;
    const c = (): StoreClient => {
      if (this.client === null) throw new Error(`${this.name} has no client`);
      return this.client;
    };
    const line = () => ({ sku: w.pick(w.skus), qty: w.int(1, 3) });
    const record = async (what: string, run: () => ReturnType<StoreClient["sell"]>) => {
      const r = await run();
      w.note(`${this.name} ${what} -> ${r.ok ? `seq ${r.seqs.join(",")}` : r.problem.kind}`);
    };
    return [
      { weight: 22, run: () => { const l = line(); return record(`sell ${l.sku} x${l.qty}`, () => c().sell([l])); } },
      { weight: 4, run: () => { const l = line(); return record(`return ${l.sku} x${l.qty}`, () => c().returnItems([l])); } },
      { weight: 4, run: () => { const l = line(); return record(`write-off ${l.sku} x${l.qty}`, () => c().writeOff([{ ...l, reason: "damaged" }])); } },
      { weight: 3, run: () => { const l = line(); return record(`receive ${l.sku} x${l.qty}`, () => c().receive([l])); } },
      {
        weight: 18,
        run: async () => {
          const status = await c().sync();
          await w.network.endOfStep();
          w.note(`${this.name} sync -> pending ${status.pendingCount}${status.problem === null ? "" : `, ${status.problem.kind}`}`);
        },
      },
      {
        weight: 1.5,
        run: async () => {
          // "Clear browsing data": the database and whatever it had not synced are gone.
          w.objectFaults.wipe += 1;
          const pending = (await c().listOps({ state: "pending" })).length;
          await this.close();
          await Dexie.delete(this.dbName);
          await this.open();
          w.note(`${this.name} WIPED (lost ${pending} unsynced ops), new database`);
        },
      },
      {
        weight: 2,
        run: async () => {
          w.objectFaults.skew += 1;
          this.clock.skewMs = w.pick([-1, 1]) * w.int(0, 48) * 3600_000 + w.int(-30_000, 30_000);
          w.note(`${this.name} clock skewed by ${(this.clock.skewMs / 3600_000).toFixed(2)} h`);
        },
      },
    ];
  }
}

export class Shopper implements Actor {
  private carts = 0;
  private cartId: string;
  private requests = 0;

  constructor(
    private readonly w: World,
    readonly name: string,
    readonly sub: string,
  ) {
    this.cartId = this.nextCart();
  }

  private nextCart(): string {
    this.carts += 1;
    return `${this.sub}-c${this.carts}`;
  }

  private key(): string {
    this.requests += 1;
    return `${this.sub}-k${this.requests}`;
  }

  steps(): Step[] {
    const w = this.w;
    const tok = () => w.tokenFor(this.sub, { role: "shopper", sub: this.sub });
    return [
      {
        weight: 10,
        run: async () => {
          const skus = w.chance(0.3) && w.skus.length > 1 ? [...w.skus].slice(0, 2) : [w.pick(w.skus)];
          const lines = skus.map((sku) => ({ sku, qty: w.int(1, 3), ...(w.chance(0.4) ? { location: w.pick(w.locations).id } : {}) }));
          const ttlSeconds = w.pick(TTL_S);
          const a = await w.request(this.name, "POST", `/v1/carts/${this.cartId}/holds`, await tok(), { lines, ttlSeconds }, this.key());
          w.note(`${this.name} hold ${lines.map((l) => `${l.sku}@${l.location ?? "any"} x${l.qty}`).join(" + ")} ttl ${ttlSeconds}s in ${this.cartId} -> ${a?.status ?? "lost"}`);
          if (a?.status === 409 && a.body?.type === "cart-checked-out") this.cartId = this.nextCart();
        },
      },
      {
        weight: 7,
        run: async () => {
          const a = await w.request(this.name, "POST", `/v1/carts/${this.cartId}/checkout`, await tok(), undefined, this.key());
          w.note(`${this.name} checkout ${this.cartId} -> ${a?.status ?? "lost"}${a?.status === 200 ? ` ${a.body.orderId}` : a === null ? "" : ` ${a.body?.type ?? ""}`}`);
          if (a?.status === 200 || a?.status === 404) this.cartId = this.nextCart();
        },
      },
      {
        weight: 3,
        run: async () => {
          const a = await w.request(this.name, "DELETE", `/v1/carts/${this.cartId}/holds`, await tok());
          w.note(`${this.name} release ${this.cartId} -> ${a?.status ?? "lost"}`);
          if (a !== null) this.cartId = this.nextCart();
        },
      },
    ];
  }
}

interface Shipment {
  readonly transferId: string;
  readonly to: string;
  readonly qty: number;
}

export class Staff implements Actor {
  private requests = 0;
  private readonly inTransit: Shipment[] = [];

  constructor(
    private readonly w: World,
    readonly name: string,
    readonly sub: string,
  ) {}

  private key(): string {
    this.requests += 1;
    return `${this.sub}-k${this.requests}`;
  }

  private tokenAt(location: string): Promise<string> {
    return this.w.tokenFor(`${this.sub}@${location}`, { role: "staff", sub: this.sub, store: location });
  }

  /** Stock to start with, through the same faulty network. */
  async stockUp(): Promise<void> {
    const w = this.w;
    for (const sku of w.skus) {
      for (const l of w.locations.slice(0, 2)) {
        const qty = w.int(0, 12);
        if (qty > 0) await w.request(this.name, "POST", "/v1/receipts", await this.tokenAt(l.id), { sku, location: l.id, qty }, this.key(), 6);
      }
    }
  }

  steps(): Step[] {
    const w = this.w;
    return [
      {
        weight: 4,
        run: async () => {
          const body = { sku: w.pick(w.skus), location: w.pick(w.locations).id, qty: w.int(1, 8) };
          const a = await w.request(this.name, "POST", "/v1/receipts", await this.tokenAt(body.location), body, this.key());
          w.note(`${this.name} receipt ${body.sku}@${body.location} x${body.qty} -> ${a?.status ?? "lost"}${a?.replayed === true ? " (replayed)" : ""}`);
        },
      },
      {
        weight: 4,
        run: async () => {
          if (w.locations.length < 2) return w.note(`${this.name} (one location: no transfer)`);
          const from = w.pick(w.locations).id;
          const to = w.pick(w.locations.filter((l) => l.id !== from)).id;
          const body = { sku: w.pick(w.skus), from, to, qty: w.int(1, 4) };
          const a = await w.request(this.name, "POST", "/v1/transfers", await this.tokenAt(from), body, this.key());
          w.note(`${this.name} transfer ${body.sku} ${from}->${to} x${body.qty} -> ${a?.status ?? "lost"}`);
          if (a?.status === 201 && !this.inTransit.some((s) => s.transferId === a.body.transferId)) this.inTransit.push({ transferId: a.body.transferId, to, qty: body.qty });
        },
      },
      {
        weight: 3,
        run: async () => {
          const s = this.inTransit[0];
          if (s === undefined) return w.note(`${this.name} (no transfer in transit)`);
          const qty = w.chance(0.25) ? Math.max(0, s.qty - 1) : s.qty;
          const a = await w.request(this.name, "POST", `/v1/transfers/${s.transferId}/receive`, await this.tokenAt(s.to), { qty }, this.key());
          w.note(`${this.name} receive transfer ${s.transferId} x${qty}/${s.qty} -> ${a?.status ?? "lost"}`);
          if (a !== null && (a.status === 200 || a.status === 409)) this.inTransit.shift();
        },
      },
      {
        weight: 3,
        run: async () => {
          const body = { sku: w.pick(w.skus), location: w.pick(w.locations).id, qty: w.int(1, 2), reason: w.pick(["damaged", "lost", "stolen", "expired"] as const) };
          const a = await w.request(this.name, "POST", "/v1/write-offs", await this.tokenAt(body.location), body, this.key());
          w.note(`${this.name} write-off ${body.sku}@${body.location} x${body.qty} ${body.reason} -> ${a?.status ?? "lost"}`);
        },
      },
    ];
  }
}

/** Time, alarms, the ledger, restarts: everything around the actors. */
export class Environment implements Actor {
  readonly name = "env";

  constructor(private readonly w: World) {}

  steps(): Step[] {
    const w = this.w;
    return [
      {
        weight: 7,
        run: async () => {
          const ms = w.int(1, 150) * 1000;
          w.nowMs += ms;
          w.note(`env time +${ms / 1000}s`);
        },
      },
      {
        weight: 5,
        run: async () => {
          const sku = w.pick(w.skus);
          const again = w.chance(0.35);
          await w.alarm(sku);
          if (again) await w.alarmAgain(sku);
          w.note(`env alarm ${sku}${again ? " (delivered again)" : ""}${w.sinkModes.get(sku) === "hang" ? " (waiting on D1)" : ""}`);
        },
      },
      {
        weight: 3,
        run: async () => {
          const sku = w.pick(w.skus);
          w.note(`env flush ${sku} -> ${await w.flush(sku)}`);
        },
      },
      {
        weight: 3,
        run: async () => {
          const delivered = await w.network.deliverOneLater();
          w.note(delivered ? "env a held-back request arrives" : "env (no request held back)");
        },
      },
      {
        weight: 2,
        run: async () => {
          await w.restart();
          w.note("env RESTART every object");
        },
      },
      {
        weight: 3,
        run: async () => {
          const sku = w.pick(w.skus);
          const mode = w.pick(["ok", "ok", "fail", "land-then-fail", "publish-fails", "hang"] as const);
          if (w.sinkModes.get(sku) === "hang") {
            await w.openGate(sku);
            w.note(`env D1 for ${sku} answers again`);
          }
          if (mode !== "ok") w.setSinkMode(sku, mode);
          else w.sinkModes.set(sku, "ok");
          w.note(`env D1 for ${sku}: ${mode}`);
        },
      },
    ];
  }
}
