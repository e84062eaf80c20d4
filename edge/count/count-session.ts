/**
 * CountSession: one Durable Object per shelf count, hosting its count sheet (a Yjs document) over
 * WebSocket with the hibernation API, in the y-websocket protocol (sheet-wire.ts), so the stock
 * y-websocket client joins unchanged.
 *
 * It protects the sheet's shape (docs/counts.md): every update a clerk sends is first applied to a
 * shadow copy of the document, and the entries it would write are checked by the pure rules
 * (ledger/rules/count-sheet.ts). Only an update whose every write is the sender's own entry, in a
 * SKU and zone of the count, with a whole quantity, reaches the document, the storage and the other
 * sockets; anything else closes the sender's socket with the reason and changes nothing. After
 * submit the sheet is frozen.
 *
 * Storage (the object's SQLite): the count's facts, an append-only log of accepted updates and a
 * snapshot they are compacted into (both bounded). The constructor rebuilds the document from
 * them, because hibernation evicts the object between messages.
 *
 * Approval is recorded here too: the first approval's plan (the adjustments) is kept, so a second
 * or concurrent approval returns the same plan and the authorities, idempotent by movement id, post
 * each adjustment once.
 */
import { DurableObject } from "cloudflare:workers";
import * as Y from "yjs";
import { effectAsOf, ENTRIES_PER_LINE_MAX, isEntryQty, refuseEntryWrite, type CountShape, type EntryWrite } from "../../ledger/rules/count-sheet";
import type { Movement } from "../../ledger/rules/movement";
import type { Env } from "../env";
import type { Problem } from "../http/problem";
import { skuAuthority } from "../stubs";
import { FANOUT_CONCURRENCY, OUTBOX_SLICE_MAX, pooled } from "./fan-out";
import { decodeMessage, encodeAwareness, encodeSync, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE, type AwarenessEntry } from "./sheet-wire";

/** Largest message a socket may send. */
export const MESSAGE_BYTES_MAX = 1024 * 1024;
/** Largest the document may grow (snapshot plus log, as stored). */
export const DOC_BYTES_MAX = 16 * 1024 * 1024;
/** The log is compacted into the snapshot past either bound. */
export const LOG_UPDATES_MAX = 500;
export const LOG_BYTES_MAX = 1024 * 1024;
/** Updates one socket may have waiting for their dependencies. */
const WAITING_UPDATES_MAX = 256;
/** Awareness state a client may announce, in bytes (it is relayed to everyone). */
const AWARENESS_STATE_BYTES_MAX = 512;

/** Close codes the sheet uses (4000–4999 are the application's). */
export const CLOSE = { malformed: 4400, refused: 4403, frozen: 4409, tooLarge: 4413 } as const;

export type CountState = "open" | "submitted" | "approved";

export interface CountFacts {
  readonly countId: string;
  readonly location: string;
  readonly skus: readonly string[];
  readonly zones: readonly string[];
  readonly blind: boolean;
  readonly startedAtMs: number;
}

export interface Adjustment {
  readonly sku: string;
  readonly delta: number;
  readonly movementId: string;
}

export interface ApprovalPlan {
  readonly adjustments: readonly Adjustment[];
  /** Every line as the approval saw it. */
  readonly lines: readonly { sku: string; counted: number; expected: number; variance: number }[];
  readonly approvedBy: string;
  readonly approvedAtMs: number;
  readonly acceptProvisional: boolean;
  readonly done: boolean;
}

interface Attachment {
  readonly counterId: string;
  /** The awareness clients this socket announced, with their latest clock and state. */
  readonly clients: AwarenessEntry[];
}

