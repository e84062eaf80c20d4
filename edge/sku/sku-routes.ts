/**
 * Stock of one SKU, answered by its SkuAuthority: availability (anyone may ask) and receipts
 * (staff of the receiving location, or admins).
 */
import { Hono } from "hono";
import { z } from "zod";
import { assertActsAt, principalOf } from "../auth/auth";
import { allowed } from "../auth/access";
import type { AppEnv } from "../http/app-env";
import { ProblemError } from "../http/problem";
import { callerIdempotency, Id, json, params, Qty } from "../http/validate";
import { skuAuthority } from "../stubs";

export const RECEIPT_QTY_MAX = 100_000_000;

const Receipt = z.strictObject({
  sku: Id,
  location: Id,
  qty: Qty(RECEIPT_QTY_MAX),
  lot: Id.optional(),
  expiresOn: z.iso.date({ message: "must be a date, YYYY-MM-DD" }).optional(),
  ref: Id.optional(),
});

export const skuRoutes = new Hono<AppEnv>()
  .get("/skus/:sku/availability", params(z.object({ sku: Id })), async (c) => {
    const { sku } = c.req.valid("param");
    const result = await skuAuthority(c.env, sku).availability(sku);
    if (!result.ok) throw new ProblemError(result.problem);
    return c.json(result.availability);
  })
  .post("/receipts", allowed("POST /v1/receipts"), json(Receipt), async (c) => {
    const p = principalOf(c, ["staff", "admin"]);
    const body = c.req.valid("json");
    assertActsAt(p, body.location);
    const idempotency = await callerIdempotency(c, body, p.sub);
    const result = await skuAuthority(c.env, body.sku).receive({
      sku: body.sku,
      location: body.location,
      qty: body.qty,
      lot: body.lot ?? null,
      expiresOn: body.expiresOn ?? null,
      ref: body.ref ?? null,
      source: `api:${p.sub}`,
      idempotency,
    });
    if (!result.ok) throw new ProblemError(result.problem);
    if (result.replayed) c.header("idempotent-replayed", "true");
    return c.json(result.receipt, 201);
  });
