/**
 * Typed handles on the Durable Objects. Every method of these objects takes and returns plain,
 * structured-cloneable data; the handle is typed with the methods' own signatures because the
 * runtime's generic RPC mapping cannot follow `unknown` members (a problem's extensions) and
 * reports the error variants as `never`.
 */
import type { CartCoordinator } from "./cart/cart-coordinator";
import type { CountSession } from "./count/count-session";
import type { Env } from "./env";
import { fnv1a } from "./hash";
import type { LedgerWriter } from "./sku/ledger-writer";
import { ledgerWriterShard } from "./sku/ledger-writer";
import type { OutboxRegistry } from "./sku/outbox-registry";
import { registryShard } from "./sku/outbox-registry";
import type { SkuAuthority } from "./sku/sku-authority";

type Methods<T, K extends keyof T> = { [P in K]: T[P] };

export type SkuApi = Methods<SkuAuthority, "availability" | "check" | "hold" | "release" | "prepareCheckout" | "commit" | "checkoutAll" | "receive" | "transferOut" | "receiveTransfer" | "writeOff" | "auditView" | "applyTerminalOps" | "adjustForCount" | "unflushedMovements">;
export type CartApi = Methods<CartCoordinator, "addHolds" | "view" | "checkout" | "releaseAll">;

// reason: see the module comment; the runtime stub has exactly these methods.
export const skuAuthority = (env: Env, sku: string): SkuApi => env.SKU.get(env.SKU.idFromName(sku)) as unknown as SkuApi;

/**
 * Carts are spread over a fixed number of coordinator objects by a hash of the cart id. One object
 * per cart would create an object (and, locally, a database file) for every shopper's first hold,
 * which costs more than the hold itself; a shard serves many carts, one operation per cart at a time.
 * 16 shards, not 256: a coordinator does a few statements per cart request, so 16 of them carry
 * well over ten thousand cart requests a second at the per-object ceiling, and with fewer objects
 * concurrent holds share their commits — on one machine 256 shards held half as fast, with twice
 * the tail (docs/performance.md). Fixed once a deployment has carts: a cart is found by its shard.
 */
export const CART_SHARDS = 16;

export function cartShard(cartId: string): string {
  return `carts-${fnv1a(cartId) % CART_SHARDS}`;
}

// reason: as above.
export const cartCoordinator = (env: Env, cartId: string): CartApi => env.CART.get(env.CART.idFromName(cartShard(cartId))) as unknown as CartApi;

export type CountApi = Methods<CountSession, "init" | "state" | "entries" | "submit" | "beginApproval" | "finishApproval" | "approval" | "storageStats" | "outboxEffects" | "postAdjustments" | "fetch">;

// reason: as above.
export const countSession = (env: Env, countId: string): CountApi => env.COUNT.get(env.COUNT.idFromName(countId)) as unknown as CountApi;

export type RegistryApi = Methods<OutboxRegistry, "join" | "leave" | "listedAmong" | "members">;

// reason: as above. One shard of the outbox registry (edge/sku/outbox-registry.ts), by name.
export const outboxRegistryShard = (env: Env, shard: string): RegistryApi => env.OUTBOX.get(env.OUTBOX.idFromName(shard)) as unknown as RegistryApi;

/** The registry shard that lists `sku`. */
export const outboxRegistry = (env: Env, sku: string): RegistryApi => outboxRegistryShard(env, registryShard(sku));

export type LedgerWriterApi = Methods<LedgerWriter, "land" | "writerStats">;

// reason: as above. The writer that gathers `sku`'s flushes.
export const ledgerWriter = (env: Env, sku: string): LedgerWriterApi => env.LEDGER.get(env.LEDGER.idFromName(ledgerWriterShard(sku))) as unknown as LedgerWriterApi;