export class CountSession extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private doc = new Y.Doc();
  /** Where an incoming update is tried first; rebuilt from `doc` after a refusal. */
  private shadow = new Y.Doc();
  private facts: CountFacts | null = null;
  private shape: CountShape = { skus: new Set(), zones: new Set() };
  private docBytes = 0;
  /** The log's length and bytes, kept beside it so an append does not count the table. */
  private logUpdates = 0;
  private logBytes = 0;
  /** Per socket, updates that arrived before what they depend on (in memory: a reconnect resyncs them). */
  private readonly waiting = new WeakMap<WebSocket, Uint8Array[]>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), data BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL);
    `);
    this.load();
  }

  /** Create the sheet: one empty line per SKU, written by the object so no clerk ever creates one. Idempotent. */
  init(facts: CountFacts): { created: boolean } {
    if (this.facts !== null) return { created: false };
    const doc = new Y.Doc();
    doc.transact(() => {
      const lines = doc.getMap<Y.Map<number>>("lines");
      for (const sku of facts.skus) lines.set(sku, new Y.Map<number>());
      doc.getMap<string>("meta").set("state", "open");
    });
    const snapshot = Y.encodeStateAsUpdate(doc);
    this.ctx.storage.transactionSync(() => {
      this.setMeta("facts", JSON.stringify(facts));
      this.setMeta("state", "open");
      this.sql.exec("INSERT OR REPLACE INTO snapshot (id, data) VALUES (1, ?)", snapshot);
    });
    this.load();
    return { created: true };
  }

  state(): CountState | null {
    return this.facts === null ? null : ((this.meta("state") as CountState | undefined) ?? "open");
  }

  /** Every line's entries, as plain numbers. */
  entries(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [sku, line] of this.doc.getMap<Y.Map<unknown>>("lines")) {
      const entries: Record<string, number> = {};
      for (const [key, v] of line) if (isEntryQty(v)) entries[key] = v;
      out[sku] = entries;
    }
    return out;
  }

  /** Freeze the sheet: later updates are refused; the document stays readable. Idempotent. */
  submit(): { state: CountState | null; changed: boolean } {
    if (this.facts === null) return { state: null, changed: false };
    if (this.state() !== "open") return { state: this.state(), changed: false };
    const before = Y.encodeStateVector(this.doc);
    this.doc.getMap<string>("meta").set("state", "submitted");
    const update = Y.encodeStateAsUpdate(this.doc, before);
    Y.applyUpdate(this.shadow, update);
    this.ctx.storage.transactionSync(() => {
      this.setMeta("state", "submitted");
      this.appendLog(update);
    });
    this.broadcast(encodeSync(SYNC_UPDATE, update), null);
    return { state: "submitted", changed: true };
  }

  /**
   * The approval's plan: the first call's plan is kept and every later call gets it back, so
   * approving twice, or concurrently, posts the same adjustments (once, by their movement ids).
   */
  beginApproval(plan: Omit<ApprovalPlan, "done">): { plan: ApprovalPlan; first: boolean } {
    return this.ctx.storage.transactionSync(() => {
      const seen = this.meta("approval");
      if (seen !== undefined) return { plan: JSON.parse(seen) as ApprovalPlan, first: false };
      const stored: ApprovalPlan = { ...plan, done: false };
      this.setMeta("approval", JSON.stringify(stored));
      return { plan: stored, first: true };
    });
  }

  finishApproval(): ApprovalPlan | null {
    return this.ctx.storage.transactionSync(() => {
      const seen = this.meta("approval");
      if (seen === undefined) return null;
      const plan = { ...(JSON.parse(seen) as ApprovalPlan), done: true };
      this.setMeta("approval", JSON.stringify(plan));
      this.setMeta("state", "approved");
      return plan;
    });
  }

  approval(): ApprovalPlan | null {
    const seen = this.meta("approval");
    return seen === undefined ? null : (JSON.parse(seen) as ApprovalPlan);
  }

  /**
   * The movements still in the outboxes of these SKUs' authorities that change `location` as of
   * `asOfMs` (I8). The report sends the SKUs here in slices: each call is its own invocation, so
   * no single request makes more subrequests than the platform allows.
   */
  async outboxEffects(location: string, skus: readonly string[], asOfMs: number): Promise<Movement[]> {
    if (skus.length > OUTBOX_SLICE_MAX) throw new Error(`outboxEffects: at most ${OUTBOX_SLICE_MAX} SKUs per call, got ${skus.length}`);
    const account = `loc:${location}`;
    const outboxes = await pooled(skus, FANOUT_CONCURRENCY, (sku) => skuAuthority(this.env, sku).unflushedMovements());
    return outboxes.flat().filter((m) => effectAsOf(m, account, asOfMs) !== 0);
  }

  /**
   * Post a slice of the approval's adjustments through their authorities (each idempotent by the
   * count and SKU); sliced like outboxEffects, so an approval of 10,000 lines stays under the
   * subrequest limit of any one invocation. The first problem, if any, is returned.
   */
  async postAdjustments(location: string, adjustments: readonly Adjustment[], source: Movement["source"]): Promise<Problem | null> {
    if (adjustments.length > OUTBOX_SLICE_MAX) throw new Error(`postAdjustments: at most ${OUTBOX_SLICE_MAX} per call, got ${adjustments.length}`);
    const countId = this.facts?.countId;
    if (countId === undefined) throw new Error("postAdjustments: the count does not exist");
    const posted = await pooled(adjustments, FANOUT_CONCURRENCY, (a) => skuAuthority(this.env, a.sku).adjustForCount({ sku: a.sku, location, countId, delta: a.delta, source }));
    for (const o of posted) if (!o.ok) return o.problem;
    return null;
  }

  /** Storage figures, for tests and the benchmark: log length and bytes, snapshot bytes, sockets. */
  storageStats(): { logUpdates: number; logBytes: number; snapshotBytes: number; sockets: number } {
    const log = this.sql.exec<{ n: number; b: number | null }>("SELECT COUNT(*) AS n, SUM(LENGTH(data)) AS b FROM updates").one();
    const snap = this.sql.exec<{ b: number | null }>("SELECT LENGTH(data) AS b FROM snapshot WHERE id = 1").toArray()[0];
    return { logUpdates: log.n, logBytes: log.b ?? 0, snapshotBytes: snap?.b ?? 0, sockets: this.ctx.getWebSockets().length };
  }

  /** The WebSocket upgrade, already authorized by the route, which names the counter. */
  override async fetch(request: Request): Promise<Response> {
    const counterId = request.headers.get("x-counter-id");
    if (this.facts === null || counterId === null || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("not a count sheet upgrade", { status: 400 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ counterId, clients: [] } satisfies Attachment);
    server.send(encodeSync(SYNC_STEP1, Y.encodeStateVector(this.doc)));
    const present = this.awarenessOfAll();
    if (present.length > 0) server.send(encodeAwareness(present));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message === "string") return this.close(ws, CLOSE.malformed, "text messages are not part of the protocol");
    if (message.byteLength > MESSAGE_BYTES_MAX) return this.close(ws, CLOSE.tooLarge, `messages are limited to ${MESSAGE_BYTES_MAX} bytes`);
    const msg = decodeMessage(new Uint8Array(message));
    if (msg === null) return this.close(ws, CLOSE.malformed, "malformed message");
    const att = ws.deserializeAttachment() as Attachment;
    switch (msg.kind) {
      case "step1": {
        let reply: Uint8Array;
        try {
          reply = Y.encodeStateAsUpdate(this.doc, msg.stateVector);
        } catch (error) {
          // Handled: a state vector Yjs cannot read is a malformed message.
          if (!(error instanceof Error)) throw error;
          return this.close(ws, CLOSE.malformed, "malformed state vector");
        }
        ws.send(encodeSync(SYNC_STEP2, reply));
        return;
      }
      case "update":
        return this.receiveUpdate(ws, att, msg.update);
      case "awareness": {
        if (msg.clients.some((c) => c.state.length > AWARENESS_STATE_BYTES_MAX)) return this.close(ws, CLOSE.tooLarge, `awareness states are limited to ${AWARENESS_STATE_BYTES_MAX} bytes`);
        const clients = [...att.clients.filter((c) => !msg.clients.some((m) => m.clientId === c.clientId)), ...msg.clients.filter((c) => c.state !== "null")].slice(-4);
        ws.serializeAttachment({ counterId: att.counterId, clients } satisfies Attachment);
        // To every socket, the sender's too: a lone y-websocket client otherwise reconnects every 30 s.
        this.broadcast(encodeAwareness(msg.clients), undefined);
        return;
      }
      case "query-awareness": {
        ws.send(encodeAwareness(this.awarenessOfAll()));
        return;
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.leave(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch (error) {
      // Handled: the socket may already be closed on our side; nothing else to do.
      if (!(error instanceof Error)) throw error;
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.leave(ws);
  }

  // ---- the update path --------------------------------------------------------------------------

  private receiveUpdate(ws: WebSocket, att: Attachment, received: Uint8Array): void {
    // An update whose dependencies have not arrived yet waits, per socket, for them; the wait is
    // bounded, and the updates are then checked together, as the sender's.
    const waiting = this.waiting.get(ws) ?? [];
    const update = waiting.length === 0 ? received : Y.mergeUpdates([...waiting, received]);
    if (this.docBytes + update.byteLength > DOC_BYTES_MAX) return this.close(ws, CLOSE.tooLarge, "the sheet has reached its size limit");
    const verdict = this.tryOnShadow(update, att.counterId);
    if (verdict.kind === "pending") {
      this.rebuildShadow();
      if (waiting.length >= WAITING_UPDATES_MAX) return this.close(ws, CLOSE.refused, "the updates depend on changes the sheet does not have; sync first");
      this.waiting.set(ws, [...waiting, received]);
      return;
    }
    this.waiting.delete(ws);
    if (verdict.kind === "refused") {
      this.rebuildShadow();
      return this.close(ws, verdict.code, verdict.reason);
    }
    if (verdict.kind === "nothing-new") return;
    Y.applyUpdate(this.doc, update, "client");
    this.ctx.storage.transactionSync(() => this.appendLog(update));
    this.broadcast(encodeSync(SYNC_UPDATE, update), ws);
  }

  /** Apply to the shadow and list what the update writes; decide whether the real document may take it. */
  private tryOnShadow(update: Uint8Array, counterId: string): { kind: "accepted" | "nothing-new" | "pending" } | { kind: "refused"; code: number; reason: string } {
    const lines = this.shadow.getMap<Y.Map<unknown>>("lines");
    const writes: EntryWrite[] = [];
    // Assigned inside the transaction observer, which TypeScript's flow analysis does not follow.
    let outside = null as string | null;
    let changed = false as boolean;
    const watch = (tr: Y.Transaction) => {
      changed ||= tr.deleteSet.clients.size > 0 || [...tr.afterState].some(([client, clock]) => (tr.beforeState.get(client) ?? 0) !== clock);
      for (const [type, keys] of tr.changed) {
        const parent = type._item?.parent;
        if ((type as unknown) === lines) outside ??= "the lines of the sheet are fixed by the count";
        else if (!(type instanceof Y.Map) || parent !== lines || typeof type._item?.parentSub !== "string") outside ??= "the update writes outside the count's lines";
        else {
          const sku = type._item.parentSub;
          if (type.size > ENTRIES_PER_LINE_MAX) outside ??= `line ${sku} would hold more than ${ENTRIES_PER_LINE_MAX} entries`;
          for (const key of keys) {
            if (key === null) outside ??= `line ${sku} must be a map of entries`;
            else writes.push({ sku, key, value: type.get(key) });
          }
        }
      }
    };
    this.shadow.on("afterTransaction", watch);
    try {
      Y.applyUpdate(this.shadow, update, "client");
    } catch (error) {
      // Handled: an update Yjs cannot read is malformed; the shadow is rebuilt by the caller.
      if (!(error instanceof Error)) throw error;
      return { kind: "refused", code: CLOSE.malformed, reason: "malformed update" };
    } finally {
      this.shadow.off("afterTransaction", watch);
    }
    if (this.shadow.store.pendingStructs !== null || this.shadow.store.pendingDs !== null) {
      return { kind: "pending" };
    }
    if (!changed) return { kind: "nothing-new" };
    if (this.state() !== "open") return { kind: "refused", code: CLOSE.frozen, reason: "the sheet is frozen: the count was submitted" };
    if (outside !== null) return { kind: "refused", code: CLOSE.refused, reason: outside.slice(0, 120) };
    for (const w of writes) {
      const why = refuseEntryWrite(w, counterId, this.shape);
      if (why !== null) return { kind: "refused", code: CLOSE.refused, reason: why.slice(0, 120) };
    }
    return { kind: "accepted" };
  }

  // ---- storage ----------------------------------------------------------------------------------

  /** Rebuild the document (and its shadow) from the snapshot and the log. */
  private load(): void {
    const facts = this.meta("facts");
    this.facts = facts === undefined ? null : (JSON.parse(facts) as CountFacts);
    this.shape = { skus: new Set(this.facts?.skus ?? []), zones: new Set(this.facts?.zones ?? []) };
    this.doc = new Y.Doc();
    this.docBytes = 0;
    const snap = this.sql.exec<{ data: ArrayBuffer }>("SELECT data FROM snapshot WHERE id = 1").toArray()[0];
    const log = this.sql.exec<{ data: ArrayBuffer }>("SELECT data FROM updates ORDER BY seq").toArray().map((r) => r.data);
    this.logUpdates = log.length;
    this.logBytes = log.reduce((n, d) => n + d.byteLength, 0);
    const parts = [...(snap === undefined ? [] : [snap.data]), ...log];
    this.doc.transact(() => {
      for (const p of parts) {
        Y.applyUpdate(this.doc, new Uint8Array(p));
        this.docBytes += p.byteLength;
      }
    });
    this.rebuildShadow();
  }

  private rebuildShadow(): void {
    this.shadow = new Y.Doc();
    Y.applyUpdate(this.shadow, Y.encodeStateAsUpdate(this.doc));
  }

  /** Append an accepted update; past the log's bounds, fold everything into one snapshot. Call in a transaction. */
  private appendLog(update: Uint8Array): void {
    this.sql.exec("INSERT INTO updates (data) VALUES (?)", update);
    this.docBytes += update.byteLength;
    this.logUpdates += 1;
    this.logBytes += update.byteLength;
    if (this.logUpdates >= LOG_UPDATES_MAX || this.logBytes >= LOG_BYTES_MAX) {
      const snapshot = Y.encodeStateAsUpdate(this.doc);
      this.sql.exec("INSERT OR REPLACE INTO snapshot (id, data) VALUES (1, ?)", snapshot);
      this.sql.exec("DELETE FROM updates");
      this.docBytes = snapshot.byteLength;
      this.logUpdates = 0;
      this.logBytes = 0;
    }
  }

  private meta(key: string): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  private setMeta(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  // ---- sockets ----------------------------------------------------------------------------------

  /** Send to every open socket except `except` (undefined: to every socket, null: likewise, from the object). */
  private broadcast(data: Uint8Array, except: WebSocket | null | undefined): void {
    for (const s of this.ctx.getWebSockets()) {
      if (s === except) continue;
      try {
        s.send(data);
      } catch (error) {
        // Handled: a socket closing under us gets its close event; the others still get the message.
        if (!(error instanceof Error)) throw error;
      }
    }
  }

  private awarenessOfAll(): AwarenessEntry[] {
    return this.ctx.getWebSockets().flatMap((s) => (s.deserializeAttachment() as Attachment | null)?.clients ?? []);
  }

  /** A socket left: tell the others its awareness clients are gone. */
  private leave(ws: WebSocket): void {
    const att = ws.deserializeAttachment() as Attachment | null;
    if (att === null || att.clients.length === 0) return;
    ws.serializeAttachment({ counterId: att.counterId, clients: [] } satisfies Attachment);
    this.broadcast(encodeAwareness(att.clients.map((c) => ({ clientId: c.clientId, clock: c.clock + 1, state: "null" }))), ws);
  }

  private close(ws: WebSocket, code: number, reason: string): void {
    console.warn(`count ${this.facts?.countId ?? "?"}: closing a socket: ${code} ${reason}`);
    this.leave(ws);
    ws.close(code, reason);
  }
}
