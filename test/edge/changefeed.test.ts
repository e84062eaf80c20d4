/**
 * The changefeed: `GET /v1/changes` pages through the landed events by position, `GET /v1/sold-out`
 * lists the sold-out index, and the queue consumer keeps that index right however often and in
 * whatever order the queue delivers (docs/changefeed.md). Events are landed straight into D1 here,
 * as the authorities' flush does, so these tests do not depend on it.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../edge/auth/auth";
import { retryDelaySeconds } from "../../edge/changefeed/sold-out-consumer";
import worker from "../../edge/index";
import type { EventType, StockEvent } from "../../ledger/rules/events";
import { call, expectInvalid, expectProblem, fresh, token, type Call } from "./helpers";
import { d1Sink } from "../../edge/sku/ledger-sink";

// ---- helpers ----------------------------------------------------------------------------------

const T0 = Date.parse("2026-11-27T08:00:00.000Z");

function event(sku: string, seq: number, type: EventType, overrides: Partial<StockEvent> = {}): StockEvent {
  const available = type === "sku.sold_out" ? 0 : 5;
  return {
    id: `${sku}:${seq}`,
    sku,
    seq,
    type,
    location: type === "sku.sold_out" || type === "sku.back_in_stock" ? null : "W1",
    before: { onHand: 5, held: 0, available: 5 },
    after: { onHand: available, held: 0, available },
    movementId: `mv-${sku}-${seq}`,
    occurredAt: new Date(T0 + seq * 1000).toISOString(),
    recordedAt: new Date(T0 + seq * 1000 + 500).toISOString(),
    ...overrides,
  };
}

/** Lands events in D1 through the authorities' own ledger sink (each SKU's events in seq order, once). */
async function land(events: readonly StockEvent[]): Promise<void> {
  await d1Sink(env.DB, undefined).land({ movements: [], events, transfers: [] }, events[0]?.sku ?? "", Date.now());
}

/** Where an event landed. Positions increase but may skip numbers (an ignored insert can use one up). */
async function positionOf(id: string): Promise<number> {
  const row = await env.DB.prepare("SELECT position FROM events WHERE id = ?").bind(id).first<{ position: number }>();
  if (row === null) throw new Error(`event ${id} has not landed`);
  return row.position;
}

/** The cursor of the end of the feed right now. */
async function endOfFeed(): Promise<number> {
  return (await env.DB.prepare("SELECT COALESCE(MAX(position), 0) AS p FROM events").first<{ p: number }>())?.p ?? 0;
}

const serviceToken = () => token({ role: "service", sub: "search-indexer" });
const adminToken = () => token({ role: "admin", sub: "admin-1" });

const tokenOf = (role: Role) =>
  token({ role, ...(role === "staff" || role === "terminal" ? { store: "S1" } : {}), ...(role === "manager" ? { region: "north" } : {}) });

interface QueueOutcome {
  readonly explicitAcks: readonly string[];
  readonly retryMessages: readonly { msgId: string; delaySeconds?: number }[];
  readonly retryBatch: { retry: boolean };
  readonly ackAll: boolean;
}

let messageCount = 0;

/** Delivers bodies to the Worker's queue handler as one batch; answers each message's id and the batch outcome. */
async function deliver(bodies: readonly unknown[], opts: { attempts?: number; env?: typeof env } = {}): Promise<{ ids: string[]; outcome: QueueOutcome }> {
  const messages = bodies.map((body) => ({ id: `msg-${messageCount++}`, timestamp: new Date(), attempts: opts.attempts ?? 1, body }));
  const batch = createMessageBatch("edgestock-changes", messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, opts.env ?? env, ctx);
  const outcome = (await getQueueResult(batch, ctx)) as unknown as QueueOutcome;
  return { ids: messages.map((m) => m.id), outcome };
}

