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
import { countApprovedEvent, seqConflictEvent, shortfallEvent, stockEvents, type OpName, type Shortfall } from "../../ledger/rules/events";
import { adjustmentMovement } from "../../ledger/rules/count-sheet";
import { locationAccount } from "../../ledger/rules/ids";
import { classifyRepeat, opFingerprint, opKey, opMovement, planShortfall, type TerminalOp } from "../../ledger/rules/terminal-ops";
import { expiredLotMovements, expiryInstantMs, splitByLots, splitOverdrawingLots, splitTakingLots, takeFromLots } from "../../ledger/rules/lots";
import type { ShrinkReason } from "../../ledger/rules/ids";
import type { Movement, MovementSource } from "../../ledger/rules/movement";
import { receiveTransfer, transferOut, writeOff, type Transfer } from "../../ledger/rules/transfers";
import type { Env } from "../env";
import { ledgerWriter, outboxRegistry } from "../stubs";
import { problem, problemBody, type Problem, type Result } from "../http/problem";
import { Directory, type DirectoryEntry, type SkuFacts } from "./directory";
import type { Landed, LedgerSink } from "./ledger-sink";
import {
  holdView,
  transferView,
  type Availability,
  type CommitOutcome,
  type CommitRequest,
  type FlushStats,
  type HoldReply,
  type HoldView,
  type IdempotencyInput,
  type LocationAvailability,
  type PrepareOutcome,
  type PrepareRequest,
  type ReceiptInput,
  type ReceiptOutput,
  type TerminalOpResult,
  type TransferView,
  type WriteOffOutput,
} from "./sku-api";
import { FLUSH_DELAY_MS, FLUSH_EVENTS_MAX, FLUSH_MOVEMENTS_MAX, flushRetryDelayMs } from "./flush-policy";
import { OutboxListing } from "./outbox-listing";
import { DeferredOutbox, type PlantedBug } from "./planted-bugs";
import { SkuStorage } from "./sku-storage";

export { FLUSH_DELAY_MS, FLUSH_MOVEMENTS_MAX, flushRetryDelayMs } from "./flush-policy";
export type { PlantedBug } from "./planted-bugs";

/** How long the answer to an Idempotency-Key is kept. */
export const DEDUPE_RETENTION_MS = 7 * 24 * 3600_000;
/**
 * Records of a terminal database's ops kept with their fingerprints, newest first; older ops are
 * answered by the high-water mark (duplicate). A reused seq is caught within this window.
 */
export const TERMINAL_OP_RECORDS_MAX = 1_000;
/** How long an ended hold is kept (a retried hold request or commit finds it); then pruned by the alarm. */
export const ENDED_HOLD_RETENTION_MS = 3600_000;
/** Bound on holds expired per pass; the alarm comes straight back for the rest. */
const EXPIRE_BATCH_MAX = 500;
/** What every request needs before deciding: the SKU's facts, the location directory, the time. */
interface Ready {
  readonly sku: string;
  readonly facts: SkuFacts;
  readonly directory: ReadonlyMap<string, DirectoryEntry>;
  readonly nowMs: number;
}


export class SkuAuthority extends DurableObject<Env> {
  /** The clock. Tests move it forward to expire holds without waiting. */
  now: () => number = () => Date.now();
  /** When a failed flush is tried again. Replays name their SKUs differently and pin the jitter to the name they share. */
  retryDelayMs: (sku: string, failuresInRow: number) => number = flushRetryDelayMs;
  /** Where flushes land. Tests replace it to inject ledger failures. */
  ledger: LedgerSink;
  readonly flushStats: FlushStats = { flushes: 0, batches: 0, movements: 0, events: 0, rowsWritten: 0, failures: 0, lagsMs: [] };
  /** TEST-ONLY: see PlantedBug. */
  plantedBug: PlantedBug = "none";
  /** TEST-ONLY: outbox rows held back by the planted "outbox-outside-transaction" bug. */
  private readonly plantedDeferred = new DeferredOutbox();

