/**
 * What an SkuAuthority needs to know from the catalog in D1: whether its SKU exists, and the
 * locations (kind and online reserve of each). Read through drizzle and cached in the object, so
 * that a warm object answers holds and sales without waiting on D1:
 *  - the SKU's facts (does it exist, its low-stock threshold) and the location list are re-read
 *    when older than `DIRECTORY_TTL_MS`; a SKU once found stays known (SKUs are never deleted);
 *  - the location list is also re-read when a request names a location the cache does not have
 *    (at most once per `MISS_REFRESH_MS`). A reserve change
 *    therefore reaches a busy object within `DIRECTORY_TTL_MS`.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { LocationKind } from "../../ledger/rules/holds";
import { locations, skus } from "../../ledger/schema";

export const DIRECTORY_TTL_MS = 10_000;
const MISS_REFRESH_MS = 1_000;

export interface DirectoryEntry {
  readonly location: string;
  readonly kind: LocationKind;
  readonly regionId: string;
  readonly reserve: number;
}

export interface SkuFacts {
  readonly lowStock: number;
  readonly perishable: boolean;
}

export class Directory {
  private entries: Map<string, DirectoryEntry> | null = null;
  private loadedAtMs = 0;
  private loading: Promise<void> | null = null;
  private facts: { readonly value: SkuFacts; readonly loadedAtMs: number } | null = null;

  constructor(private readonly db: D1Database) {}

  /** The SKU's catalog facts, or null if it does not exist. Re-read when older than the TTL. */
  async sku(sku: string, nowMs: number): Promise<SkuFacts | null> {
    if (this.facts !== null && nowMs - this.facts.loadedAtMs <= DIRECTORY_TTL_MS) return this.facts.value;
    const row = await drizzle(this.db).select({ lowStock: skus.lowStock, perishable: skus.perishable }).from(skus).where(eq(skus.id, sku)).get();
    // SKUs are never deleted: once known, a failed refresh keeps the last facts.
    if (row === undefined) return this.facts?.value ?? null;
    this.facts = { value: row, loadedAtMs: nowMs };
    return row;
  }

  /** The location directory, fresh enough to decide on, and containing `named` if it exists at all. */
  async locations(nowMs: number, named: readonly string[] = []): Promise<ReadonlyMap<string, DirectoryEntry>> {
    const stale = this.entries === null || nowMs - this.loadedAtMs > DIRECTORY_TTL_MS;
    const missing = this.entries !== null && named.some((l) => !this.entries?.has(l)) && nowMs - this.loadedAtMs > MISS_REFRESH_MS;
    if (stale || missing) await this.refresh(nowMs);
    if (this.entries === null) throw new Error("directory: not loaded after refresh");
    return this.entries;
  }

  /** Forget the cache (an admin changed a location). */
  invalidate(): void {
    this.loadedAtMs = 0;
  }

  private refresh(nowMs: number): Promise<void> {
    // Concurrent requests share one read.
    this.loading ??= (async () => {
      try {
        const rows = await drizzle(this.db)
          .select({ location: locations.id, kind: locations.kind, regionId: locations.regionId, reserve: locations.reserve })
          .from(locations)
          .all();
        this.entries = new Map(rows.map((r) => [r.location, r]));
        this.loadedAtMs = nowMs;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }
}
