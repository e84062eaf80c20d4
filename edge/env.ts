import type { StockEvent } from "../ledger/rules/events";
import type { CartCoordinator } from "./cart/cart-coordinator";
import type { CountSession } from "./count/count-session";
import type { LedgerWriter } from "./sku/ledger-writer";
import type { OutboxRegistry } from "./sku/outbox-registry";
import type { SkuAuthority } from "./sku/sku-authority";

/** The Worker's bindings (wrangler.toml) and secrets (`.dev.vars` locally, `wrangler secret` remotely). */
export interface Env {
  readonly SKU: DurableObjectNamespace<SkuAuthority>;
  readonly CART: DurableObjectNamespace<CartCoordinator>;
  /** One CountSession per shelf count (edge/count/). */
  readonly COUNT: DurableObjectNamespace<CountSession>;
  /** Which SKU authorities may have movements not yet in D1 (edge/sku/outbox-registry.ts). */
  readonly OUTBOX: DurableObjectNamespace<OutboxRegistry>;
  /** Gathers the authorities' flushes into D1 batches (edge/sku/ledger-writer.ts). */
  readonly LEDGER: DurableObjectNamespace<LedgerWriter>;
  /** How long (ms) a flush may wait in the ledger writer for others; unset: GATHER_MAX_MS. */
  readonly LEDGER_GATHER_MS?: string;
  readonly DB: D1Database;
  /** The changefeed Queue: every event, published after it landed in D1. */
  readonly CHANGES: Queue<StockEvent>;
  /** "1" pauses the ledger flush (benchmark baseline); anything else, or unset, flushes. */
  readonly FLUSH_PAUSED?: string;
  readonly AUTH_SECRET: string;
  /** "1" enables the local demo sign-in (edge/demo/demo-sign-in.ts); set only in `.dev.vars`, never deployed. */
  readonly DEMO_SIGN_IN?: string;
  /** The built POS and manager apps (dist/web, wrangler.toml [assets]). */
  readonly ASSETS?: Fetcher;
}
