/**
 * Stock leaving a location other than by sale: transfers between locations (out, then received)
 * and write-offs to shrink. Each is decided by the SKU's authority; staff act at their own
 * location (the sending one for a transfer, the receiving one for its receipt), admins anywhere.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import { transfers } from "../../ledger/schema";
import { assertActsAt, principalOf } from "../auth/auth";
import { allowed } from "../auth/access";
import type { AppEnv } from "../http/app-env";
import { problem, ProblemError } from "../http/problem";
import { callerIdempotency, Id, json, params, Qty } from "../http/validate";
import { skuAuthority } from "../stubs";

export const STOCK_QTY_MAX = 100_000_000;

const Transfer = z
  .strictObject({ sku: Id, from: Id, to: Id, qty: Qty(STOCK_QTY_MAX) })
  .refine((t) => t.from !== t.to, { message: "from and to must be different locations", path: ["to"] });

const TransferReceipt = z.strictObject({
  // Zero is a transfer that arrived empty: everything sent is booked as lost.
  qty: z.number({ message: "must be a number" }).int({ message: "must be a whole number" }).min(0, { message: "must be at least 0" }).max(STOCK_QTY_MAX),
});

const WriteOff = z.strictObject({
  sku: Id,
  location: Id,
  qty: Qty(STOCK_QTY_MAX),
  reason: z.enum(["damaged", "lost", "stolen", "expired"], { message: "must be damaged, lost, stolen or expired" }),
  lot: Id.optional(),
});


export const stockRoutes = new Hono<AppEnv>()
  .post("/transfers", allowed("POST /v1/transfers"), json(Transfer), async (c) => {
    const p = principalOf(c, ["staff", "admin"]);
    const body = c.req.valid("json");
    assertActsAt(p, body.from);
    const idempotency = await callerIdempotency(c, body, p.sub);
    const result = await skuAuthority(c.env, body.sku).transferOut({
      ...body,
      source: `api:${p.sub}`,
      idempotency,
    });
    if (!result.ok) throw new ProblemError(result.problem);
    const t = result.transfer;
    // The receipt is routed by this row; the authority's flush writes the same row (and its later
    // states) too, so a lost write here is repaired within a flush.
    await drizzle(c.env.DB)
      .insert(transfers)
      .values({ id: t.transferId, sku: t.sku, fromLocation: t.from, toLocation: t.to, qty: t.qty, state: "in_transit", createdAt: Date.parse(t.createdAt) })
      .onConflictDoNothing();
    if (result.replayed) c.header("idempotent-replayed", "true");
    return c.json(t, 201);
  })
  .post("/transfers/:transferId/receive", allowed("POST /v1/transfers/:transferId/receive"), params(z.object({ transferId: Id })), json(TransferReceipt), async (c) => {
    const p = principalOf(c, ["staff", "admin"]);
    const { transferId } = c.req.valid("param");
    const { qty } = c.req.valid("json");
    const row = await drizzle(c.env.DB).select({ sku: transfers.sku, to: transfers.toLocation }).from(transfers).where(eq(transfers.id, transferId)).get();
    if (row === undefined) throw new ProblemError(problem("transfer_not_found", `transfer ${transferId} does not exist`));
    assertActsAt(p, row.to);
    const idempotency = await callerIdempotency(c, { qty }, p.sub);
    const result = await skuAuthority(c.env, row.sku).receiveTransfer({
      sku: row.sku,
      transferId,
      qty,
      source: `api:${p.sub}`,
      idempotency,
    });
    if (!result.ok) throw new ProblemError(result.problem);
    if (result.replayed) c.header("idempotent-replayed", "true");
    return c.json({ ...result.transfer, movementIds: result.movementIds });
  })
  .post("/write-offs", allowed("POST /v1/write-offs"), json(WriteOff), async (c) => {
    const p = principalOf(c, ["staff", "admin"]);
    const body = c.req.valid("json");
    assertActsAt(p, body.location);
    const idempotency = await callerIdempotency(c, body, p.sub);
    const result = await skuAuthority(c.env, body.sku).writeOff({
      sku: body.sku,
      location: body.location,
      qty: body.qty,
      reason: body.reason,
      lot: body.lot ?? null,
      source: `api:${p.sub}`,
      idempotency,
    });
    if (!result.ok) throw new ProblemError(result.problem);
    if (result.replayed) c.header("idempotent-replayed", "true");
    return c.json(result.writeOff, 201);
  });
