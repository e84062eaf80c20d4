/**
 * The invariants a run is checked against (../../../DESIGN.md, I1–I7), each by name. The checks
 * read the real state — the authorities' SQLite, the D1 ledger, the clients' outboxes — and the
 * Worker's real answers (the wire log), never the actors' beliefs.
 */
import { env } from "cloudflare:test";
import type { Terminal } from "./actors";
import type { Delivery } from "./network";
import type { World } from "./world";
import { adminToken } from "../helpers";
import type { Env } from "../../../edge/env";
import { outboxRegistry } from "../../../edge/stubs";

export type Invariant = "I1" | "I2" | "I3" | "I4" | "I5" | "I6" | "I7" | "I8" | "changefeed" | "local-stock";

export interface Violation {
  readonly invariant: Invariant;
  readonly detail: string;
}

export const INVARIANT_NAMES: Record<Invariant, string> = {
  I1: "no online oversell",
  I2: "a POS op is never refused",
  I3: "nothing applied twice",
  I4: "conservation; authority = ledger after the flush",
  I5: "every acknowledged op and movement is in the ledger",
  I6: "every hold ends once",
  I7: "no 5xx",
  I8: "an authority with movements not yet in D1 is in the outbox registry (a count's report asks it)",
  changefeed: "the changefeed is gapless per SKU",
  "local-stock": "a synced terminal's local stock is the edge's",
};

type Balances = Map<string, number>;

const nonZero = (m: ReadonlyMap<string, number> | Readonly<Record<string, number>>): Record<string, number> =>
  Object.fromEntries((m instanceof Map ? [...m] : Object.entries(m)).filter(([, v]) => v !== 0).sort(([a], [b]) => (a < b ? -1 : 1)));

const same = (a: Record<string, number>, b: Record<string, number>): boolean => JSON.stringify(a) === JSON.stringify(b);

interface Storage {
  readonly balances: Record<string, number>;
  readonly held: Record<string, number>;
  readonly activeByLocation: Record<string, number>;
  readonly holds: { hold_id: string; state: string; location: string; qty: number }[];
  readonly nextEventSeq: number;
}

/** An authority's own tables, read inside it. */
export function readStorage(w: World, sku: string): Promise<Storage> {
  return w.inSku(sku, (instance, state) => {
    const sql = state.storage.sql;
    const held = Object.fromEntries(sql.exec<{ location: string; qty: number }>("SELECT location, qty FROM held").toArray().map((r) => [r.location, r.qty]));
    const active = Object.fromEntries(
      sql.exec<{ location: string; n: number }>("SELECT location, SUM(qty) AS n FROM holds WHERE state = 'active' GROUP BY location").toArray().map((r) => [r.location, r.n]),
    );
    const holds = sql.exec<{ hold_id: string; state: string; location: string; qty: number }>("SELECT hold_id, state, location, qty FROM holds").toArray();
    const next = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'next_event_seq'").toArray()[0]?.value;
    return { balances: instance.inspect().balances, held, activeByLocation: active, holds, nextEventSeq: Number(next ?? "1") };
  });
}

