/**
 * An in-memory edge that speaks docs/sync-protocol.md for one store: test scaffolding for the
 * store client, which is the thing under test. It dedupes ops by (terminalId, seq), keeps the
 * store's stock per SKU, and counts what it saw so tests can assert "every op applied exactly
 * once" and "no op posted twice".
 *
 * Pulls read a ledger of events, as the real edge does: every stock change becomes an event that
 * lands `flushLagMs` later (on the test's clock) and gets the next position when it lands; a page
 * holds up to `limit` events and answers each SKU's latest state within the page.
 */
import { isId } from "../../../../ledger/rules/ids";
import type { Transport, TransportRequest, TransportResponse } from "../../../../store-client/sync/http";
import type { PullChange, PushResult, Shortfall, WireOp } from "../../../../store-client/sync/protocol";

export interface FakeSku {
  onHand: number;
  held?: number;
  reserve?: number;
}

export interface FakeEdgeOptions {
  storeId: string;
  /** token → terminal id (the token's subject). */
  tokens: Record<string, string>;
  skus: Record<string, FakeSku>;
  /** Awaited inside every request, e.g. a few event-loop turns, so requests can overlap. */
  latency?: () => Promise<void>;
  /** The test's clock, for the ledger's landing lag. */
  now?: () => number;
  /** How long after a change its event lands in the ledger that pulls read (default 0). */
  flushLagMs?: number;
}

interface LedgerEvent {
  sku: string;
  onHand: number;
  available: number;
  createdAtMs: number;
  /** The op that caused it: its name's terminal part (opKey without the seq) and seq. */
  op?: { by: string; seq: number };
}

type Route = "push" | "pull" | "state";

interface Intercept {
  route: Route;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  times: number;
  skip: number;
}

const KINDS = ["sale", "return", "write_off", "receipt"];
const REASONS = ["damaged", "lost", "stolen", "expired"];
const BODY_BYTES_MAX = 64 * 1024;

const json = (status: number, body: unknown, headers: Record<string, string> = {}): TransportResponse =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": status >= 400 ? "application/problem+json" : "application/json", ...headers } });

const problem = (status: number, type: string, detail: string): TransportResponse => json(status, { type, title: type, status, detail });

/** An op's name as the edge keeps it: (terminal, incarnation, seq), docs/sync-protocol.md. */
export const opKey = (terminalId: string, seq: number, incarnation: string | null = null): string => `${incarnation === null ? terminalId : `${terminalId}/${incarnation}`}#${seq}`;

export class FakeEdge {
  readonly storeId: string;
  readonly stock = new Map<string, { onHand: number; held: number; reserve: number }>();
  /** First answer per op. */
  readonly answers = new Map<string, PushResult>();
  /** Times each op took effect: exactly-once means every value is 1. */
  readonly applied = new Map<string, number>();
  /** Times each op arrived in a push request. */
  readonly posted = new Map<string, number>();
  readonly appliedOps = new Map<string, WireOp>();
  requests = 0;
  /** Ops per push request that reached the push handler. */
  readonly pushSizes: number[] = [];
  pushRequests = 0;
  pullRequests = 0;
  inFlightPushes = 0;
  maxInFlightPushes = 0;
  /** Per terminal, the incarnation that pushed last, and its highest seq (GET /v1/sync/state). */
  readonly terminals = new Map<string, { incarnation: string | null; lastSeq: number; lastSyncAtMs: number }>();
  private readonly fingerprints = new Map<string, string>();

  private readonly tokens: Record<string, string>;
  private readonly latency: () => Promise<void>;
  private readonly now: () => number;
  private readonly flushLagMs: number;
  private readonly unlanded: LedgerEvent[] = [];
  private readonly landed: (LedgerEvent & { position: number })[] = [];
  private position = 0;
  private readonly intercepts: Intercept[] = [];
  private gate: { promise: Promise<void>; open: () => void } | null = null;

  constructor(options: FakeEdgeOptions) {
    this.storeId = options.storeId;
    this.tokens = options.tokens;
    this.latency = options.latency ?? (async () => undefined);
    this.now = options.now ?? (() => 0);
    this.flushLagMs = options.flushLagMs ?? 0;
    for (const [sku, s] of Object.entries(options.skus)) {
      this.stock.set(sku, { onHand: s.onHand, held: s.held ?? 0, reserve: s.reserve ?? 0 });
      this.touch(sku, -Infinity);
    }
  }

  readonly transport: Transport = (url, init) => this.handle(url, init);

  /** The next `times` requests to `route` (after `skip` good ones) get this answer, and nothing is applied. */
  failNext(route: Route, status: number, options: { times?: number; skip?: number; headers?: Record<string, string>; body?: unknown } = {}): void {
    const body = options.body ?? { type: `fake-${status}`, title: "fake", status, detail: "injected" };
    this.intercepts.push({ route, status, headers: options.headers ?? {}, body, times: options.times ?? 1, skip: options.skip ?? 0 });
  }

