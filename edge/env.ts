import type { CartCoordinator } from "./cart/cart-coordinator";
import type { SkuAuthority } from "./sku/sku-authority";

/** The Worker's bindings (wrangler.toml) and secrets (`.dev.vars` locally, `wrangler secret` remotely). */
export interface Env {
  readonly SKU: DurableObjectNamespace<SkuAuthority>;
  readonly CART: DurableObjectNamespace<CartCoordinator>;
  readonly DB: D1Database;
  readonly AUTH_SECRET: string;
}
