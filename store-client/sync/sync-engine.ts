/**
 * The sync engine: pushes the outbox to the edge and pulls the store's stock back, for one
 * terminal, as a small state machine (after Replicache's connection loop). Its clock, random
 * source, transport and lock are injected, so tests drive it with a manual clock.
 *
 * ```
 *            nudge (op recorded, interval, online event, lock retry) or sync()
 *   ┌──────┐ ──────────────────────────────────────────▶ ┌─────────┐  batch by batch, seq order,
 *   │ idle │        (lock held by another tab: stay,      │ pushing │  ≤ 500 ops and ≤ 250 kB each
 *   └──────┘         try again after lockRetryMs)         └────┬────┘
 *     ▲  ▲                                                     │ outbox drained
 *     │  │ pages done (more ops or pages left: go again)  ┌────▼────┐
 *     │  └─────────────────────────────────────────────── │ pulling │  page by page while `more`
 *     │                                                   └────┬────┘
 *     │ offline event                    network, timeout,     │ 400/413, 401/403, unknown status,
 *   ┌─┴───────┐ ◀──── 5xx, 429, bad answer ── pushing|pulling ─┴──▶ ┌───────┐  IndexedDB failure
 *   │ backoff │ ──── timer (capped exponential, jittered;        │ error │  (no timer: retrying
 *   └─────────┘      online event: at once) ────▶ pushing        └───┬───┘   unchanged cannot help)
 *                                                   sync() ◀─────────┘ leaves it
 *   any state ── close() ──▶ closed
 * ```
 *
 * Invariants protected:
 * - Ops reach the edge in seq order, each batch a prefix of what is pending. A batch is retried
 *   unchanged until the edge answers for it; the edge dedupes by (terminalId, seq), so a retry of
 *   an op that did land is answered `duplicate` and applied once (I3).
 * - A rejected op does not block the ops after it: it gets its answer, leaves the pending set
 *   and waits for a person (`attention`).
 * - A 400 stops the engine in `error`; it never spins on a batch the edge will always refuse.
 * - Only one tab syncs a terminal at a time (sync-lock.ts).
 * - Every push names this database's incarnation, so a wiped device's seqs never collide with its
 *   predecessor's. Before its first push, a new database asks the edge where the terminal stands
 *   (`GET /v1/sync/state`) and keeps the answer: when an earlier database had synced, the status
 *   says so, because whatever that one recorded after its last sync is gone.
 * - Every loop is bounded: batches and pages per cycle, cycles per run; more work goes again.
 *
 * When an op leaves the overlay (local stock = confirmed + overlay, stock/stock-view.ts): exactly
 * when the confirmed figures of its SKU include it. Each pulled change says the highest seq of
 * this database's ops its figures include (`includesSeq`, Replicache's lastMutationID per SKU);
 * an acknowledged op with a seq up to it leaves the overlay in the same transaction that writes
 * the figures. An op is therefore never counted twice and never missing, whatever the order of
 * push, flush and pull: a pull before the flush leaves it in the overlay, the pull after takes it
 * out, and an answer that arrives after such a pull (another tab's) takes it out at once.
 * A pull only runs once every op this terminal ever posted has its answer (pushes go first, in
 * seq order, and a failed push ends the cycle).
 */
import type { Clock } from "../clock";
import { getMeta, putMeta, type StoreDb } from "../db/store-db";
import { backoffDelayMs, type BackoffPolicy } from "./backoff";
import { getPull, getState, postPush, type HttpDeps } from "./http";
import type { BatchLimits } from "./outbox-rules";
import { applyPullPage, applyPushResults, awaitingConfirmation, markAttempt, readPushBatch } from "./outbox-sync";
import { PUSH_OPS_MAX } from "./protocol";
import { describe, RETRYABLE, type Outcome, type SyncFailure } from "./sync-failure";
import type { KeepAlive, SyncLock } from "./sync-lock";

export type SyncState = "idle" | "pushing" | "pulling" | "backoff" | "error" | "closed";

const TRANSITIONS = {
  idle: ["pushing", "error", "closed"],
  pushing: ["pulling", "idle", "backoff", "error", "closed"],
  pulling: ["idle", "backoff", "error", "closed"],
  backoff: ["pushing", "idle", "error", "closed"],
  error: ["idle", "closed"],
  closed: [],
} as const satisfies Record<SyncState, readonly SyncState[]>;

export type SyncProblem = SyncFailure & { during: "push" | "pull"; atMs: number };

