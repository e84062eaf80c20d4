/**
 * The store client: what a POS terminal calls. It records sales, returns, write-offs and
 * receipts in the local outbox at once, online or not, answers stock and catalog questions from
 * IndexedDB, and keeps the outbox and the store's stock in sync with the edge in the background.
 *
 * This file wires the parts and holds no rules of its own: ops/ (what an action becomes, how it
 * is recorded), stock/ (local stock and the offline allowance), catalog/, sync/ (the engine, the
 * wire protocol, the lock), status/ (what the screen shows). Transport, clock, random source,
 * database, `window` and `navigator` are injectable for tests; the defaults are the browser's.
 */
import { liveQuery } from "dexie";
import { openCount, type CountSheet } from "./counts/count-sheet";
import { isId } from "../ledger/rules/ids";
import { findByBarcode, findBySku, loadCatalog, refreshCatalog, type CatalogLoaded } from "./catalog/catalog";
import { systemClock, type Clock } from "./clock";
import { claimIdentity, openStoreDb, type CatalogItem, type OpState, type StoreDb } from "./db/store-db";
import { draftOps, type Line, type OpProblem, type WriteOffLine } from "./ops/op-rules";
import { recordOps, type Recorded } from "./ops/record-ops";
import { ATTENTION_LISTED_MAX, composeStatus, opView, readOutboxSummary, type OpView, type OutboxSummary, type SyncStatus } from "./status/sync-status";
import { readAllLocalStock, readLocalStock } from "./stock/read-stock";
import type { LocalStock } from "./stock/stock-view";
import { DEFAULT_BACKOFF } from "./sync/backoff";
import type { Transport } from "./sync/http";
import { DEFAULT_BATCH_LIMITS } from "./sync/outbox-rules";
import type { OpKind } from "./sync/protocol";
import { SyncEngine, type SyncTuning } from "./sync/sync-engine";
import { leaseLock, webLock, type LockManagerLike, type SyncLock } from "./sync/sync-lock";

/** Where `online` and `offline` events come from; `window` fits. */
export interface OnlineEventTarget {
  addEventListener(type: "online" | "offline", listener: () => void): void;
  removeEventListener(type: "online" | "offline", listener: () => void): void;
}

/** The parts of `navigator` used: whether the browser is online, and Web Locks. */
export interface NavigatorLike {
  onLine?: boolean;
  locks?: LockManagerLike;
}

export type ClientTuning = SyncTuning & {
  /** How long the fallback lease lock (no Web Locks) is held without renewal. */
  leaseMs: number;
};

export const DEFAULT_TUNING: ClientTuning = {
  pushBatch: DEFAULT_BATCH_LIMITS,
  pushBatchesPerCycleMax: 20,
  pullLimit: 500,
  pullPagesPerCycleMax: 50,
  requestTimeoutMs: 20_000,
  backoff: DEFAULT_BACKOFF,
  intervalMs: 30_000,
  lockRetryMs: 2_000,
  confirmPullMs: 1_000,
  historyMax: 1_000,
  cyclesPerRunMax: 20,
  leaseMs: 60_000,
};

export interface StoreClientOptions {
  /** The edge, e.g. `https://edgestock.example.com`. */
  baseUrl: string;
  /** A terminal token (role `terminal`, `sub` = terminalId, `store` = storeId), or a function that gets a fresh one. */
  token: string | (() => string | Promise<string>);
  storeId: string;
  terminalId: string;
  /** A database opened with openStoreDb, or the name of one; default `edgestock-<terminalId>`. */
  db?: StoreDb | string;
  transport?: Transport;
  clock?: Clock;
  random?: () => number;
  /** Source of online/offline events; default the global `window`, null for none. */
  window?: OnlineEventTarget | null;
  /** Default the global `navigator`; null for none (no Web Locks, assumed online). */
  navigator?: NavigatorLike | null;
  /** Names this client in the fallback lease lock; default a random UUID. */
  instanceId?: string;
  tuning?: Partial<ClientTuning>;
  /** Start syncing at once and on every op (default true); false leaves it to sync(). */
  autoSync?: boolean;
}

export type RecordResult = ({ ok: true } & Recorded) | { ok: false; problem: OpProblem };

export type StatusListener = (status: SyncStatus) => void;

export interface StoreClient {
  readonly terminalId: string;
  readonly storeId: string;
  readonly db: StoreDb;

  /** Record a sale; warns per SKU sold past its offline allowance (the sale is recorded anyway). */
  sell(lines: readonly Line[]): Promise<RecordResult>;
  /** Record a customer return (units back on the shelf). */
  returnItems(lines: readonly Line[]): Promise<RecordResult>;
  /** Record damaged, lost, stolen or expired units leaving the shelf. */
  writeOff(lines: readonly WriteOffLine[]): Promise<RecordResult>;
  /** Record a delivery received into the store. */
  receive(lines: readonly Line[]): Promise<RecordResult>;

