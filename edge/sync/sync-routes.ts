/**
 * The terminals' side of the edge (docs/sync-protocol.md): push ops, pull the store's stock.
 *
 * Push: a structurally invalid batch is a 400 and applies nothing; a valid batch is split by SKU,
 * keeping each terminal's order, and every SKU's authority applies its ops once by
 * (terminalId, seq). Results come back in op order. The terminal's last sync is recorded in D1.
 */
import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import type { StockEvent } from "../../ledger/rules/events";
import type { TerminalOp } from "../../ledger/rules/terminal-ops";
import { terminals } from "../../ledger/schema";
import { eventsAfter } from "../changefeed/event-pages";
import { principalOf } from "../auth/auth";
import { allowed } from "../auth/access";
import type { AppEnv } from "../http/app-env";
import { problem, ProblemError } from "../http/problem";
import { Id, json, Qty, query } from "../http/validate";
import type { TerminalOpResult } from "../sku/sku-api";
import { skuAuthority } from "../stubs";

export const PUSH_OPS_MAX = 500;
export const OP_QTY_MAX = 100_000;

const Op = z.strictObject({
  seq: z.number().int({ message: "must be a whole number" }).positive({ message: "must be at least 1" }).max(Number.MAX_SAFE_INTEGER),
  kind: z.enum(["sale", "return", "write_off", "receipt"], { message: "must be sale, return, write_off or receipt" }),
  sku: Id,
  qty: Qty(OP_QTY_MAX),
  occurredAt: z.iso.datetime({ offset: true, message: "must be an ISO 8601 time" }),
  reason: z.enum(["damaged", "lost", "stolen", "expired"]).optional(),
  lot: Id.optional(),
});

const Push = z.strictObject({
  terminalId: Id,
  /** The id of the terminal's local database (docs/sync-protocol.md, "Identity"); part of every op's name. */
  incarnation: Id.optional(),
  ops: z
    .array(Op)
    .max(PUSH_OPS_MAX, { message: `must have at most ${PUSH_OPS_MAX} ops` })
    .refine((ops) => ops.every((op, i) => i === 0 || op.seq > (ops[i - 1]?.seq ?? 0)), { message: "seqs must be strictly ascending" }),
});

const Pull = z.strictObject({
  since: z.string().regex(/^\d{1,15}$/, { message: "must be a cursor returned by an earlier pull" }).optional(),
  /** The pulling database's incarnation: `includesSeq` counts only its ops. */
  incarnation: Id.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});


export const syncRoutes = new Hono<AppEnv>()
  .post("/sync/push", allowed("POST /v1/sync/push"), json(Push), async (c) => {
    const p = principalOf(c, ["terminal"]);
    const body = c.req.valid("json");
    if (body.terminalId !== p.sub) throw new ProblemError(problem("forbidden", `terminal ${p.sub} may not push as ${body.terminalId}`));
    const store = p.store;
    if (store === undefined) throw new ProblemError(problem("unauthorized", "a terminal token needs a store claim"));
    const bySku = new Map<string, TerminalOp[]>();
    for (const op of body.ops) bySku.set(op.sku, [...(bySku.get(op.sku) ?? []), op]);
    const replies = await Promise.all([...bySku].map(([sku, ops]) => skuAuthority(c.env, sku).applyTerminalOps({ sku, terminalId: p.sub, incarnation: body.incarnation ?? null, location: store, ops })));
    const bySeq = new Map<number, TerminalOpResult>(replies.flatMap((r) => r.results.map((x) => [x.seq, x] as const)));
    const results = body.ops.map((op) => bySeq.get(op.seq) ?? { seq: op.seq, status: "rejected" as const, problem: { type: "internal", detail: "no result" } });
    const nowMs = Date.now();
    const lastSeq = body.ops.at(-1)?.seq ?? 0;
    const incarnation = body.incarnation ?? null;
    // Seqs only grow within one database; a new incarnation (a wiped or replaced device) starts over.
    await drizzle(c.env.DB)
      .insert(terminals)
      .values({ id: p.sub, storeId: store, lastSyncAt: nowMs, lastSeq, incarnation })
      .onConflictDoUpdate({
        target: terminals.id,
        set: {
          storeId: store,
          lastSyncAt: nowMs,
          lastSeq: sql`CASE WHEN ${terminals.incarnation} IS excluded.incarnation THEN MAX(${terminals.lastSeq}, excluded.last_seq) ELSE excluded.last_seq END`,
          incarnation,
        },
      });
    return c.json({ results });
  })
  .get("/sync/state", allowed("GET /v1/sync/state"), async (c) => {
    // Where this terminal stands at the edge: a device starting with an empty database reads it to
    // learn whether an earlier database of the same terminal synced, and up to which seq.
    const p = principalOf(c, ["terminal"]);
    const row = await drizzle(c.env.DB).select().from(terminals).where(eq(terminals.id, p.sub)).get();
    return c.json({
      terminalId: p.sub,
      incarnation: row?.incarnation ?? null,
      lastSeq: row?.lastSeq ?? 0,
      lastSyncAt: row === undefined ? null : new Date(row.lastSyncAt).toISOString(),
    });
  })
  .get("/sync/pull", allowed("GET /v1/sync/pull"), query(Pull), async (c) => {
    const p = principalOf(c, ["terminal"]);
    const { since, limit, incarnation } = c.req.valid("query");
    const after = Number(since ?? "0");
    const rows = await eventsAfter(c.env.DB, after, limit + 1, p.store ?? "");
    const page = rows.slice(0, limit);
    // The latest state of each SKU in the page; older states of the same SKU are superseded. A
    // SKU's events come in its own order, which follows the terminal's seqs for that SKU, so the
    // highest seq of this database's ops among them is the last of its ops the figure includes.
    const latest = new Map<string, { sku: string; location: string; onHand: number; available: number; includesSeq?: number }>();
    for (const row of page) {
      const e = JSON.parse(row.body) as StockEvent;
      if (e.location === null) continue;
      const before = latest.get(e.sku)?.includesSeq;
      const mine = e.op !== undefined && e.op.terminalId === p.sub && e.op.incarnation === (incarnation ?? null) ? e.op.seq : undefined;
      const includesSeq = mine === undefined ? before : Math.max(mine, before ?? 0);
      latest.set(e.sku, { sku: e.sku, location: e.location, onHand: e.after.onHand, available: e.after.available, ...(includesSeq === undefined ? {} : { includesSeq }) });
    }
    return c.json({ changes: [...latest.values()], cursor: String(page.at(-1)?.position ?? after), more: rows.length > limit });
  });
