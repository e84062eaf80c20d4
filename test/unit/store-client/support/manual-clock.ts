/** A clock that moves only when the test says so; due timers fire in time order. */
import type { Clock } from "../../../../store-client/clock";

export class ManualClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<number, { atMs: number; fn: () => void }>();

  constructor(private nowMs = Date.UTC(2026, 10, 25, 9, 0, 0)) {}

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.nowMs + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === "number") this.timers.delete(handle);
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way, earliest first. */
  advance(ms: number): void {
    const targetMs = this.nowMs + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      let due: [number, { atMs: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].atMs <= targetMs && (due === undefined || entry[1].atMs < due[1].atMs)) due = entry;
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.nowMs = Math.max(this.nowMs, due[1].atMs);
      due[1].fn();
    }
    this.nowMs = targetMs;
  }

  pendingTimers(): number {
    return this.timers.size;
  }
}

/** Let IndexedDB (fake-indexeddb schedules with setImmediate) and promise chains run. */
export async function ticks(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Await `promise` while the clock moves in steps (request deadlines and backoff timers need time
 * to pass); fails when it has not resolved within `maxSteps`.
 */
export async function underClock<T>(clock: ManualClock, promise: Promise<T>, stepMs = 1_000, maxSteps = 2_000): Promise<T> {
  let outcome: { value: T } | { error: unknown } | null = null;
  promise.then(
    (value) => (outcome = { value }),
    (error: unknown) => (outcome = { error }),
  );
  for (let step = 0; step < maxSteps; step++) {
    await ticks(4);
    const settled = outcome as { value: T } | { error: unknown } | null;
    if (settled !== null) {
      if ("error" in settled) throw settled.error;
      return settled.value;
    }
    clock.advance(stepMs);
  }
  throw new Error(`still waiting after ${maxSteps} clock steps of ${stepMs} ms`);
}

/**
 * Wait in real time until `check` holds (Dexie's liveQuery re-runs on a real setTimeout, not on
 * the injected clock); fails after `maxMs`.
 */
export async function eventually(check: () => boolean | Promise<boolean>, maxMs = 2_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${maxMs} ms`);
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
  }
}
