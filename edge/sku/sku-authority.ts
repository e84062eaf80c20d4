/**
 * SkuAuthority: the one writer of a SKU's stock, one Durable Object per SKU, holding every
 * location of that SKU. Each method loads what it needs from the object's SQLite, asks the pure
 * rules in `ledger/rules/` what to do, and writes the outcome — balances, holds, dedupe records
 * and the outbox rows for the ledger — in one `transactionSync`, with no await between the
 * decision and the write. That is what makes I1 (no online oversell), I3 (exactly once) and I6 (a
 * hold ends once) hold under any concurrency: the object runs one synchronous decision at a time.
 *
 * Expected outcomes are returned as values (`{ ok: false, problem }`), never thrown across RPC.
 */
import { DurableObject } from "cloudflare:workers";
import {
  commitHold,
  expireDue,
  extendHold,
  grantHolds,
  isLive,
  receiptMovement,
  releaseHold,
  available,
  type Hold,
  type HoldLine,
  type LocationStock,
} from "../../ledger/rules/holds";
import type { MovementSource } from "../../ledger/rules/movement";
import type { Env } from "../env";
import { problem, type Problem, type Result } from "../http/problem";
import { Directory } from "./directory";
import { SkuStorage } from "./sku-storage";

/** How long the answer to an Idempotency-Key is kept. */
export const DEDUPE_RETENTION_MS = 7 * 24 * 3600_000;
/** Bound on holds expired per pass; the alarm comes straight back for the rest. */
const EXPIRE_BATCH_MAX = 500;

export interface HoldView {
  readonly holdId: string;
  readonly location: string;
  readonly qty: number;
  readonly expiresAt: string;
  readonly state: Hold["state"];
}

export interface LocationAvailability {
  readonly location: string;
  readonly onHand: number;
  readonly held: number;
  readonly reserve: number;
  readonly available: number;
}

export interface Availability {
  readonly sku: string;
  readonly onHand: number;
  readonly held: number;
  readonly available: number;
  readonly locations: readonly LocationAvailability[];
}

export interface IdempotencyInput {
  readonly key: string;
  readonly fingerprint: string;
}

export interface ReceiptInput {
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
  readonly lot: string | null;
  readonly expiresOn: string | null;
  readonly ref: string | null;
  readonly source: MovementSource;
  readonly idempotency: IdempotencyInput | null;
}

export interface ReceiptOutput {
  readonly movementId: string;
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
  readonly lot: string | null;
  readonly expiresOn: string | null;
  readonly ref: string | null;
  readonly onHand: number;
  readonly available: number;
}

export type HoldLineShort = { readonly lineIndex: number; readonly requested: number; readonly available: number };

export type HoldReply =
  | { readonly ok: true; readonly holds: readonly HoldView[] }
  | { readonly ok: false; readonly problem: Problem; readonly short?: readonly HoldLineShort[] };

/** Per-hold outcome of preparing a checkout: the hold is pinned, re-held under a new id, or lost. */
export type PrepareOutcome =
  | { readonly holdId: string; readonly ok: true; readonly holds: readonly HoldView[] }
  | { readonly holdId: string; readonly ok: false; readonly available: number };

export interface CommitOutcome {
  readonly holdId: string;
  readonly state: Hold["state"];
  readonly location: string;
  readonly qty: number;
  readonly movementId: string | null;
}

export const holdView = (h: Hold, nowMs: number): HoldView => ({
  holdId: h.holdId,
  location: h.location,
  qty: h.qty,
  expiresAt: new Date(h.expiresAtMs).toISOString(),
  // An active hold past its deadline has expired even if no one has written that down yet (I6).
  state: h.state === "active" && !isLive(h, nowMs) ? "expired" : h.state,
});

export class SkuAuthority extends DurableObject<Env> {
  /** The clock. Tests move it forward to expire holds without waiting. */
  now: () => number = () => Date.now();

