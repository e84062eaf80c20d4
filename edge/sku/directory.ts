/**
 * What an SkuAuthority needs to know from the catalog in D1: whether its SKU exists, and the
 * locations (kind and online reserve of each). Read through drizzle and cached in the object, so
 * that a warm object answers holds and sales without waiting on D1:
 *  - a SKU once found is known for the life of the object (SKUs are never deleted);
 *  - the location list is re-read when older than `DIRECTORY_TTL_MS`, or when a request names a
 *    location the cache does not have (at most once per `MISS_REFRESH_MS`). A reserve change
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

export class Directory {
  private entries: Map<string, DirectoryEntry> | null = null;
  private loadedAtMs = 0;
  private loading: Promise<void> | null = null;
  private skuKnown = false;

  constructor(private readonly db: D1Database) {}

  /** Whether the SKU exists in the catalog. */
  async knowsSku(sku: string): Promise<boolean> {
    if (this.skuKnown) return true;
    const row = await drizzle(this.db).select({ id: skus.id }).from(skus).where(eq(skus.id, sku)).get();
    this.skuKnown = row !== undefined;
    return this.skuKnown;
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