/** I8's precondition, after every step: a SKU whose outbox holds movements is listed in the registry. */
export async function checkListed(w: World): Promise<Violation[]> {
  const out: Violation[] = [];
  for (const sku of w.skus) {
    const waiting = await w.inSku(sku, (_, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n);
    if (waiting === 0) continue;
    // reason: the test env carries the Worker's bindings (test/env.d.ts).
    const listed = await outboxRegistry(env as unknown as Env, sku).listedAmong([sku]);
    if (!listed.includes(sku)) out.push({ invariant: "I8", detail: `${sku} has ${waiting} outbox rows but is not in the outbox registry` });
  }
  return out;
}

/** I6: the units a location holds are exactly those of its active holds (each end applied once). */
function heldMatchesHolds(sku: string, s: Storage): Violation[] {
  const out: Violation[] = [];
  for (const location of new Set([...Object.keys(s.held), ...Object.keys(s.activeByLocation)])) {
    const held = s.held[location] ?? 0;
    const active = s.activeByLocation[location] ?? 0;
    if (held !== active) out.push({ invariant: "I6", detail: `${sku}@${location}: ${held} units held for active holds of ${active} units (a hold's end applied more or less than once)` });
  }
  return out;
}

/**
 * I1, checked right after a hold request was granted: at each location that just granted a hold,
 * every active hold there plus the reserve fits in what is on hand.
 */
export async function checkGrant(w: World, granted: readonly { sku: string; location: string }[]): Promise<Violation[]> {
  const out: Violation[] = [];
  for (const sku of new Set(granted.map((g) => g.sku))) {
    const s = await readStorage(w, sku);
    out.push(...heldMatchesHolds(sku, s));
    for (const location of new Set(granted.filter((g) => g.sku === sku).map((g) => g.location))) {
      const onHand = s.balances[`loc:${location}`] ?? 0;
      const reserve = w.locations.find((l) => l.id === location)?.reserve ?? 0;
      const claimed = s.activeByLocation[location] ?? 0;
      if (claimed + reserve > onHand) out.push({ invariant: "I1", detail: `${sku}@${location}: holds claim ${claimed} + reserve ${reserve} > on hand ${onHand} right after a grant` });
    }
  }
  return out;
}

const opName = (d: Delivery): { terminalId: string; incarnation: string | null } => {
  const body = JSON.parse(d.wire.body ?? "{}") as { terminalId: string; incarnation?: string };
  return { terminalId: body.terminalId, incarnation: body.incarnation ?? null };
};

interface WireOp {
  seq: number;
  kind: "sale" | "return" | "write_off" | "receipt";
  sku: string;
  qty: number;
  reason?: string;
}

/**
 * What the Worker's answers say happened, as balances per SKU, and the movement ids it
 * acknowledged. Only first answers count: a replayed answer says nothing new.
 */
function fromAnswers(w: World, terminals: readonly Terminal[], deliveries: readonly Delivery[]): { model: Map<string, Balances>; acked: Set<string>; orders: Map<string, number>; violations: Violation[] } {
  const model = new Map<string, Balances>(w.skus.map((s) => [s, new Map()]));
  const move = (sku: string, from: string, to: string, qty: number) => {
    const b = model.get(sku);
    if (b === undefined || qty <= 0) return;
    b.set(from, (b.get(from) ?? 0) - qty);
    b.set(to, (b.get(to) ?? 0) + qty);
  };
  const acked = new Set<string>();
  const violations: Violation[] = [];
  const applied = new Map<string, number>();
  const orders = new Map<string, number>();
  const storeOf = new Map(terminals.map((t) => [t.terminalId, t.store]));
  for (const d of deliveries) {
    if (d.status >= 500) violations.push({ invariant: "I7", detail: `${d.wire.method} ${d.wire.path} answered ${d.status} at step ${d.step}: ${JSON.stringify(d.body).slice(0, 200)}` });
    if (d.status < 200 || d.status > 299) continue;
    const path = d.wire.path;
    const req = d.wire.body === undefined ? null : JSON.parse(d.wire.body);
    if (path === "/v1/sync/push") {
      const { terminalId, incarnation } = opName(d);
      const location = storeOf.get(terminalId) ?? "?";
      const ops = new Map((req.ops as WireOp[]).map((op) => [op.seq, op]));
      for (const r of d.body.results as { seq: number; status: string; problem?: { type: string } }[]) {
        const name = `${terminalId}.${incarnation}.${r.seq}`;
        const op = ops.get(r.seq);
        if (r.status === "rejected") violations.push({ invariant: "I2", detail: `op ${name} (${op?.kind} ${op?.sku} x${op?.qty}) was refused: ${r.problem?.type}` });
        if (r.status === "applied" || r.status === "duplicate") acked.add(`pos.${name}`);
        if (r.status !== "applied" || op === undefined) continue;
        const times = (applied.get(name) ?? 0) + 1;
        applied.set(name, times);
        if (times === 2) violations.push({ invariant: "I3", detail: `op ${name} (${op.kind} ${op.sku} x${op.qty}) was answered "applied" twice (the second at step ${d.step})` });
        const loc = `loc:${location}`;
        const [from, to] = { sale: [loc, "customer"], return: ["customer", loc], write_off: [loc, `shrink:${op.reason}`], receipt: ["supplier", loc] }[op.kind];
        move(op.sku, from ?? "", to ?? "", op.qty);
      }
    } else if (path === "/v1/receipts" && !d.replayed) {
      move(req.sku, "supplier", `loc:${req.location}`, req.qty);
      acked.add(d.body.movementId);
    } else if (path === "/v1/write-offs" && !d.replayed) {
      move(req.sku, `loc:${req.location}`, `shrink:${req.reason}`, req.qty);
      acked.add(d.body.movementId);
    } else if (path === "/v1/transfers" && !d.replayed) {
      move(req.sku, `loc:${req.from}`, `transit:${d.body.transferId}`, req.qty);
    } else if (/^\/v1\/transfers\/[^/]+\/receive$/.test(path) && !d.replayed) {
      const t = d.body as { sku: string; transferId: string; to: string; received: number; lost: number; movementIds: string[] };
      move(t.sku, `transit:${t.transferId}`, `loc:${t.to}`, t.received);
      move(t.sku, `transit:${t.transferId}`, "shrink:lost", t.lost);
      for (const id of t.movementIds) acked.add(id);
    } else if (/^\/v1\/carts\/[^/]+\/checkout$/.test(path) && d.body?.orderId !== undefined && !orders.has(d.body.orderId)) {
      const lines = d.body.lines as { sku: string; location: string; qty: number }[];
      orders.set(d.body.orderId, lines.reduce((n, l) => n + l.qty, 0));
      for (const l of lines) move(l.sku, `loc:${l.location}`, "customer", l.qty);
    }
  }
  return { model, acked, orders, violations };
}

/** Every check of a run that has come to rest (network healed, clock past every hold, outbox flushed). */
export async function checkAtRest(w: World, terminals: readonly Terminal[]): Promise<Violation[]> {
  const { model, acked, orders, violations } = fromAnswers(w, terminals, w.network.deliveries);
  const out = [...violations];
  const admin = await adminToken();

  for (const sku of w.skus) {
    const s = await readStorage(w, sku);
    const authority = nonZero(s.balances);
    const expected = nonZero(model.get(sku) ?? new Map());
    if (!same(authority, expected)) {
      // More units through an outside account than the answers account for: something applied twice.
      const outside = (b: Record<string, number>) => Object.entries(b).filter(([a]) => !a.startsWith("loc:") && !a.startsWith("transit:")).reduce((n, [, v]) => n + Math.abs(v), 0);
      const invariant = outside(authority) > outside(expected) ? "I3" : "I5";
      out.push({ invariant, detail: `${sku}: the authority holds ${JSON.stringify(authority)}, the edge's answers add up to ${JSON.stringify(expected)}` });
    }
    const sum = Object.values(s.balances).reduce((n, v) => n + v, 0);
    if (sum !== 0) out.push({ invariant: "I4", detail: `${sku}: the authority's accounts sum to ${sum}` });
    const audit = await w.network.deliver({ who: "check", method: "GET", path: `/v1/audit/skus/${sku}`, headers: { authorization: `Bearer ${admin}` } });
    w.network.deliveries.pop(); // the checks' own requests are not part of the run
    const ledger = nonZero((audit.body?.ledger as Record<string, number> | undefined) ?? {});
    if (!same(authority, ledger)) out.push({ invariant: "I4", detail: `${sku}: after the flush the authority holds ${JSON.stringify(authority)}, the ledger ${JSON.stringify(ledger)}` });
    if (audit.status !== 200 || audit.body.consistent !== true || audit.body.unflushed !== 0 || audit.body.unflushedEvents !== 0) {
      out.push({ invariant: "I4", detail: `${sku}: audit says ${JSON.stringify({ status: audit.status, consistent: audit.body?.consistent, unflushed: audit.body?.unflushed, unflushedEvents: audit.body?.unflushedEvents })}` });
    }

    // I6: the held units are exactly the active holds; nothing is still active past every deadline;
    // a sold hold was not also released or expired, and the reverse.
    out.push(...heldMatchesHolds(sku, s));
    const stillActive = s.holds.filter((h) => h.state === "active");
    if (stillActive.length > 0) out.push({ invariant: "I6", detail: `${sku}: holds ${stillActive.map((h) => h.hold_id).join(", ")} never ended` });
    // One round trip for the ledger's side of this SKU: its sales from holds, and its events.
    const [sold, landedEvents] = (await env.DB.batch([
      env.DB.prepare("SELECT id FROM movements WHERE sku = ? AND id LIKE 'mv.%'").bind(sku),
      // events has no index on sku or id (no query of the product needs one): a scan, fine at a simulation's size.
      env.DB.prepare("SELECT seq FROM events WHERE sku = ? ORDER BY seq").bind(sku),
    ])) as [D1Result<{ id: string }>, D1Result<{ seq: number }>];
    const soldIds = new Set(sold.results.map((r) => r.id));
    for (const h of s.holds) {
      const hasSale = [...soldIds].some((id) => id === `mv.${h.hold_id}` || id.startsWith(`mv.${h.hold_id}.`) || id.startsWith(`mv.${h.hold_id}:`));
      if (h.state === "committed" && !hasSale) out.push({ invariant: "I6", detail: `${sku}: hold ${h.hold_id} is committed but its sale is not in the ledger` });
      if (h.state !== "committed" && hasSale) out.push({ invariant: "I6", detail: `${sku}: hold ${h.hold_id} was sold and then ${h.state}` });
    }

    // The changefeed: every event number from 1 up, once.
    const events = landedEvents.results;
    const seqs = [...new Set(events.map((e) => e.seq))].sort((a, b) => a - b);
    const gap = seqs.findIndex((seq, i) => seq !== i + 1);
    if (gap !== -1) out.push({ invariant: "changefeed", detail: `${sku}: event ${gap + 1} is missing (next landed is ${seqs[gap]})` });
    if (seqs.length !== s.nextEventSeq - 1) out.push({ invariant: "changefeed", detail: `${sku}: ${seqs.length} events landed, the authority numbered ${s.nextEventSeq - 1}` });
    if (events.length !== seqs.length) out.push({ invariant: "changefeed", detail: `${sku}: ${events.length - seqs.length} event numbers landed twice` });
  }

  // I5: everything acknowledged is in the ledger; every op of a live terminal got its answer.
  const ids = [...acked];
  const landed = new Set<string>();
  for (let i = 0; i < ids.length; i += 90) {
    const chunk = ids.slice(i, i + 90);
    const rows = await env.DB.prepare(`SELECT id FROM movements WHERE id IN (${chunk.map(() => "?").join(",")})`).bind(...chunk).all<{ id: string }>();
    for (const r of rows.results) landed.add(r.id);
  }
  // A movement split by lots keeps the answered id on its first part.
  for (const id of ids) if (!landed.has(id)) out.push({ invariant: "I5", detail: `movement ${id} was acknowledged but is not in the ledger` });
  const orderIds = [...orders.keys()];
  const soldByOrder = new Map<string, number>();
  for (let i = 0; i < orderIds.length; i += 90) {
    const chunk = orderIds.slice(i, i + 90);
    const rows = await env.DB.prepare(`SELECT ref, SUM(qty) AS n FROM movements WHERE sku IN (${w.skus.map(() => "?").join(",")}) AND to_account = 'customer' AND ref IN (${chunk.map(() => "?").join(",")}) GROUP BY ref`).bind(...w.skus, ...chunk).all<{ ref: string; n: number }>();
    for (const r of rows.results) soldByOrder.set(r.ref, r.n);
  }
  for (const [orderId, units] of orders) {
    const landedUnits = soldByOrder.get(orderId) ?? 0;
    if (landedUnits !== units) out.push({ invariant: "I5", detail: `order ${orderId} sold ${units} units, the ledger has ${landedUnits}` });
  }
  // Local stock at rest: every op acknowledged and counted through the pulled figures, which are
  // the authority's (no holds are left, so available is on hand less the reserve, never below 0).
  const stockAt = new Map<string, Record<string, number>>();
  for (const sku of w.skus) stockAt.set(sku, (await readStorage(w, sku)).balances);
  for (const t of terminals) {
    if (t.client === null) continue;
    const reserve = w.locations.find((l) => l.id === t.store)?.reserve ?? 0;
    for (const sku of w.skus) {
      const local = await t.client.stock(sku);
      const onHand = stockAt.get(sku)?.[`loc:${t.store}`] ?? 0;
      const want = { onHand, available: Math.max(0, onHand - reserve), overlayOps: 0 };
      const got = { onHand: local.onHand, available: local.confirmed === null && onHand === 0 ? 0 : local.available, overlayOps: local.overlayOps };
      if (JSON.stringify(got) !== JSON.stringify(want)) out.push({ invariant: "local-stock", detail: `${t.name} sees ${sku} as ${JSON.stringify(got)}, the edge has ${JSON.stringify(want)}` });
    }
  }

  for (const t of terminals) {
    if (t.client === null) continue;
    const rows = await t.client.db.outbox.toArray();
    const pending = rows.filter((r) => r.state === "pending");
    if (pending.length > 0) out.push({ invariant: "I5", detail: `${t.name}: ops ${pending.map((r) => r.seq).join(",")} never acknowledged after the network healed` });
    const incarnation = (await t.client.db.meta.get("incarnation"))?.value as string | undefined;
    for (const r of rows) {
      if (r.state !== "applied" && r.state !== "duplicate") continue;
      const id = `pos.${t.terminalId}.${incarnation}.${r.seq}`;
      if (!acked.has(id)) out.push({ invariant: "I5", detail: `${t.name}: op ${r.seq} is acknowledged on the terminal but the edge never answered it so` });
    }
  }
  return out;
}