export interface SyncTuning {
  pushBatch: BatchLimits;
  pushBatchesPerCycleMax: number;
  pullLimit: number;
  pullPagesPerCycleMax: number;
  requestTimeoutMs: number;
  backoff: BackoffPolicy;
  /** A pull (and push, if anything is pending) this often while idle and online. */
  intervalMs: number;
  /** When another tab holds the sync lock, look again after this. */
  lockRetryMs: number;
  /**
   * While acknowledged ops wait for confirmed figures that include them, pull again this soon
   * (the edge's flush lands them a fraction of a second after the push) rather than at the interval.
   */
  confirmPullMs: number;
  /** Answered ops kept in the outbox for the record, beyond those needing attention. */
  historyMax: number;
  /** Cycles one run may chain (more ops, more pages) before yielding to a timer. */
  cyclesPerRunMax: number;
}

export interface EngineSnapshot {
  state: SyncState;
  /** What the browser says (navigator.onLine and online/offline events). */
  online: boolean;
  /** Whether the last request reached the edge; null before the first. */
  reachable: boolean | null;
  problem: SyncProblem | null;
  /** Consecutive retryable failures. */
  attempt: number;
  nextAttemptAtMs: number | null;
  /** The last try found another tab syncing this terminal. */
  otherTabSyncing: boolean;
}

export interface SyncEngineDeps {
  db: StoreDb;
  terminalId: string;
  storeId: string;
  /** This database's incarnation (store-db.ts); null for a database made before incarnations. */
  incarnation: string | null;
  http: HttpDeps;
  clock: Clock;
  random: () => number;
  lock: SyncLock;
  tuning: SyncTuning;
  online: boolean;
  /** Called whenever the snapshot or the outbox may have changed. */
  onChange: () => void;
}

type CycleEnd =
  | { kind: "done"; more: boolean; awaitingConfirmation: boolean }
  | { kind: "failed"; failure: SyncFailure; during: "push" | "pull" }
  | { kind: "lock_busy" }
  | { kind: "lock_lost" }
  | { kind: "closing" };

type TimerPurpose = "retry" | "interval" | "lock" | "continue";

export class SyncEngine {
  private state: SyncState = "idle";
  private online: boolean;
  private reachable: boolean | null = null;
  private problem: SyncProblem | null = null;
  private attempt = 0;
  private otherTabSyncing = false;
  private timer: { handle: unknown; atMs: number; purpose: TimerPurpose } | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private againForced = false;
  private closing = false;
  private inflight: AbortController | null = null;