  findByBarcode(barcode: string): Promise<CatalogItem | undefined>;
  findBySku(sku: string): Promise<CatalogItem | undefined>;
  /** Local stock of one SKU: confirmed by the edge plus this terminal's unconfirmed ops. */
  stock(sku: string): Promise<LocalStock>;
  allStock(): Promise<LocalStock[]>;

  /** Add or update catalog items; `replace` makes the catalog exactly these. */
  loadCatalog(items: readonly CatalogItem[], mode?: "merge" | "replace"): Promise<CatalogLoaded>;
  /** Replace the catalog with what `fetcher` returns (the edge has no listing endpoint yet). */
  refreshCatalog(fetcher: () => Promise<readonly CatalogItem[]>): Promise<CatalogLoaded>;

  /** Sync now (leaves an error or a backoff) and answer the status after it. */
  sync(): Promise<SyncStatus>;
  /** Resolves when no sync cycle is running in this client. */
  settled(): Promise<void>;
  status(): Promise<SyncStatus>;
  /** Be told whenever the status may have changed (in this tab or another); returns the unsubscribe. */
  subscribe(listener: StatusListener): () => void;
  /** Ops in the outbox, oldest first; filter by state. */
  listOps(query?: { state?: OpState; limit?: number }): Promise<OpView[]>;
  /** A person has seen this rejected op or shortfall: stop listing it. False when there was nothing to acknowledge. */
  acknowledge(seq: number): Promise<boolean>;
  /** Use this token from now on (after a 401, call sync() to resume). */
  setToken(token: string | (() => string | Promise<string>)): void;
  /** A count's sheet for a clerk, by their staff token (store-client/counts/). */
  openCount(countId: string, staffToken: string): Promise<CountSheet>;
  close(): Promise<void>;
}

/**
 * What the client may find on globalThis. It runs in browsers (all of these), in workers and in
 * Node (some or none), so nothing is assumed: each is checked before use.
 */
interface HostGlobals {
  window?: OnlineEventTarget;
  navigator?: NavigatorLike;
  crypto?: { randomUUID?: () => string };
}
// reason: the type of globalThis differs per runtime (DOM, workers, Node); this is the common view.
const hostGlobals = globalThis as unknown as HostGlobals;

function newInstanceId(random: () => number): string {
  return hostGlobals.crypto?.randomUUID?.() ?? `tab-${Math.floor(random() * 2 ** 52).toString(36)}`;
}

/** A database's incarnation id: 128 random bits, hex (an id per the edge's rules). */
function newIncarnationId(random: () => number): string {
  const uuid = hostGlobals.crypto?.randomUUID?.();
  if (uuid !== undefined) return uuid.replaceAll("-", "");
  return Array.from({ length: 4 }, () => Math.floor(random() * 2 ** 32).toString(16).padStart(8, "0")).join("");
}

