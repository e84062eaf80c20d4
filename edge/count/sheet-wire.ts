/**
 * The count sheet's wire messages: the y-websocket protocol (y-protocols sync and awareness), so
 * the stock `y-websocket` client joins unchanged. Only framing lives here; the CountSession decides.
 *
 *   message    = varUint type, payload
 *   type 0     sync: varUint subtype (0 step1 state vector | 1 step2 update | 2 update), varUint8Array
 *   type 1     awareness: varUint8Array (varUint n, n × (varUint clientID, varUint clock, varString state))
 *   type 3     query awareness (no payload)
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_QUERY_AWARENESS = 3;
export const SYNC_STEP1 = 0;
export const SYNC_STEP2 = 1;
export const SYNC_UPDATE = 2;

export type SheetMessage =
  | { readonly kind: "step1"; readonly stateVector: Uint8Array }
  | { readonly kind: "update"; readonly update: Uint8Array }
  | { readonly kind: "awareness"; readonly raw: Uint8Array; readonly clients: readonly AwarenessEntry[] }
  | { readonly kind: "query-awareness" };

export interface AwarenessEntry {
  readonly clientId: number;
  readonly clock: number;
  /** The state as JSON text; "null" when the client left. */
  readonly state: string;
}

/** Decode one message, or null if it is not one (lib0 throws on truncated input; that is malformed too). */
export function decodeMessage(data: Uint8Array): SheetMessage | null {
  try {
    const d = decoding.createDecoder(data);
    const type = decoding.readVarUint(d);
    let out: SheetMessage | null = null;
    if (type === MESSAGE_SYNC) {
      const sub = decoding.readVarUint(d);
      const payload = decoding.readVarUint8Array(d);
      if (sub === SYNC_STEP1) out = { kind: "step1", stateVector: payload };
      else if (sub === SYNC_STEP2 || sub === SYNC_UPDATE) out = { kind: "update", update: payload };
    } else if (type === MESSAGE_AWARENESS) {
      const raw = decoding.readVarUint8Array(d);
      out = { kind: "awareness", raw, clients: decodeAwareness(raw) };
    } else if (type === MESSAGE_QUERY_AWARENESS) {
      out = { kind: "query-awareness" };
    }
    return out !== null && !decoding.hasContent(d) ? out : null;
  } catch (error) {
    // Handled: a message lib0 cannot read is malformed, which the caller answers by closing that socket.
    if (error instanceof Error) return null;
    throw error;
  }
}

function decodeAwareness(raw: Uint8Array): AwarenessEntry[] {
  const d = decoding.createDecoder(raw);
  const n = decoding.readVarUint(d);
  const out: AwarenessEntry[] = [];
  for (let i = 0; i < n; i++) {
    const clientId = decoding.readVarUint(d);
    const clock = decoding.readVarUint(d);
    const state = decoding.readVarString(d);
    JSON.parse(state);
    out.push({ clientId, clock, state });
  }
  if (decoding.hasContent(d)) throw new Error("trailing bytes in an awareness update");
  return out;
}

export function encodeAwareness(entries: readonly AwarenessEntry[]): Uint8Array {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(inner, e.clientId);
    encoding.writeVarUint(inner, e.clock);
    encoding.writeVarString(inner, e.state);
  }
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(e, encoding.toUint8Array(inner));
  return encoding.toUint8Array(e);
}

export function encodeSync(sub: number, payload: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_SYNC);
  encoding.writeVarUint(e, sub);
  encoding.writeVarUint8Array(e, payload);
  return encoding.toUint8Array(e);
}