  private readonly store: SkuStorage;
  private readonly directory: Directory;
  private alarmAtMs: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new SkuStorage(ctx.storage.sql);
    this.directory = new Directory(env.DB);
  }

  async availability(sku: string): Promise<Result<{ availability: Availability }>> {
    const known = await this.known(sku);
    if (!known.ok) return known;
    const nowMs = this.now();
    const directory = await this.directory.locations(nowMs);
    const stocks = this.ctx.storage.transactionSync(() => {
      this.expire(nowMs);
      return this.store.stocks(directory);
    });
    await this.schedule();
    const shown = stocks.filter((s) => s.onHand !== 0 || s.held !== 0);
    const locations = shown.map((s) => ({ location: s.location, onHand: s.onHand, held: s.held, reserve: s.reserve, available: available(s) }));
    const sum = (f: (l: LocationAvailability) => number) => locations.reduce((n, l) => n + f(l), 0);
    return {
      ok: true,
      availability: { sku, onHand: sum((l) => l.onHand), held: sum((l) => l.held), available: sum((l) => l.available), locations },
    };
  }

  /** Whether the SKU exists and knows every named location; changes nothing. */
  async check(req: { sku: string; locations: readonly string[] }): Promise<Result<object>> {
    const known = await this.known(req.sku);
    if (!known.ok) return known;
    const directory = await this.directory.locations(this.now(), req.locations);
    const unknown = req.locations.find((l) => !directory.has(l));
    return unknown === undefined ? { ok: true } : { ok: false, problem: problem("unknown_location", `location ${unknown} does not exist`) };
  }

  /**
   * Hold every line or none. Hold ids derive from `requestId`, so a request sent again (a cart
   * coordinator retrying after a crash) finds its holds instead of granting new ones.
   */
  async hold(req: { sku: string; cartId: string; requestId: string; lines: readonly HoldLine[]; ttlMs: number }): Promise<HoldReply> {
    const named = req.lines.flatMap((l) => (l.location === undefined ? [] : [l.location]));
    const checked = await this.check({ sku: req.sku, locations: named });
    if (!checked.ok) return checked;
    const nowMs = this.now();
    const directory = await this.directory.locations(nowMs, named);

    const reply = this.ctx.storage.transactionSync((): HoldReply => {
      this.expire(nowMs);
      const earlier = this.holdsOfRequest(req.requestId);
      if (earlier.length > 0) return { ok: true, holds: earlier.map((h) => holdView(h, nowMs)) };
      const granted = grantHolds(this.store.stocks(directory), req, nowMs);
      if (!granted.ok) {
        return { ok: false, problem: problem("insufficient_stock", `not enough ${req.sku} available`), short: granted.short };
      }
      for (const h of granted.holds) this.store.insertHold(h);
      return { ok: true, holds: granted.holds.map((h) => holdView(h, nowMs)) };
    });
    await this.schedule();
    return reply;
  }

  /** Release holds; a hold that has already ended stays as it ended. */
  async release(req: { holdIds: readonly string[] }): Promise<{ holds: HoldView[] }> {
    const nowMs = this.now();
    const holds = this.ctx.storage.transactionSync(() => {
      this.expire(nowMs);
      return req.holdIds.flatMap((id) => {
        const h = this.store.hold(id);
        if (h === undefined) return [];
        const r = releaseHold(h, nowMs);
        if (r.ok) this.store.endHold(r.hold);
        return [holdView(r.hold, nowMs)];
      });
    });
    await this.schedule();
    return { holds };
  }

  /**
   * First phase of a checkout: pin each live hold until `untilMs` so it cannot expire while the
   * cart commits its other SKUs; re-hold an expired one if stock allows (same location first).
   */
  async prepareCheckout(req: { sku: string; cartId: string; requestId: string; holdIds: readonly string[]; pinMs: number; ttlMs: number }): Promise<Result<{ outcomes: PrepareOutcome[] }>> {
    const known = await this.known(req.sku);
    if (!known.ok) return known;
    const nowMs = this.now();
    const directory = await this.directory.locations(nowMs);
    const outcomes = this.ctx.storage.transactionSync(() => {
      this.expire(nowMs);
      return req.holdIds.map((holdId): PrepareOutcome => {
        const h = this.store.hold(holdId);
        if (h === undefined) return { holdId, ok: false, available: 0 };
        if (h.state === "committed") return { holdId, ok: true, holds: [holdView(h, nowMs)] };
        const pinned = extendHold(h, nowMs + req.pinMs, nowMs);
        if (pinned !== null) {
          this.store.extendHold(holdId, pinned.expiresAtMs);
          return { holdId, ok: true, holds: [holdView(pinned, nowMs)] };
        }
        // Expired or released: a new hold for the same quantity, at the same place if possible. Its
        // id derives from the checkout request and the old hold, so a retried prepare finds it.
        const requestId = `${req.requestId}.${holdId}`;
        const earlier = this.store.holdsWithPrefix(`${requestId}.`);
        if (earlier.length > 0) return { holdId, ok: true, holds: earlier.map((g) => holdView(g, nowMs)) };
        const again = (location?: string) =>
          grantHolds(this.store.stocks(directory), { requestId, cartId: req.cartId, lines: [{ lineIndex: 0, qty: h.qty, location }], ttlMs: Math.max(req.ttlMs, req.pinMs) }, nowMs);
        const here = again(h.location);
        const granted = here.ok ? here : again();
        if (!granted.ok) return { holdId, ok: false, available: granted.short[0]?.available ?? 0 };
        for (const g of granted.holds) this.store.insertHold(g);
        return { holdId, ok: true, holds: granted.holds.map((g) => holdView(g, nowMs)) };
      });
    });
    await this.schedule();
    return { ok: true, outcomes };
  }

  /** Second phase: each live hold becomes a sale (`loc → customer`); a committed one stays committed. */
  async commit(req: { sku: string; orderId: string; holdIds: readonly string[]; source: MovementSource }): Promise<{ outcomes: CommitOutcome[] }> {
    const nowMs = this.now();
    const outcomes = this.ctx.storage.transactionSync(() => {
      this.expire(nowMs);
      return req.holdIds.flatMap((holdId): CommitOutcome[] => {
        const h = this.store.hold(holdId);
        if (h === undefined) return [];
        const r = commitHold(h, { sku: req.sku, nowMs, source: req.source, ref: req.orderId });
        if (!r.ok) {
          return [{ holdId, state: holdView(r.hold, nowMs).state, location: h.location, qty: h.qty, movementId: h.state === "committed" ? `mv.${holdId}` : null }];
        }
        this.store.endHold(r.hold);
        if (r.movement !== null) this.store.recordMovement(r.movement);
        return [{ holdId, state: "committed", location: h.location, qty: h.qty, movementId: r.movement?.id ?? null }];
      });
    });
    await this.schedule();
    return { outcomes };
  }

  /** Units arrive at a location. With an Idempotency-Key, the same receipt twice lands once. */
  async receive(input: ReceiptInput): Promise<Result<{ replayed: boolean; receipt: ReceiptOutput }>> {
    const known = await this.known(input.sku);
    if (!known.ok) return known;
    const nowMs = this.now();
    const directory = await this.directory.locations(nowMs, [input.location]);
    if (!directory.has(input.location)) return { ok: false, problem: problem("unknown_location", `location ${input.location} does not exist`) };
    const key = input.idempotency === null ? null : `receipt:${input.idempotency.key}`;
    const out = this.ctx.storage.transactionSync((): Result<{ replayed: boolean; receipt: ReceiptOutput }> => {
      this.expire(nowMs);
      if (key !== null && input.idempotency !== null) {
        const seen = this.store.dedupe(key);
        if (seen !== undefined) {
          return seen.fingerprint === input.idempotency.fingerprint
            ? { ok: true, replayed: true, receipt: seen.response as ReceiptOutput }
            : { ok: false, problem: problem("idempotency_key_reused", "this Idempotency-Key was used for a different receipt") };
        }
      }
      const movement = receiptMovement({ id: `rcpt.${crypto.randomUUID()}`, sku: input.sku, location: input.location, qty: input.qty, nowMs, source: input.source, ref: input.ref, lot: input.lot, expiresOn: input.expiresOn });
      this.store.recordMovement(movement);
      const stock = this.store.stocks(directory).find((s) => s.location === input.location);
      const receipt: ReceiptOutput = {
        movementId: movement.id,
        sku: input.sku,
        location: input.location,
        qty: input.qty,
        lot: input.lot,
        expiresOn: input.expiresOn,
        ref: input.ref,
        onHand: stock?.onHand ?? 0,
        available: stock === undefined ? 0 : available(stock),
      };
      if (key !== null && input.idempotency !== null) this.store.remember(key, input.idempotency.fingerprint, receipt, nowMs);
      return { ok: true, replayed: false, receipt };
    });
    await this.schedule();
    return out;
  }

  /** Expire holds whose deadline passed, forget old idempotency answers, and set the next alarm. */
  override async alarm(): Promise<void> {
    this.alarmAtMs = null;
    const nowMs = this.now();
    this.ctx.storage.transactionSync(() => {
      this.expire(nowMs);
      this.store.forgetDedupeBefore(nowMs - DEDUPE_RETENTION_MS);
    });
    await this.schedule();
  }

  /** Everything a test or an audit needs to check the invariants, read in one go. */
  inspect(): { stocks: LocationStock[]; balances: Record<string, number>; holds: Hold[]; outbox: number; alarmAtMs: number | null | undefined } {
    return {
      stocks: this.store.stocks(new Map()),
      balances: Object.fromEntries(this.store.balances()),
      holds: this.store.activeHolds(),
      outbox: this.store.outboxSize(),
      alarmAtMs: this.alarmAtMs,
    };
  }

  private async known(sku: string): Promise<{ ok: true } | { ok: false; problem: Problem }> {
    return (await this.directory.knowsSku(sku)) ? { ok: true } : { ok: false, problem: problem("unknown_sku", `SKU ${sku} does not exist`) };
  }

  private holdsOfRequest(requestId: string): Hold[] {
    // Hold ids are `<requestId>.<line>.<n>`; the lines of a request are granted together or not at all.
    return this.store.holdsWithPrefix(`${requestId}.`);
  }

  /** Apply expiry to every hold past its deadline (lazily on each request, and from the alarm). */
  private expire(nowMs: number): void {
    for (const h of expireDue(this.store.dueHolds(nowMs, EXPIRE_BATCH_MAX), nowMs)) this.store.endHold(h);
  }

  private async schedule(): Promise<void> {
    const expiry = this.store.earliestExpiry();
    const oldest = this.store.oldestDedupe();
    const candidates = [expiry, oldest === undefined ? undefined : oldest + DEDUPE_RETENTION_MS].filter((t): t is number => t !== undefined);
    if (candidates.length === 0) return;
    const next = Math.min(...candidates);
    if (this.alarmAtMs === undefined) this.alarmAtMs = await this.ctx.storage.getAlarm();
    if (this.alarmAtMs === null || next < this.alarmAtMs) {
      await this.ctx.storage.setAlarm(next);
      this.alarmAtMs = next;
    }
  }
}
