/**
 * OutboxRegistry: which SKU authorities may have movements that have not reached D1 yet, so that a
 * count's report asks those few instead of every authority of a 10,000-SKU count (docs/counts.md).
 *
 * The contract an authority keeps (edge/sku/outbox-listing.ts): it is listed here *before* it
 * commits a movement to its outbox, and it leaves only after its outbox has been empty for a while.
 * So a SKU that is not listed when a report reads the registry has every movement it ever
 * acknowledged in D1 already, and the report's D1 read finds them.
 *
 * Spread over a fixed number of objects by a hash of the SKU, like carts: one object for all SKUs
 * would serialise every idle SKU's first movement; one per SKU would be the fan-out again.
 * Each entry carries the authority's epoch: a leave that arrives after the authority joined again
 * (the two calls can overtake each other) removes nothing.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { fnv1a } from "../hash";

export const OUTBOX_REGISTRY_SHARDS = 32;

export const registryShard = (sku: string): string => `outbox-${fnv1a(sku) % OUTBOX_REGISTRY_SHARDS}`;

export class OutboxRegistry extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS listed_skus (sku TEXT PRIMARY KEY, epoch INTEGER NOT NULL) WITHOUT ROWID");
  }

  /** The authority of `sku` may have unflushed movements from now on. */
  async join(sku: string, epoch: number): Promise<void> {
    this.ctx.storage.sql.exec("INSERT INTO listed_skus (sku, epoch) VALUES (?, ?) ON CONFLICT (sku) DO UPDATE SET epoch = MAX(epoch, excluded.epoch)", sku, epoch);
  }

  /** Every movement the authority listed under `epoch` is in D1; a later join stays. */
  async leave(sku: string, epoch: number): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM listed_skus WHERE sku = ? AND epoch <= ?", sku, epoch);
  }

  /** Which of `skus` are listed. */
  async listedAmong(skus: readonly string[]): Promise<string[]> {
    return this.ctx.storage.sql
      .exec<{ sku: string }>("SELECT l.sku AS sku FROM json_each(?) j CROSS JOIN listed_skus l ON l.sku = j.value", JSON.stringify(skus))
      .toArray()
      .map((r) => r.sku);
  }

  /** Every listed SKU with its epoch (tests). */
  async members(): Promise<{ sku: string; epoch: number }[]> {
    return this.ctx.storage.sql.exec<{ sku: string; epoch: number }>("SELECT sku, epoch FROM listed_skus ORDER BY sku").toArray();
  }
}
