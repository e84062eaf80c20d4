/**
 * The wire contract of docs/sync-protocol.md as types, and the checks the client runs on every
 * answer before it lets one change its database: an answer that is not the documented shape is
 * never half-applied.
 *
 * The checks are hand-written rather than a schema library so the browser bundle stays small.
 */
import type { ShrinkReason } from "../../ledger/rules/ids";

export type OpKind = "sale" | "return" | "write_off" | "receipt";

/** One op as pushed: `(terminalId, seq)` names it forever. */
export interface WireOp {
  seq: number;
  kind: OpKind;
  sku: string;
  qty: number;
  /** ISO 8601, the terminal's clock when the cashier did it. */
  occurredAt: string;
  reason?: ShrinkReason;
  lot?: string;
}

export interface PushRequest {
  terminalId: string;
  /** The local database's id; absent only for databases made before incarnations. */
  incarnation?: string;
  ops: WireOp[];
}

/** `GET /v1/sync/state`: where the edge says this terminal stands. */
export interface TerminalState {
  terminalId: string;
  /** The incarnation that pushed last, if any named one. */
  incarnation: string | null;
  lastSeq: number;
  lastSyncAt: string | null;
}

export type PushStatus = "applied" | "duplicate" | "rejected";

/** An RFC 9457 problem as the edge sends it; only `type` is relied on. */
export interface WireProblem {
  type: string;
  title?: string;
  detail?: string;
  status?: number;
}

export interface Shortfall {
  location: string;
  units: number;
  resourced: number;
  short: number;
}

export interface PushResult {
  seq: number;
  status: PushStatus;
  problem?: WireProblem;
  shortfall?: Shortfall;
}

export interface PullChange {
  sku: string;
  location: string;
  onHand: number;
  available: number;
  /** The highest seq of this database's ops these figures include; absent when the page shows none of them for this SKU. */
  includesSeq?: number;
}

export interface PullPage {
  changes: PullChange[];
  cursor: string;
  more: boolean;
}

/** The edge refuses a larger push with a 400 (docs/sync-protocol.md). */
export const PUSH_OPS_MAX = 500;

/**
 * The edge takes push bodies up to 256 KiB (SYNC_BODY_BYTES_MAX in edge/http/validate.ts) and
 * answers 413 above. 500 ops of the longest ids come to about 125 kB, so this only guards.
 */
export const PUSH_BODY_BYTES_MAX = 250_000;

export type Parsed<T> = { ok: true; value: T } | { ok: false; detail: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
const PUSH_STATUSES: readonly PushStatus[] = ["applied", "duplicate", "rejected"];

export function parseProblem(v: unknown): WireProblem | null {
  if (!isRecord(v) || typeof v.type !== "string") return null;
  const problem: WireProblem = { type: v.type };
  if (typeof v.title === "string") problem.title = v.title;
  if (typeof v.detail === "string") problem.detail = v.detail;
  if (isInt(v.status)) problem.status = v.status;
  return problem;
}

function parseShortfall(v: unknown): Shortfall | null {
  if (!isRecord(v)) return null;
  const { location, units, resourced, short } = v;
  if (typeof location !== "string" || !isInt(units) || !isInt(resourced) || !isInt(short)) return null;
  return { location, units, resourced, short };
}

/**
 * The push answer for the ops `sentSeqs`, in that order: exactly one result per op, in op order
 * (the contract). Anything else is a server bug, and nothing of it is applied.
 */
export function parsePushAnswer(body: unknown, sentSeqs: readonly number[]): Parsed<PushResult[]> {
  if (!isRecord(body) || !Array.isArray(body.results)) return { ok: false, detail: "push answer has no results list" };
  if (body.results.length !== sentSeqs.length) {
    return { ok: false, detail: `push answer has ${body.results.length} results for ${sentSeqs.length} ops` };
  }
  const results: PushResult[] = [];
  for (const [i, raw] of body.results.entries()) {
    const seq = sentSeqs[i];
    if (seq === undefined || !isRecord(raw) || raw.seq !== seq) return { ok: false, detail: `result ${i} is not for seq ${seq}` };
    const status = PUSH_STATUSES.find((s) => s === raw.status);
    if (status === undefined) return { ok: false, detail: `result for seq ${seq} has status ${String(raw.status)}` };
    const result: PushResult = { seq, status };
    if (raw.problem !== undefined) {
      const problem = parseProblem(raw.problem);
      if (problem === null) return { ok: false, detail: `result for seq ${seq} has a malformed problem` };
      result.problem = problem;
    }
    if (raw.shortfall !== undefined && raw.shortfall !== null) {
      const shortfall = parseShortfall(raw.shortfall);
      if (shortfall === null) return { ok: false, detail: `result for seq ${seq} has a malformed shortfall` };
      result.shortfall = shortfall;
    }
    results.push(result);
  }
  return { ok: true, value: results };
}

export function parsePullPage(body: unknown): Parsed<PullPage> {
  if (!isRecord(body) || !Array.isArray(body.changes)) return { ok: false, detail: "pull answer has no changes list" };
  if (typeof body.cursor !== "string" || typeof body.more !== "boolean") return { ok: false, detail: "pull answer lacks cursor or more" };
  const changes: PullChange[] = [];
  for (const [i, raw] of body.changes.entries()) {
    if (!isRecord(raw)) return { ok: false, detail: `change ${i} is not an object` };
    const { sku, location, onHand, available, includesSeq } = raw;
    if (typeof sku !== "string" || typeof location !== "string" || !isInt(onHand) || !isInt(available)) {
      return { ok: false, detail: `change ${i} is not {sku, location, onHand, available}` };
    }
    if (includesSeq !== undefined && !(isInt(includesSeq) && includesSeq > 0)) return { ok: false, detail: `change ${i} has a malformed includesSeq` };
    changes.push(includesSeq === undefined ? { sku, location, onHand, available } : { sku, location, onHand, available, includesSeq });
  }
  return { ok: true, value: { changes, cursor: body.cursor, more: body.more } };
}

export function parseTerminalState(body: unknown): Parsed<TerminalState> {
  if (!isRecord(body)) return { ok: false, detail: "sync state is not an object" };
  const { terminalId, incarnation, lastSeq, lastSyncAt } = body;
  if (typeof terminalId !== "string" || !(incarnation === null || typeof incarnation === "string") || !isInt(lastSeq) || !(lastSyncAt === null || typeof lastSyncAt === "string")) {
    return { ok: false, detail: "sync state is not {terminalId, incarnation, lastSeq, lastSyncAt}" };
  }
  return { ok: true, value: { terminalId, incarnation, lastSeq, lastSyncAt } };
}
