/**
 * CartCoordinator: owns what no single SKU object can — who a cart belongs to, which holds (across
 * SKUs) it has, all-or-nothing across SKUs, and the answers to Idempotency-Keys for cart requests.
 * Each object serves a shard of carts (`cartShard` in ../stubs.ts). Operations on one cart run one
 * at a time (`serial`), so a checkout cannot interleave with a hold or a release of the same cart;
 * different carts of a shard proceed side by side.
 *
 * Holding:  group lines by SKU → each SKU object holds its lines atomically → if any SKU says no,
 *           release what the others granted and answer 409 naming the short lines.
 * Checkout: prepare (each SKU pins its live holds for `CHECKOUT_PIN_MS`, re-holds expired ones if
 *           stock allows) → if any line is lost, 409 hold-expired and nothing is sold → commit
 *           (each hold becomes a movement loc → customer) → the cart is checked out, and every
 *           later checkout of it answers with the same order. A cart of one SKU does both phases
 *           in one call, in one transaction of that SKU's authority (`checkoutAll`).
 */
import { DurableObject } from "cloudflare:workers";
import type { HoldLine } from "../../ledger/rules/holds";
import type { Env } from "../env";
import { problem, type Problem, type Result } from "../http/problem";
import type { CommitOutcome, HoldLineShort, HoldView, IdempotencyInput, PrepareOutcome } from "../sku/sku-api";
import { skuAuthority, type SkuApi } from "../stubs";
import { CartStorage, type CartHold, type CartRecords } from "./cart-storage";

/** How long checkout pins a hold while it commits the cart's other SKUs. */
export const CHECKOUT_PIN_MS = 60_000;
/**
 * How long a cart is kept after it was created: its owner, its order (a checkout replayed answers
 * with it) and its Idempotency-Key answers (the same 7 days as the SKUs' keys). A cart with a live
 * hold is kept until the hold ends. After that the cart id is free again.
 */
export const CART_RETENTION_MS = 7 * 24 * 3600_000;
/** Carts forgotten per alarm; the alarm comes straight back for more. */
const CART_PRUNE_BATCH_MAX = 500;

export type CartReply = { readonly ok: true; readonly status: 200 | 201; readonly body: unknown } | { readonly ok: false; readonly problem: Problem };

export interface CartLine {
  readonly sku: string;
  readonly qty: number;
  readonly location?: string | undefined;
}

interface Caller {
  readonly cartId: string;
  readonly owner: string;
}

const newRequestId = (): string => crypto.randomUUID().replaceAll("-", "").slice(0, 20);

