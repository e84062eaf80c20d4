/**
 * Typed handles on the Durable Objects. Every method of these objects takes and returns plain,
 * structured-cloneable data; the handle is typed with the methods' own signatures because the
 * runtime's generic RPC mapping cannot follow `unknown` members (a problem's extensions) and
 * reports the error variants as `never`.
 */
import type { CartCoordinator } from "./cart/cart-coordinator";
import type { Env } from "./env";
import type { SkuAuthority } from "./sku/sku-authority";

type Methods<T, K extends keyof T> = { [P in K]: T[P] };

export type SkuApi = Methods<SkuAuthority, "availability" | "check" | "hold" | "release" | "prepareCheckout" | "commit" | "receive">;
export type CartApi = Methods<CartCoordinator, "addHolds" | "view" | "checkout" | "releaseAll">;

// reason: see the module comment; the runtime stub has exactly these methods.
export const skuAuthority = (env: Env, sku: string): SkuApi => env.SKU.get(env.SKU.idFromName(sku)) as unknown as SkuApi;

// reason: as above.
export const cartCoordinator = (env: Env, cartId: string): CartApi => env.CART.get(env.CART.idFromName(cartId)) as unknown as CartApi;
