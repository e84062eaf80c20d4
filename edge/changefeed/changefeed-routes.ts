/**
 * The changefeed's pull side, for other services (and admins): `GET /v1/changes` pages through the
 * ledger's events by `position`, the order in which flushes landed them (their pages:
 * edge/changefeed/event-pages.ts), and `GET /v1/sold-out` lists the sold-out index the queue
 * consumer keeps. The ledger's events are the
 * source of truth (I5): a consumer that lost queue messages, or starts fresh, reads them here.
 * Wire format and guarantees: docs/changefeed.md.
 */
import { and, asc, eq, gt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import type { StockEvent } from "../../ledger/rules/events";
import { soldOut } from "../../ledger/schema";
import { eventsAfter } from "./event-pages";

import { allowed } from "../auth/access";
import type { AppEnv } from "../http/app-env";
import { Id, query } from "../http/validate";

export const PAGE_LIMIT_MAX = 1000;
export const PAGE_LIMIT_DEFAULT = 100;

/** A whole number from a query string, in [min, max]. */
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, { message: "must be a whole number" })
    .transform(Number)
    .pipe(z.number().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));

const Limit = wholeNumber(1, PAGE_LIMIT_MAX).default(PAGE_LIMIT_DEFAULT);

// Strict: a misspelt `after` would otherwise silently restart a consumer from the beginning.
const ChangesQuery = z.strictObject({
  after: wholeNumber(0, Number.MAX_SAFE_INTEGER).default(0),
  limit: Limit,
});

const SoldOutQuery = z.strictObject({
  after: Id.optional(),
  limit: Limit,
});

export const changefeedRoutes = new Hono<AppEnv>()
  .get("/changes", allowed("GET /v1/changes"), query(ChangesQuery), async (c) => {
    const { after, limit } = c.req.valid("query");
    const rows = await eventsAfter(c.env.DB, after, limit);
    // Bodies are what the authority flushed: the StockEvent as JSON, passed on unchanged.
    const page: StockEvent[] = rows.map((r) => JSON.parse(r.body) as StockEvent);
    return c.json({ events: page, next: rows.at(-1)?.position ?? after });
  })
  .get("/sold-out", allowed("GET /v1/sold-out"), query(SoldOutQuery), async (c) => {
    const { after, limit } = c.req.valid("query");
    // One row past the page says whether there is another page.
    const rows = await drizzle(c.env.DB)
      .select({ sku: soldOut.sku, since: soldOut.since, eventId: soldOut.eventId })
      .from(soldOut)
      .where(and(eq(soldOut.soldOut, true), after === undefined ? undefined : gt(soldOut.sku, after)))
      .orderBy(asc(soldOut.sku))
      .limit(limit + 1)
      .all();
    const skus = rows.slice(0, limit);
    return c.json({ skus, next: rows.length > limit ? (skus.at(-1)?.sku ?? null) : null });
  });
