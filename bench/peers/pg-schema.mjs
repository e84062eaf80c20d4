// The PostgreSQL peer's tables: what an application server over PostgreSQL keeps for holds, the
// way Saleor's and Vendure's stock reservations do.
//
//   stock      one row per (sku, location): on hand and held; every hold and sale locks it
//              (SELECT … FOR UPDATE), which is what serialises a hot SKU
//   carts      owner, state, and the order a checked-out cart answers with again
//   holds      one row per hold, active until it is committed or expires (expiry is lazy: the next
//              hold on the same stock row ends the expired ones under the row lock)
//   movements  one row per committed hold: loc:<location> → customer
//
// Invariant kept by every transaction that changes stock: held = Σ qty of the active holds of that
// row, and on_hand − held ≥ 0 (checked by the database as well).

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS stock (
  sku       text    NOT NULL,
  location  text    NOT NULL,
  on_hand   integer NOT NULL CHECK (on_hand >= 0),
  held      integer NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= on_hand),
  PRIMARY KEY (sku, location)
);
CREATE TABLE IF NOT EXISTS carts (
  cart_id     text        PRIMARY KEY,
  owner       text        NOT NULL,
  state       text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'checked_out')),
  order_json  jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS holds (
  hold_id     text        PRIMARY KEY,
  cart_id     text        NOT NULL REFERENCES carts (cart_id),
  sku         text        NOT NULL,
  location    text        NOT NULL,
  qty         integer     NOT NULL CHECK (qty > 0),
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  state       text        NOT NULL CHECK (state IN ('active', 'committed', 'expired')),
  ended_at    timestamptz
);
CREATE INDEX IF NOT EXISTS holds_by_cart ON holds (cart_id);
-- Finds the expired holds of one stock row without reading the live ones.
CREATE INDEX IF NOT EXISTS holds_active_by_expiry ON holds (sku, location, expires_at) WHERE state = 'active';
CREATE TABLE IF NOT EXISTS movements (
  movement_id   bigserial   PRIMARY KEY,
  order_id      text        NOT NULL,
  hold_id       text        NOT NULL UNIQUE,
  sku           text        NOT NULL,
  from_account  text        NOT NULL,
  to_account    text        NOT NULL,
  qty           integer     NOT NULL CHECK (qty > 0),
  occurred_at   timestamptz NOT NULL
);
`;

/** Creates the tables (idempotent). `db` is a pg Client or Pool. */
export async function createSchema(db) {
  await db.query(SCHEMA_SQL);
}

/** Receives `qty` units of `sku` at `location` (the row is created on the first receipt). */
export async function stockSku(db, sku, location, qty) {
  await db.query(
    "INSERT INTO stock (sku, location, on_hand, held) VALUES ($1, $2, $3, 0) ON CONFLICT (sku, location) DO UPDATE SET on_hand = stock.on_hand + EXCLUDED.on_hand",
    [sku, location, qty],
  );
}
