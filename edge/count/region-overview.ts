/**
 * `GET /v1/regions/:regionId/overview`: what a regional manager looks at first. Per store of the
 * region: its terminals and how fresh their sync is (a stale one may hold sales no figure shows
 * yet, and makes a count there provisional), shortfalls of the last day, counts not yet approved
 * and recently approved with their absolute variance, SKUs with nothing left there, and till
 * operations refused because their seq was taken (a restored or cloned till: someone must look). Reads D1
 * only, a handful of indexed queries per request, never an authority.
 */
import { Hono } from "hono";
import { z } from "zod";
import { allowed } from "../auth/access";
import { principalOf } from "../auth/auth";
import type { AppEnv } from "../http/app-env";
import { problem, ProblemError } from "../http/problem";
import { Id, params } from "../http/validate";
import { LOCATION_EVENTS_SINCE } from "../changefeed/event-pages";

/** A terminal that has not synced for this long is flagged stale. */
export const STALE_AFTER_MS = 15 * 60_000;
const SHORTFALL_WINDOW_MS = 24 * 3600_000;
const SOLD_OUT_LISTED_MAX = 100;
const COUNTS_LISTED_MAX = 20;
const SEQ_CONFLICT_WINDOW_MS = 7 * 24 * 3600_000;
const SEQ_CONFLICTS_LISTED_MAX = 20;

export const overviewRoutes = new Hono<AppEnv>();

overviewRoutes.get("/regions/:regionId/overview", allowed("GET /v1/regions/:regionId/overview"), params(z.strictObject({ regionId: Id })), async (c) => {
  const p = principalOf(c, ["manager"]);
  const { regionId } = c.req.valid("param");
  if (p.region !== regionId) throw new ProblemError(problem("forbidden", `manager ${p.sub} looks after region ${p.region ?? "?"}, not ${regionId}`));
  const region = await c.env.DB.prepare("SELECT id FROM regions WHERE id = ?").bind(regionId).first();
  if (region === null) throw new ProblemError(problem("unknown_region", `region ${regionId} does not exist`));
  const nowMs = Date.now();
  const stores = (await c.env.DB.prepare("SELECT id, name FROM locations WHERE region_id = ? AND kind = 'store' ORDER BY id").bind(regionId).all<{ id: string; name: string }>()).results;
  const out = [];
  for (const s of stores) {
    const [terminals, shortfalls, counts, soldOut, conflicts] = await c.env.DB.batch<Record<string, unknown>>([
      c.env.DB.prepare("SELECT id, last_sync_at, last_seq FROM terminals WHERE store_id = ? ORDER BY id").bind(s.id),
      c.env.DB.prepare(`SELECT COUNT(*) AS n FROM ${LOCATION_EVENTS_SINCE} WHERE type = 'hold.shortfall'`).bind(s.id, new Date(nowMs - SHORTFALL_WINDOW_MS).toISOString()),
      c.env.DB.prepare("SELECT id, state, started_at, abs_variance FROM counts WHERE location = ? AND (state <> 'approved' OR approved_at >= ?) ORDER BY started_at DESC LIMIT ?").bind(s.id, nowMs - 7 * 24 * 3600_000, COUNTS_LISTED_MAX),
      c.env.DB.prepare("SELECT sku FROM balances WHERE account = ? AND balance <= 0 ORDER BY sku LIMIT ?").bind(`loc:${s.id}`, SOLD_OUT_LISTED_MAX),
      c.env.DB.prepare(
        `SELECT sku, json_extract(body, '$.conflict') AS conflict, recorded_at AS at FROM ${LOCATION_EVENTS_SINCE} WHERE type = 'terminal.seq_conflict' ORDER BY position DESC LIMIT ?3`,
      ).bind(s.id, new Date(nowMs - SEQ_CONFLICT_WINDOW_MS).toISOString(), SEQ_CONFLICTS_LISTED_MAX),
    ]);
    const countRows = (counts?.results ?? []) as { id: string; state: string; started_at: number; abs_variance: number | null }[];
    const byState: Record<string, number> = { open: 0, submitted: 0, approved: 0 };
    for (const r of countRows) byState[r.state] = (byState[r.state] ?? 0) + 1;
    out.push({
      storeId: s.id,
      name: s.name,
      terminals: ((terminals?.results ?? []) as { id: string; last_sync_at: number; last_seq: number }[]).map((t) => ({
        terminalId: t.id,
        lastSyncAt: new Date(t.last_sync_at).toISOString(),
        lastSeq: t.last_seq,
        stale: nowMs - t.last_sync_at > STALE_AFTER_MS,
      })),
      shortfalls: Number((shortfalls?.results[0] as { n?: number } | undefined)?.n ?? 0),
      counts: countRows.map((r) => ({ countId: r.id, state: r.state, startedAt: new Date(r.started_at).toISOString(), absVariance: r.abs_variance })),
      countsByState: byState,
      soldOut: ((soldOut?.results ?? []) as { sku: string }[]).map((r) => r.sku),
      seqConflicts: ((conflicts?.results ?? []) as { sku: string; conflict: string; at: string }[]).map((r) => {
        const conflict = JSON.parse(r.conflict) as { terminalId: string; incarnation: string | null; seq: number };
        return { terminalId: conflict.terminalId, incarnation: conflict.incarnation, seq: conflict.seq, sku: r.sku, at: r.at };
      }),
    });
  }
  return c.json({ regionId, staleAfterMs: STALE_AFTER_MS, stores: out });
});
