/**
 * The audit of one SKU: does the ledger agree with the authority? The ledger's balances plus the
 * movements still waiting in the authority's outbox must equal the authority's balances, account
 * by account, and each side must sum to zero (I4). Consistent at any moment, not only once quiet.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import { applyMovement } from "../../ledger/rules/movement";
import { locationOf } from "../../ledger/rules/ids";
import { balances } from "../../ledger/schema";

import { allowed } from "../auth/access";
import type { AppEnv } from "../http/app-env";
import { ProblemError } from "../http/problem";
import { Id, params } from "../http/validate";
import { landedMovementIds } from "../sku/ledger-sink";
import { skuAuthority } from "../stubs";

const nonZero = (m: ReadonlyMap<string, number>): Record<string, number> =>
  Object.fromEntries([...m].filter(([, v]) => v !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

const sum = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? null;
}

export const auditRoutes = new Hono<AppEnv>().get("/audit/skus/:sku", allowed("GET /v1/audit/skus/:sku"), params(z.object({ sku: Id })), async (c) => {
  const { sku } = c.req.valid("param");
  // The authority first: anything it flushes meanwhile is then already in the ledger we read.
  const view = await skuAuthority(c.env, sku).auditView(sku);
  if (!view.ok) throw new ProblemError(view.problem);
  const rows = await drizzle(c.env.DB).select({ account: balances.account, balance: balances.balance }).from(balances).where(eq(balances.sku, sku)).all();
  const ledger = new Map(rows.map((r) => [r.account, r.balance]));
  const authority = new Map(Object.entries(view.balances));
  // A movement can be in both places: landed by a flush whose answer was lost, still in the outbox
  // until the retry. It counts once.
  const landed = await landedMovementIds(c.env.DB, view.unflushed);
  const expected = new Map(ledger);
  for (const m of view.unflushed) if (!landed.has(m.id)) applyMovement(expected, m);
  const agree = JSON.stringify(nonZero(expected)) === JSON.stringify(nonZero(authority));
  const conservation = { authority: sum(authority), ledger: sum(ledger) };
  const onHand = Object.fromEntries([...authority].flatMap(([account, balance]) => {
    const location = locationOf(account);
    return location === undefined ? [] : [[location, balance]];
  }));
  return c.json({
    sku,
    consistent: agree && conservation.authority === 0 && conservation.ledger === 0,
    authority: onHand,
    authorityAccounts: nonZero(authority),
    ledger: nonZero(ledger),
    unflushed: view.unflushed.filter((m) => !landed.has(m.id)).length,
    unflushedEvents: view.unflushedEvents,
    conservation,
    flush: {
      flushes: view.flush.flushes,
      batches: Math.round(view.flush.batches * 1000) / 1000,
      movements: view.flush.movements,
      events: view.flush.events,
      rowsWritten: view.flush.rowsWritten,
      failures: view.flush.failures,
      lagMs: { p50: percentile(view.flush.lagsMs, 50), p99: percentile(view.flush.lagsMs, 99) },
    },
  });
});
