/**
 * A cart coordinator's storage, for every cart of its shard: who owns each cart, its holds as the
 * cart last saw them, the order once checked out, and the answers to Idempotency-Keys. The SKU
 * objects stay the authority on each hold; this is the cart's index of them. `of(cartId)` gives
 * the view of one cart, which is all the coordinator ever works with.
 */
import type { HoldState } from "../../ledger/rules/holds";
import { ensureTable } from "../sqlite-tables";

// Every table is keyed by text and WITHOUT ROWID (edge/sqlite-tables.ts): a new cart or a new
// line is one row written, not a row and its primary-key entry.
const TABLES: readonly (readonly [name: string, create: string, indexes?: string])[] = [
  [
    "carts",
    `CREATE TABLE IF NOT EXISTS carts (
  cart_id TEXT PRIMARY KEY, owner TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open','checked_out')), order_id TEXT, order_json TEXT, created_at INTEGER NOT NULL
) WITHOUT ROWID`,
    "CREATE INDEX IF NOT EXISTS carts_age ON carts (created_at)",
  ],
  [
    "cart_holds",
    `CREATE TABLE IF NOT EXISTS cart_holds (
  cart_id TEXT NOT NULL, hold_id TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL, qty INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, state TEXT NOT NULL, added_at INTEGER NOT NULL,
  wanted INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (cart_id, hold_id)
) WITHOUT ROWID`,
  ],
  [
    "cart_idempotency",
    `CREATE TABLE IF NOT EXISTS cart_idempotency (
  cart_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, request_id TEXT NOT NULL, reply TEXT, created_at INTEGER NOT NULL,
  PRIMARY KEY (cart_id, key)
) WITHOUT ROWID`,
  ],
];

export interface CartRow {
  readonly cartId: string;
  readonly owner: string;
  readonly state: "open" | "checked_out";
  readonly orderId: string | null;
  readonly order: unknown;
  readonly createdAtMs: number;
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
    for (const [name, create, indexes] of TABLES) ensureTable(sql, name, create, { indexes });
  }

  of(cartId: string): CartRecords {
    return new CartRecords(this.sql, cartId);
  }

  /** When the oldest cart of the shard was created; undefined when there is none. */
  oldestCartAtMs(): number | undefined {
    return this.sql.exec<{ t: number | null }>("SELECT MIN(created_at) AS t FROM carts").one().t ?? undefined;
  }

  /**
   * Forget carts created before `cutoffMs` — their holds, order and idempotency answers with them —
   * unless one of their holds is still live at `nowMs` or the cart is `busy`. Call in a transaction.
   */
  forgetCartsBefore(cutoffMs: number, nowMs: number, busy: ReadonlySet<string>, limit: number): number {
    const old = this.sql
      .exec<{ cart_id: string }>(
        `SELECT cart_id FROM carts c WHERE created_at < ?
         AND NOT EXISTS (SELECT 1 FROM cart_holds h WHERE h.cart_id = c.cart_id AND h.state = 'active' AND h.expires_at > ?)
         ORDER BY created_at LIMIT ?`,
        cutoffMs, nowMs, limit,
      )
      .toArray()
      .map((r) => r.cart_id)
      .filter((id) => !busy.has(id));
    for (const id of old) {
      this.sql.exec("DELETE FROM cart_holds WHERE cart_id = ?", id);
      this.sql.exec("DELETE FROM cart_idempotency WHERE cart_id = ?", id);
      this.sql.exec("DELETE FROM carts WHERE cart_id = ?", id);
    }
    return old.length;
  }

  /** Rows per table (the soak benchmark's measure). */
  rowCounts(): Record<string, number> {
    return Object.fromEntries(["carts", "cart_holds", "cart_idempotency"].map((t) => [t, this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`).one().n]));
  }
}

export class CartRecords {
  constructor(
    private readonly sql: SqlStorage,
    readonly cartId: string,
  ) {}

  cart(): CartRow | undefined {
    const r = this.sql
      .exec<{ cart_id: string; owner: string; state: CartRow["state"]; order_id: string | null; order_json: string | null; created_at: number }>("SELECT * FROM carts WHERE cart_id = ?", this.cartId)
      .toArray()[0];
    return r === undefined
      ? undefined
      : { cartId: r.cart_id, owner: r.owner, state: r.state, orderId: r.order_id, order: r.order_json === null ? null : JSON.parse(r.order_json), createdAtMs: r.created_at };
  }

  createCart(owner: string, nowMs: number): void {
    this.sql.exec("INSERT INTO carts (cart_id, owner, state, created_at) VALUES (?, ?, 'open', ?) ON CONFLICT DO NOTHING", this.cartId, owner, nowMs);
  }

  checkOut(order: unknown): void {
    this.sql.exec("UPDATE carts SET state = 'checked_out', order_json = ? WHERE cart_id = ?", JSON.stringify(order), this.cartId);
  }

  holds(): CartHold[] {
    return this.sql
      .exec<{ hold_id: string; sku: string; location: string; qty: number; expires_at: number; state: HoldState; wanted: number }>(
        "SELECT * FROM cart_holds WHERE cart_id = ? ORDER BY added_at, hold_id",
        this.cartId,
      )
      .toArray()
      .map((r) => ({ holdId: r.hold_id, sku: r.sku, location: r.location, qty: r.qty, expiresAtMs: r.expires_at, state: r.state, wanted: r.wanted === 1 }));
  }

  putHold(h: CartHold, nowMs: number): void {
    this.sql.exec(
      `INSERT INTO cart_holds (cart_id, hold_id, sku, location, qty, expires_at, state, added_at, wanted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (cart_id, hold_id) DO UPDATE SET expires_at = excluded.expires_at, state = excluded.state, wanted = excluded.wanted`,
      this.cartId, h.holdId, h.sku, h.location, h.qty, h.expiresAtMs, h.state, nowMs, h.wanted ? 1 : 0,
    );
  }

  /** The shopper no longer wants this hold's line (it was replaced by a new hold, or given up). */
  letGo(holdId: string, state: HoldState): void {
    this.sql.exec("UPDATE cart_holds SET wanted = 0, state = ? WHERE cart_id = ? AND hold_id = ?", state, this.cartId, holdId);
  }

  idempotency(key: string): IdempotencyRecord | undefined {
    const r = this.sql
      .exec<{ fingerprint: string; request_id: string; reply: string | null }>("SELECT * FROM cart_idempotency WHERE cart_id = ? AND key = ?", this.cartId, key)
      .toArray()[0];
    return r === undefined ? undefined : { fingerprint: r.fingerprint, requestId: r.request_id, reply: r.reply === null ? null : JSON.parse(r.reply) };
  }

  beginIdempotent(key: string, fingerprint: string, requestId: string, nowMs: number): void {
    this.sql.exec("INSERT INTO cart_idempotency (cart_id, key, fingerprint, request_id, reply, created_at) VALUES (?, ?, ?, ?, NULL, ?)", this.cartId, key, fingerprint, requestId, nowMs);
  }

  finishIdempotent(key: string, reply: unknown): void {
    this.sql.exec("UPDATE cart_idempotency SET reply = ? WHERE cart_id = ? AND key = ?", JSON.stringify(reply), this.cartId, key);
  }

  forgetIdempotent(key: string): void {
    this.sql.exec("DELETE FROM cart_idempotency WHERE cart_id = ? AND key = ?", this.cartId, key);
  }
}
