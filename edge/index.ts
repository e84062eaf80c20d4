/**
 * The edgestock Worker: the HTTP app, the changefeed's queue consumer, and the Durable Object
 * classes they route to.
 */
import type { StockEvent } from "../ledger/rules/events";
import { consumeChanges } from "./changefeed/sold-out-consumer";
import type { Env } from "./env";
import { createApp } from "./http/app";

export { CartCoordinator } from "./cart/cart-coordinator";
export { CountSession } from "./count/count-session";
export { LedgerWriter } from "./sku/ledger-writer";
export { OutboxRegistry } from "./sku/outbox-registry";
export { SkuAuthority } from "./sku/sku-authority";

const app = createApp();

export default { fetch: app.fetch, queue: consumeChanges } satisfies ExportedHandler<Env, StockEvent>;
