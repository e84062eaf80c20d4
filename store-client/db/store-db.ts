/**
 * The terminal's IndexedDB database, through Dexie: the local catalog, the store's confirmed
 * stock, the outbox of ops and a few meta values. One database per terminal.
 *
 * Invariant protected: a database belongs to one (terminal, store) for its whole life. Seqs are
 * only unique per terminal, and confirmed stock is only meaningful for one store, so opening a
 * database with another identity is refused rather than mixing the two.
 *
 * Each database is also an incarnation of its terminal: a random id made when the database is
 * created and sent with every push, so that a wiped or replaced device, whose seqs start again at
 * 1, can never have its new ops taken for the old ones (docs/sync-protocol.md, "Identity").
 *
 * IndexedDB cannot index booleans, so the two flags the outbox is searched by (`overlay`,
 * `attention`) are stored as 0 | 1.
 */
import { Dexie, type EntityTable } from "dexie";
import type { PushResult, PushStatus, WireOp } from "../sync/protocol";

export interface CatalogItem {
  sku: string;
  name: string;
  barcode?: string;
  /** Price in the currency's minor unit (cents), when the catalog source has one. */
  priceMinor?: number;
}

/** The server's confirmed view of one SKU at this store, from the last pull that named it. */
export interface StockRow {
  sku: string;
  location: string;
  onHand: number;
  available: number;
  pulledAtMs: number;
  /**
   * The highest seq of this database's ops that these figures include (the edge says so in the
   * pull, like Replicache's lastMutationID); 0 or absent when none. An acknowledged op of this SKU
   * with a seq up to it counts through these figures, not the overlay.
   */
  includesSeq?: number;
}

/** `pending` until the edge answered for the op; then the edge's answer. */
export type OpState = "pending" | PushStatus;

export interface OutboxRow {
  seq: number;
  op: WireOp;
  state: OpState;
  /** 1 while the op counts in local stock on top of confirmed stock (stock/stock-view.ts): until confirmed stock includes it. */
  overlay: 0 | 1;
  /** 1 while a person should look at it: rejected, or applied with a shortfall. */
  attention: 0 | 1;
  result: PushResult | null;
  /** Push requests that carried this op. */
  attempts: number;
  recordedAtMs: number;
  lastAttemptAtMs: number | null;
  ackedAtMs: number | null;
  settledAtMs: number | null;
}

export interface Identity {
  terminalId: string;
  storeId: string;
}

/**
 * What the edge said about this terminal when this database first reached it. `previous` is set
 * when an earlier database of the same terminal had synced: whatever it recorded after its last
 * sync never reached the edge, and the cashier should know.
 */
export interface EdgeStanding {
  checkedAtMs: number;
  previous: { incarnation: string | null; lastSeq: number; lastSyncAt: string | null } | null;
}

export interface SyncLease {
  owner: string;
  expiresAtMs: number;
}

export interface MetaValues {
  identity: Identity;
  /** This database's incarnation id; null for a database made before incarnations (it keeps its seqs' old names). */
  incarnation: string | null;
  /** Set once the edge has told where this terminal stands (sync-engine.ts); absent until then. */
  edgeStanding: EdgeStanding;
  /** The next seq to hand out; never decreases, so a pruned outbox cannot cause a reuse. */
  nextSeq: number;
  pullCursor: string;
  lastSyncAtMs: number;
  catalogLoadedAtMs: number;
  /** The fallback sync lock when Web Locks are missing (sync/sync-lock.ts). */
  syncLease: SyncLease;
}

export type MetaKey = keyof MetaValues;
export type MetaRow = { [K in MetaKey]: { key: K; value: MetaValues[K] } }[MetaKey];

export type StoreDb = Dexie & {
  catalog: EntityTable<CatalogItem, "sku">;
  stock: EntityTable<StockRow, "sku">;
  outbox: EntityTable<OutboxRow, "seq">;
  meta: EntityTable<MetaRow, "key">;
};

export function openStoreDb(name: string): StoreDb {
  const db = new Dexie(name) as StoreDb;
  db.version(1).stores({
    catalog: "sku, barcode",
    stock: "sku",
    // [state+seq]: pending ops in push order. [op.sku+overlay]: one SKU's overlay for local stock.
    outbox: "seq, [state+seq], [op.sku+overlay], overlay, attention",
    meta: "key",
  });
  return db;
}

export async function getMeta<K extends MetaKey>(db: StoreDb, key: K): Promise<MetaValues[K] | undefined> {
  const row = await db.meta.get(key);
  // The row stored under `key` is the one written by putMeta(db, key, ...): its value has K's type.
  return row?.value as MetaValues[K] | undefined;
}

export async function putMeta<K extends MetaKey>(db: StoreDb, key: K, value: MetaValues[K]): Promise<void> {
  await db.meta.put({ key, value } as MetaRow);
}

/**
 * Claim an empty database for `identity` under a new incarnation id, or check that it is already
 * this one's. Answers the database's incarnation.
 */
export async function claimIdentity(db: StoreDb, identity: Identity, newIncarnation: () => string, nowMs: number): Promise<string | null> {
  return db.transaction("rw", db.meta, async () => {
    const current = await getMeta(db, "identity");
    if (current === undefined) {
      const incarnation = newIncarnation();
      await putMeta(db, "identity", { terminalId: identity.terminalId, storeId: identity.storeId });
      await putMeta(db, "incarnation", incarnation);
      return incarnation;
    }
    if (current.terminalId !== identity.terminalId || current.storeId !== identity.storeId) {
      throw new Error(
        `database ${db.name} belongs to terminal ${current.terminalId} of store ${current.storeId}, ` +
          `not terminal ${identity.terminalId} of store ${identity.storeId}`,
      );
    }
    const incarnation = await getMeta(db, "incarnation");
    if (incarnation !== undefined) return incarnation;
    // A database from before incarnations: its pushed ops are named without one, and must stay
    // so, or a pending op pushed before (answer lost) would land again under a new name.
    await putMeta(db, "incarnation", null);
    await putMeta(db, "edgeStanding", { checkedAtMs: nowMs, previous: null });
    return null;
  });
}
