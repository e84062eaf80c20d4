/**
 * The catalog, kept in D1 by admins: regions, locations (with the online reserve of each) and
 * SKUs. PUT is create-or-replace, so setting up a chain twice changes nothing the second time.
 */
import { asc, eq, gt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import { locations, regions, skus } from "../../ledger/schema";

import { allowed } from "../auth/access";
import type { AppEnv } from "../http/app-env";
import { problem, ProblemError } from "../http/problem";
import { Id, json, params, query } from "../http/validate";

const Name = z.string().trim().min(1, { message: "must not be empty" }).max(200, { message: "must be at most 200 characters" });
export const RESERVE_MAX = 1_000_000;

const Region = z.strictObject({ name: Name });
const Location = z.strictObject({
  kind: z.enum(["store", "warehouse"]),
  regionId: Id,
  name: Name,
  reserve: z.number().int({ message: "must be a whole number" }).min(0).max(RESERVE_MAX).default(0),
});
const Sku = z.strictObject({
  name: Name,
  barcode: z.string().regex(/^[0-9A-Za-z-]{4,64}$/, { message: "must be 4–64 letters, digits or dashes" }).nullable().optional(),
  perishable: z.boolean().default(false),
  /** `stock.low` fires when a location's available units fall to or below this; 0 turns it off. */
  lowStock: z.number().int({ message: "must be a whole number" }).min(0).max(1_000_000).default(0),
});

const CatalogPage = z.strictObject({ after: Id.optional(), limit: z.coerce.number().int().min(1).max(1000).default(500) });

export const catalogRoutes = new Hono<AppEnv>()
  // The catalog a terminal bootstraps and refreshes from, paged by SKU id.
  .get("/catalog", allowed("GET /v1/catalog"), query(CatalogPage), async (c) => {
    const { after, limit } = c.req.valid("query");
    const rows = await drizzle(c.env.DB)
      .select({ sku: skus.id, name: skus.name, barcode: skus.barcode, perishable: skus.perishable })
      .from(skus)
      .where(after === undefined ? undefined : gt(skus.id, after))
      .orderBy(asc(skus.id))
      .limit(limit + 1)
      .all();
    const items = rows.slice(0, limit);
    return c.json({ items, next: rows.length > limit ? (items.at(-1)?.sku ?? null) : null });
  })
  // Exactly /regions/:regionId: the region overview below it is for managers, not admins only.
  .use("/regions/:regionId", allowed("PUT /v1/regions/:regionId"))
  .use("/locations/*", allowed("PUT /v1/locations/:locationId"))
  .use("/skus/:sku", async (c, next) => (c.req.method === "PUT" ? allowed("PUT /v1/skus/:sku")(c, next) : next()))
  .put("/regions/:regionId", params(z.object({ regionId: Id })), json(Region), async (c) => {
    const { regionId } = c.req.valid("param");
    const body = c.req.valid("json");
    const row = { id: regionId, name: body.name, updatedAt: new Date().toISOString() };
    await drizzle(c.env.DB).insert(regions).values(row).onConflictDoUpdate({ target: regions.id, set: { name: row.name, updatedAt: row.updatedAt } });
    return c.json({ regionId, name: body.name });
  })
  .put("/locations/:locationId", params(z.object({ locationId: Id })), json(Location), async (c) => {
    const { locationId } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = drizzle(c.env.DB);
    const region = await db.select({ id: regions.id }).from(regions).where(eq(regions.id, body.regionId)).get();
    if (region === undefined) throw new ProblemError(problem("unknown_region", `region ${body.regionId} does not exist; create it first`));
    const row = { id: locationId, kind: body.kind, regionId: body.regionId, name: body.name, reserve: body.reserve, updatedAt: new Date().toISOString() };
    const { id: _id, ...update } = row;
    await db.insert(locations).values(row).onConflictDoUpdate({ target: locations.id, set: update });
    return c.json({ locationId, kind: body.kind, regionId: body.regionId, name: body.name, reserve: body.reserve });
  })
  .put("/skus/:sku", params(z.object({ sku: Id })), json(Sku), async (c) => {
    const { sku } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = drizzle(c.env.DB);
    const barcode = body.barcode ?? null;
    if (barcode !== null) {
      const owner = await db.select({ id: skus.id }).from(skus).where(eq(skus.barcode, barcode)).get();
      if (owner !== undefined && owner.id !== sku) throw new ProblemError(problem("barcode_in_use", `barcode ${barcode} belongs to SKU ${owner.id}`));
    }
    const row = { id: sku, name: body.name, barcode, perishable: body.perishable, lowStock: body.lowStock, updatedAt: new Date().toISOString() };
    const { id: _id, ...update } = row;
    try {
      await db.insert(skus).values(row).onConflictDoUpdate({ target: skus.id, set: update });
    } catch (error) {
      // Two admins racing for one barcode: the unique index decides, and the loser hears why.
      if (String(error).includes("UNIQUE constraint failed: skus.barcode")) throw new ProblemError(problem("barcode_in_use", `barcode ${barcode} belongs to another SKU`));
      throw error;
    }
    return c.json({ sku, name: body.name, barcode, perishable: body.perishable, lowStock: body.lowStock });
  });
