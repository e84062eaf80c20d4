/**
 * Transfers and write-offs: stock leaving a location for another location or for shrink.
 *
 *   transfer out   loc:A → transit:T          (units are at neither end while in transit)
 *   receive        transit:T → loc:B          (what arrived)
 *                  transit:T → shrink:lost    (what did not: a short receipt)
 *   write-off      loc:S → shrink:<reason>
 *
 * A transfer is received once, and never for more than was sent. Units claimed by holds cannot
 * leave: a location gives up at most `onHand − held` (its reserve may leave; it is only kept from
 * online orders). Pure: ids and the clock are inputs.
 */
import type { LocationStock } from "./holds";
import { locationAccount, type ShrinkReason } from "./ids";
import type { Movement, MovementSource } from "./movement";

export type TransferState = "in_transit" | "received";

export interface Transfer {
  readonly transferId: string;
  readonly from: string;
  readonly to: string;
  readonly qty: number;
  readonly state: TransferState;
  readonly received: number | null;
  readonly lost: number | null;
  readonly createdAtMs: number;
}

export const transitAccount = (transferId: string): `transit:${string}` => `transit:${transferId}`;

/** Units that may leave a location other than by an online hold: on hand and not held. */
export const movable = (s: LocationStock | undefined): number => (s === undefined ? 0 : Math.max(0, s.onHand - s.held));

interface Ctx {
  readonly sku: string;
  readonly nowMs: number;
  readonly source: MovementSource;
}

const movement = (ctx: Ctx, id: string, from: Movement["from"], to: Movement["to"], qty: number, ref: string | null, lot: string | null = null): Movement => ({
  id,
  sku: ctx.sku,
  from,
  to,
  qty,
  occurredAtMs: ctx.nowMs,
  recordedAtMs: ctx.nowMs,
  source: ctx.source,
  ref,
  lot,
  expiresOn: null,
});

export type OutResult = { ok: true; transfer: Transfer; movement: Movement } | { ok: false; kind: "insufficient_stock"; movable: number };

export function transferOut(stock: LocationStock | undefined, req: { transferId: string; from: string; to: string; qty: number }, ctx: Ctx): OutResult {
  const can = movable(stock);
  if (can < req.qty) return { ok: false, kind: "insufficient_stock", movable: can };
  return {
    ok: true,
    transfer: { transferId: req.transferId, from: req.from, to: req.to, qty: req.qty, state: "in_transit", received: null, lost: null, createdAtMs: ctx.nowMs },
    movement: movement(ctx, `xfer.${req.transferId}.out`, locationAccount(req.from), transitAccount(req.transferId), req.qty, req.transferId),
  };
}

export type InResult =
  | { ok: true; transfer: Transfer; movements: Movement[] }
  | { ok: false; kind: "transfer_received"; transfer: Transfer }
  | { ok: false; kind: "over_receipt"; transfer: Transfer };

export function receiveTransfer(transfer: Transfer, qty: number, ctx: Ctx): InResult {
  if (transfer.state !== "in_transit") return { ok: false, kind: "transfer_received", transfer };
  if (qty > transfer.qty) return { ok: false, kind: "over_receipt", transfer };
  const lost = transfer.qty - qty;
  const transit = transitAccount(transfer.transferId);
  const movements: Movement[] = [];
  if (qty > 0) movements.push(movement(ctx, `xfer.${transfer.transferId}.in`, transit, locationAccount(transfer.to), qty, transfer.transferId));
  if (lost > 0) movements.push(movement(ctx, `xfer.${transfer.transferId}.lost`, transit, "shrink:lost", lost, transfer.transferId));
  return { ok: true, transfer: { ...transfer, state: "received", received: qty, lost }, movements };
}

export type WriteOffResult = { ok: true; movement: Movement } | { ok: false; kind: "insufficient_stock"; movable: number };

export function writeOff(stock: LocationStock | undefined, req: { id: string; location: string; qty: number; reason: ShrinkReason; lot: string | null }, ctx: Ctx): WriteOffResult {
  const can = movable(stock);
  if (can < req.qty) return { ok: false, kind: "insufficient_stock", movable: can };
  return { ok: true, movement: movement(ctx, req.id, locationAccount(req.location), `shrink:${req.reason}`, req.qty, null, req.lot) };
}
