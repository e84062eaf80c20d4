/**
 * The online shopper's cart: hold stock for a few minutes, look at it, check out, let go.
 * A cart belongs to the shopper (token subject) who first held in it; for anyone else it does not
 * exist (404). Each cart is served by its CartCoordinator, which talks to the SKU authorities.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { HOLD_TTL_DEFAULT_S, HOLD_TTL_MAX_S, HOLD_TTL_MIN_S } from "../../ledger/rules/holds";
import { principalOf } from "../auth/auth";
import { allowed } from "../auth/access";
import type { AppEnv } from "../http/app-env";
import { ProblemError } from "../http/problem";
import { Id, idempotencyOf, json, params, Qty } from "../http/validate";
import { cartCoordinator } from "../stubs";
import type { CartReply } from "./cart-coordinator";

export const CART_LINES_MAX = 50;
export const HOLD_QTY_MAX = 10_000;

const HoldRequest = z.strictObject({
  lines: z
    .array(z.strictObject({ sku: Id, qty: Qty(HOLD_QTY_MAX), location: Id.optional() }))
    .min(1, { message: "must hold at least one line" })
    .max(CART_LINES_MAX, { message: `must have at most ${CART_LINES_MAX} lines` }),
  ttlSeconds: z.number().int({ message: "must be a whole number" }).min(HOLD_TTL_MIN_S).max(HOLD_TTL_MAX_S).default(HOLD_TTL_DEFAULT_S),
});

const CartParams = params(z.object({ cartId: Id }));
// Who may ask comes before what was asked: a caller without a token hears 401, not 400.

const coordinator = (c: Context<AppEnv>, cartId: string) => cartCoordinator(c.env, cartId);

function answer(c: Context<AppEnv>, reply: CartReply): Response {
  if (!reply.ok) throw new ProblemError(reply.problem);
  return c.json(reply.body as object, reply.status);
}

export const cartRoutes = new Hono<AppEnv>()
  .post("/carts/:cartId/holds", allowed("POST /v1/carts/:cartId/holds"), CartParams, json(HoldRequest), async (c) => {
    const owner = principalOf(c, ["shopper"]).sub;
    const { cartId } = c.req.valid("param");
    const body = c.req.valid("json");
    const idempotency = await idempotencyOf(c, body);
    const reply = await coordinator(c, cartId).addHolds({ cartId, owner, lines: body.lines, ttlMs: body.ttlSeconds * 1000, idempotency });
    return answer(c, reply);
  })
  .get("/carts/:cartId", allowed("GET /v1/carts/:cartId"), CartParams, async (c) => {
    const owner = principalOf(c, ["shopper"]).sub;
    const { cartId } = c.req.valid("param");
    return answer(c, await coordinator(c, cartId).view({ cartId, owner }));
  })
  .post("/carts/:cartId/checkout", allowed("POST /v1/carts/:cartId/checkout"), CartParams, async (c) => {
    const owner = principalOf(c, ["shopper"]).sub;
    const { cartId } = c.req.valid("param");
    const idempotency = await idempotencyOf(c, null);
    return answer(c, await coordinator(c, cartId).checkout({ cartId, owner, idempotency }));
  })
  .delete("/carts/:cartId/holds", allowed("DELETE /v1/carts/:cartId/holds"), CartParams, async (c) => {
    const owner = principalOf(c, ["shopper"]).sub;
    const { cartId } = c.req.valid("param");
    return answer(c, await coordinator(c, cartId).releaseAll({ cartId, owner }));
  });
