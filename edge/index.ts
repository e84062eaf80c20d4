/**
 * The edgestock Worker: the HTTP app, and the Durable Object classes it routes to.
 */
import { createApp } from "./http/app";

export { CartCoordinator } from "./cart/cart-coordinator";
export { SkuAuthority } from "./sku/sku-authority";

export default createApp();