  private readonly store: SkuStorage;
  private readonly listing: OutboxListing;
  /** How many times a report asked for the outbox since this instance started (tests, benchmarks). */
  outboxReads = 0;
  private readonly directory: Directory;
  private alarmAtMs: number | null | undefined;
  /** When the outbox should next be flushed; null when it is empty as far as this instance knows. */
  private flushAtMs: number | null;
  private flushFailuresInRow = 0;
  /** The SKU this object has recorded as its own (meta "sku"), once it has been read or written. */
  private namedSku: string | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new SkuStorage(ctx.storage.sql);
    this.listing = new OutboxListing(this.store, (sku) => outboxRegistry(env, sku), () => this.plantedBug === "unlisted-outbox");
    this.directory = new Directory(env.DB);
    // The writer lands the flush with other SKUs' and publishes its events before it answers.
    this.ledger = { land: (batch, sku) => ledgerWriter(env, sku).land(sku, batch), publish: async () => undefined };
    // After a restart, anything left in the outbox is due at once.
    this.flushAtMs = this.store.hasUnflushed() ? this.now() : null;
    if (this.flushAtMs === null) this.listing.emptied(this.now());
  }

  async availability(sku: string): Promise<Result<{ availability: Availability }>> {
    const ready = await this.ready(sku);
    if (!ready.ok) return ready;
    const r = ready.ready;
    const { stocks, transfers } = this.transaction(() => {
      this.expire(r);
      return { stocks: this.store.stocks(r.directory), transfers: this.store.inTransit() };
    });
    await this.afterChange(r.nowMs, { holdsOnly: true });
    const shown = stocks.filter((s) => s.onHand !== 0 || s.held !== 0);
    const locations = shown.map((s) => ({ location: s.location, onHand: s.onHand, held: s.held, reserve: s.reserve, available: available(s) }));
    const sum = (f: (l: LocationAvailability) => number) => locations.reduce((n, l) => n + f(l), 0);
    return {
      ok: true,
      availability: {
        sku,
        onHand: sum((l) => l.onHand),
        held: sum((l) => l.held),
        available: sum((l) => l.available),
        inTransit: transfers.reduce((n, t) => n + t.qty, 0),
        locations,
        transfers: transfers.map((t) => ({ transferId: t.transferId, from: t.from, to: t.to, qty: t.qty })),
      },
    };
  }

  /** Whether the SKU exists and knows every named location; changes nothing. */
  async check(req: { sku: string; locations: readonly string[] }): Promise<Result<object>> {
    const ready = await this.ready(req.sku, req.locations);
    return ready.ok ? { ok: true } : ready;
  }

  /**
   * Hold every line or none. Hold ids derive from `requestId`, so a request sent again (a cart
   * coordinator retrying after a crash) finds its holds instead of granting new ones.
   */
  async hold(req: { sku: string; cartId: string; requestId: string; lines: readonly HoldLine[]; ttlMs: number }): Promise<HoldReply> {
    const ready = await this.ready(req.sku, req.lines.flatMap((l) => (l.location === undefined ? [] : [l.location])));
    if (!ready.ok) return ready;
    const r = ready.ready;
    const reply = this.transaction((): HoldReply => {
      this.expire(r);
      // Hold ids are `<requestId>.<line>.<n>`; the lines of a request are granted together or not at all.
      const earlier = this.store.holdsWithPrefix(`${req.requestId}.`);
      if (earlier.length > 0) return { ok: true, holds: earlier.map((h) => holdView(h, r.nowMs)) };
      const before = this.store.stocks(r.directory);
      const granted = grantHolds(before, req, r.nowMs);
      if (!granted.ok) {
        return { ok: false, problem: problem("insufficient_stock", `not enough ${req.sku} available`), short: granted.short };
      }
      // The rule already knows the stock before and after: no read of it on either side.
      this.step(r, null, r.nowMs, () => {
        for (const h of granted.holds) this.store.insertHold(h);
      }, undefined, { before, after: granted.stocks });
      return { ok: true, holds: granted.holds.map((h) => holdView(h, r.nowMs)) };
    });
    await this.afterChange(r.nowMs, { holdsOnly: true });
    return reply;
  }

  /** Release holds; a hold that has already ended stays as it ended. */
  async release(req: { holdIds: readonly string[] }): Promise<{ holds: HoldView[] }> {
    const r = await this.readyFromMeta();
    const nowMs = r?.nowMs ?? this.now();
    const holds = this.transaction(() => {
      if (r !== null) this.expire(r);
      const ended: HoldView[] = [];
      const apply = () => {
        for (const id of req.holdIds) {
          const h = this.store.hold(id);
          if (h === undefined) continue;
          const out = releaseHold(h, nowMs);
          if (out.ok) this.store.endHold(out.hold);
          ended.push(holdView(out.hold, nowMs));
        }
      };
      if (r === null) apply();
      else this.step(r, null, nowMs, apply);
      return ended;
    });
    await this.afterChange(nowMs, { holdsOnly: true });
    return { holds };
  }

  /**
   * First phase of a checkout: pin each live hold until `untilMs` so it cannot expire while the
   * cart commits its other SKUs; re-hold an expired one if stock allows (same location first).
   */
  async prepareCheckout(req: PrepareRequest): Promise<Result<{ outcomes: PrepareOutcome[] }>> {
    const ready = await this.ready(req.sku);
    if (!ready.ok) return ready;
    const r = ready.ready;
    const outcomes = this.transaction(() => {
      this.expire(r);
      return this.prepareHolds(r, req);
    });
    await this.afterChange(r.nowMs, { holdsOnly: true });
    return { ok: true, outcomes };
  }

  /** Second phase: each live hold becomes a sale (`loc → customer`); a committed one stays committed. */
  async commit(req: CommitRequest): Promise<{ outcomes: CommitOutcome[] }> {
    const ready = await this.ready(req.sku, [], { moves: true });
    // A SKU the catalog no longer knows still commits its holds; listed all the same.
    if (!ready.ok) await this.listing.ensure(req.sku);
    const nowMs = ready.ok ? ready.ready.nowMs : this.now();
    const outcomes = this.transaction(() => {
      if (ready.ok) this.expire(ready.ready);
      return this.commitHolds(ready.ok ? ready.ready : null, req, nowMs);
    });
    await this.afterChange(nowMs, { holdsOnly: true });
    return { outcomes };
  }

  /**
   * Both phases in one transaction, for a cart whose holds are all of this SKU: nothing else can
   * happen between them, so there is nothing to pin against. Sold only if every hold is live or
   * held again; otherwise nothing is sold and `committed` is null (the prepare outcomes say why).
   */
  async checkoutAll(req: PrepareRequest & Omit<CommitRequest, "holdIds">): Promise<Result<{ outcomes: PrepareOutcome[]; committed: CommitOutcome[] | null }>> {
    const ready = await this.ready(req.sku, [], { moves: true });
    if (!ready.ok) return ready;
    const r = ready.ready;
    const reply = this.transaction(() => {
      this.expire(r);
      // No pin: the commit follows in this transaction, so a live hold is left as it is.
      const outcomes = this.prepareHolds(r, { ...req, pinMs: 0 });
      const live = outcomes.flatMap((o) => (o.ok ? o.holds.map((h) => h.holdId) : []));
      const committed = outcomes.every((o) => o.ok) ? this.commitHolds(r, { ...req, holdIds: live }, r.nowMs) : null;
      return { outcomes, committed };
    });
    await this.afterChange(r.nowMs, { holdsOnly: true });
    return { ok: true, ...reply };
  }

  /** The prepare phase inside the caller's transaction (see prepareCheckout). */
  private prepareHolds(r: Ready, req: PrepareRequest): PrepareOutcome[] {
    const nowMs = r.nowMs;
    return req.holdIds.map((holdId): PrepareOutcome => {
      const h = this.store.hold(holdId);
      if (h === undefined) return { holdId, ok: false, available: 0 };
      if (h.state === "committed") return { holdId, ok: true, holds: [holdView(h, nowMs)] };
      if (h.state === "active" && this.store.isShort(holdId)) {
        // A store sale took this hold's units: it ends, and the line is held again below if it can be.
        this.step(r, null, nowMs, () => this.store.endHold({ ...h, state: "released", endedAtMs: nowMs }));
      }
      const current = this.store.hold(holdId) ?? h;
      const pinned = extendHold(current, nowMs + req.pinMs, nowMs);
      if (pinned !== null) {
        if (pinned !== current) this.store.extendHold(holdId, pinned.expiresAtMs);
        return { holdId, ok: true, holds: [holdView(pinned, nowMs)] };
      }
      // Expired or released: a new hold for the same quantity, at the same place if possible. Its
      // id derives from the checkout request and the old hold, so a retried prepare finds it.
      const requestId = `${req.requestId}.${holdId}`;
      const earlier = this.store.holdsWithPrefix(`${requestId}.`);
      if (earlier.length > 0) return { holdId, ok: true, holds: earlier.map((g) => holdView(g, nowMs)) };
      const again = (location?: string) =>
        grantHolds(this.store.stocks(r.directory), { requestId, cartId: req.cartId, lines: [{ lineIndex: 0, qty: h.qty, location }], ttlMs: Math.max(req.ttlMs, req.pinMs) }, nowMs);
      const here = again(h.location);
      const granted = here.ok ? here : again();
      if (!granted.ok) return { holdId, ok: false, available: granted.short[0]?.available ?? 0 };
      this.step(r, null, nowMs, () => {
        for (const g of granted.holds) this.store.insertHold(g);
      });
      return { holdId, ok: true, holds: granted.holds.map((g) => holdView(g, nowMs)) };
    });
  }

  /** The commit phase inside the caller's transaction (see commit); `r` is null for a SKU the catalog no longer knows. */
  private commitHolds(r: Ready | null, req: CommitRequest, nowMs: number): CommitOutcome[] {
    return req.holdIds.flatMap((holdId): CommitOutcome[] => {
      const h = this.store.hold(holdId);
      if (h === undefined) return [];
      const out = commitHold(h, { sku: req.sku, nowMs, source: req.source, ref: req.orderId });
      if (!out.ok) {
        return [{ holdId, state: holdView(out.hold, nowMs).state, location: h.location, qty: h.qty, movementId: h.state === "committed" ? `mv.${holdId}` : null }];
      }
      const movements = out.movement === null ? [] : splitTakingLots(out.movement, this.store.lotsOf(out.movement.from));
      const land = () => {
        this.store.endHold(out.hold);
        for (const m of movements) this.store.recordMovement(m);
      };
      if (r !== null) this.step(r, out.movement, nowMs, land);
      else land();
      return [{ holdId, state: "committed", location: h.location, qty: h.qty, movementId: out.movement?.id ?? null }];
    });
  }

  /** Units arrive at a location. With an Idempotency-Key, the same receipt twice lands once. */
  async receive(input: ReceiptInput): Promise<Result<{ replayed: boolean; receipt: ReceiptOutput }>> {
    const ready = await this.ready(input.sku, [input.location], { moves: true });
    if (!ready.ok) return ready;
    const r = ready.ready;
    const out = this.transaction(() =>
      this.once(input.idempotency, "receipt", r.nowMs, (): Result<{ receipt: ReceiptOutput }> => {
        this.expire(r);
        const movement = receiptMovement({ id: `rcpt.${crypto.randomUUID()}`, sku: input.sku, location: input.location, qty: input.qty, nowMs: r.nowMs, source: input.source, ref: input.ref, lot: input.lot, expiresOn: input.expiresOn });
        this.step(r, movement, r.nowMs, () => this.store.recordMovement(movement));
        const stock = this.store.stocks(r.directory).find((s) => s.location === input.location);
        return {
          ok: true,
          receipt: { movementId: movement.id, sku: input.sku, location: input.location, qty: input.qty, lot: input.lot, expiresOn: input.expiresOn, ref: input.ref, onHand: stock?.onHand ?? 0, available: stock === undefined ? 0 : available(stock) },
        };
      }),
    );
    await this.afterChange(r.nowMs);
    return out.ok ? { ok: true, replayed: out.replayed, receipt: out.value.receipt } : out;
  }

  /** Stock leaves `from` for `to`: `loc:from → transit:<id>`, at neither location until received. */
  async transferOut(input: { sku: string; from: string; to: string; qty: number; source: MovementSource; idempotency: IdempotencyInput | null }): Promise<Result<{ replayed: boolean; transfer: TransferView }>> {
    const ready = await this.ready(input.sku, [input.from, input.to], { moves: true });
    if (!ready.ok) return ready;
    const r = ready.ready;
    const out = this.transaction(() =>
      this.once(input.idempotency, "transfer", r.nowMs, (): Result<{ transfer: TransferView }> => {
        this.expire(r);
        const stock = this.store.stocks(r.directory).find((s) => s.location === input.from);
        const transferId = `tr_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
        const res = transferOut(stock, { transferId, from: input.from, to: input.to, qty: input.qty }, { sku: input.sku, nowMs: r.nowMs, source: input.source });
        if (!res.ok) return { ok: false, problem: problem("insufficient_stock", `only ${res.movable} units of ${input.sku} at ${input.from} are on hand and not held`, { movable: res.movable }) };
        const movements = splitTakingLots(res.movement, this.store.lotsOf(res.movement.from));
        this.step(r, res.movement, r.nowMs, () => {
          for (const m of movements) this.store.recordMovement(m);
          this.store.putTransfer(res.transfer);
        });
        return { ok: true, transfer: transferView(input.sku, res.transfer) };
      }),
    );
    await this.afterChange(r.nowMs);
    return out.ok ? { ok: true, replayed: out.replayed, transfer: out.value.transfer } : out;
  }

  /** The transfer arrives: `transit → loc:to` for what came, `transit → shrink:lost` for the rest. */
  async receiveTransfer(input: { sku: string; transferId: string; qty: number; source: MovementSource; idempotency: IdempotencyInput | null }): Promise<Result<{ replayed: boolean; transfer: TransferView; movementIds: string[] }>> {
    const ready = await this.ready(input.sku, [], { moves: true });
    if (!ready.ok) return ready;
    const r = ready.ready;
    const out = this.transaction(() =>
      this.once(input.idempotency, "transfer-receipt", r.nowMs, (): Result<{ transfer: TransferView; movementIds: string[] }> => {
        this.expire(r);
        const t = this.store.transfer(input.transferId);
        if (t === undefined) return { ok: false, problem: problem("transfer_not_found", `transfer ${input.transferId} does not exist`) };
        const res = receiveTransfer(t, input.qty, { sku: input.sku, nowMs: r.nowMs, source: input.source });
        if (!res.ok) {
          return res.kind === "transfer_received"
            ? { ok: false, problem: problem("transfer_received", `transfer ${t.transferId} has already been received: ${t.received} units arrived, ${t.lost} lost`, { transfer: transferView(input.sku, t) }) }
            : { ok: false, problem: problem("over_receipt", `transfer ${t.transferId} carried ${t.qty} units; ${input.qty} cannot have arrived`, { sent: t.qty }) };
        }
        // What arrived takes the soonest-expiring lots in transit; what was lost, the rest.
        for (const m of res.movements) {
          const movements = splitTakingLots(m, this.store.lotsOf(m.from));
          this.step(r, m, r.nowMs, () => {
            for (const part of movements) this.store.recordMovement(part);
          });
        }
        this.store.putTransfer(res.transfer);
        return { ok: true, transfer: transferView(input.sku, res.transfer), movementIds: res.movements.map((m) => m.id) };
      }),
    );
    await this.afterChange(r.nowMs);
    return out.ok ? { ok: true, replayed: out.replayed, transfer: out.value.transfer, movementIds: out.value.movementIds } : out;
  }

  /** Units leave stock for shrink (damaged, lost, stolen, expired). Held units cannot be written off. */
  async writeOff(input: { sku: string; location: string; qty: number; reason: ShrinkReason; lot: string | null; source: MovementSource; idempotency: IdempotencyInput | null }): Promise<Result<{ replayed: boolean; writeOff: WriteOffOutput }>> {
    const ready = await this.ready(input.sku, [input.location], { moves: true });
    if (!ready.ok) return ready;
    const r = ready.ready;
    const out = this.transaction(() =>
      this.once(input.idempotency, "write-off", r.nowMs, (): Result<{ writeOff: WriteOffOutput }> => {
        this.expire(r);
        const stock = this.store.stocks(r.directory).find((s) => s.location === input.location);
        const res = writeOff(stock, { id: `wo.${crypto.randomUUID()}`, location: input.location, qty: input.qty, reason: input.reason, lot: input.lot }, { sku: input.sku, nowMs: r.nowMs, source: input.source });
        if (!res.ok) return { ok: false, problem: problem("insufficient_stock", `only ${res.movable} units of ${input.sku} at ${input.location} are on hand and not held`, { movable: res.movable }) };
        const takes = takeFromLots(this.store.lotsOf(res.movement.from), input.qty, input.lot ?? undefined);
        if (takes === null) {
          const inLot = this.store.lotsOf(res.movement.from).find((l) => l.lot === input.lot)?.qty ?? 0;
          return { ok: false, problem: problem("insufficient_stock", `lot ${input.lot} of ${input.sku} at ${input.location} holds ${inLot} units`, { lot: input.lot, inLot }) };
        }
        const movements = splitByLots(res.movement, takes);
        this.step(r, res.movement, r.nowMs, () => {
          for (const m of movements) this.store.recordMovement(m);
        });
        const after = this.store.stocks(r.directory).find((s) => s.location === input.location);
        return {
          ok: true,
          writeOff: { movementId: res.movement.id, sku: input.sku, location: input.location, qty: input.qty, reason: input.reason, lot: input.lot, onHand: after?.onHand ?? 0, available: after === undefined ? 0 : available(after) },
        };
      }),
    );
    await this.afterChange(r.nowMs);
    return out.ok ? { ok: true, replayed: out.replayed, writeOff: out.value.writeOff } : out;
  }

  /**
   * A terminal's ops for this SKU, in seq order: each applied once by its name (terminal,
   * incarnation, seq). A repeat with the same fingerprint answers "duplicate" (or the same
   * rejection); a repeat with another body is refused as a seq conflict and reported on the
   * changefeed, never taken for a duplicate (I3). Never refused for stock (I2): a sale that leaves
   * holds uncovered re-sources or marks them, and says so in its result and the changefeed.
   */
  async applyTerminalOps(req: { sku: string; terminalId: string; incarnation?: string | null; location: string; ops: readonly TerminalOp[] }): Promise<{ results: TerminalOpResult[] }> {
    const ready = await this.ready(req.sku, [req.location], { moves: true });
    if (!ready.ok) {
      const body = problemBody(ready.problem);
      return { results: req.ops.map((op) => ({ seq: op.seq, status: "rejected", problem: body })) };
    }
    const r = ready.ready;
    const incarnation = req.incarnation ?? null;
    const key = opKey(req.terminalId, incarnation);
    const results = this.transaction(() => {
      this.expire(r);
      const applied = req.ops.map((op): TerminalOpResult => {
        const seen = this.plantedBug === "no-dedupe" ? undefined : this.store.terminalOp(key, op.seq);
        const repeat = classifyRepeat(seen, op);
        if (seen !== undefined && repeat.kind === "same") {
          const earlier = seen.result as TerminalOpResult;
          return earlier.status === "applied" ? { ...earlier, status: "duplicate" } : earlier;
        }
        if (repeat.kind === "conflict") return this.refuseSeqConflict(r, req.location, { terminalId: req.terminalId, incarnation, seq: op.seq }, op);
        const built = opMovement(op, { terminalId: req.terminalId, incarnation, location: req.location, nowMs: r.nowMs });
        let result: TerminalOpResult;
        if (!built.ok) {
          result = { seq: op.seq, status: "rejected", problem: problemBody(problem("invalid_request", built.detail)) };
        } else {
          const m = built.movement;
          const parts = m.from === locationAccount(req.location) ? splitOverdrawingLots(m, this.store.lotsOf(m.from)) : [m];
          this.step(
            r,
            m,
            m.occurredAtMs,
            () => {
              for (const part of parts) this.store.recordMovement(part);
            },
            { terminalId: req.terminalId, incarnation, seq: op.seq },
          );
          const shortfall = m.from === locationAccount(req.location) ? this.coverHolds(r, req.location, m) : undefined;
          result = shortfall === undefined ? { seq: op.seq, status: "applied" } : { seq: op.seq, status: "applied", shortfall };
        }
        if (this.plantedBug !== "no-dedupe") this.store.rememberTerminalOp(key, op.seq, opFingerprint(op), result, r.nowMs);
        return result;
      });
      this.store.pruneTerminalOps(key, TERMINAL_OP_RECORDS_MAX);
      return applied;
    });
    await this.afterChange(r.nowMs);
    return { results };
  }

  /**
   * A count's adjustment (docs/counts.md): the line's variance as one movement, `variance → loc`
   * for units found, `loc → variance` for units missing, ref = the count. Once per count and SKU
   * whatever the retries: the movement id derives from both and the answer is kept by that name.
   * A missing-units adjustment is a fact like a store sale (I2): it may leave holds short.
   */
  async adjustForCount(input: { sku: string; location: string; countId: string; delta: number; source: MovementSource }): Promise<Result<{ replayed: boolean; movementId: string | null }>> {
    const ready = await this.ready(input.sku, [input.location], { moves: true });
    if (!ready.ok) return ready;
    const r = ready.ready;
    const idem = { key: `count:${input.countId}`, fingerprint: `${input.location}:${input.delta}` };
    const out = this.transaction(() =>
      this.once(idem, "count-adjustment", r.nowMs, (): Result<{ movementId: string | null }> => {
        this.expire(r);
        const m = adjustmentMovement({ countId: input.countId, sku: input.sku, location: input.location, variance: input.delta, nowMs: r.nowMs, source: input.source });
        if (m === null) return { ok: true, movementId: null };
        const outflow = m.from === locationAccount(input.location);
        const parts = outflow ? splitOverdrawingLots(m, this.store.lotsOf(m.from)) : [m];
        const before = this.store.stocks(r.directory).find((s) => s.location === input.location);
        this.step(r, m, r.nowMs, () => {
          for (const part of parts) this.store.recordMovement(part);
        });
        const after = this.store.stocks(r.directory).find((s) => s.location === input.location);
        const lvl = (s: LocationStock | undefined) => (s === undefined ? { onHand: 0, held: 0, available: 0 } : { onHand: s.onHand, held: s.held, available: available(s) });
        this.store.recordEvents([
          countApprovedEvent(lvl(before), lvl(after), input.location, { countId: input.countId, delta: input.delta }, { sku: r.sku, nextSeq: this.store.nextEventSeq(), movementId: m.id, occurredAtMs: r.nowMs, recordedAtMs: r.nowMs, lowStock: r.facts.lowStock }),
        ]);
        if (outflow) this.coverHolds(r, input.location, m);
        return { ok: true, movementId: m.id };
      }),
    );
    await this.afterChange(r.nowMs);
    return out.ok ? { ok: true, replayed: out.replayed, movementId: out.value.movementId } : out;
  }

  /** Movements not yet in D1 (the outbox), read without touching anything: a count's report adds them (I8). */
  async unflushedMovements(): Promise<Movement[]> {
    this.outboxReads += 1;
    return this.store.unflushed().movements;
  }

  /** The authority's side of an audit: balances of every account and what has not reached D1 yet. */
  async auditView(sku: string): Promise<Result<{ balances: Record<string, number>; unflushed: Movement[]; unflushedEvents: number; flush: FlushStats }>> {
    const ready = await this.ready(sku);
    if (!ready.ok) return ready;
    const { balances, unflushed } = this.transaction(() => {
      this.expire(ready.ready);
      return { balances: Object.fromEntries(this.store.balances()), unflushed: this.store.unflushed() };
    });
    await this.afterChange(ready.ready.nowMs);
    return { ok: true, balances, unflushed: unflushed.movements, unflushedEvents: unflushed.events, flush: { ...this.flushStats, lagsMs: [...this.flushStats.lagsMs] } };
  }

  /** Expire due holds, flush the outbox when due, forget old idempotency answers, set the next alarm. */
  override async alarm(): Promise<void> {
    this.alarmAtMs = null;
    const r = await this.readyFromMeta();
    const nowMs = r?.nowMs ?? this.now();
    this.transaction(() => {
      if (r !== null) this.expire(r);
      this.store.forgetDedupeBefore(nowMs - DEDUPE_RETENTION_MS);
      this.store.forgetEndedHoldsBefore(nowMs - ENDED_HOLD_RETENTION_MS);
    });
    // What the expiry wrote (events, a perishable's movements) is flushed like any request's.
    if (this.store.takeOutboxWritten() && this.flushAtMs === null) this.flushAtMs = nowMs + FLUSH_DELAY_MS;
    if (this.flushAtMs !== null && this.flushAtMs <= nowMs) await this.flush();
    if (r !== null) await this.listing.leaveIfDue(r.sku, nowMs, !this.store.hasUnflushed());
    await this.schedule();
  }

  /**
   * Land the oldest outbox rows in the ledger, then publish their events. Rows leave the outbox only
   * after both succeeded; a failure leaves them for a retry after a capped, jittered backoff.
   */
  async flush(): Promise<"idle" | "more" | "failed" | "paused"> {
    if (this.env.FLUSH_PAUSED === "1") {
      // Nothing is due while paused; re-arming the alarm for the past would spin.
      this.flushAtMs = null;
      return "paused";
    }
    this.plantedDeferred.writeBack(this.ctx.storage.sql);
    const sku = this.store.meta("sku");
    const batch = this.store.flushBatch(FLUSH_MOVEMENTS_MAX, FLUSH_EVENTS_MAX);
    if (sku === undefined || (batch.movements.length === 0 && batch.events.length === 0 && batch.transfers.length === 0)) {
      this.flushAtMs = null;
      this.listing.emptied(this.now());
      return "idle";
    }
    let landed: Landed;
    try {
      landed = await this.ledger.land(batch, sku, this.now());
      await this.ledger.publish(batch.events);
    } catch (error) {
      // Handled: the rows stay in the outbox and the next attempt comes after a backoff.
      this.flushFailuresInRow += 1;
      this.flushStats.failures += 1;
      this.flushAtMs = this.now() + this.retryDelayMs(sku, this.flushFailuresInRow);
      console.warn(`sku ${sku}: ledger flush failed (${this.flushFailuresInRow} in a row), retrying in ${this.flushAtMs - this.now()} ms`, error);
      return "failed";
    }
    this.transaction(() => this.store.forgetFlushed(batch));
    this.flushFailuresInRow = 0;
    // This flush's share of the D1 batch it rode in: summed over SKUs, the D1 batches and rows.
    this.flushStats.flushes += 1;
    this.flushStats.batches += landed.batchShare;
    this.flushStats.rowsWritten += landed.rowsWritten;
    this.flushStats.movements += batch.movements.length;
    this.flushStats.events += batch.events.length;
    const landedAtMs = this.now();
    this.flushStats.lagsMs = [...this.flushStats.lagsMs, ...batch.movements.map((m) => landedAtMs - m.recordedAtMs)].slice(-10_000);
    // A full batch means a backlog: go again at once. Rows that arrived while this batch was in
    // flight wait the usual delay, so that a busy SKU lands them together rather than in dribbles.
    const full = batch.movements.length >= FLUSH_MOVEMENTS_MAX || batch.events.length >= FLUSH_EVENTS_MAX;
    const more = this.store.hasUnflushed();
    this.flushAtMs = !more ? null : full ? this.now() : this.now() + FLUSH_DELAY_MS;
    if (!more) this.listing.emptied(this.now());
    return more ? "more" : "idle";
  }

  /** Rows per table of this object's storage (the soak benchmark's measure). */
  rowCounts(): Record<string, number> {
    return this.store.rowCounts();
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

  /**
   * Load the SKU's facts and the directory (knowing `named` locations), or say what is unknown. A request that may
   * write a movement (`moves`) is listed in the outbox registry first, once the request is known
   * to be valid: bad input joins nothing.
   */
  private async ready(sku: string, named: readonly string[] = [], opts: { moves?: boolean } = {}): Promise<Result<{ ready: Ready }>> {
    const nowMs = this.now();
    const facts = await this.directory.sku(sku, nowMs);
    if (facts === null) return { ok: false, problem: problem("unknown_sku", `SKU ${sku} does not exist`) };
    const directory = await this.directory.locations(nowMs, named);
    const unknown = named.find((l) => !directory.has(l));
    if (unknown !== undefined) return { ok: false, problem: problem("unknown_location", `location ${unknown} does not exist`) };
    if (this.namedSku !== sku) {
      if (this.store.meta("sku") === undefined) this.store.setMeta("sku", sku);
      this.namedSku = sku;
    }
    // A perishable SKU's lots may expire within any request (expire): a movement too.
    if (opts.moves === true || facts.perishable) await this.listing.ensure(sku);
    return { ok: true, ready: { sku, facts, directory, nowMs } };
  }

  /** `ready` for requests that do not name the SKU (alarm, release): null before the first request. */
  private async readyFromMeta(): Promise<Ready | null> {
    const sku = this.store.meta("sku");
    if (sku === undefined) return null;
    const r = await this.ready(sku);
    return r.ok ? r.ready : null;
  }

  /**
   * Run one change of state and record the changefeed events it causes: the stock before and after,
   * compared by the pure rule. Call inside the request's transaction. A caller whose rule has
   * computed the stock on either side (`known`) passes it, and it is not read again.
   */
  private step(r: Ready, movement: Movement | null, occurredAtMs: number, change: () => void, op?: OpName, known: { before?: readonly LocationStock[]; after?: readonly LocationStock[] } = {}): void {
    const before = known.before ?? this.store.stocks(r.directory);
    const outboxBefore = this.plantedBug === "outbox-outside-transaction" ? this.plantedDeferred.mark(this.ctx.storage.sql) : 0;
    change();
    if (this.plantedBug === "outbox-outside-transaction") this.plantedDeferred.takeAfter(this.ctx.storage.sql, outboxBefore);
    const after = known.after ?? this.store.stocks(r.directory);
    this.store.recordEvents(
      stockEvents(before, after, { sku: r.sku, nextSeq: this.store.nextEventSeq(), movementId: movement?.id ?? null, occurredAtMs, recordedAtMs: r.nowMs, lowStock: r.facts.lowStock, op }),
    );
  }

  /**
   * Run a request once per Idempotency-Key (inside the caller's transaction): the same key and
   * fingerprint answer with the stored value; another fingerprint is refused; failures are not stored.
   */
  private once<T extends object>(idem: IdempotencyInput | null, scope: string, nowMs: number, run: () => Result<T>): { ok: true; replayed: boolean; value: T } | { ok: false; problem: Problem } {
    const key = idem === null ? null : `${scope}:${idem.key}`;
    if (key !== null && idem !== null) {
      const seen = this.store.dedupe(key);
      if (seen !== undefined) {
        return seen.fingerprint === idem.fingerprint
          ? { ok: true, replayed: true, value: seen.response as T }
          : { ok: false, problem: problem("idempotency_key_reused", `this Idempotency-Key was used for a different ${scope}`) };
      }
    }
    const out = run();
    if (!out.ok) return out;
    const { ok: _ok, ...value } = out;
    if (key !== null && idem !== null) this.store.remember(key, idem.fingerprint, value, nowMs);
    return { ok: true, replayed: false, value: value as unknown as T };
  }

  /**
   * One synchronous transaction of the object's storage. If it throws, SQLite rolls it back, and
   * what the storage remembers about the rows (the bound on the earliest deadline) is forgotten.
   */
  private transaction<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(fn);
    } catch (error) {
      this.store.forgetEarliestDeadline();
      throw error;
    }
  }

  /** Apply expiry to every hold past its deadline (lazily on each request, and from the alarm). */
  private expire(r: Ready): void {
    const due = expireDue(this.store.dueHolds(r.nowMs, EXPIRE_BATCH_MAX), r.nowMs);
    if (due.length > 0) {
      this.step(r, null, r.nowMs, () => {
        for (const h of due) {
          this.store.endHold(h);
          // TEST-ONLY planted bug: the expiry's units given back a second time.
          if (this.plantedBug === "expire-twice") this.ctx.storage.sql.exec("UPDATE held SET qty = MAX(0, qty - ?) WHERE location = ?", h.qty, h.location);
        }
      });
    }
    // The next deadline, read once the due holds have ended: until it passes, no request reads the holds for expiry.
    if (due.length > 0 || !this.store.knowsEarliestDeadline()) this.store.earliestExpiry();
    if (r.facts.perishable) this.expireLots(r);
  }

  /** A perishable SKU's lots past their expiry leave stock for `shrink:expired` (lazily, and by alarm). */
  private expireLots(r: Ready): void {
    const today = new Date(r.nowMs).toISOString().slice(0, 10);
    for (const [account, lots] of this.store.expiredLots(today)) {
      const location = account.slice("loc:".length);
      for (const m of expiredLotMovements(r.sku, location, lots, r.nowMs)) this.step(r, m, m.occurredAtMs, () => this.store.recordMovement(m));
    }
  }

  /**
   * An op pushed under a name an earlier op with another body has: refuse it, and the first time
   * this body is seen, put a `terminal.seq_conflict` event on the changefeed for a person.
   */
  private refuseSeqConflict(r: Ready, location: string, name: { terminalId: string; incarnation: string | null; seq: number }, op: TerminalOp): TerminalOpResult {
    const original = opMovement(op, { ...name, location, nowMs: r.nowMs });
    const movementId = original.ok ? original.movement.id : null;
    if (this.store.noteSeqConflict(opKey(name.terminalId, name.incarnation), name.seq, opFingerprint(op), r.nowMs)) {
      const here = this.store.stocks(r.directory).find((s) => s.location === location);
      const level = here === undefined ? { onHand: 0, held: 0, available: 0 } : { onHand: here.onHand, held: here.held, available: available(here) };
      this.store.recordEvents([
        seqConflictEvent(level, location, { ...name, movementId }, { sku: r.sku, nextSeq: this.store.nextEventSeq(), movementId, occurredAtMs: r.nowMs, recordedAtMs: r.nowMs, lowStock: r.facts.lowStock }),
      ]);
      console.warn(`sku ${r.sku}: terminal ${name.terminalId} pushed seq ${name.seq} again with a different body; refused`);
    }
    const detail = `terminal ${name.terminalId} already pushed seq ${name.seq} for a different operation; this one was not applied`;
    return { seq: name.seq, status: "rejected", problem: problemBody(problem("seq_conflict", detail, { movementId })) };
  }

  /**
   * After an outflow at `location`: if its holds claim more than is on hand, move the newest to
   * other locations or mark them short (planShortfall), and record a `hold.shortfall` event.
   */
  private coverHolds(r: Ready, location: string, cause: Movement): Shortfall | undefined {
    const active = this.store.activeHolds();
    const alreadyShort = active.filter((h) => h.location === location && this.store.isShort(h.holdId));
    const shortQty = alreadyShort.reduce((n, h) => n + h.qty, 0);
    const stocks = this.store.stocks(r.directory).map((s) => (s.location === location ? { ...s, held: s.held - shortQty } : s));
    const plan = planShortfall(stocks, active.filter((h) => !alreadyShort.includes(h)), location);
    if (plan === null) return undefined;
    this.step(r, cause, r.nowMs, () => {
      for (const mv of plan.moves) this.store.moveHold(mv.holdId, location, mv.to, mv.qty);
      for (const id of plan.short) this.store.markShort(id);
    });
    const shortfall: Shortfall = { location, units: plan.units, resourced: plan.resourced, short: plan.shortUnits };
    const here = this.store.stocks(r.directory).find((s) => s.location === location);
    const level = here === undefined ? { onHand: 0, held: 0, available: 0 } : { onHand: here.onHand, held: here.held, available: available(here) };
    this.store.recordEvents([
      shortfallEvent(level, shortfall, { sku: r.sku, nextSeq: this.store.nextEventSeq(), movementId: cause.id, occurredAtMs: cause.occurredAtMs, recordedAtMs: r.nowMs, lowStock: r.facts.lowStock }),
    ]);
    console.warn(`sku ${r.sku}: a sale at ${location} left holds short by ${plan.units} units (${plan.resourced} re-sourced, ${plan.shortUnits} short)`);
    return shortfall;
  }


  /**
   * After a request: a flush becomes due if it wrote to the outbox, and the alarm follows. A
   * request that only held, released, pinned or sold (`holdsOnly`) adds no deadline but its holds'
   * (lots and Idempotency-Key answers come with other requests).
   */
  private async afterChange(nowMs: number, opts: { holdsOnly?: boolean } = {}): Promise<void> {
    if (this.store.takeOutboxWritten() && this.flushAtMs === null) this.flushAtMs = nowMs + FLUSH_DELAY_MS;
    await this.schedule(opts.holdsOnly === true);
  }

  private async schedule(holdsOnly = false): Promise<void> {
    // The alarm is already due no later than anything this request can have added, and when it
    // runs it schedules the rest: a busy SKU reads no deadlines per request. That holds for an
    // alarm due within the flush delay (a hold lives at least HOLD_TTL_MIN_S, an Idempotency-Key
    // answer for days, a lot to the end of its day), and, after a request that only touched holds,
    // for an alarm no later than the earliest hold deadline the storage knows of.
    const set = this.alarmAtMs;
    if (typeof set === "number" && (this.flushAtMs ?? Infinity) >= set && (this.listing.leaveAtMs ?? Infinity) >= set) {
      if (set <= this.now() + FLUSH_DELAY_MS) return;
      const deadline = this.store.earliestDeadlineBound();
      if (holdsOnly && deadline !== undefined && set <= deadline) return;
    }
    const expiry = this.store.earliestExpiry();
    // Lots are checked at the end of their day; for SKUs that are not perishable the alarm finds
    // nothing to do and the lot stays (expiry is only enforced for perishables).
    const lotDate = this.store.earliestLotExpiry();
    const lotExpiry = lotDate === undefined ? undefined : expiryInstantMs(lotDate);
    const oldest = this.store.oldestDedupe();
    const candidates = [expiry, lotExpiry, oldest === undefined ? undefined : oldest + DEDUPE_RETENTION_MS, this.flushAtMs ?? undefined, this.listing.leaveAtMs ?? undefined].filter(
      (t): t is number => t !== undefined && !(t === lotExpiry && t <= this.now() - 1000),
    );
    if (candidates.length === 0) return;
    const next = Math.max(1, Math.min(...candidates));
    if (this.alarmAtMs === undefined) this.alarmAtMs = await this.ctx.storage.getAlarm();
    if (this.alarmAtMs === null || next < this.alarmAtMs) {
      await this.ctx.storage.setAlarm(next);
      this.alarmAtMs = next;
    }
  }
}
