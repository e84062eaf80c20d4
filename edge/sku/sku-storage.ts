/**
 * The SkuAuthority's storage: a narrow interface over the object's own SQLite. Every method is
 * synchronous so that callers can read, decide and write inside one `transactionSync` with no
 * await in between (a read-modify-write across an await loses updates under concurrency).
 *
 * Tables: `accounts` (balance of every account this SKU has touched, `loc:*` included), `held`
 * (units claimed by active holds per location), `holds`, `outbox` (movements waiting for the
 * ledger flush, written in the same transaction as the balances they change), `event_outbox` (the
 * changefeed events of those changes), `transfers` and `dedupe` (answers to idempotent requests).
 *
 * Bounded (docs/sync-protocol.md, "Retention"): `terminal_ops` keeps the newest
 * `TERMINAL_OP_RECORDS_MAX` records per terminal database, with `terminal_hwm` (its highest seq)
 * answering for the older ones; ended holds, idempotency answers and seq-conflict notes are pruned
 * by the alarm after their retention; flushed outbox rows are deleted by the flush.
 */
import type { Hold, HoldState, LocationStock } from "../../ledger/rules/holds";
import { applyMovement, type Movement } from "../../ledger/rules/movement";
import { foldEvents, type StockEvent } from "../../ledger/rules/events";
import { UNNAMED_LOT, type LotBalance } from "../../ledger/rules/lots";
import type { Transfer } from "../../ledger/rules/transfers";
import { ensureTable } from "../sqlite-tables";
import type { DirectoryEntry } from "./directory";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (account TEXT PRIMARY KEY, balance INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS held (location TEXT PRIMARY KEY, qty INTEGER NOT NULL CHECK (qty >= 0));
CREATE TABLE IF NOT EXISTS lots (
  account TEXT NOT NULL, lot TEXT NOT NULL, expires_on TEXT, qty INTEGER NOT NULL,
  PRIMARY KEY (account, lot)
);
CREATE TABLE IF NOT EXISTS terminal_ops (
  terminal_id TEXT NOT NULL, seq INTEGER NOT NULL, result TEXT NOT NULL, applied_at INTEGER NOT NULL,
  PRIMARY KEY (terminal_id, seq)
);
CREATE TABLE IF NOT EXISTS terminal_hwm (terminal_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seq_conflicts (
  terminal_id TEXT NOT NULL, seq INTEGER NOT NULL, fingerprint TEXT NOT NULL, seen_at INTEGER NOT NULL,
  PRIMARY KEY (terminal_id, seq, fingerprint)
);
CREATE TABLE IF NOT EXISTS event_outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transfers (
  transfer_id TEXT PRIMARY KEY, from_location TEXT NOT NULL, to_location TEXT NOT NULL, qty INTEGER NOT NULL,
  state TEXT NOT NULL, received INTEGER, lost INTEGER, created_at INTEGER NOT NULL,
  version INTEGER NOT NULL, flushed_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS dedupe (
  key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, response TEXT NOT NULL, created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dedupe_age ON dedupe (created_at);
`;

/**
 * A hold is one row (WITHOUT ROWID, edge/sqlite-tables.ts) and, while active, one entry in
 * holds_active_due. `short`: marked short by a store sale (see planShortfall).
 */
const HOLDS_TABLE = `
CREATE TABLE IF NOT EXISTS holds (
  hold_id TEXT PRIMARY KEY, cart_id TEXT NOT NULL, location TEXT NOT NULL,
  qty INTEGER NOT NULL CHECK (qty > 0), created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active','committed','released','expired')), ended_at INTEGER,
  short INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID`;
// Only active holds have a deadline that matters: a hold that ends leaves the index (one entry
// written) instead of moving in it (two). Objects made before it had holds_due (state, expires_at).
const HOLDS_INDEXES = `
DROP INDEX IF EXISTS holds_due;
CREATE INDEX IF NOT EXISTS holds_active_due ON holds (expires_at) WHERE state = 'active';`;

/**
 * A movement waiting for the flush is one row, written once and deleted once: keyed by its id
 * (WITHOUT ROWID), so recording the same movement twice still fails its transaction, with no
 * separate unique index and no AUTOINCREMENT counter row (objects made before had
 * `seq INTEGER PRIMARY KEY AUTOINCREMENT, movement_id UNIQUE`: five rows a movement, not two).
 * `seq` orders the flush and is numbered by this object (`nextOutboxSeq`); the outbox holds only
 * what has not landed yet, so reading it in seq order without an index is a short scan.
 */
const OUTBOX_TABLE = `
CREATE TABLE IF NOT EXISTS outbox (
  movement_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, body TEXT NOT NULL
) WITHOUT ROWID`;

type HoldRow = {
  hold_id: string;
  cart_id: string;
  location: string;
  qty: number;
  created_at: number;
  expires_at: number;
  state: HoldState;
  ended_at: number | null;
};

const toHold = (r: HoldRow): Hold => ({
  holdId: r.hold_id,
  cartId: r.cart_id,
  location: r.location,
  qty: r.qty,
  createdAtMs: r.created_at,
  expiresAtMs: r.expires_at,
  state: r.state,
  endedAtMs: r.ended_at,
});

export interface DedupeRecord {
  readonly fingerprint: string;
  readonly response: unknown;
}

const isStockAccount = (account: string): boolean => account.startsWith("loc:") || account.startsWith("transit:");

export interface FlushBatch {
  readonly movements: readonly Movement[];
  readonly events: readonly StockEvent[];
  readonly transfers: readonly (Transfer & { readonly version: number })[];
  readonly lastMovementSeq: number;
  readonly lastEventSeq: number;
}

export class SkuStorage {
  /**
   * The highest event seq a flush has read (it may be landing those): newer events may still be
   * folded into. After a restart, everything already in the outbox counts as read.
   */
  private eventsReadThrough: number;
  /**
   * No active hold's deadline is earlier than this (undefined: not known). Only ever lowered by a
   * new hold; ending or extending holds leaves it a valid lower bound; raised only by reading it.
   */
  private earliestDeadlineAtLeast: number | undefined;
  /** Set by every write to the outbox tables; read and cleared by `takeOutboxWritten`. */
  private outboxWritten = false;
  /**
   * The seq of the next movement put in the outbox: above every row there, and never lower than
   * one this instance has given out, so a flush in flight, which forgets up to the last seq it
   * read, never forgets a movement recorded after it read. (A restart ends every flush in flight.)
   */
  private nextOutboxSeq: number;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
    ensureTable(sql, "holds", HOLDS_TABLE, { indexes: HOLDS_INDEXES });
    ensureTable(sql, "outbox", OUTBOX_TABLE);
    // The high-water marks start from the records an object made before they existed.
    if (sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM terminal_hwm").one().n === 0) {
      sql.exec("INSERT INTO terminal_hwm (terminal_id, seq) SELECT terminal_id, MAX(seq) FROM terminal_ops GROUP BY terminal_id");
    }
    // An op's fingerprint (terminal-ops.ts): records made before it have none.
    if (!sql.exec<{ name: string }>("PRAGMA table_info(terminal_ops)").toArray().some((c) => c.name === "fingerprint")) {
      sql.exec("ALTER TABLE terminal_ops ADD COLUMN fingerprint TEXT");
    }
    // Objects that held stock before lots existed: their units become the unnamed lot, once.
    sql.exec(
      `INSERT INTO lots (account, lot, expires_on, qty)
       SELECT account, '', NULL, balance FROM accounts
       WHERE (account LIKE 'loc:%' OR account LIKE 'transit:%') AND balance > 0 AND NOT EXISTS (SELECT 1 FROM lots)`,
    );
    this.eventsReadThrough = sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM event_outbox").one().s ?? 0;
    this.nextOutboxSeq = (sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM outbox").one().s ?? 0) + 1;
  }

  meta(key: string): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  deleteMeta(key: string): void {
    this.sql.exec("DELETE FROM meta WHERE key = ?", key);
  }

  setMeta(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  /** Stock of every location in the directory, and of any location that still has units here. */
  stocks(directory: ReadonlyMap<string, DirectoryEntry>): LocationStock[] {
    const onHand = new Map<string, number>();
    for (const r of this.sql.exec<{ account: string; balance: number }>("SELECT account, balance FROM accounts WHERE account LIKE 'loc:%'")) {
      onHand.set(r.account.slice(4), r.balance);
    }
    const held = new Map<string, number>();
    for (const r of this.sql.exec<{ location: string; qty: number }>("SELECT location, qty FROM held")) held.set(r.location, r.qty);
    const ids = new Set([...directory.keys(), ...onHand.keys(), ...held.keys()]);
    return [...ids].sort().map((location) => {
      const entry = directory.get(location);
      return {
        location,
        kind: entry?.kind ?? "store",
        onHand: onHand.get(location) ?? 0,
        held: held.get(location) ?? 0,
        // A location missing from the directory takes no new holds: all of its stock is reserved.
        reserve: entry?.reserve ?? Number.MAX_SAFE_INTEGER,
      };
    });
  }

  balances(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.sql.exec<{ account: string; balance: number }>("SELECT account, balance FROM accounts")) out.set(r.account, r.balance);
    return out;
  }

  hold(holdId: string): Hold | undefined {
    const row = this.sql.exec<HoldRow>("SELECT * FROM holds WHERE hold_id = ?", holdId).toArray()[0];
    return row === undefined ? undefined : toHold(row);
  }

  /** Holds whose id starts with `prefix` (which must end in "."), in id order. */
  holdsWithPrefix(prefix: string): Hold[] {
    if (!prefix.endsWith(".")) throw new Error(`holdsWithPrefix: prefix must end in ".", got ${prefix}`);
    const upper = `${prefix.slice(0, -1)}/`; // "/" sorts right after "."
    return this.sql.exec<HoldRow>("SELECT * FROM holds WHERE hold_id > ? AND hold_id < ? ORDER BY hold_id", prefix, upper).toArray().map(toHold);
  }

  activeHolds(): Hold[] {
    return this.sql.exec<HoldRow>("SELECT * FROM holds WHERE state = 'active' ORDER BY expires_at").toArray().map(toHold);
  }

  /** Active holds past their deadline at `nowMs`, earliest first; none without a read while the earliest deadline is known to be later. */
  dueHolds(nowMs: number, limit: number): Hold[] {
    if (this.earliestDeadlineAtLeast !== undefined && this.earliestDeadlineAtLeast > nowMs) return [];
    return this.sql
      .exec<HoldRow>("SELECT * FROM holds WHERE state = 'active' AND expires_at <= ? ORDER BY expires_at LIMIT ?", nowMs, limit)
      .toArray()
      .map(toHold);
  }

  /** The earliest deadline of an active hold, read now (and remembered as the bound `dueHolds` goes by). */
  earliestExpiry(): number | undefined {
    const t = this.sql.exec<{ t: number | null }>("SELECT MIN(expires_at) AS t FROM holds WHERE state = 'active'").one().t ?? undefined;
    this.earliestDeadlineAtLeast = t ?? Number.POSITIVE_INFINITY;
    return t;
  }

  /** A lower bound on the earliest active hold's deadline, without a read; undefined if not known. */
  earliestDeadlineBound(): number | undefined {
    return this.earliestDeadlineAtLeast;
  }

  /** Whether anything was written to the outbox (movements, events, transfers) since the last call. */
  takeOutboxWritten(): boolean {
    const wrote = this.outboxWritten;
    this.outboxWritten = false;
    return wrote;
  }

  /** Whether the bound on the earliest deadline is known (else `earliestExpiry()` reads it). */
  knowsEarliestDeadline(): boolean {
    return this.earliestDeadlineAtLeast !== undefined;
  }

  /** Forget the bound on the earliest deadline: a transaction that may have moved it was rolled back. */
  forgetEarliestDeadline(): void {
    this.earliestDeadlineAtLeast = undefined;
  }

  insertHold(h: Hold): void {
    if (h.state !== "active") throw new Error(`insertHold: hold ${h.holdId} must be active, is ${h.state}`);
    this.sql.exec(
      "INSERT INTO holds (hold_id, cart_id, location, qty, created_at, expires_at, state, ended_at) VALUES (?, ?, ?, ?, ?, ?, 'active', NULL)",
      h.holdId, h.cartId, h.location, h.qty, h.createdAtMs, h.expiresAtMs,
    );
    this.addHeld(h.location, h.qty);
    if (this.earliestDeadlineAtLeast !== undefined) this.earliestDeadlineAtLeast = Math.min(this.earliestDeadlineAtLeast, h.expiresAtMs);
  }

  /** Record the end of an active hold and give its units back to its location. */
  endHold(h: Hold): void {
    if (h.state === "active") throw new Error(`endHold: hold ${h.holdId} has not ended`);
    // RETURNING, not rowsWritten: the latter also counts index entries.
    const changed = this.sql.exec("UPDATE holds SET state = ?, ended_at = ? WHERE hold_id = ? AND state = 'active' RETURNING hold_id", h.state, h.endedAtMs, h.holdId).toArray().length;
    if (changed !== 1) throw new Error(`endHold: hold ${h.holdId} was not active`);
    this.addHeld(h.location, -h.qty);
  }

  /** Move an active hold to another location (a store sale took its units). */
  moveHold(holdId: string, from: string, to: string, qty: number): void {
    this.sql.exec("UPDATE holds SET location = ? WHERE hold_id = ? AND state = 'active'", to, holdId);
    this.addHeld(from, -qty);
    this.addHeld(to, qty);
  }

  markShort(holdId: string): void {
    this.sql.exec("UPDATE holds SET short = 1 WHERE hold_id = ?", holdId);
  }

  isShort(holdId: string): boolean {
    return this.sql.exec<{ short: number }>("SELECT short FROM holds WHERE hold_id = ?", holdId).toArray()[0]?.short === 1;
  }

  /**
   * The record of the op named (opKey, seq): its result and its fingerprint (null before
   * fingerprints, and for an op older than the kept records). A database's ops reach each SKU in
   * seq order, so a seq at or below the high-water mark without a record was applied and its
   * record pruned: it is answered as applied before, without a body to compare.
   */
  terminalOp(opKey: string, seq: number): { result: unknown; fingerprint: string | null } | undefined {
    const r = this.sql.exec<{ result: string; fingerprint: string | null }>("SELECT result, fingerprint FROM terminal_ops WHERE terminal_id = ? AND seq = ?", opKey, seq).toArray()[0];
    if (r !== undefined) return { result: JSON.parse(r.result), fingerprint: r.fingerprint };
    const hwm = this.sql.exec<{ seq: number }>("SELECT seq FROM terminal_hwm WHERE terminal_id = ?", opKey).toArray()[0]?.seq;
    return hwm !== undefined && seq <= hwm ? { result: { seq, status: "applied" }, fingerprint: null } : undefined;
  }

  rememberTerminalOp(opKey: string, seq: number, fingerprint: string, result: unknown, nowMs: number): void {
    this.sql.exec("INSERT INTO terminal_ops (terminal_id, seq, result, applied_at, fingerprint) VALUES (?, ?, ?, ?, ?)", opKey, seq, JSON.stringify(result), nowMs, fingerprint);
    this.sql.exec("INSERT INTO terminal_hwm (terminal_id, seq) VALUES (?, ?) ON CONFLICT (terminal_id) DO UPDATE SET seq = MAX(seq, excluded.seq)", opKey, seq);
  }

  /** Keep the newest `keep` records of one terminal database; the high-water mark answers for the rest. */
  pruneTerminalOps(opKey: string, keep: number): void {
    this.sql.exec(
      "DELETE FROM terminal_ops WHERE terminal_id = ? AND seq < (SELECT seq FROM terminal_ops WHERE terminal_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
      opKey, opKey, keep - 1,
    );
    this.sql.exec(
      "DELETE FROM seq_conflicts WHERE terminal_id = ? AND seq < (SELECT seq FROM terminal_ops WHERE terminal_id = ? ORDER BY seq ASC LIMIT 1)",
      opKey, opKey,
    );
  }

  /** Forget holds that ended before `cutoffMs`: nothing asks about them after their retention. */
  forgetEndedHoldsBefore(cutoffMs: number): number {
    return this.sql.exec("DELETE FROM holds WHERE state != 'active' AND ended_at < ?", cutoffMs).rowsWritten;
  }

  /** Rows of every table, for the soak benchmark and tests of retention. */
  rowCounts(): Record<string, number> {
    const tables = this.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").toArray();
    return Object.fromEntries(tables.map((t) => [t.name, this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM "${t.name}"`).one().n]));
  }

  /** Note a conflicting body pushed under a taken name; true the first time this body is seen. */
  noteSeqConflict(opKey: string, seq: number, fingerprint: string, nowMs: number): boolean {
    return this.sql.exec("INSERT OR IGNORE INTO seq_conflicts (terminal_id, seq, fingerprint, seen_at) VALUES (?, ?, ?, ?)", opKey, seq, fingerprint, nowMs).rowsWritten > 0;
  }

  extendHold(holdId: string, expiresAtMs: number): void {
    this.sql.exec("UPDATE holds SET expires_at = ? WHERE hold_id = ? AND state = 'active'", expiresAtMs, holdId);
  }

  /**
   * Apply a movement to the balances and to the lots of the stock accounts it touches, and queue it
   * for the ledger, all in the caller's transaction. A movement out of a stock account must name a
   * lot that holds the units (callers split by lots first, see `takeFromLots`).
   */
  recordMovement(m: Movement): void {
    const next = applyMovement(new Map([[m.from, this.balance(m.from)], [m.to, this.balance(m.to)]]), m);
    for (const [account, balance] of next) {
      this.sql.exec("INSERT INTO accounts (account, balance) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET balance = excluded.balance", account, balance);
    }
    const lot = m.lot ?? UNNAMED_LOT;
    if (isStockAccount(m.from)) {
      // Only the unnamed lot may go below zero: a store sale of units the system did not know about
      // (I2), which a count later corrects. A named lot never gives more than it holds.
      if (lot === UNNAMED_LOT) {
        this.sql.exec("INSERT INTO lots (account, lot, expires_on, qty) VALUES (?, ?, NULL, ?) ON CONFLICT (account, lot) DO UPDATE SET qty = qty + excluded.qty", m.from, lot, -m.qty);
      } else {
        const taken = this.sql.exec("UPDATE lots SET qty = qty - ? WHERE account = ? AND lot = ? AND qty >= ? RETURNING lot", m.qty, m.from, lot, m.qty).toArray().length;
        if (taken !== 1) throw new Error(`recordMovement ${m.id}: lot "${lot}" of ${m.from} does not hold ${m.qty} units`);
      }
    }
    if (isStockAccount(m.to)) {
      this.sql.exec(
        "INSERT INTO lots (account, lot, expires_on, qty) VALUES (?, ?, ?, ?) ON CONFLICT (account, lot) DO UPDATE SET qty = qty + excluded.qty, expires_on = COALESCE(excluded.expires_on, expires_on)",
        m.to, lot, m.expiresOn, m.qty,
      );
    }
    this.sql.exec("INSERT INTO outbox (movement_id, seq, body) VALUES (?, ?, ?)", m.id, this.nextOutboxSeq++, JSON.stringify(m));
    this.outboxWritten = true;
  }

  /** The lots of a stock account (`loc:*` or `transit:*`) that hold units. */
  lotsOf(account: string): LotBalance[] {
    return this.sql
      .exec<{ lot: string; expires_on: string | null; qty: number }>("SELECT lot, expires_on, qty FROM lots WHERE account = ? AND qty > 0 ORDER BY lot", account)
      .toArray()
      .map((r) => ({ lot: r.lot, expiresOn: r.expires_on, qty: r.qty }));
  }

  /** Lots on hand at locations that expired before `today` (YYYY-MM-DD), by location account. */
  expiredLots(today: string): Map<string, LotBalance[]> {
    const out = new Map<string, LotBalance[]>();
    for (const r of this.sql.exec<{ account: string; lot: string; expires_on: string; qty: number }>(
      "SELECT account, lot, expires_on, qty FROM lots WHERE account LIKE 'loc:%' AND qty > 0 AND expires_on IS NOT NULL AND expires_on < ? ORDER BY account, lot",
      today,
    )) {
      out.set(r.account, [...(out.get(r.account) ?? []), { lot: r.lot, expiresOn: r.expires_on, qty: r.qty }]);
    }
    return out;
  }

  /** The earliest expiry date among lots on hand at locations, if any. */
  earliestLotExpiry(): string | undefined {
    return this.sql.exec<{ d: string | null }>("SELECT MIN(expires_on) AS d FROM lots WHERE account LIKE 'loc:%' AND qty > 0 AND expires_on IS NOT NULL").one().d ?? undefined;
  }

  /** Sum of the lots of every stock account, to check against the balances. */
  lotTotals(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.sql.exec<{ account: string; n: number }>("SELECT account, SUM(qty) AS n FROM lots GROUP BY account")) out.set(r.account, r.n);
    return out;
  }

  outbox(limit: number): Movement[] {
    return this.sql.exec<{ body: string }>("SELECT body FROM outbox ORDER BY seq LIMIT ?", limit).toArray().map((r) => JSON.parse(r.body) as Movement);
  }

  /** Whether anything waits for the ledger: movements, events or transfer changes. */
  hasUnflushed(): boolean {
    return (
      this.sql.exec<{ n: number }>(
        "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM outbox LIMIT 1)) + (SELECT COUNT(*) FROM (SELECT 1 FROM event_outbox LIMIT 1)) + (SELECT COUNT(*) FROM (SELECT 1 FROM transfers WHERE version > flushed_version LIMIT 1)) AS n",
      ).one().n > 0
    );
  }

  outboxSize(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
  }

  /** The next number of this SKU's event sequence (gapless from 1). */
  nextEventSeq(): number {
    return Number(this.meta("next_event_seq") ?? "1");
  }

  /**
   * Record the events of one change (numbered from `nextEventSeq()`), folded into the newest event
   * where the rule allows (`foldEvents`): only into one that no flush has read yet, so what a
   * flush is landing never changes under it.
   */
  recordEvents(events: readonly StockEvent[]): void {
    if (events.length === 0) return;
    const next = this.nextEventSeq();
    events.forEach((e, i) => {
      if (e.seq !== next + i) throw new Error(`recordEvents: expected seq ${next + i}, got ${e.seq}`);
    });
    const row = this.sql.exec<{ seq: number; body: string }>("SELECT seq, body FROM event_outbox WHERE seq > ? ORDER BY seq DESC LIMIT 1", this.eventsReadThrough).toArray()[0];
    const newest = row !== undefined && row.seq === next - 1 ? (JSON.parse(row.body) as StockEvent) : undefined;
    const { replaced, appended } = foldEvents(newest, events, next);
    this.outboxWritten = true;
    if (replaced !== null) this.sql.exec("UPDATE event_outbox SET body = ? WHERE seq = ?", JSON.stringify(replaced), replaced.seq);
    for (const e of appended) this.sql.exec("INSERT INTO event_outbox (seq, body) VALUES (?, ?)", e.seq, JSON.stringify(e));
    if (appended.length > 0) this.setMeta("next_event_seq", String(next + appended.length));
  }

  transfer(transferId: string): Transfer | undefined {
    const r = this.sql
      .exec<{ transfer_id: string; from_location: string; to_location: string; qty: number; state: Transfer["state"]; received: number | null; lost: number | null; created_at: number }>(
        "SELECT * FROM transfers WHERE transfer_id = ?",
        transferId,
      )
      .toArray()[0];
    return r === undefined
      ? undefined
      : { transferId: r.transfer_id, from: r.from_location, to: r.to_location, qty: r.qty, state: r.state, received: r.received, lost: r.lost, createdAtMs: r.created_at };
  }

  /** Transfers still in transit, oldest first. */
  inTransit(): Transfer[] {
    return this.sql
      .exec<{ transfer_id: string }>("SELECT transfer_id FROM transfers WHERE state = 'in_transit' ORDER BY created_at, transfer_id")
      .toArray()
      .flatMap((r) => this.transfer(r.transfer_id) ?? []);
  }

  putTransfer(t: Transfer): void {
    this.outboxWritten = true;
    this.sql.exec(
      `INSERT INTO transfers (transfer_id, from_location, to_location, qty, state, received, lost, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (transfer_id) DO UPDATE SET state = excluded.state, received = excluded.received, lost = excluded.lost, version = version + 1`,
      t.transferId, t.from, t.to, t.qty, t.state, t.received, t.lost, t.createdAtMs,
    );
  }

  /** The oldest unflushed movements, events and transfer changes, each list bounded. */
  flushBatch(movementsMax: number, eventsMax: number): FlushBatch {
    const movements = this.sql.exec<{ seq: number; body: string }>("SELECT seq, body FROM outbox ORDER BY seq LIMIT ?", movementsMax).toArray();
    const events = this.sql.exec<{ seq: number; body: string }>("SELECT seq, body FROM event_outbox ORDER BY seq LIMIT ?", eventsMax).toArray();
    const transfers = this.sql
      .exec<{ transfer_id: string; version: number }>("SELECT transfer_id, version FROM transfers WHERE version > flushed_version ORDER BY transfer_id LIMIT ?", movementsMax)
      .toArray()
      .flatMap((r) => {
        const t = this.transfer(r.transfer_id);
        return t === undefined ? [] : [{ ...t, version: r.version }];
      });
    // From here on these events may be landing: nothing is folded into them any more.
    this.eventsReadThrough = Math.max(this.eventsReadThrough, events.at(-1)?.seq ?? 0);
    return {
      movements: movements.map((r) => JSON.parse(r.body) as Movement),
      events: events.map((r) => JSON.parse(r.body) as StockEvent),
      transfers,
      lastMovementSeq: movements.at(-1)?.seq ?? 0,
      lastEventSeq: events.at(-1)?.seq ?? 0,
    };
  }

  /** Drop what the ledger has confirmed; anything recorded since stays for the next flush. */
  forgetFlushed(batch: FlushBatch): void {
    this.sql.exec("DELETE FROM outbox WHERE seq <= ?", batch.lastMovementSeq);
    this.sql.exec("DELETE FROM event_outbox WHERE seq <= ?", batch.lastEventSeq);
    for (const t of batch.transfers) this.sql.exec("UPDATE transfers SET flushed_version = ? WHERE transfer_id = ? AND flushed_version < ?", t.version, t.transferId, t.version);
  }

  unflushed(): { movements: Movement[]; events: number } {
    return {
      movements: this.sql.exec<{ body: string }>("SELECT body FROM outbox ORDER BY seq").toArray().map((r) => JSON.parse(r.body) as Movement),
      events: this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM event_outbox").one().n,
    };
  }

  dedupe(key: string): DedupeRecord | undefined {
    const row = this.sql.exec<{ fingerprint: string; response: string }>("SELECT fingerprint, response FROM dedupe WHERE key = ?", key).toArray()[0];
    return row === undefined ? undefined : { fingerprint: row.fingerprint, response: JSON.parse(row.response) };
  }

  remember(key: string, fingerprint: string, response: unknown, nowMs: number): void {
    this.sql.exec("INSERT INTO dedupe (key, fingerprint, response, created_at) VALUES (?, ?, ?, ?)", key, fingerprint, JSON.stringify(response), nowMs);
  }

  oldestDedupe(): number | undefined {
    return this.sql.exec<{ t: number | null }>("SELECT MIN(created_at) AS t FROM dedupe").one().t ?? undefined;
  }

  forgetDedupeBefore(cutoffMs: number): number {
    return this.sql.exec("DELETE FROM dedupe WHERE created_at < ? RETURNING key", cutoffMs).toArray().length;
  }

  private balance(account: string): number {
    return this.sql.exec<{ balance: number }>("SELECT balance FROM accounts WHERE account = ?", account).toArray()[0]?.balance ?? 0;
  }

  private addHeld(location: string, delta: number): void {
    // SQLite checks `qty >= 0` on the row an upsert would insert, so a decrease is a plain UPDATE.
    if (delta >= 0) this.sql.exec("INSERT INTO held (location, qty) VALUES (?, ?) ON CONFLICT (location) DO UPDATE SET qty = qty + excluded.qty", location, delta);
    else this.sql.exec("UPDATE held SET qty = qty + ? WHERE location = ?", delta, location);
  }
}