/** Asserts every message of a delivery was acked, none retried. */
function expectAllAcked(d: { ids: string[]; outcome: QueueOutcome }): void {
  expect(d.outcome.retryMessages).toEqual([]);
  expect(d.outcome.retryBatch.retry).toBe(false);
  expect([...d.outcome.explicitAcks].sort()).toEqual([...d.ids].sort());
}

interface SoldOutRow {
  sku: string;
  sold_out: number;
  seq: number;
  event_id: string;
  since: string;
}

const indexRow = (sku: string) => env.DB.prepare("SELECT * FROM sold_out WHERE sku = ?").bind(sku).first<SoldOutRow>();

/** Every sold-out entry, read through the API page by page. */
async function allSoldOut(limit = 1000): Promise<{ sku: string; since: string; eventId: string }[]> {
  const auth = await serviceToken();
  const all: { sku: string; since: string; eventId: string }[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const r: Call = await call("GET", `/v1/sold-out?limit=${limit}${after === null ? "" : `&after=${after}`}`, { token: auth });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    all.push(...r.body.skus);
    after = r.body.next;
    if (after === null) return all;
  }
  throw new Error("GET /v1/sold-out never ended");
}

// ---- GET /v1/changes --------------------------------------------------------------------------

describe("GET /v1/changes", () => {
  const sku = fresh("FEED");
  const other = fresh("FEED-OTHER");
  let start = 0;
  const landed: StockEvent[] = [];

  beforeAll(async () => {
    start = await endOfFeed();
    // Two SKUs interleaved, as two authorities' flushes would land them.
    for (let seq = 1; seq <= 6; seq++) {
      landed.push(event(sku, seq, seq === 6 ? "sku.sold_out" : "stock.changed"));
      landed.push(event(other, seq, "stock.changed"));
    }
    for (const e of landed) await land([e]);
  });

  it("answers 401 without a token", async () => {
    expectProblem(await call("GET", "/v1/changes"), 401, "unauthorized");
  });

  it.each(["shopper", "terminal", "staff", "manager"] as const)("answers 403 to a %s", async (role) => {
    expectProblem(await call("GET", "/v1/changes", { token: await tokenOf(role) }), 403, "forbidden");
  });

  it("answers the events after the cursor, in landing order, as the StockEvents themselves", async () => {
    for (const auth of [await serviceToken(), await adminToken()]) {
      const r = await call("GET", `/v1/changes?after=${start}&limit=1000`, { token: auth });
      expect(r.status).toBe(200);
      expect(r.body.events).toEqual(landed);
      expect(r.body.next).toBe(await positionOf(landed.at(-1)?.id ?? ""));
    }
  });

  it("pages with limit, and next is the cursor of the following page: every event once, none skipped", async () => {
    const auth = await serviceToken();
    const seen: StockEvent[] = [];
    const cursors: number[] = [];
    let after = start;
    for (;;) {
      const r = await call("GET", `/v1/changes?after=${after}&limit=5`, { token: auth });
      expect(r.status).toBe(200);
      expect(r.body.events.length).toBeLessThanOrEqual(5);
      if (r.body.events.length === 0) {
        expect(r.body.next).toBe(after);
        break;
      }
      expect(r.body.next).toBeGreaterThan(after);
      seen.push(...r.body.events);
      cursors.push(r.body.next);
      after = r.body.next;
    }
    expect(seen).toEqual(landed);
    expect(cursors).toEqual([await positionOf(landed[4]?.id ?? ""), await positionOf(landed[9]?.id ?? ""), await positionOf(landed[11]?.id ?? "")]);
  });

  it("keeps per-SKU seq increasing and gapless within the feed", async () => {
    const r = await call("GET", `/v1/changes?after=${start}&limit=1000`, { token: await serviceToken() });
    const seqs = (r.body.events as StockEvent[]).filter((e) => e.sku === sku).map((e) => e.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("resumes from an earlier next: events landed later follow, nothing before it comes again", async () => {
    const auth = await serviceToken();
    const end = await call("GET", `/v1/changes?after=${start}&limit=1000`, { token: auth });
    const later = fresh("FEED-LATER");
    const more = [event(later, 1, "stock.changed"), event(later, 2, "sku.sold_out")];
    await land(more);
    // A redelivered flush lands nothing twice: its SKU's cursor is past these seqs.
    await land(more);
    const next = await call("GET", `/v1/changes?after=${end.body.next}`, { token: auth });
    expect(next.body.events).toEqual(more);
    expect(next.body.next).toBe(await positionOf(`${later}:2`));
  });

  it("answers an empty page with next equal to after past the end of the feed", async () => {
    const end = await endOfFeed();
    for (const after of [end, end + 1000]) {
      const r = await call("GET", `/v1/changes?after=${after}`, { token: await serviceToken() });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ events: [], next: after });
    }
  });

  it("answers 100 events by default, and up to 1000 when asked", async () => {
    const bulk = fresh("FEED-BULK");
    const from = await endOfFeed();
    await land(Array.from({ length: 1005 }, (_, i) => event(bulk, i + 1, "stock.changed")));
    const auth = await serviceToken();
    const byDefault = await call("GET", `/v1/changes?after=${from}`, { token: auth });
    expect(byDefault.body.events).toHaveLength(100);
    expect(byDefault.body.next).toBe(await positionOf(`${bulk}:100`));
    const most = await call("GET", `/v1/changes?after=${from}&limit=1000`, { token: auth });
    expect(most.body.events).toHaveLength(1000);
    expect(most.body.events.at(-1).seq).toBe(1000);
    expect(most.body.next).toBe(await positionOf(`${bulk}:1000`));
    const one = await call("GET", `/v1/changes?after=${from}&limit=1`, { token: auth });
    expect(one.body.events).toEqual([event(bulk, 1, "stock.changed")]);
  });

  it.each([
    ["after", "after=-1"],
    ["after", "after=abc"],
    ["after", "after=1.5"],
    ["after", "after="],
    ["after", "after=1e3"],
    ["after", "after=99999999999999999"],
    ["limit", "limit=0"],
    ["limit", "limit=1001"],
    ["limit", "limit=ten"],
    ["limit", "limit=-5"],
    ["limit", "limit=1&limit=2"],
  ])("answers 400 naming %s for ?%s", async (name, qs) => {
    expectInvalid(await call("GET", `/v1/changes?${qs}`, { token: await serviceToken() }), `/${name}`);
  });

  it("answers 400 to an unknown query parameter rather than reading from the start", async () => {
    expectProblem(await call("GET", "/v1/changes?afer=5", { token: await serviceToken() }), 400, "invalid-request");
  });

  it("checks the role before the query: a shopper with a bad query gets 403, no token 401", async () => {
    expectProblem(await call("GET", "/v1/changes?limit=0", { token: await tokenOf("shopper") }), 403, "forbidden");
    expectProblem(await call("GET", "/v1/changes?limit=0"), 401, "unauthorized");
  });
});

// ---- the sold-out consumer --------------------------------------------------------------------

describe("the sold-out queue consumer", () => {
  it("marks a SKU sold out on sku.sold_out and lists it", async () => {
    const sku = fresh("SO");
    const e = event(sku, 4, "sku.sold_out");
    expectAllAcked(await deliver([e]));
    expect(await indexRow(sku)).toEqual({ sku, sold_out: 1, seq: 4, event_id: e.id, since: e.recordedAt });
    expect(await allSoldOut()).toContainEqual({ sku, since: e.recordedAt, eventId: e.id });
  });

  it("takes a SKU off the list on sku.back_in_stock after sku.sold_out", async () => {
    const sku = fresh("SO");
    const out = event(sku, 2, "sku.sold_out");
    const back = event(sku, 5, "sku.back_in_stock");
    expectAllAcked(await deliver([out]));
    expectAllAcked(await deliver([back]));
    expect(await indexRow(sku)).toEqual({ sku, sold_out: 0, seq: 5, event_id: back.id, since: back.recordedAt });
    expect((await allSoldOut()).map((s) => s.sku)).not.toContain(sku);
  });

  it("changes nothing when the old sku.sold_out is delivered again after sku.back_in_stock", async () => {
    const sku = fresh("SO");
    const out = event(sku, 2, "sku.sold_out");
    const back = event(sku, 3, "sku.back_in_stock");
    await deliver([out]);
    await deliver([back]);
    const before = await indexRow(sku);
    expectAllAcked(await deliver([out], { attempts: 2 }));
    expect(await indexRow(sku)).toEqual(before);
    expect(before).toMatchObject({ sold_out: 0, seq: 3 });
    expect((await allSoldOut()).map((s) => s.sku)).not.toContain(sku);
  });

  it("applies duplicates in one batch once: a repeated old sku.sold_out does not undo the newer back_in_stock", async () => {
    const sku = fresh("SO");
    const out = event(sku, 7, "sku.sold_out");
    const back = event(sku, 8, "sku.back_in_stock");
    expectAllAcked(await deliver([out, back, out, back, out]));
    expect(await indexRow(sku)).toEqual({ sku, sold_out: 0, seq: 8, event_id: back.id, since: back.recordedAt });
  });

  it("ends in the same state whatever order a batch arrives in", async () => {
    const inOrder = fresh("SO");
    const reversed = fresh("SO");
    const history = (sku: string) => [event(sku, 1, "stock.changed"), event(sku, 2, "sku.sold_out"), event(sku, 3, "sku.back_in_stock"), event(sku, 4, "stock.changed"), event(sku, 5, "sku.sold_out")];
    await deliver(history(inOrder));
    await deliver(history(reversed).reverse());
    const a = await indexRow(inOrder);
    const b = await indexRow(reversed);
    expect(a).toMatchObject({ sold_out: 1, seq: 5, event_id: `${inOrder}:5` });
    expect(b).toMatchObject({ sold_out: 1, seq: 5, event_id: `${reversed}:5` });
    expect(b?.since).toBe(a?.since);
  });

  it("ignores events that say nothing about sold out, and acks them", async () => {
    const sku = fresh("SO");
    const d = await deliver([event(sku, 1, "stock.changed"), event(sku, 2, "stock.low"), event(sku, 3, "hold.shortfall")]);
    expectAllAcked(d);
    expect(await indexRow(sku)).toBeNull();
  });

  it("acks and drops a malformed message, changing nothing, while the good ones in its batch apply", async () => {
    const sku = fresh("SO");
    const good = event(sku, 3, "sku.sold_out");
    const wrong = fresh("SO-BAD");
    const malformed: unknown[] = [
      "not an event",
      null,
      42,
      {},
      { ...event(wrong, 1, "sku.sold_out"), id: `${wrong}:2` }, // id is not <sku>:<seq>
      { ...event(wrong, 0, "sku.sold_out") }, // seq starts at 1
      { ...event(wrong, 1, "sku.sold_out"), seq: "1" },
      { ...event(wrong, 1, "sku.sold_out"), type: "sku.gone" },
      { ...event(wrong, 1, "sku.sold_out"), recordedAt: "yesterday" },
      { ...event(wrong, 1, "sku.sold_out"), sku: "bad sku!", id: "bad sku!:1" },
      (({ after: _after, ...rest }) => rest)(event(wrong, 1, "sku.sold_out")),
    ];
    const before = await env.DB.prepare("SELECT COUNT(*) AS n FROM sold_out").first<{ n: number }>();
    const d = await deliver([...malformed, good]);
    expectAllAcked(d);
    expect(await indexRow(wrong)).toBeNull();
    expect(await indexRow("bad sku!")).toBeNull();
    expect(await indexRow(sku)).toMatchObject({ sold_out: 1, seq: 3 });
    const after = await env.DB.prepare("SELECT COUNT(*) AS n FROM sold_out").first<{ n: number }>();
    expect(after?.n).toBe((before?.n ?? 0) + 1);
  });

  it("retries a message whose write failed, and applies it when it comes again", async () => {
    const sku = fresh("SO");
    const out = event(sku, 2, "sku.sold_out");
    const ignored = event(sku, 1, "stock.changed");
    const failing = {
      prepare: () => {
        throw new Error("D1 is unavailable (test)");
      },
    } as unknown as D1Database;
    const first = await deliver([ignored, out, "garbage"], { env: { ...env, DB: failing } });
    expect(first.outcome.retryMessages.map((m) => m.msgId)).toEqual([first.ids[1]]);
    expect([...first.outcome.explicitAcks].sort()).toEqual([first.ids[0], first.ids[2]].sort());
    expect(await indexRow(sku)).toBeNull();

    expectAllAcked(await deliver([out], { attempts: 2 }));
    expect(await indexRow(sku)).toMatchObject({ sold_out: 1, seq: 2, event_id: out.id });
  });

  it("backs a failed message off 2, 4, 8 ... seconds, never more than a minute", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(retryDelaySeconds)).toEqual([2, 4, 8, 16, 32, 60, 60, 60]);
  });
});