export async function createStoreClient(options: StoreClientOptions): Promise<StoreClient> {
  const { terminalId, storeId } = options;
  if (!isId(terminalId)) throw new Error(`terminalId ${JSON.stringify(terminalId)} is not an id`);
  if (!isId(storeId)) throw new Error(`storeId ${JSON.stringify(storeId)} is not an id`);
  if (options.baseUrl.length === 0) throw new Error("baseUrl is required");
  const tuning: ClientTuning = { ...DEFAULT_TUNING, ...options.tuning };
  if (tuning.requestTimeoutMs >= tuning.leaseMs) throw new Error("requestTimeoutMs must be shorter than leaseMs (sync/sync-lock.ts)");

  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const win = options.window !== undefined ? options.window : (hostGlobals.window ?? null);
  const nav = options.navigator !== undefined ? options.navigator : (hostGlobals.navigator ?? null);
  const transport: Transport = options.transport ?? ((url, init) => globalThis.fetch(url, init));

  const ownsDb = typeof options.db !== "object";
  const db = typeof options.db === "object" ? options.db : openStoreDb(options.db ?? `edgestock-${terminalId}`);
  await db.open();
  const incarnation = await claimIdentity(db, { terminalId, storeId }, () => newIncarnationId(random), clock.now());

  let token = options.token;
  const lock: SyncLock =
    nav?.locks !== undefined
      ? webLock(nav.locks, `edgestock:sync:${db.name}`)
      : leaseLock(db, options.instanceId ?? newInstanceId(random), clock, tuning.leaseMs);

  const listeners = new Set<StatusListener>();
  let summary: OutboxSummary | null = null;
  let watching: { unsubscribe(): void } | null = null;
  let closed = false;

  const emit = (): void => {
    if (summary === null || listeners.size === 0) return;
    const status = composeStatus(summary, engine.snapshot(), clock.now());
    for (const listener of listeners) {
      try {
        listener(status);
      } catch (error) {
        // One broken listener must not starve the others; its error still surfaces.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  };

  const engine = new SyncEngine({
    db,
    terminalId,
    storeId,
    incarnation,
    http: {
      baseUrl: options.baseUrl,
      token: async () => (typeof token === "string" ? token : token()),
      transport,
      clock,
      requestTimeoutMs: tuning.requestTimeoutMs,
    },
    clock,
    random,
    lock,
    tuning,
    online: nav?.onLine ?? true,
    onChange: emit,
  });
  const autoSync = options.autoSync ?? true;

  const onOnline = (): void => engine.setOnline(true);
  const onOffline = (): void => engine.setOnline(false);
  win?.addEventListener("online", onOnline);
  win?.addEventListener("offline", onOffline);

  // Calls that use the database, so close() can let them finish before it closes it.
  const inflight = new Set<Promise<unknown>>();
  const tracked = async <T>(work: () => Promise<T>): Promise<T> => {
    if (closed) throw new Error("the store client is closed");
    const running = work();
    inflight.add(running);
    const forget = (): void => void inflight.delete(running);
    running.then(forget, forget);
    return running;
  };

  const record = (kind: OpKind, lines: readonly (Line | WriteOffLine)[]): Promise<RecordResult> =>
    tracked(async () => {
      const drafted = draftOps(kind, lines);
      if (!drafted.ok) return drafted;
      const recorded = await recordOps(db, drafted.drafts, clock.now());
      if (autoSync) engine.nudge();
      return { ok: true, ...recorded };
    });

  const readStatus = async (): Promise<SyncStatus> => composeStatus(await readOutboxSummary(db), engine.snapshot(), clock.now());

  const client: StoreClient = {
    terminalId,
    storeId,
    db,
    sell: (lines) => record("sale", lines),
    returnItems: (lines) => record("return", lines),
    writeOff: (lines) => record("write_off", lines),
    receive: (lines) => record("receipt", lines),

    findByBarcode: (barcode) => tracked(() => findByBarcode(db, barcode)),
    findBySku: (sku) => tracked(() => findBySku(db, sku)),
    stock: (sku) => tracked(() => readLocalStock(db, sku)),
    allStock: () => tracked(() => readAllLocalStock(db)),

    loadCatalog: (items, mode = "merge") => tracked(() => loadCatalog(db, items, clock.now(), mode)),
    refreshCatalog: (fetcher) => tracked(() => refreshCatalog(db, fetcher, () => clock.now())),

    sync: () =>
      tracked(async () => {
        await engine.sync();
        return readStatus();
      }),
    settled: () => engine.settled(),
    status: () => tracked(readStatus),
    subscribe(listener) {
      listeners.add(listener);
      if (watching === null && !closed) {
        // liveQuery re-reads the summary whenever the outbox or meta change, in this tab or another.
        watching = liveQuery(() => readOutboxSummary(db)).subscribe({
          next: (next) => {
            summary = next;
            emit();
          },
          error: (error: unknown) => {
            queueMicrotask(() => {
              throw new Error("store client: status query failed", { cause: error });
            });
          },
        });
      } else {
        emit();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && watching !== null) {
          watching.unsubscribe();
          watching = null;
          summary = null;
        }
      };
    },
    listOps: (query = {}) =>
      tracked(async () => {
        const limit = query.limit ?? ATTENTION_LISTED_MAX;
        const rows =
          query.state === undefined
            ? await db.outbox.orderBy("seq").limit(limit).toArray()
            : await db.outbox.where("[state+seq]").between([query.state, 0], [query.state, Number.MAX_SAFE_INTEGER]).limit(limit).toArray();
        return rows.map(opView);
      }),
    acknowledge: (seq) =>
      tracked(async () => {
        const changed = await db.outbox.where("seq").equals(seq).and((r) => r.attention === 1).modify({ attention: 0 });
        if (changed > 0) emit();
        return changed > 0;
      }),
    setToken(next) {
      token = next;
    },
    openCount: (countId, staffToken) => openCount({ baseUrl: options.baseUrl, countId, token: staffToken }),
    async close() {
      if (closed) return;
      closed = true;
      win?.removeEventListener("online", onOnline);
      win?.removeEventListener("offline", onOffline);
      await engine.close();
      await Promise.allSettled([...inflight]);
      watching?.unsubscribe();
      watching = null;
      listeners.clear();
      if (ownsDb) db.close();
    },
  };

  if (autoSync) engine.nudge();
  return client;
}
