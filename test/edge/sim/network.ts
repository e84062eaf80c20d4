/**
 * The simulated network between every actor and the real Worker. Each request may be dropped on
 * the way in, answered and have its answer dropped, delivered twice, held back and delivered later
 * (after newer requests: reordered), or, for a terminal, answered only after the terminal gave up
 * on it. Every choice comes from the run's one seeded generator.
 *
 * The wire log keeps what the Worker really answered to every delivery, whatever the network then
 * did with the answer: the checks compare the system's state with those answers, so a write the
 * edge applied twice, or applied without saying so, shows.
 *
 * The driver is sequential (one actor's step at a time, awaited): a "delayed" request is one that
 * arrives at a later step, not one in flight while others run. That keeps a run a pure function of
 * its seed.
 */
import { createExecutionContext, env } from "cloudflare:test";
import worker from "../../../edge/index";
import type { TransportRequest, TransportResponse } from "../../../store-client";

export interface FaultRates {
  dropRequest: number;
  dropResponse: number;
  duplicate: number;
  /** Held back, delivered at a later step; the sender hears nothing. */
  delay: number;
  /** Delivered now, and a copy delivered again at a later step (reordered behind newer requests). */
  lateCopy: number;
  /** Terminal pushes only: the terminal times out first, then the edge receives and applies it. */
  answeredAfterGivingUp: number;
}

export const CALM: FaultRates = { dropRequest: 0, dropResponse: 0, duplicate: 0, delay: 0, lateCopy: 0, answeredAfterGivingUp: 0 };

export interface Wire {
  readonly who: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** One delivery and the Worker's real answer to it. */
export interface Delivery {
  readonly wire: Wire;
  readonly status: number;
  readonly replayed: boolean;
  readonly body: any; // reason: answers of every route are read by the checks, each by its own shape
  readonly step: number;
}

export type FaultKind = "dropRequest" | "dropResponse" | "duplicate" | "delay" | "lateCopy" | "answeredAfterGivingUp" | "lateDelivered";

export class Lost extends Error {
  constructor(readonly why: string) {
    super(`network: ${why}`);
  }
}

export interface Answer {
  readonly status: number;
  readonly replayed: boolean;
  readonly body: any; // reason: as in Delivery
}

export class Network {
  rates: FaultRates;
  readonly deliveries: Delivery[] = [];
  readonly faults: Record<FaultKind, number> = { dropRequest: 0, dropResponse: 0, duplicate: 0, delay: 0, lateCopy: 0, answeredAfterGivingUp: 0, lateDelivered: 0 };
  step = 0;
  /** Called after every delivery with the Worker's answer, before anything else happens. */
  afterDelivery: (d: Delivery) => Promise<void> = async () => undefined;
  /** Requests to deliver at a later step. */
  private readonly later: Wire[] = [];
  /** Requests whose sender already gave up; delivered as soon as the sender's step ends. */
  private readonly afterGivingUp: Wire[] = [];

  constructor(
    private readonly random: () => number,
    rates: FaultRates,
    private readonly trace: (line: string) => void,
  ) {
    this.rates = rates;
  }

  /** Deliver to the Worker now and log its real answer. */
  async deliver(wire: Wire): Promise<Answer> {
    const init: RequestInit = { method: wire.method, headers: wire.headers, ...(wire.body === undefined ? {} : { body: wire.body }) };
    // Straight into the Worker's fetch handler: the same app SELF serves, without SELF's growing
    // per-call cost over thousands of requests in one file (workers-sdk#15446).
    const res = await worker.fetch(new Request(`http://edgestock.test${wire.path}`, init), env, createExecutionContext());
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      // not JSON: kept as text for the checks
    }
    const answer = { status: res.status, replayed: res.headers.get("idempotent-replayed") === "true", body };
    const delivery = { wire, ...answer, step: this.step };
    this.deliveries.push(delivery);
    await this.afterDelivery(delivery);
    return answer;
  }

