/**
 * Shelf counts over HTTP (docs/counts.md): create, list, read, the sheet's WebSocket, submit, the
 * report (I8) and approval. Staff of the store and managers of its region; approval is the
 * manager's alone. Every refusal happens before anything changes (I7), the WebSocket's before the
 * upgrade.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { adjustmentMovementId, reportLines, ZONE_PATTERN, type ReportLine } from "../../ledger/rules/count-sheet";
import { allowed } from "../auth/access";
import { principalOf, verifyToken, type Principal } from "../auth/auth";
import type { AppEnv } from "../http/app-env";
import { problem, ProblemError } from "../http/problem";
import { Id, json, params, query } from "../http/validate";
import { countSession } from "../stubs";
import type { Adjustment, CountState } from "./count-session";
import { expectedAt, pendingTerminals, skusAt } from "./count-report";
import { OUTBOX_SLICE_MAX, pooled } from "./fan-out";
import { chunks } from "../chunks";

/** SKUs one count may cover. */
export const COUNT_SKUS_MAX = 20_000;
const ZONES_MAX = 50;
/** Slices of adjustments posted at once (each slice through the count's object, see postAdjustments). */
const ADJUST_SLICES_AT_ONCE = 4;

const Create = z.strictObject({
  location: Id,
  skus: z.array(Id).min(1).max(COUNT_SKUS_MAX).optional(),
  zones: z.array(z.string().regex(ZONE_PATTERN, { message: "must be 1–32 characters of A–Z a–z 0–9 . _ -" })).max(ZONES_MAX).optional(),
  blind: z.boolean().optional(),
});
const Approve = z.strictObject({ skus: z.array(Id).min(1).max(COUNT_SKUS_MAX).optional(), acceptProvisional: z.boolean().optional() });
const CountParam = z.strictObject({ countId: Id });
const List = z.strictObject({ location: Id, state: z.enum(["open", "submitted", "approved"]).optional() });