  constructor(private readonly deps: SyncEngineDeps) {
    const t = deps.tuning;
    if (t.pushBatch.opsMax < 1 || t.pushBatch.opsMax > PUSH_OPS_MAX) throw new Error(`pushBatch.opsMax must be 1…${PUSH_OPS_MAX}`);
    if (t.requestTimeoutMs <= 0) throw new Error("requestTimeoutMs must be positive");
    for (const [name, n] of Object.entries({ pushBatchesPerCycleMax: t.pushBatchesPerCycleMax, pullLimit: t.pullLimit, pullPagesPerCycleMax: t.pullPagesPerCycleMax, cyclesPerRunMax: t.cyclesPerRunMax })) {
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${n}`);
    }
    this.online = deps.online;
  }

  snapshot(): EngineSnapshot {
    return {
      state: this.state,
      online: this.online,
      reachable: this.reachable,
      problem: this.problem,
      attempt: this.attempt,
      nextAttemptAtMs: this.timer?.atMs ?? null,
      otherTabSyncing: this.otherTabSyncing,
    };
  }

  /** Sync soon because something happened (an op was recorded, time passed). Respects offline, backoff and error. */
  nudge(): void {
    if (this.closing || this.state === "error" || this.state === "backoff" || !this.online) return;
    this.start(false);
  }

  /**
   * Sync now because a person or the app asked: leaves `error` and `backoff`, and tries even
   * when the browser says it is offline. Resolves when the engine is done (idle, backoff or error).
   */
  async sync(): Promise<void> {
    if (this.closing) return;
    if (this.state === "error") {
      this.problem = null;
      this.attempt = 0;
      this.moveTo("idle");
    }
    if (this.state === "backoff") {
      this.clearTimer();
      this.moveTo("idle");
    }
    this.start(true);
    await this.settled();
  }

  /** The browser went online or offline. Back online means: try at once, with a fresh backoff. */
  setOnline(online: boolean): void {
    if (this.closing || this.online === online) return;
    this.online = online;
    if (!online) {
      if (this.state === "backoff") this.moveTo("idle");
      this.clearTimer();
      this.deps.onChange();
      return;
    }
    this.attempt = 0;
    if (this.state === "backoff") {
      this.clearTimer();
      this.moveTo("idle");
    }
    this.deps.onChange();
    this.nudge();
  }

  /** Resolves once no cycle is running. */
  async settled(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  /** Stop: no new requests, the one in flight aborted, timers cleared. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.closing = true;
    this.clearTimer();
    this.inflight?.abort();
    await this.settled();
    this.moveTo("closed");
    this.deps.onChange();
  }

  private start(forced: boolean): void {
    if (this.running !== null) {
      this.again = true;
      this.againForced ||= forced;
      return;
    }
    this.clearTimer();
    // run() awaits before it can finish, so `running` is set before its finally clears it.
    this.running = this.run(forced);
  }

  private async run(forced: boolean): Promise<void> {
    try {
      let force = forced;
      for (let cycle = 0; cycle < this.deps.tuning.cyclesPerRunMax; cycle++) {
        this.again = false;
        this.againForced = false;
        await this.cycle(force);
        // `again` is read and `running` cleared with no await between: a nudge or sync() that
        // arrives while a cycle runs is never lost.
        if (this.closing || !this.again || this.state === "error" || this.state === "backoff") return;
        force = this.againForced;
        if (!force && !this.online) return;
      }
      // Still more to do: let timers and other work run first.
      if (this.again) this.schedule(0, "continue");
    } finally {
      this.running = null;
    }
  }

  private async cycle(forced: boolean): Promise<void> {
    if (!forced && !this.online) {
      if (this.state === "backoff") this.moveTo("idle");
      this.deps.onChange();
      return;
    }
    let end: CycleEnd;
    const during = (): "push" | "pull" => (this.state === "pulling" ? "pull" : "push");
    try {
      const locked = await this.deps.lock.withLock((keepAlive) => this.pushThenPull(keepAlive));
      end = locked.acquired ? locked.value : { kind: "lock_busy" };
    } catch (cause) {
      // IndexedDB failed (quota, a closed database) or this client has a bug: stop and say so.
      end = { kind: "failed", failure: { kind: "client_failure", detail: describe(cause), cause }, during: during() };
    }
    this.finish(end);
  }

  private async pushThenPull(keepAlive: KeepAlive): Promise<CycleEnd> {
    this.otherTabSyncing = false;
    this.moveTo("pushing");
    this.deps.onChange();
    const standing = await this.learnStanding();
    if (standing.kind !== "done") return standing;
    const pushed = await this.pushPending(keepAlive);
    if (pushed.kind !== "done") return pushed;
    this.moveTo("pulling");
    this.deps.onChange();
    const pulled = await this.pullChanges(keepAlive);
    if (pulled.kind !== "done") return pulled;
    return { kind: "done", more: pushed.more || pulled.more, awaitingConfirmation: pulled.awaitingConfirmation };
  }

  /** Once per database, before its first push: what the edge knows of this terminal's earlier databases. */
  private async learnStanding(): Promise<CycleEnd> {
    const { db, incarnation, clock } = this.deps;
    if ((await getMeta(db, "edgeStanding")) !== undefined) return { kind: "done", more: false, awaitingConfirmation: false };
    const answer = await this.request((signal) => getState(this.deps.http, signal));
    if (!answer.ok) return { kind: "failed", failure: answer.failure, during: "push" };
    this.reachable = true;
    const edge = answer.value;
    const previous = edge.incarnation !== incarnation && edge.lastSeq > 0 ? { incarnation: edge.incarnation, lastSeq: edge.lastSeq, lastSyncAt: edge.lastSyncAt } : null;
    await putMeta(db, "edgeStanding", { checkedAtMs: clock.now(), previous });
    return { kind: "done", more: false, awaitingConfirmation: false };
  }

  private async pushPending(keepAlive: KeepAlive): Promise<CycleEnd> {
    const { db, terminalId, incarnation, tuning, clock } = this.deps;
    for (let batchNo = 0; batchNo < tuning.pushBatchesPerCycleMax; batchNo++) {
      if (this.closing) return { kind: "closing" };
      const batch = await readPushBatch(db, terminalId, tuning.pushBatch);
      if (batch.length === 0) return { kind: "done", more: false, awaitingConfirmation: false };
      if (!(await keepAlive())) return { kind: "lock_lost" };
      await markAttempt(db, batch.map((r) => r.seq), clock.now());
      const answer = await this.request((signal) => postPush(this.deps.http, { terminalId, ...(incarnation === null ? {} : { incarnation }), ops: batch.map((r) => r.op) }, signal));
      if (!answer.ok) return { kind: "failed", failure: answer.failure, during: "push" };
      this.reachable = true;
      await applyPushResults(db, answer.value, clock.now());
      this.deps.onChange();
    }
    return { kind: "done", more: true, awaitingConfirmation: false };
  }

  private async pullChanges(keepAlive: KeepAlive): Promise<CycleEnd> {
    const { db, storeId, incarnation, tuning, clock } = this.deps;
    for (let pageNo = 0; pageNo < tuning.pullPagesPerCycleMax; pageNo++) {
      if (this.closing) return { kind: "closing" };
      if (!(await keepAlive())) return { kind: "lock_lost" };
      const cursor = (await getMeta(db, "pullCursor")) ?? null;
      const answer = await this.request((signal) => getPull(this.deps.http, cursor, tuning.pullLimit, incarnation, signal));
      if (!answer.ok) return { kind: "failed", failure: answer.failure, during: "pull" };
      this.reachable = true;
      await applyPullPage(db, answer.value, { storeId, nowMs: clock.now(), historyMax: tuning.historyMax });
      this.deps.onChange();
      if (!answer.value.more) return { kind: "done", more: false, awaitingConfirmation: await awaitingConfirmation(db) };
    }
    // Pages left: the next cycle goes on from the cursor.
    return { kind: "done", more: true, awaitingConfirmation: false };
  }

  private async request<T>(send: (signal: AbortSignal) => Promise<Outcome<T>>): Promise<Outcome<T>> {
    // Checked and registered with no await in between: close() either sees this request to abort
    // it, or this request sees close() and is never sent. Otherwise it could wait for a deadline
    // on a clock that a closing client no longer moves.
    if (this.closing) return { ok: false, failure: { kind: "network", detail: "the store client is closing" } };
    const controller = new AbortController();
    this.inflight = controller;
    try {
      return await send(controller.signal);
    } finally {
      this.inflight = null;
    }
  }

  private finish(end: CycleEnd): void {
    if (this.closing) return;
    const { tuning, clock, random } = this.deps;
    switch (end.kind) {
      case "done":
        this.attempt = 0;
        this.problem = null;
        this.moveTo("idle");
        if (end.more) this.again = true;
        // Acknowledged ops not yet in confirmed figures: their flush is due in a moment, pull soon.
        else this.schedule(end.awaitingConfirmation ? Math.min(tuning.intervalMs, tuning.confirmPullMs) : tuning.intervalMs, "interval");
        break;
      case "failed": {
        this.problem = { ...end.failure, during: end.during, atMs: clock.now() };
        if (end.failure.kind === "network" || end.failure.kind === "timeout") this.reachable = false;
        else if (end.failure.kind !== "client_failure") this.reachable = true;
        if (!RETRYABLE[end.failure.kind]) {
          this.moveTo("error");
          break;
        }
        this.attempt += 1;
        if (!this.online) {
          // The browser says offline: its online event starts the next try, not a timer.
          this.moveTo("idle");
          break;
        }
        const retryAfterMs = end.failure.kind === "overloaded" ? end.failure.retryAfterMs : null;
        this.moveTo("backoff");
        this.schedule(backoffDelayMs(this.attempt, tuning.backoff, random, retryAfterMs), "retry");
        break;
      }
      case "lock_busy":
      case "lock_lost":
        this.otherTabSyncing = true;
        if (this.state === "pushing" || this.state === "pulling") this.moveTo("idle");
        this.schedule(tuning.lockRetryMs, "lock");
        break;
      case "closing":
        break;
    }
    this.deps.onChange();
  }

  private schedule(delayMs: number, purpose: TimerPurpose): void {
    this.clearTimer();
    if (this.closing) return;
    const { clock } = this.deps;
    const handle = clock.setTimeout(() => {
      this.timer = null;
      if (purpose === "interval") this.nudge();
      else this.start(false);
    }, delayMs);
    this.timer = { handle, atMs: clock.now() + delayMs, purpose };
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    this.deps.clock.clearTimeout(this.timer.handle);
    this.timer = null;
  }

  private moveTo(next: SyncState): void {
    if (this.state === next) return;
    const allowed: readonly SyncState[] = TRANSITIONS[this.state];
    if (!allowed.includes(next)) throw new Error(`sync engine: no transition ${this.state} → ${next}`);
    this.state = next;
  }
}
