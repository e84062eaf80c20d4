/**
 * The CartCoordinator's storage: who owns the cart, its holds as the cart last saw them, the
 * order once checked out, and the answers to Idempotency-Keys. The SKU objects stay the
 * authority on each hold; this is the cart's index of them.
 */
import type { HoldState } from "../../ledger/rules/holds";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cart (
  one INTEGER PRIMARY KEY CHECK (one = 1), cart_id TEXT NOT NULL, owner TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open','checked_out')), order_id TEXT, order_json TEXT, created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS holds (
  hold_id TEXT PRIMARY KEY, sku TEXT NOT NULL, location TEXT NOT NULL, qty INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, state TEXT NOT NULL, added_at INTEGER NOT NULL,
  wanted INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, request_id TEXT NOT NULL, reply TEXT, created_at INTEGER NOT NULL
);
`;

export interface CartRow {
  readonly cartId: string;
  readonly owner: string;
  readonly state: "open" | "checked_out";
  readonly orderId: string | null;
  readonly order: unknown;
}

export interface CartHold {
  readonly holdId: string;
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
  readonly expiresAtMs: number;
  readonly state: HoldState;
  /**
   * Whether the shopper still wants this line. An expired hold stays wanted (checkout tries to hold
   * it again) until it is replaced by a new hold or the shopper releases the cart.
   */
  readonly wanted: boolean;
}

export interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly requestId: string;
  /** The stored reply, or null while the first request with this key has not finished. */
  readonly reply: unknown;
}

export class CartStorage {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  cart(): CartRow | undefined {
    const r = this.sql
      .exec<{ cart_id: string; owner: string; state: CartRow["state"]; order_id: string | null; order_json: string | null }>("SELECT * FROM cart")
      .toArray()[0];
    return r === undefined
      ? undefined
      : { cartId: r.cart_id, owner: r.owner, state: r.state, orderId: r.order_id, order: r.order_json === null ? null : JSON.parse(r.order_json) };
  }

  createCart(cartId: string, owner: string, nowMs: number): void {
    this.sql.exec("INSERT INTO cart (one, cart_id, owner, state, created_at) VALUES (1, ?, ?, 'open', ?) ON CONFLICT DO NOTHING", cartId, owner, nowMs);
  }

  setOrderId(orderId: string): void {
    this.sql.exec("UPDATE cart SET order_id = ? WHERE one = 1", orderId);
  }

  checkOut(order: unknown): void {
    this.sql.exec("UPDATE cart SET state = 'checked_out', order_json = ? WHERE one = 1", JSON.stringify(order));
  }

  holds(): CartHold[] {
    return this.sql
      .exec<{ hold_id: string; sku: string; location: string; qty: number; expires_at: number; state: HoldState; wanted: number }>("SELECT * FROM holds ORDER BY added_at, hold_id")
      .toArray()
      .map((r) => ({ holdId: r.hold_id, sku: r.sku, location: r.location, qty: r.qty, expiresAtMs: r.expires_at, state: r.state, wanted: r.wanted === 1 }));
  }

  putHold(h: CartHold, nowMs: number): void {
    this.sql.exec(
      `INSERT INTO holds (hold_id, sku, location, qty, expires_at, state, added_at, wanted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (hold_id) DO UPDATE SET expires_at = excluded.expires_at, state = excluded.state, wanted = excluded.wanted`,
      h.holdId, h.sku, h.location, h.qty, h.expiresAtMs, h.state, nowMs, h.wanted ? 1 : 0,
    );
  }

  /** The shopper no longer wants this hold's line (it was replaced by a new hold, or given up). */
  letGo(holdId: string, state: HoldState): void {
    this.sql.exec("UPDATE holds SET wanted = 0, state = ? WHERE hold_id = ?", state, holdId);
  }

  idempotency(key: string): IdempotencyRecord | undefined {
    const r = this.sql.exec<{ fingerprint: string; request_id: string; reply: string | null }>("SELECT * FROM idempotency WHERE key = ?", key).toArray()[0];
    return r === undefined ? undefined : { fingerprint: r.fingerprint, requestId: r.request_id, reply: r.reply === null ? null : JSON.parse(r.reply) };
  }

  beginIdempotent(key: string, fingerprint: string, requestId: string, nowMs: number): void {
    this.sql.exec("INSERT INTO idempotency (key, fingerprint, request_id, reply, created_at) VALUES (?, ?, ?, NULL, ?)", key, fingerprint, requestId, nowMs);
  }

  finishIdempotent(key: string, reply: unknown): void {
    this.sql.exec("UPDATE idempotency SET reply = ? WHERE key = ?", JSON.stringify(reply), key);
  }

  forgetIdempotent(key: string): void {
    this.sql.exec("DELETE FROM idempotency WHERE key = ?", key);
  }
}