  clearFailures(): void {
    this.intercepts.length = 0;
  }

  /** Hold push requests (before they apply) until release(). */
  holdPushes(): void {
    let open = (): void => undefined;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gate = { promise, open };
  }

  releasePushes(): void {
    this.gate?.open();
    this.gate = null;
  }

  /** Stock changes that did not come from this store's terminals under test. */
  changeElsewhere(sku: string, change: { onHandDelta?: number; held?: number }): void {
    const s = this.stock.get(sku);
    if (s === undefined) throw new Error(`fake edge: unknown sku ${sku}`);
    s.onHand += change.onHandDelta ?? 0;
    if (change.held !== undefined) s.held = change.held;
    this.touch(sku);
  }

  /** The key of `seq` of the one incarnation `terminalId` pushed with (tests of a single database). */
  keyOf(terminalId: string, seq: number): string {
    const t = this.terminals.get(terminalId);
    return opKey(terminalId, seq, t?.incarnation ?? null);
  }

  available(sku: string): number {
    const s = this.stock.get(sku);
    return s === undefined ? 0 : s.onHand - s.held - s.reserve;
  }

  async handle(url: string, init: TransportRequest): Promise<TransportResponse> {
    this.requests += 1;
    const u = new URL(url);
    const route: Route | null =
      init.method === "POST" && u.pathname === "/v1/sync/push"
        ? "push"
        : init.method === "GET" && u.pathname === "/v1/sync/pull"
          ? "pull"
          : init.method === "GET" && u.pathname === "/v1/sync/state"
            ? "state"
            : null;
    if (route === null) return problem(404, "not-found", `${init.method} ${u.pathname}`);
    const token = init.headers.authorization?.replace(/^Bearer /, "") ?? "";
    const terminalId = this.tokens[token];
    if (terminalId === undefined) return problem(401, "unauthorized", "bad token");
    const intercept = this.intercepts.find((i) => i.route === route && i.times > 0);
    if (intercept !== undefined && intercept.skip > 0) intercept.skip -= 1;
    else if (intercept !== undefined) {
      intercept.times -= 1;
      return json(intercept.status, intercept.body, intercept.headers);
    }
    if (route === "state") {
      const t = this.terminals.get(terminalId);
      return json(200, { terminalId, incarnation: t?.incarnation ?? null, lastSeq: t?.lastSeq ?? 0, lastSyncAt: t === undefined ? null : new Date(t.lastSyncAtMs).toISOString() });
    }
    if (route === "pull") {
      this.pullRequests += 1;
      await this.latency();
      return this.pull(terminalId, u.searchParams);
    }
    this.pushRequests += 1;
    this.inFlightPushes += 1;
    this.maxInFlightPushes = Math.max(this.maxInFlightPushes, this.inFlightPushes);
    try {
      if (this.gate !== null) await this.gate.promise;
      await this.latency();
      return this.push(terminalId, init.body ?? "");
    } finally {
      this.inFlightPushes -= 1;
    }
  }

