/**
 * A clerk's count sheet in the browser (docs/counts.md): a Yjs document bound to the count's sync
 * socket with the stock `y-websocket` provider, and kept in IndexedDB with `y-indexeddb`, so a
 * clerk keeps counting offline and the sheet merges when the network returns. The screen reads
 * and writes through this object only; it never touches the document or the protocol.
 *
 * The clerk writes only their own entries (`"<counterId>:<zone>"`), into lines the count created;
 * the edge refuses anything else and closes the socket with the reason (connection "refused").
 *
 *   connecting ──open──▶ connected ──network lost──▶ offline ──back──▶ connecting
 *        └──────────── closed 44xx by the edge (refused, frozen) ──▶ refused (no reconnect)
 */
import { IndexeddbPersistence } from "y-indexeddb";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { ENTRY_QTY_MAX, isEntryQty, ZONE_PATTERN } from "../../ledger/rules/count-sheet";

export type SheetConnection = "connecting" | "connected" | "offline" | "refused";

export interface Presence {
  readonly counterId: string;
  readonly zone?: string;
}

export type SetResult = { readonly ok: true } | { readonly ok: false; readonly problem: string };

export interface CountSheet {
  readonly countId: string;
  /** This clerk's counter id: their token's subject. */
  readonly counterId: string;
  /** Set this clerk's quantity of `sku` in `zone`, online or not. */
  set(sku: string, zone: string, qty: number): SetResult;
  /** Counted quantity of a SKU: the sum of every counter's entries. */
  total(sku: string): number;
  /** Every entry of a SKU, by "<counterId>:<zone>". */
  entries(sku: string): Record<string, number>;
  /** The SKUs of the sheet (known once it has synced, or from the device's copy). */
  skus(): string[];
  /** The counters present now (awareness), this clerk included. */
  presence(): Presence[];
  /** Tell the others which zone this clerk is counting. */
  setZone(zone: string): void;
  connection(): SheetConnection;
  /** Why the edge closed the socket, when connection() is "refused". */
  refusal(): string | null;
  /** Whether the count was submitted: the sheet is read-only. */
  frozen(): boolean;
  /** Whether the sheet has synced with the edge at least once on this connection. */
  synced(): boolean;
  subscribe(listener: () => void): () => void;
  close(): Promise<void>;
}

export interface OpenCountOptions {
  /** The edge, e.g. `https://edgestock.example.com` (http → ws, https → wss). */
  readonly baseUrl: string;
  readonly countId: string;
  /** The clerk's staff token (not the terminal's): sent as the `token` parameter, which browsers need for WebSockets. */
  readonly token: string;
  /** Keep the sheet in IndexedDB (default true). */
  readonly persist?: boolean;
  /** For Node and tests: a WebSocket class (`ws`). Default the global one. */
  // reason: y-websocket types this as the DOM WebSocket constructor; a `ws` class has its interface.
  readonly WebSocket?: any;
}

/** The `sub` claim of a JWT (not verified here: the edge does that; this only names the clerk's entries). */
export function subjectOf(token: string): string {
  const payload = token.split(".")[1];
  if (payload === undefined) throw new Error("the token is not a JWT");
  const json = atob(payload.replaceAll("-", "+").replaceAll("_", "/").padEnd(Math.ceil(payload.length / 4) * 4, "="));
  const sub = (JSON.parse(json) as { sub?: unknown }).sub;
  if (typeof sub !== "string") throw new Error("the token names no subject");
  return sub;
}

export async function openCount(options: OpenCountOptions): Promise<CountSheet> {
  const counterId = subjectOf(options.token);
  const doc = new Y.Doc();
  const persistence = options.persist === false ? null : new IndexeddbPersistence(`edgestock-count-${options.countId}-${counterId}`, doc);
  if (persistence !== null) await persistence.whenSynced;
  const url = `${options.baseUrl.replace(/^http/, "ws")}/v1/counts`;
  const provider = new WebsocketProvider(url, `${options.countId}/sync`, doc, {
    params: { token: options.token },
    disableBc: true,
    ...(options.WebSocket === undefined ? {} : { WebSocketPolyfill: options.WebSocket }),
  });
  provider.awareness.setLocalStateField("counterId", counterId);
  let connection: SheetConnection = "connecting";
  let refusal: string | null = null;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of listeners) l();
  };
  provider.on("status", ({ status }) => {
    if (connection === "refused") return;
    connection = status === "connected" ? "connected" : status === "connecting" ? "connecting" : "offline";
    notify();
  });
  provider.on("closed", ({ code, reason }) => {
    connection = "refused";
    refusal = `${code} ${reason}`;
    notify();
  });
  provider.on("sync", notify);
  doc.on("update", notify);
  provider.awareness.on("change", notify);

  const lines = doc.getMap<Y.Map<unknown>>("lines");
  const entries = (sku: string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [k, v] of lines.get(sku) ?? []) if (isEntryQty(v)) out[k] = v;
    return out;
  };
  const frozen = () => {
    const state = doc.getMap<string>("meta").get("state");
    return state !== undefined && state !== "open";
  };
  return {
    countId: options.countId,
    counterId,
    set(sku, zone, qty) {
      if (frozen()) return { ok: false, problem: "the count was submitted; the sheet is read-only" };
      if (!ZONE_PATTERN.test(zone)) return { ok: false, problem: "a zone is 1–32 characters of A–Z a–z 0–9 . _ -" };
      if (!isEntryQty(qty)) return { ok: false, problem: `a quantity is a whole number from 0 to ${ENTRY_QTY_MAX}` };
      const line = lines.get(sku);
      // Lines are created by the count, never by a clerk: two devices creating one would lose entries on merge.
      if (line === undefined) return { ok: false, problem: `${sku} is not on this count's sheet (or the sheet has not synced yet)` };
      line.set(`${counterId}:${zone}`, qty);
      return { ok: true };
    },
    total: (sku) => Object.values(entries(sku)).reduce((n, v) => n + v, 0),
    entries,
    skus: () => [...lines.keys()].sort(),
    presence: () =>
      [...provider.awareness.getStates().values()].flatMap((s): Presence[] => {
        const id = (s as { counterId?: unknown }).counterId;
        const zone = (s as { zone?: unknown }).zone;
        return typeof id === "string" ? [typeof zone === "string" ? { counterId: id, zone } : { counterId: id }] : [];
      }),
    setZone: (zone) => provider.awareness.setLocalStateField("zone", zone),
    connection: () => connection,
    refusal: () => refusal,
    frozen,
    synced: () => provider.synced,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      provider.destroy();
      if (persistence !== null) await persistence.destroy();
      doc.destroy();
    },
  };
}
