/**
 * What crosses the SkuAuthority's RPC boundary: the shapes of its requests and answers, all plain
 * structured-cloneable data, and the views of holds and transfers it answers with.
 */
import { isLive, type Hold } from "../../ledger/rules/holds";
import type { ShrinkReason } from "../../ledger/rules/ids";
import type { MovementSource } from "../../ledger/rules/movement";
import type { Transfer } from "../../ledger/rules/transfers";
import type { Shortfall } from "../../ledger/rules/events";
import type { Problem } from "../http/problem";

export interface TransferView {
  readonly transferId: string;
  readonly sku: string;
  readonly from: string;
  readonly to: string;
  readonly qty: number;
  readonly state: Transfer["state"];
  readonly received: number | null;
  readonly lost: number | null;
  readonly createdAt: string;
}

export interface WriteOffOutput {
  readonly movementId: string;
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
  readonly reason: ShrinkReason;
  readonly lot: string | null;
  readonly onHand: number;
  readonly available: number;
}

export interface FlushStats {
  /** The flushes this object made (each one request to the ledger writer, in an alarm). */
  flushes: number;
  /** D1 batches: each flush counts its share of the D1 batch it was landed in, so that the sum over SKUs is the D1 batches. */
  batches: number;
  movements: number;
  events: number;
  rowsWritten: number;
  failures: number;
  /** Landing lag of each flushed movement (recorded → landed), ms; the most recent ones. */
  lagsMs: number[];
}

export const transferView = (sku: string, t: Transfer): TransferView => ({
  transferId: t.transferId,
  sku,
  from: t.from,
  to: t.to,
  qty: t.qty,
  state: t.state,
  received: t.received,
  lost: t.lost,
  createdAt: new Date(t.createdAtMs).toISOString(),
});

export interface HoldView {
  readonly holdId: string;
  readonly location: string;
  readonly qty: number;
  readonly expiresAt: string;
  readonly state: Hold["state"];
}

export interface LocationAvailability {
  readonly location: string;
  readonly onHand: number;
  readonly held: number;
  readonly reserve: number;
  readonly available: number;
}

export interface Availability {
  readonly sku: string;
  readonly onHand: number;
  readonly held: number;
  readonly available: number;
  /** Units travelling between locations: available at neither end. */
  readonly inTransit: number;
  readonly locations: readonly LocationAvailability[];
  readonly transfers: readonly { transferId: string; from: string; to: string; qty: number }[];
}

export interface IdempotencyInput {
  readonly key: string;
  readonly fingerprint: string;
}

export interface ReceiptInput {
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
  readonly lot: string | null;
  readonly expiresOn: string | null;
  readonly ref: string | null;
  readonly source: MovementSource;
  readonly idempotency: IdempotencyInput | null;
}

export interface ReceiptOutput {
  readonly movementId: string;
  readonly sku: string;
  readonly location: string;
  readonly qty: number;
  readonly lot: string | null;
  readonly expiresOn: string | null;
  readonly ref: string | null;
  readonly onHand: number;
  readonly available: number;
}

export type HoldLineShort = { readonly lineIndex: number; readonly requested: number; readonly available: number };

export type HoldReply =
  | { readonly ok: true; readonly holds: readonly HoldView[] }
  | { readonly ok: false; readonly problem: Problem; readonly short?: readonly HoldLineShort[] };

/** Per-hold outcome of preparing a checkout: the hold is pinned, re-held under a new id, or lost. */
export type PrepareOutcome =
  | { readonly holdId: string; readonly ok: true; readonly holds: readonly HoldView[] }
  | { readonly holdId: string; readonly ok: false; readonly available: number };

export interface CommitOutcome {
  readonly holdId: string;
  readonly state: Hold["state"];
  readonly location: string;
  readonly qty: number;
  readonly movementId: string | null;
}

export const holdView = (h: Hold, nowMs: number): HoldView => ({
  holdId: h.holdId,
  location: h.location,
  qty: h.qty,
  expiresAt: new Date(h.expiresAtMs).toISOString(),
  // An active hold past its deadline has expired even if no one has written that down yet (I6).
  state: h.state === "active" && !isLive(h, nowMs) ? "expired" : h.state,
});

/** The answer to one terminal op (docs/sync-protocol.md). */
export interface TerminalOpResult {
  readonly seq: number;
  readonly status: "applied" | "duplicate" | "rejected";
  readonly problem?: Readonly<Record<string, unknown>>;
  readonly shortfall?: Shortfall;
}

/** The first phase of a checkout at one SKU (prepareCheckout). */
export interface PrepareRequest {
  readonly sku: string;
  readonly cartId: string;
  readonly requestId: string;
  readonly holdIds: readonly string[];
  readonly pinMs: number;
  readonly ttlMs: number;
}

/** The second phase (commit): these holds become the order's sales. */
export interface CommitRequest {
  readonly sku: string;
  readonly orderId: string;
  readonly holdIds: readonly string[];
  readonly source: MovementSource;
}
