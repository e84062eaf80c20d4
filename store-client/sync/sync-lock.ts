/**
 * One tab per terminal syncs at a time. Tabs share the terminal's outbox (one database), so two
 * syncing tabs would post the same pending ops side by side. The edge would answer the second copy
 * `duplicate` (it dedupes by (terminalId, seq)), but the client does not lean on that.
 *
 * - Web Locks (`navigator.locks.request(name, {ifAvailable: true}, ...)`) when the browser has
 *   them: the lock is the browser's, released when the holder finishes or its tab dies.
 * - Otherwise a lease in the database's meta table: taken and renewed in a read-write transaction
 *   (so two tabs cannot both take it), held for `leaseMs`, renewed before every request. The
 *   engine's request deadline is shorter than the lease, so a request started under the lease
 *   ends before another tab could take it over. A tab that dies holding the lease blocks the
 *   others for at most `leaseMs`.
 *
 * A tab that does not get the lock does not wait: it tries again later (the engine's lock retry).
 */
import type { Clock } from "../clock";
import { getMeta, putMeta, type StoreDb } from "../db/store-db";

/** Renew the hold on the lock before the next request; false when it was lost. */
export type KeepAlive = () => Promise<boolean>;

export type Locked<T> = { acquired: true; value: T } | { acquired: false };

export interface SyncLock {
  withLock<T>(fn: (keepAlive: KeepAlive) => Promise<T>): Promise<Locked<T>>;
}

/** The part of the Web Locks API used here; `navigator.locks` fits. */
export interface LockManagerLike {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<unknown>): Promise<unknown>;
}

export function webLock(locks: LockManagerLike, name: string): SyncLock {
  return {
    async withLock<T>(fn: (keepAlive: KeepAlive) => Promise<T>): Promise<Locked<T>> {
      const result = await locks.request(name, { ifAvailable: true }, async (lock): Promise<Locked<T>> => {
        if (lock === null) return { acquired: false };
        return { acquired: true, value: await fn(async () => true) };
      });
      // The callback above is the only thing that produces `result`.
      return result as Locked<T>;
    },
  };
}

export function leaseLock(db: StoreDb, owner: string, clock: Clock, leaseMs: number): SyncLock {
  const take = (): Promise<boolean> =>
    db.transaction("rw", db.meta, async () => {
      const lease = await getMeta(db, "syncLease");
      const nowMs = clock.now();
      if (lease !== undefined && lease.owner !== owner && lease.expiresAtMs > nowMs) return false;
      await putMeta(db, "syncLease", { owner, expiresAtMs: nowMs + leaseMs });
      return true;
    });
  const renew = (): Promise<boolean> =>
    db.transaction("rw", db.meta, async () => {
      const lease = await getMeta(db, "syncLease");
      // Lost when another tab took it over after it ran out; never steal it back.
      if (lease === undefined || lease.owner !== owner) return false;
      await putMeta(db, "syncLease", { owner, expiresAtMs: clock.now() + leaseMs });
      return true;
    });
  const release = (): Promise<void> =>
    db.transaction("rw", db.meta, async () => {
      const lease = await getMeta(db, "syncLease");
      if (lease?.owner === owner) await db.meta.delete("syncLease");
    });
  return {
    async withLock<T>(fn: (keepAlive: KeepAlive) => Promise<T>): Promise<Locked<T>> {
      if (!(await take())) return { acquired: false };
      try {
        return { acquired: true, value: await fn(renew) };
      } finally {
        await release();
      }
    },
  };
}