  /** Send through the faults: the answer, or Lost when the sender hears nothing. */
  async send(wire: Wire): Promise<Answer> {
    const r = this.rates;
    if (this.later.length > 0 && this.random() < 0.3) await this.deliverOneLater();
    if (this.chance(r.dropRequest)) return this.lose("dropRequest", wire);
    if (this.chance(r.delay)) {
      this.later.push(wire);
      return this.lose("delay", wire);
    }
    if (this.chance(r.lateCopy)) {
      this.count("lateCopy", wire);
      this.later.push(wire);
    }
    const answer = await this.deliver(wire);
    if (this.chance(r.duplicate)) {
      this.count("duplicate", wire);
      await this.deliver(wire);
    }
    if (this.chance(r.dropResponse)) return this.lose("dropResponse", wire);
    return answer;
  }

  /** A terminal push that will be answered after its sender's deadline: true when this one is. */
  givesUpOn(wire: Wire): boolean {
    if (!this.chance(this.rates.answeredAfterGivingUp)) return false;
    this.count("answeredAfterGivingUp", wire);
    this.afterGivingUp.push(wire);
    return true;
  }

  /** End of a step: what arrives after its sender gave up arrives now. */
  async endOfStep(): Promise<void> {
    while (this.afterGivingUp.length > 0) {
      const wire = this.afterGivingUp.shift();
      if (wire !== undefined) await this.deliver(wire);
    }
  }

  /** Deliver one held-back request (its answer goes nowhere). */
  async deliverOneLater(): Promise<boolean> {
    if (this.later.length === 0) return false;
    const i = Math.floor(this.random() * this.later.length);
    const [wire] = this.later.splice(i, 1);
    if (wire === undefined) return false;
    this.count("lateDelivered", wire);
    await this.deliver(wire);
    return true;
  }

  async deliverAllLater(): Promise<void> {
    await this.endOfStep();
    while (await this.deliverOneLater());
  }

  get heldBack(): number {
    return this.later.length;
  }

  private chance(p: number): boolean {
    return p > 0 && this.random() < p;
  }

  private count(kind: FaultKind, wire: Wire): void {
    this.faults[kind] += 1;
    this.trace(`  net ${kind}: ${wire.who} ${wire.method} ${wire.path}`);
  }

  private lose(kind: FaultKind, wire: Wire): never {
    this.count(kind, wire);
    throw new Lost(kind);
  }
}

/** A manual clock for one terminal: its time is the run's time plus its skew; timers fire only on `fire`. */
export class TerminalClock {
  skewMs = 0;
  private timers: { id: number; atMs: number; fn: () => void }[] = [];
  private nextId = 1;
  /** Time the terminal lived through waiting on requests it gave up on. */
  private waitedMs = 0;

  constructor(private readonly runNow: () => number) {}

  now(): number {
    return this.runNow() + this.skewMs + this.waitedMs;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ id, atMs: this.now() + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Let `ms` pass for this terminal and run every timer that falls due, in order. */
  wait(ms: number): void {
    this.waitedMs += ms;
    const due = this.timers.filter((t) => t.atMs <= this.now()).sort((a, b) => a.atMs - b.atMs || a.id - b.id);
    this.timers = this.timers.filter((t) => !due.includes(t));
    for (const t of due) t.fn();
  }
}

/**
 * The store client's transport for one terminal: its requests go through the network; a push the
 * network decides to answer late makes the terminal wait out its deadline and give up first.
 */
export function terminalTransport(network: Network, who: string, clock: TerminalClock, requestTimeoutMs: number) {
  return async (url: string, init: TransportRequest): Promise<TransportResponse> => {
    const path = url.replace(/^https?:\/\/[^/]+/, "");
    const wire: Wire = { who, method: init.method, path, headers: { ...init.headers }, ...(init.body === undefined ? {} : { body: init.body }) };
    if (init.method === "POST" && network.givesUpOn(wire)) {
      // The deadline passes: the client aborts and moves on; the edge gets the push afterwards.
      return new Promise<TransportResponse>((_, reject) => {
        init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        clock.wait(requestTimeoutMs);
      });
    }
    const answer = await network.send(wire).catch((error: unknown) => {
      if (error instanceof Lost) throw new TypeError(`fetch failed (${error.why})`);
      throw error;
    });
    const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
    return new Response(text, { status: answer.status, headers: { "content-type": "application/json", ...(answer.replayed ? { "idempotent-replayed": "true" } : {}) } });
  };
}