/** The order id of the cart made as `cartId` at `createdAtMs`: 20 hex digits of a SHA-256. */
async function orderIdOf(cartId: string, createdAtMs: number): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${cartId}\n${createdAtMs}`));
  return `ord_${[...new Uint8Array(digest).slice(0, 10)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const notFound = (cartId: string): CartReply => ({ ok: false, problem: problem("cart_not_found", `cart ${cartId} does not exist`) });

export class CartCoordinator extends DurableObject<Env> {
  /** The clock. Tests move it forward. */
  now: () => number = () => Date.now();

  private readonly carts: CartStorage;
  /** The tail of each busy cart's queue of operations; a cart leaves the map when it goes idle. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** The alarm as this instance knows it (undefined: not read yet). */
  private alarmAtMs: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.carts = new CartStorage(ctx.storage.sql);
  }

  async addHolds(req: Caller & { lines: readonly CartLine[]; ttlMs: number; idempotency: IdempotencyInput | null }): Promise<CartReply> {
    return this.serial(req.cartId, async (store) => {
      const cart = store.cart();
      if (cart !== undefined && cart.owner !== req.owner) return notFound(req.cartId);
      return this.idempotent(store, "holds", req.owner, req.idempotency, async (requestId) => {
        if (cart?.state === "checked_out") return { ok: false, problem: problem("cart_checked_out", `cart ${req.cartId} has been checked out; start a new cart`) };
        const bySku = groupBySku(req.lines);
        if (bySku.size > 1) {
          // A request that names an unknown SKU or location is refused before any SKU holds
          // anything, so it never takes stock from other shoppers, even for a moment. (One SKU's
          // object checks this itself before holding.)
          const checks = await Promise.all([...bySku].map(([sku, lines]) => this.sku(sku).check({ sku, locations: lines.flatMap((l) => (l.location === undefined ? [] : [l.location])) })));
          const refused = checks.find((c) => !c.ok);
          if (refused !== undefined && !refused.ok) return { ok: false, problem: refused.problem };
        }
        const replies = await Promise.all(
          [...bySku].map(async ([sku, lines]) => ({ sku, lines, reply: await this.sku(sku).hold({ sku, cartId: req.cartId, requestId, lines, ttlMs: req.ttlMs }) })),
        );
        const failed = replies.filter((r) => !r.reply.ok);
        if (failed.length > 0) {
          await Promise.all(replies.flatMap((r) => (r.reply.ok ? [this.sku(r.sku).release({ holdIds: r.reply.holds.map((h) => h.holdId) })] : [])));
          return { ok: false, problem: holdRefusal(req.lines, failed.map((f) => f.reply).filter((r) => !r.ok)) };
        }
        const nowMs = this.now();
        const granted = replies.flatMap((r) => (r.reply.ok ? r.reply.holds.map((h) => ({ sku: r.sku, ...h })) : []));
        this.ctx.storage.transactionSync(() => {
          store.createCart(req.owner, nowMs);
          for (const h of granted) store.putHold(toCartHold(h.sku, h), nowMs);
        });
        if (cart === undefined) await this.pruneLater(nowMs + CART_RETENTION_MS);
        const expiresAt = granted.map((h) => h.expiresAt).sort()[0] ?? null;
        return {
          ok: true,
          status: 201,
          body: { cartId: req.cartId, expiresAt, holds: granted.map((h) => ({ holdId: h.holdId, sku: h.sku, location: h.location, qty: h.qty, expiresAt: h.expiresAt })) },
        };
      });
    });
  }

  /** Forget carts past their retention (CART_RETENTION_MS), then wake for the next oldest. */
  override async alarm(): Promise<void> {
    this.alarmAtMs = null;
    const nowMs = this.now();
    const forgotten = this.ctx.storage.transactionSync(() => this.carts.forgetCartsBefore(nowMs - CART_RETENTION_MS, nowMs, new Set(this.queues.keys()), CART_PRUNE_BATCH_MAX));
    const oldest = this.carts.oldestCartAtMs();
    if (oldest === undefined) return;
    // A full batch: more are due now. Otherwise the next cart's time, or (for carts kept for a live hold) an hour on.
    const next = forgotten >= CART_PRUNE_BATCH_MAX ? nowMs : Math.max(oldest + CART_RETENTION_MS, nowMs + 3600_000);
    await this.pruneLater(next);
  }

  /** Rows per table (the soak benchmark's measure). */
  rowCounts(): Record<string, number> {
    return this.carts.rowCounts();
  }

  private async pruneLater(atMs: number): Promise<void> {
    if (this.alarmAtMs === undefined) this.alarmAtMs = await this.ctx.storage.getAlarm();
    if (this.alarmAtMs === null || atMs < this.alarmAtMs) {
      await this.ctx.storage.setAlarm(atMs);
      this.alarmAtMs = atMs;
    }
  }

  async view(req: Caller): Promise<CartReply> {
    return this.serial(req.cartId, async (store) => {
      const cart = store.cart();
      if (cart === undefined || cart.owner !== req.owner) return notFound(req.cartId);
      return { ok: true, status: 200, body: this.describe(store) };
    });
  }

  async checkout(req: Caller & { idempotency: IdempotencyInput | null }): Promise<CartReply> {
    return this.serial(req.cartId, async (store) => {
      const cart = store.cart();
      if (cart === undefined || cart.owner !== req.owner) return notFound(req.cartId);
      return this.idempotent(store, "checkout", req.owner, req.idempotency, async (requestId) => {
        // A cart is sold once: every later checkout, with or without a key, gets the same order.
        if (cart.state === "checked_out") return { ok: true, status: 200, body: cart.order };
        // Expired holds are lines the shopper still wants: checkout tries to hold them again.
        const open = store.holds().filter((h) => h.wanted && (h.state === "active" || h.state === "expired"));
        if (open.length === 0) return { ok: false, problem: problem("cart_empty", `cart ${req.cartId} has no holds to check out`) };
        // The cart's order id follows from the cart (its id and when it was made: a cart id taken
        // again after its retention is another cart), so every attempt at this checkout uses the
        // same one without writing it first. Carts made before kept a random one in order_id.
        const orderId = cart.orderId ?? (await orderIdOf(req.cartId, cart.createdAtMs));

        const skus = [...new Set(open.map((h) => h.sku))];
        const oneSku = skus.length === 1 && skus[0] !== undefined ? await this.checkoutOneSku(store, requestId, orderId, skus[0], open) : null;
        const prepared = oneSku?.prepared ?? (await this.prepare(store, requestId, open));
        if (prepared.lost.length > 0) {
          return {
            ok: false,
            problem: problem("hold_expired", "a hold in the cart expired and its stock is no longer available; nothing was sold", {
              lines: prepared.lost.map((h) => ({ sku: h.sku, location: h.location, qty: h.qty, holdId: h.holdId, available: h.available })),
            }),
          };
        }
        const sold = oneSku?.sold ?? (await this.commit(store, orderId, prepared.live));
        const unsold = sold.filter((h) => h.state !== "committed");
        if (unsold.length > 0) {
          // Only reachable if a commit ran more than CHECKOUT_PIN_MS after its prepare.
          return {
            ok: false,
            problem: problem("hold_expired", "some holds expired while the order was being committed; the lines listed were not sold", {
              lines: unsold.map((h) => ({ sku: h.sku, location: h.location, qty: h.qty, holdId: h.holdId })),
            }),
          };
        }
        const order = { orderId, cartId: req.cartId, lines: orderLines(sold) };
        store.checkOut(order);
        return { ok: true, status: 200, body: order };
      });
    });
  }

  async releaseAll(req: Caller): Promise<CartReply> {
    return this.serial(req.cartId, async (store) => {
      const cart = store.cart();
      if (cart === undefined || cart.owner !== req.owner) return notFound(req.cartId);
      const holds = store.holds();
      const open = holds.filter((h) => h.state === "active");
      const results = await Promise.all(
        [...groupHoldsBySku(open)].map(async ([sku, holds]) => ({ sku, reply: await this.sku(sku).release({ holdIds: holds.map((h) => h.holdId) }) })),
      );
      const nowMs = this.now();
      let released = 0;
      let units = 0;
      this.ctx.storage.transactionSync(() => {
        // Lines whose holds had already expired are given up too, so no later checkout revives them.
        for (const h of holds) if (h.state === "expired") store.letGo(h.holdId, "expired");
        for (const { sku, reply } of results) {
          for (const h of reply.holds) {
            store.putHold(toCartHold(sku, h, false), nowMs);
            if (h.state === "released") {
              released += 1;
              units += h.qty;
            }
          }
        }
      });
      return { ok: true, status: 200, body: { cartId: req.cartId, released, units } };
    });
  }

  private describe(store: CartRecords): unknown {
    const cart = store.cart();
    const nowMs = this.now();
    const holds = store.holds().map((h) => ({
      holdId: h.holdId,
      sku: h.sku,
      location: h.location,
      qty: h.qty,
      expiresAt: new Date(h.expiresAtMs).toISOString(),
      state: h.state === "active" && h.expiresAtMs <= nowMs ? "expired" : h.state,
    }));
    const live = holds.filter((h) => h.state === "active");
    return {
      cartId: cart?.cartId,
      state: cart?.state,
      ...(cart?.state === "checked_out" ? { order: cart.order } : {}),
      expiresAt: live.map((h) => h.expiresAt).sort()[0] ?? null,
      holds,
    };
  }

  private async prepare(store: CartRecords, requestId: string, open: readonly CartHold[]): Promise<Prepared> {
    const perSku = await Promise.all(
      [...groupHoldsBySku(open)].map(async ([sku, holds]) => ({
        sku,
        holds,
        reply: await this.sku(sku).prepareCheckout({ sku, cartId: store.cartId, requestId, holdIds: holds.map((h) => h.holdId), pinMs: CHECKOUT_PIN_MS, ttlMs: CHECKOUT_PIN_MS }),
      })),
    );
    return this.ctx.storage.transactionSync(() => recordPrepared(store, perSku, this.now()));
  }

  private async commit(store: CartRecords, orderId: string, live: readonly CartHold[]): Promise<CartHold[]> {
    const perSku = await Promise.all(
      [...groupHoldsBySku(live)].map(async ([sku, holds]) => ({
        sku,
        reply: await this.sku(sku).commit({ sku, orderId, holdIds: holds.map((h) => h.holdId), source: "api:checkout" }),
      })),
    );
    return this.ctx.storage.transactionSync(() => recordCommitted(store, live, perSku.flatMap((p) => p.reply.outcomes), this.now()));
  }

  /**
   * A cart whose holds are all of one SKU: both phases in one call and one transaction of that
   * SKU's authority (nothing to pin while other SKUs commit), recorded here in one transaction.
   */
  private async checkoutOneSku(store: CartRecords, requestId: string, orderId: string, sku: string, open: readonly CartHold[]): Promise<{ prepared: Prepared; sold: CartHold[] | null }> {
    const reply = await this.sku(sku).checkoutAll({ sku, cartId: store.cartId, requestId, holdIds: open.map((h) => h.holdId), pinMs: CHECKOUT_PIN_MS, ttlMs: CHECKOUT_PIN_MS, orderId, source: "api:checkout" });
    return this.ctx.storage.transactionSync(() => {
      const nowMs = this.now();
      const prepared = recordPrepared(store, [{ sku, holds: open, reply }], nowMs);
      const committed = reply.ok ? reply.committed : null;
      return { prepared, sold: committed === null ? null : recordCommitted(store, prepared.live, committed, nowMs) };
    });
  }

  /**
   * Run a request once per Idempotency-Key: the same key and body get the stored reply; the same
   * key with another body is refused. A request that failed with an exception stores nothing, so
   * its retry runs again.
   */
  private async idempotent(store: CartRecords, op: string, owner: string, idem: IdempotencyInput | null, run: (requestId: string) => Promise<CartReply>): Promise<CartReply> {
    if (idem === null) return run(newRequestId());
    const key = `${op}:${owner}:${idem.key}`;
    const seen = store.idempotency(key);
    if (seen !== undefined && seen.fingerprint !== idem.fingerprint) {
      return { ok: false, problem: problem("idempotency_key_reused", "this Idempotency-Key was used for a different request") };
    }
    if (seen !== undefined && seen.reply !== null) return seen.reply as CartReply;
    const requestId = seen?.requestId ?? newRequestId();
    if (seen === undefined) store.beginIdempotent(key, idem.fingerprint, requestId, this.now());
    let reply: CartReply;
    try {
      reply = await run(requestId);
    } catch (error) {
      store.forgetIdempotent(key);
      throw error;
    }
    store.finishIdempotent(key, reply);
    return reply;
  }

  /** Run each cart's operations one at a time, in arrival order; different carts run side by side. */
  private serial<T>(cartId: string, fn: (store: CartRecords) => Promise<T>): Promise<T> {
    const run = (this.queues.get(cartId) ?? Promise.resolve()).then(() => fn(this.carts.of(cartId)));
    // The queue only orders the work; each caller still receives its own result or error.
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(cartId, tail);
    void tail.then(() => {
      if (this.queues.get(cartId) === tail) this.queues.delete(cartId);
    });
    return run;
  }

  private sku(sku: string): SkuApi {
    return skuAuthority(this.env, sku);
  }
}

interface Prepared {
  readonly live: CartHold[];
  readonly lost: (CartHold & { available: number })[];
}

/** Records the SKUs' prepare outcomes in the cart (inside the caller's transaction): which holds are live, which lines are lost. */
function recordPrepared(store: CartRecords, perSku: readonly { sku: string; holds: readonly CartHold[]; reply: Result<{ outcomes: readonly PrepareOutcome[] }> }[], nowMs: number): Prepared {
  const live: CartHold[] = [];
  const lost: (CartHold & { available: number })[] = [];
  for (const { sku, holds, reply } of perSku) {
    if (!reply.ok) {
      lost.push(...holds.map((h) => ({ ...h, available: 0 })));
      continue;
    }
    for (const [i, outcome] of reply.outcomes.entries()) {
      const old = holds[i];
      if (old === undefined) throw new Error(`prepare: no hold for outcome ${outcome.holdId}`);
      if (!outcome.ok) {
        store.putHold({ ...old, state: "expired" }, nowMs); // still wanted: a later checkout tries again
        lost.push({ ...old, state: "expired", available: outcome.available });
        continue;
      }
      // Held again under new ids: the new holds replace the old one in the cart.
      if (outcome.holds.length !== 1 || outcome.holds[0]?.holdId !== old.holdId) store.letGo(old.holdId, "expired");
      for (const h of outcome.holds) {
        const ch = toCartHold(sku, h);
        // The same hold, neither pinned nor changed: the cart already says so.
        const same = ch.holdId === old.holdId && ch.location === old.location && ch.qty === old.qty && ch.expiresAtMs === old.expiresAtMs && ch.state === old.state && old.wanted;
        if (!same) store.putHold(ch, nowMs);
        live.push(ch);
      }
    }
  }
  return { live, lost };
}

/** Records the SKUs' commit outcomes in the cart (inside the caller's transaction); answers the holds as they ended. */
function recordCommitted(store: CartRecords, live: readonly CartHold[], outcomes: readonly CommitOutcome[], nowMs: number): CartHold[] {
  const byId = new Map(live.map((h) => [h.holdId, h]));
  return outcomes.map((o) => {
    const h = byId.get(o.holdId);
    if (h === undefined) throw new Error(`commit: unknown hold ${o.holdId}`);
    const ended: CartHold = { ...h, state: o.state };
    store.putHold(ended, nowMs);
    return ended;
  });
}

function groupBySku(lines: readonly CartLine[]): Map<string, HoldLine[]> {
  const out = new Map<string, HoldLine[]>();
  lines.forEach((l, lineIndex) => {
    const list = out.get(l.sku) ?? [];
    list.push({ lineIndex, qty: l.qty, location: l.location });
    out.set(l.sku, list);
  });
  return out;
}

function groupHoldsBySku<H extends { sku: string }>(holds: readonly H[]): Map<string, H[]> {
  const out = new Map<string, H[]>();
  for (const h of holds) out.set(h.sku, [...(out.get(h.sku) ?? []), h]);
  return out;
}

const toCartHold = (sku: string, h: HoldView, wanted = true): CartHold => ({
  holdId: h.holdId,
  sku,
  location: h.location,
  qty: h.qty,
  expiresAtMs: Date.parse(h.expiresAt),
  state: h.state,
  wanted,
});

function orderLines(sold: readonly CartHold[]): { sku: string; location: string; qty: number }[] {
  const merged = new Map<string, { sku: string; location: string; qty: number }>();
  for (const h of sold) {
    const key = `${h.sku}\u0000${h.location}`;
    const line = merged.get(key) ?? { sku: h.sku, location: h.location, qty: 0 };
    merged.set(key, { ...line, qty: line.qty + h.qty });
  }
  return [...merged.values()];
}

/** The one problem for a refused hold request: unknown SKUs and locations first, then short lines. */
function holdRefusal(lines: readonly CartLine[], failures: readonly { problem: Problem; short?: readonly HoldLineShort[] }[]): Problem {
  const unknown = failures.find((f) => f.problem.kind !== "insufficient_stock");
  if (unknown !== undefined) return unknown.problem;
  const short = failures.flatMap((f) => f.short ?? []).sort((a, b) => a.lineIndex - b.lineIndex);
  return problem("insufficient_stock", "not every line can be held; nothing was held", {
    lines: short.map((s) => ({ sku: lines[s.lineIndex]?.sku ?? null, requested: s.requested, available: s.available })),
  });
}
