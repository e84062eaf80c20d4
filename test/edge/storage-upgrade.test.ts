/**
 * Objects made before their tables were WITHOUT ROWID (edge/sqlite-tables.ts) keep their rows: the
 * first time their storage is opened, the old rowid tables are rebuilt in the new shape. Run in
 * real Durable Object storage: an object's tables are put back in their old shape, with rows, and
 * its storage opened again.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CartStorage } from "../../edge/cart/cart-storage";
import { SkuStorage } from "../../edge/sku/sku-storage";
import { ensureTable } from "../../edge/sqlite-tables";
import { fresh } from "./helpers";

/** A scratch object's storage (an authority never asked anything: its tables are made, empty). */
function inScratch<R>(fn: (sql: SqlStorage) => R): Promise<R> {
  const stub = env.SKU.get(env.SKU.idFromName(fresh("UPGRADE"))) as unknown as DurableObjectStub;
  return runInDurableObject(stub, (_instance, state) => fn(state.storage.sql));
}

const shapeOf = (sql: SqlStorage, table: string): string => sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", table).one().sql;
const indexesOf = (sql: SqlStorage, table: string): string[] =>
  sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name", table).toArray().map((r) => r.name);

describe("tables rebuilt WITHOUT ROWID", () => {
  it("copies an old table's rows into the new shape once, and leaves a new one alone", async () => {
    await inScratch((sql) => {
      sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL, extra TEXT)");
      sql.exec("CREATE INDEX t_old ON t (v)");
      sql.exec("INSERT INTO t (k, v, extra) VALUES ('a', 1, 'x'), ('b', 2, NULL)");
      const create = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL, extra TEXT) WITHOUT ROWID";
      ensureTable(sql, "t", create, { indexes: "CREATE INDEX IF NOT EXISTS t_v ON t (v)" });
      expect(shapeOf(sql, "t")).toMatch(/WITHOUT ROWID/);
      expect(indexesOf(sql, "t")).toEqual(["t_v"]);
      expect(sql.exec("SELECT k, v, extra FROM t ORDER BY k").toArray()).toEqual([
        { k: "a", v: 1, extra: "x" },
        { k: "b", v: 2, extra: null },
      ]);
      // Again: nothing to rebuild, nothing lost.
      ensureTable(sql, "t", create, { indexes: "CREATE INDEX IF NOT EXISTS t_v ON t (v)" });
      expect(sql.exec("SELECT COUNT(*) AS n FROM t").one().n).toBe(2);
      // A table that does not exist yet is made in the new shape.
      ensureTable(sql, "u", "CREATE TABLE IF NOT EXISTS u (k TEXT PRIMARY KEY) WITHOUT ROWID");
      expect(shapeOf(sql, "u")).toMatch(/WITHOUT ROWID/);
    });
  });

  it("an authority made with rowid holds keeps its holds, their index and their deadlines", async () => {
    await inScratch((sql) => {
      sql.exec("DROP TABLE holds");
      sql.exec(`CREATE TABLE holds (
        hold_id TEXT PRIMARY KEY, cart_id TEXT NOT NULL, location TEXT NOT NULL,
        qty INTEGER NOT NULL CHECK (qty > 0), created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('active','committed','released','expired')), ended_at INTEGER)`);
      sql.exec("CREATE INDEX holds_due ON holds (state, expires_at)");
      sql.exec("INSERT INTO holds VALUES ('h1', 'c1', 'W1', 2, 1000, 5000, 'active', NULL), ('h2', 'c2', 'W1', 1, 1000, 4000, 'committed', 2000)");
      const store = new SkuStorage(sql);
      expect(shapeOf(sql, "holds")).toMatch(/WITHOUT ROWID/);
      expect(indexesOf(sql, "holds")).toEqual(["holds_active_due"]);
      expect(store.activeHolds().map((h) => [h.holdId, h.qty, h.expiresAtMs])).toEqual([["h1", 2, 5000]]);
      expect(store.dueHolds(6000, 10).map((h) => h.holdId)).toEqual(["h1"]);
    });
  });

  it("an authority made with an AUTOINCREMENT outbox keeps its waiting movements, and numbers new ones after them", async () => {
    await inScratch((sql) => {
      sql.exec("DROP TABLE outbox");
      sql.exec("CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, movement_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)");
      const m = (id: string) => ({ id, sku: "SKU-1", from: "supplier", to: "loc:W1", qty: 1, occurredAtMs: 1, recordedAtMs: 1, source: "receipt", ref: null, lot: null, expiresOn: null });
      sql.exec("INSERT INTO outbox (movement_id, body) VALUES (?, ?), (?, ?)", "m1", JSON.stringify(m("m1")), "m2", JSON.stringify(m("m2")));
      const store = new SkuStorage(sql);
      expect(shapeOf(sql, "outbox")).toMatch(/WITHOUT ROWID/);
      expect(shapeOf(sql, "outbox")).not.toMatch(/AUTOINCREMENT/);
      expect(indexesOf(sql, "outbox")).toEqual([]);
      store.recordMovement(m("m3") as never);
      const batch = store.flushBatch(10, 10);
      expect(batch.movements.map((x) => x.id)).toEqual(["m1", "m2", "m3"]);
      expect(batch.lastMovementSeq).toBe(3);
      // A flush that read m1..m3 forgets exactly those; a movement recorded meanwhile stays.
      store.recordMovement(m("m4") as never);
      store.forgetFlushed(batch);
      expect(store.unflushed().movements.map((x) => x.id)).toEqual(["m4"]);
      store.forgetFlushed(store.flushBatch(10, 10));
      // Emptied, the outbox still numbers on from where it was: an older flush in flight cannot delete a new row.
      store.recordMovement(m("m5") as never);
      expect(store.flushBatch(10, 10).lastMovementSeq).toBe(5);
      // Still keyed by the movement: the same movement recorded twice fails (its transaction with it).
      expect(() => store.recordMovement(m("m5") as never)).toThrow(/UNIQUE|PRIMARY KEY|constraint/i);
    });
  });

  it("a cart coordinator made with rowid tables keeps its carts, lines and idempotency answers", async () => {
    await inScratch((sql) => {
      sql.exec(`CREATE TABLE carts (cart_id TEXT PRIMARY KEY, owner TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open','checked_out')), order_id TEXT, order_json TEXT, created_at INTEGER NOT NULL)`);
      sql.exec("CREATE INDEX carts_age ON carts (created_at)");
      sql.exec(`CREATE TABLE cart_holds (cart_id TEXT NOT NULL, hold_id TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL, qty INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, state TEXT NOT NULL, added_at INTEGER NOT NULL, wanted INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (cart_id, hold_id))`);
      sql.exec(`CREATE TABLE cart_idempotency (cart_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, request_id TEXT NOT NULL, reply TEXT, created_at INTEGER NOT NULL,
        PRIMARY KEY (cart_id, key))`);
      sql.exec("INSERT INTO carts VALUES ('c1', 'shopper-1', 'open', NULL, NULL, 1000)");
      sql.exec("INSERT INTO cart_holds VALUES ('c1', 'h1', 'SKU-1', 'W1', 2, 5000, 'active', 1000, 1)");
      sql.exec(`INSERT INTO cart_idempotency VALUES ('c1', 'k1', 'fp', 'r1', '{"ok":true}', 1000)`);
      const carts = new CartStorage(sql);
      for (const table of ["carts", "cart_holds", "cart_idempotency"]) expect(shapeOf(sql, table)).toMatch(/WITHOUT ROWID/);
      expect(indexesOf(sql, "carts")).toEqual(["carts_age"]);
      const cart = carts.of("c1");
      expect(cart.cart()?.owner).toBe("shopper-1");
      expect(cart.holds().map((h) => [h.holdId, h.sku, h.qty, h.wanted])).toEqual([["h1", "SKU-1", 2, true]]);
      expect(cart.idempotency("k1")).toEqual({ fingerprint: "fp", requestId: "r1", reply: { ok: true } });
      expect(carts.oldestCartAtMs()).toBe(1000);
    });
  });
});
