/**
 * The stock y-websocket client inside workerd: `WebsocketProvider` with a WebSocket class whose
 * connection is a `SELF.fetch` upgrade into the Worker, so the tests drive the count sheet exactly
 * as a browser's y-websocket does (same messages, same reconnects, same close handling).
 */
import { SELF } from "cloudflare:test";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

type Handler = ((event: any) => void) | null; // reason: y-websocket assigns DOM-style handlers of several event types

/** The WebSocket interface y-websocket uses, over a workerd client socket from `SELF.fetch`. */
export function fetchWebSocket(headers: Record<string, string> = {}) {
  return class FetchWebSocket {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    readonly CONNECTING = 0;
    readonly OPEN = 1;
    readonly CLOSING = 2;
    readonly CLOSED = 3;
    binaryType = "arraybuffer";
    readyState = 0;
    onopen: Handler = null;
    onmessage: Handler = null;
    onclose: Handler = null;
    onerror: Handler = null;
    private ws: WebSocket | null = null;
    constructor(url: string) {
      void SELF.fetch(url.replace(/^ws/, "http"), { headers: { upgrade: "websocket", ...headers } }).then(
        (res) => {
          const ws = res.webSocket;
          if (ws === null || ws === undefined) {
            this.readyState = 3;
            this.onclose?.({ code: 1006, reason: `HTTP ${res.status}` });
            return;
          }
          ws.accept();
          ws.binaryType = "arraybuffer";
          ws.addEventListener("message", (e) => this.onmessage?.({ data: e.data }));
          ws.addEventListener("close", (e) => {
            this.readyState = 3;
            this.onclose?.({ code: e.code, reason: e.reason });
          });
          this.ws = ws;
          this.readyState = 1;
          this.onopen?.({});
        },
        (error: unknown) => {
          this.readyState = 3;
          this.onerror?.({ error });
          this.onclose?.({ code: 1006, reason: String(error) });
        },
      );
    }
    send(data: Uint8Array | ArrayBuffer | string): void {
      this.ws?.send(data);
    }
    close(code?: number, reason?: string): void {
      if (this.readyState === 3) return;
      this.readyState = 3;
      try {
        this.ws?.close(code ?? 1000, reason ?? "");
      } catch {
        // already closing
      }
    }
  };
}

export interface Clerk {
  readonly doc: Y.Doc;
  readonly provider: WebsocketProvider;
  /** Close events the server sent ({code, reason}). */
  readonly closes: { code: number; reason: string }[];
  set(sku: string, zone: string, qty: number): void;
  total(sku: string): number;
  destroy(): void;
}

/** A clerk joining a count's sheet with the stock client; `token` goes in `params` (as browsers do) or a header. */
export function clerk(countId: string, counterId: string, token: string, opts: { via?: "param" | "header"; doc?: Y.Doc; connect?: boolean } = {}): Clerk {
  const doc = opts.doc ?? new Y.Doc();
  const via = opts.via ?? "param";
  const provider = new WebsocketProvider("ws://edgestock.test/v1/counts", `${countId}/sync`, doc, {
    // reason: the provider's type wants the DOM WebSocket constructor; this class has its interface.
    WebSocketPolyfill: fetchWebSocket(via === "header" ? { authorization: `Bearer ${token}` } : {}) as any,
    params: via === "param" ? { token } : {},
    disableBc: true,
    connect: opts.connect ?? true,
    maxBackoffTime: 200,
  });
  provider.awareness.setLocalStateField("counterId", counterId);
  const closes: { code: number; reason: string }[] = [];
  provider.on("connection-close", (e) => {
    if (e !== null) closes.push({ code: e.code, reason: e.reason });
  });
  const lines = doc.getMap<Y.Map<number>>("lines");
  return {
    doc,
    provider,
    closes,
    set: (sku, zone, qty) => {
      const line = lines.get(sku);
      if (line === undefined) throw new Error(`line ${sku} is not in the sheet yet`);
      line.set(`${counterId}:${zone}`, qty);
    },
    total: (sku) => [...(lines.get(sku)?.values() ?? [])].reduce((n, v) => n + v, 0),
    destroy: () => provider.destroy(),
  };
}

/** Wait until `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw socket into the sheet (for garbage and oversized messages). */
export async function rawSocket(countId: string, token: string): Promise<{ ws: WebSocket; messages: ArrayBuffer[]; closed: Promise<{ code: number; reason: string }> }> {
  const res = await SELF.fetch(`http://edgestock.test/v1/counts/${countId}/sync?token=${token}`, { headers: { upgrade: "websocket" } });
  const ws = res.webSocket;
  if (ws === null || ws === undefined) throw new Error(`no upgrade: ${res.status} ${await res.text()}`);
  ws.accept();
  ws.binaryType = "arraybuffer";
  const messages: ArrayBuffer[] = [];
  ws.addEventListener("message", (e) => messages.push(e.data as ArrayBuffer));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
  return { ws, messages, closed };
}