// ---- GET /v1/sold-out -------------------------------------------------------------------------

describe("GET /v1/sold-out", () => {
  const prefix = fresh("LIST");
  const names = ["a", "b", "c", "d", "e"].map((s) => `${prefix}-${s}`);

  beforeAll(async () => {
    // c comes back in stock; the others stay sold out. Delivered in a scrambled order.
    const bodies = names.map((sku, i) => event(sku, 10 + i, "sku.sold_out"));
    bodies.push(event(`${prefix}-c`, 20, "sku.back_in_stock"));
    expectAllAcked(await deliver([bodies[3], bodies[5], bodies[0], bodies[4], bodies[2], bodies[1]]));
  });

  it("answers 401 without a token", async () => {
    expectProblem(await call("GET", "/v1/sold-out"), 401, "unauthorized");
  });

  it.each(["shopper", "terminal", "staff", "manager"] as const)("answers 403 to a %s", async (role) => {
    expectProblem(await call("GET", "/v1/sold-out", { token: await tokenOf(role) }), 403, "forbidden");
  });

  it("lists the sold-out SKUs by sku, with since and eventId, to service and admin", async () => {
    for (const auth of [await serviceToken(), await adminToken()]) {
      const r = await call("GET", `/v1/sold-out?after=${prefix}&limit=4`, { token: auth });
      expect(r.status).toBe(200);
      expect(r.body.skus).toEqual(
        [0, 1, 3, 4].map((i) => ({ sku: names[i], since: event(names[i] ?? "", 10 + i, "sku.sold_out").recordedAt, eventId: `${names[i]}:${10 + i}` })),
      );
    }
  });

  it("pages by sku: next is the last sku of a full page, null on the last page", async () => {
    const auth = await serviceToken();
    const first = await call("GET", `/v1/sold-out?after=${prefix}&limit=2`, { token: auth });
    expect(first.body.skus.map((s: { sku: string }) => s.sku)).toEqual([names[0], names[1]]);
    expect(first.body.next).toBe(names[1]);
    const second = await call("GET", `/v1/sold-out?after=${first.body.next}&limit=2`, { token: auth });
    expect(second.body.skus.map((s: { sku: string }) => s.sku)).toEqual([names[3], names[4]]);

    const everything = await allSoldOut(2);
    const skus = everything.map((s) => s.sku);
    expect(skus).toEqual([...skus].sort());
    expect(new Set(skus).size).toBe(skus.length);
    expect(skus).toEqual(expect.arrayContaining([names[0], names[1], names[3], names[4]]));
    expect(skus).not.toContain(names[2]);
  });

  it.each([
    ["limit", "limit=0"],
    ["limit", "limit=1001"],
    ["limit", "limit=x"],
    ["after", "after=bad%20sku"],
    ["after", "after="],
  ])("answers 400 naming %s for ?%s", async (name, qs) => {
    expectInvalid(await call("GET", `/v1/sold-out?${qs}`, { token: await serviceToken() }), `/${name}`);
  });
});