interface CountRow {
  id: string;
  location: string;
  region_id: string;
  state: CountState;
  skus: string;
  zones: string;
  blind: number;
  started_at: number;
  created_by: string;
  submitted_at: number | null;
  submitted_by: string | null;
  approved_at: number | null;
  approved_by: string | null;
  accept_provisional: number | null;
  abs_variance: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function summary(r: CountRow) {
  return { countId: r.id, location: r.location, startedAt: iso(r.started_at), state: r.state, skus: JSON.parse(r.skus) as string[], zones: JSON.parse(r.zones) as string[], blind: r.blind === 1 };
}

function audit(r: CountRow) {
  return {
    createdBy: r.created_by,
    submittedAt: iso(r.submitted_at),
    submittedBy: r.submitted_by,
    approvedAt: iso(r.approved_at),
    approvedBy: r.approved_by,
    acceptProvisional: r.accept_provisional === null ? null : r.accept_provisional === 1,
  };
}

/** Staff of the store, or a manager of its region (and only a manager, when `managerOnly`). */
function assertMayCount(p: Principal, store: string, regionId: string, managerOnly = false): void {
  if (p.role === "manager" && p.region === regionId) return;
  if (!managerOnly && p.role === "staff" && p.store === store) return;
  throw new ProblemError(problem("forbidden", `${p.role} ${p.sub} may not ${managerOnly ? "approve counts" : "count"} at ${store}`));
}

async function storeRegion(c: Context<AppEnv>, location: string): Promise<string> {
  const row = await c.env.DB.prepare("SELECT region_id, kind FROM locations WHERE id = ?").bind(location).first<{ region_id: string; kind: string }>();
  if (row === null) throw new ProblemError(problem("unknown_location", `location ${location} does not exist`));
  return row.region_id;
}

async function loadCount(c: Context<AppEnv>, countId: string): Promise<CountRow> {
  const row = await c.env.DB.prepare("SELECT * FROM counts WHERE id = ?").bind(countId).first<CountRow>();
  if (row === null) throw new ProblemError(problem("count_not_found", `count ${countId} does not exist`));
  return row;
}

/** The count, after checking the caller may see it. Unknown ids are 404 for everyone allowed the route. */
async function countFor(c: Context<AppEnv>, countId: string, p: Principal, managerOnly = false): Promise<CountRow> {
  const row = await loadCount(c, countId);
  assertMayCount(p, row.location, row.region_id, managerOnly);
  return row;
}

async function adjustmentsOf(c: Context<AppEnv>, countId: string): Promise<Adjustment[]> {
  const rows = await c.env.DB.prepare("SELECT sku, variance, movement_id FROM count_lines WHERE count_id = ? AND movement_id IS NOT NULL ORDER BY sku").bind(countId).all<{ sku: string; variance: number; movement_id: string }>();
  return rows.results.map((r) => ({ sku: r.sku, delta: r.variance, movementId: r.movement_id }));
}

/** The report's body: lines from the sheet and the ledger (or, once approved, as the approval saw them). */
async function report(c: Context<AppEnv>, row: CountRow) {
  const skus = JSON.parse(row.skus) as string[];
  const entries = await countSession(c.env, row.id).entries();
  const pending = await pendingTerminals(c.env, row.location, row.started_at);
  let lines: ReportLine[];
  if (row.state === "approved") {
    const stored = await c.env.DB.prepare("SELECT sku, counted, expected, variance FROM count_lines WHERE count_id = ? ORDER BY sku").bind(row.id).all<{ sku: string; counted: number; expected: number; variance: number }>();
    lines = stored.results.map((l) => ({ ...l, entries: entries[l.sku] ?? {} }));
  } else {
    const expected = await expectedAt(c.env, row.id, row.location, skus, row.started_at);
    lines = reportLines(skus, (s) => entries[s] ?? {}, (s) => expected.get(s) ?? 0);
  }
  return {
    countId: row.id,
    location: row.location,
    state: row.state,
    startedAt: iso(row.started_at),
    submittedAt: iso(row.submitted_at),
    provisional: row.state !== "approved" && pending.length > 0,
    pendingTerminals: pending,
    lines,
  };
}

export const countRoutes = new Hono<AppEnv>();

countRoutes.post("/counts", allowed("POST /v1/counts"), json(Create), async (c) => {
  const p = principalOf(c, ["staff", "manager"]);
  const body = c.req.valid("json");
  const regionId = await storeRegion(c, body.location);
  assertMayCount(p, body.location, regionId);
  const skus = body.skus === undefined ? await skusAt(c.env, body.location, COUNT_SKUS_MAX) : [...new Set(body.skus)].sort();
  if (skus.length > COUNT_SKUS_MAX) throw new ProblemError(problem("invalid_request", `a count covers at most ${COUNT_SKUS_MAX} SKUs; name them`, { errors: [{ path: "/skus", message: `more than ${COUNT_SKUS_MAX} SKUs at ${body.location}` }] }));
  if (body.skus !== undefined) {
    const known = await c.env.DB.prepare("SELECT COUNT(*) AS n FROM json_each(?) j JOIN skus s ON s.id = j.value").bind(JSON.stringify(skus)).first<{ n: number }>();
    if ((known?.n ?? 0) !== skus.length) throw new ProblemError(problem("unknown_sku", "some of the SKUs named do not exist"));
  }
  const zones = [...new Set(body.zones ?? [])];
  const countId = `cnt_${crypto.randomUUID().replaceAll("-", "")}`;
  const startedAtMs = Date.now();
  const blind = body.blind ?? true;
  await countSession(c.env, countId).init({ countId, location: body.location, skus, zones, blind, startedAtMs });
  await c.env.DB.prepare("INSERT INTO counts (id, location, region_id, state, skus, zones, blind, started_at, created_by) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?)")
    .bind(countId, body.location, regionId, JSON.stringify(skus), JSON.stringify(zones), blind ? 1 : 0, startedAtMs, p.sub)
    .run();
  return c.json({ countId, location: body.location, startedAt: iso(startedAtMs), state: "open", skus, zones, blind }, 201);
});

countRoutes.get("/counts", allowed("GET /v1/counts"), query(List), async (c) => {
  const p = principalOf(c, ["staff", "manager"]);
  const q = c.req.valid("query");
  assertMayCount(p, q.location, await storeRegion(c, q.location));
  const rows = await c.env.DB.prepare(`SELECT * FROM counts WHERE location = ? ${q.state === undefined ? "" : "AND state = ?"} ORDER BY started_at DESC LIMIT 100`)
    .bind(...(q.state === undefined ? [q.location] : [q.location, q.state]))
    .all<CountRow>();
  return c.json({ counts: rows.results.map((r) => ({ ...summary(r), ...audit(r) })) });
});

countRoutes.get("/counts/:countId", allowed("GET /v1/counts/:countId"), params(CountParam), async (c) => {
  const row = await countFor(c, c.req.valid("param").countId, principalOf(c, ["staff", "manager"]));
  return c.json({ ...summary(row), ...audit(row), adjustments: await adjustmentsOf(c, row.id) });
});

countRoutes.post("/counts/:countId/submit", allowed("POST /v1/counts/:countId/submit"), params(CountParam), async (c) => {
  const p = principalOf(c, ["staff", "manager"]);
  const row = await countFor(c, c.req.valid("param").countId, p);
  if (row.state !== "open") return c.json({ ...summary(row), ...audit(row) });
  await countSession(c.env, row.id).submit();
  const nowMs = Date.now();
  // The absolute variance at submit, for the region overview (the report itself stays live until approval).
  const r = await report(c, { ...row, state: "submitted" });
  const absVariance = r.lines.reduce((n, l) => n + Math.abs(l.variance), 0);
  await c.env.DB.prepare("UPDATE counts SET state = 'submitted', submitted_at = ?, submitted_by = ?, abs_variance = ? WHERE id = ? AND state = 'open'").bind(nowMs, p.sub, absVariance, row.id).run();
  return c.json({ ...summary(await loadCount(c, row.id)), ...audit(await loadCount(c, row.id)) });
});

countRoutes.get("/counts/:countId/report", allowed("GET /v1/counts/:countId/report"), params(CountParam), async (c) => {
  const row = await countFor(c, c.req.valid("param").countId, principalOf(c, ["staff", "manager"]));
  return c.json(await report(c, row));
});

countRoutes.post("/counts/:countId/approve", allowed("POST /v1/counts/:countId/approve"), params(CountParam), json(Approve), async (c) => {
  const p = principalOf(c, ["manager"]);
  const row = await countFor(c, c.req.valid("param").countId, p, true);
  const body = c.req.valid("json");
  if (row.state === "approved") return c.json({ adjustments: await adjustmentsOf(c, row.id) });
  if (row.state === "open") throw new ProblemError(problem("count_not_submitted", `count ${row.id} is still open; submit it first`));
  const session = countSession(c.env, row.id);
  let plan = await session.approval();
  if (plan === null) {
    const r = await report(c, row);
    if (r.provisional && body.acceptProvisional !== true) {
      throw new ProblemError(problem("count_provisional", `the report is provisional: ${r.pendingTerminals.length} terminal(s) of ${row.location} have not synced since before the count; approve with acceptProvisional to post it anyway`, { pendingTerminals: r.pendingTerminals }));
    }
    const unknown = body.skus?.filter((s) => !r.lines.some((l) => l.sku === s)) ?? [];
    if (unknown.length > 0) throw new ProblemError(problem("invalid_request", "some SKUs are not part of this count", { errors: unknown.slice(0, 20).map((s) => ({ path: "/skus", message: `${s} is not part of this count` })) }));
    const only = body.skus === undefined ? null : new Set(body.skus);
    const adjustments = r.lines.filter((l) => l.variance !== 0 && (only === null || only.has(l.sku))).map((l) => ({ sku: l.sku, delta: l.variance, movementId: adjustmentMovementId(row.id, l.sku) }));
    const lines = r.lines.map(({ sku, counted, expected, variance }) => ({ sku, counted, expected, variance }));
    // The first approval's plan wins; a concurrent one gets it back and posts the same adjustments.
    plan = (await session.beginApproval({ adjustments, lines, approvedBy: p.sub, approvedAtMs: Date.now(), acceptProvisional: r.provisional })).plan;
  }
  const final = plan;
  // Every adjustment through its SKU's authority, idempotent by count and SKU: a retry posts nothing twice.
  const slices = chunks(final.adjustments, OUTBOX_SLICE_MAX);
  const problems = await pooled(slices, ADJUST_SLICES_AT_ONCE, (part) => session.postAdjustments(row.location, part, `api:${final.approvedBy}`));
  const failed = problems.find((x) => x !== null);
  if (failed !== undefined && failed !== null) throw new ProblemError(failed);
  const byDelta = new Map(final.adjustments.map((a) => [a.sku, a]));
  const absVariance = final.lines.reduce((n, l) => n + Math.abs(l.variance), 0);
  const statements = [
    ...chunks(final.lines, 16).map((part) =>
      c.env.DB.prepare(`INSERT OR IGNORE INTO count_lines (count_id, sku, counted, expected, variance, movement_id) VALUES ${part.map(() => "(?, ?, ?, ?, ?, ?)").join(", ")}`).bind(
        ...part.flatMap((l) => [row.id, l.sku, l.counted, l.expected, l.variance, byDelta.get(l.sku)?.movementId ?? null]),
      ),
    ),
    c.env.DB.prepare("UPDATE counts SET state = 'approved', approved_at = ?, approved_by = ?, accept_provisional = ?, abs_variance = ? WHERE id = ? AND state <> 'approved'").bind(
      final.approvedAtMs,
      final.approvedBy,
      final.acceptProvisional ? 1 : 0,
      absVariance,
      row.id,
    ),
  ];
  await c.env.DB.batch(statements);
  await session.finishApproval();
  return c.json({ adjustments: final.adjustments });
});


/**
 * The sheet's WebSocket. Browsers cannot set headers on a WebSocket, so the token may come as the
 * `token` query parameter (the y-websocket client's `params`); it is checked exactly like a bearer
 * header, before the upgrade.
 */
export const countSyncRoutes = new Hono<AppEnv>();

countSyncRoutes.get("/counts/:countId/sync", params(CountParam), async (c) => {
  let p = c.get("principal");
  const t = c.req.query("token");
  if (p === undefined && t !== undefined) p = await verifyToken(t, c.env.AUTH_SECRET);
  if (p === undefined) throw new ProblemError(problem("unauthorized", "this request needs a bearer token or a token parameter"));
  if (p.role !== "staff" && p.role !== "manager") throw new ProblemError(problem("forbidden", `role ${p.role} may not join a count sheet`));
  const row = await countFor(c, c.req.valid("param").countId, p);
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ProblemError(problem("invalid_request", "this route is a WebSocket: send Upgrade: websocket"));
  const headers = new Headers(c.req.raw.headers);
  headers.set("x-counter-id", p.sub);
  return countSession(c.env, row.id).fetch(new Request(c.req.raw.url, { headers }));
});