  private push(sub: string, body: string): TransportResponse {
    if (new TextEncoder().encode(body).length > BODY_BYTES_MAX) return problem(413, "payload-too-large", "over 64 KiB");
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return problem(400, "malformed-json", "not JSON");
    }
    const invalid = this.validatePush(sub, parsed);
    if (invalid !== null) return problem(400, "invalid-request", invalid);
    const { terminalId, ops, incarnation = null } = parsed as { terminalId: string; ops: WireOp[]; incarnation?: string };
    this.pushSizes.push(ops.length);
    const results = ops.map((op) => this.pushOne(terminalId, incarnation, op));
    const t = this.terminals.get(terminalId);
    const lastSeq = ops.at(-1)?.seq ?? 0;
    this.terminals.set(terminalId, { incarnation, lastSeq: t?.incarnation === incarnation ? Math.max(t.lastSeq, lastSeq) : lastSeq, lastSyncAtMs: this.now() });
    return json(200, { results });
  }

  private validatePush(sub: string, body: unknown): string | null {
    if (typeof body !== "object" || body === null) return "body is not an object";
    const { terminalId, ops } = body as Record<string, unknown>;
    if (terminalId !== sub) return "terminalId is not the token's subject";
    if (!Array.isArray(ops) || ops.length === 0 || ops.length > 500) return "ops must be 1…500";
    let lastSeq = 0;
    for (const raw of ops as Record<string, unknown>[]) {
      const { seq, kind, sku, qty, occurredAt, reason, lot } = raw;
      if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq <= lastSeq) return "seqs must be ascending positive integers";
      lastSeq = seq;
      if (typeof kind !== "string" || !KINDS.includes(kind)) return `seq ${seq}: bad kind`;
      if (typeof sku !== "string" || !isId(sku)) return `seq ${seq}: bad sku`;
      if (typeof qty !== "number" || !Number.isSafeInteger(qty) || qty < 1) return `seq ${seq}: bad qty`;
      if (typeof occurredAt !== "string" || Number.isNaN(Date.parse(occurredAt))) return `seq ${seq}: bad occurredAt`;
      if (reason !== undefined && (typeof reason !== "string" || !REASONS.includes(reason))) return `seq ${seq}: bad reason`;
      if (lot !== undefined && (typeof lot !== "string" || !isId(lot))) return `seq ${seq}: bad lot`;
    }
    return null;
  }

  private pushOne(terminalId: string, incarnation: string | null, op: WireOp): PushResult {
    const key = opKey(terminalId, op.seq, incarnation);
    this.posted.set(key, (this.posted.get(key) ?? 0) + 1);
    const before = this.answers.get(key);
    const fingerprint = JSON.stringify([op.kind, op.sku, op.qty, op.occurredAt, op.reason ?? null, op.lot ?? null]);
    if (before !== undefined && this.fingerprints.get(key) !== fingerprint) {
      return { seq: op.seq, status: "rejected", problem: { type: "seq-conflict", detail: `seq ${op.seq} was used for a different operation` } };
    }
    if (before !== undefined) return before.status === "rejected" ? before : { seq: op.seq, status: "duplicate" };
    this.fingerprints.set(key, fingerprint);
    const s = this.stock.get(op.sku);
    let result: PushResult;
    if (s === undefined) result = { seq: op.seq, status: "rejected", problem: { type: "unknown-sku", detail: `no SKU ${op.sku}` } };
    else if (op.kind === "write_off" && op.reason === undefined) result = { seq: op.seq, status: "rejected", problem: { type: "reason-required", detail: "write-off without a reason" } };
    else {
      const delta = op.kind === "sale" || op.kind === "write_off" ? -op.qty : op.qty;
      s.onHand += delta;
      this.applied.set(key, (this.applied.get(key) ?? 0) + 1);
      this.appliedOps.set(key, op);
      this.touch(op.sku, this.now(), { by: opKey(terminalId, 0, incarnation).replace(/#0$/, ""), seq: op.seq });
      result = { seq: op.seq, status: "applied" };
      const availableAfter = s.onHand - s.held - s.reserve;
      if (op.kind === "sale" && s.held > 0 && availableAfter < 0) {
        const units = Math.min(s.held, -availableAfter, op.qty);
        const shortfall: Shortfall = { location: this.storeId, units, resourced: 0, short: units };
        result.shortfall = shortfall;
      }
    }
    this.answers.set(key, result);
    return result;
  }

  private pull(terminalId: string, params: URLSearchParams): TransportResponse {
    const by = opKey(terminalId, 0, params.get("incarnation")).replace(/#0$/, "");
    const since = params.get("since");
    const limit = Number(params.get("limit") ?? "100");
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) return problem(400, "invalid-request", "limit must be 1…1000");
    if (since !== null && !/^\d+$/.test(since)) return problem(400, "invalid-request", "bad cursor");
    this.land();
    const after = since === null ? 0 : Number(since);
    const newer = this.landed.filter((e) => e.position > after);
    const page = newer.slice(0, limit);
    const latest = new Map<string, PullChange>();
    for (const e of page) {
      const before = latest.get(e.sku)?.includesSeq;
      const mine = e.op?.by === by ? e.op.seq : undefined;
      const includesSeq = mine === undefined ? before : Math.max(mine, before ?? 0);
      latest.set(e.sku, { sku: e.sku, location: this.storeId, onHand: e.onHand, available: e.available, ...(includesSeq === undefined ? {} : { includesSeq }) });
    }
    return json(200, { changes: [...latest.values()], cursor: String(page.at(-1)?.position ?? after), more: newer.length > limit });
  }

  /** Events whose flush is due land, in the order they happened, each with the next position. */
  private land(): void {
    const nowMs = this.now();
    while (this.unlanded.length > 0 && (this.unlanded[0]?.createdAtMs ?? 0) + this.flushLagMs <= nowMs) {
      const e = this.unlanded.shift();
      if (e !== undefined) this.landed.push({ ...e, position: ++this.position });
    }
  }

  private touch(sku: string, atMs = this.now(), op?: { by: string; seq: number }): void {
    const s = this.stock.get(sku);
    if (s === undefined) return;
    this.unlanded.push({ sku, onHand: s.onHand, available: this.available(sku), createdAtMs: atMs, ...(op === undefined ? {} : { op }) });
  }
}
