/**
 * The attention list: rejected operations and shortfalls, in words a cashier understands. Pure.
 *
 * A rejected op did not change stock at head office: someone has to redo it or tell the office. A
 * shortfall is a sale that went through but took units an online order was counting on: the
 * online team has to know. Neither is the cashier's fault; each says what happened and what to do.
 */
import type { OpView } from "../../../store-client/status/sync-status";
import type { SyncStatus } from "../../../store-client/status/sync-status";

export interface AttentionItem {
  seq: number;
  kind: "rejected" | "shortfall";
  /** One line: what happened. */
  title: string;
  /** What to do about it. */
  action: string;
}

const OP_WORDS = { sale: "Sale", return: "Return", write_off: "Write-off", receipt: "Delivery" } as const;

type NameOf = (sku: string) => string;

function what(op: OpView, nameOf: NameOf): string {
  return `${OP_WORDS[op.kind]} of ${op.qty} × ${nameOf(op.sku)}`;
}

function reason(op: OpView): string {
  const type = op.problem?.type ?? "";
  if (/unknown[-_]sku/.test(type)) return "head office does not know this item";
  if (/unknown[-_]location/.test(type)) return "this store is not set up at head office";
  if (/seq[-_]conflict/.test(type)) return "this till sent a different record under the same number before";
  if (/invalid/.test(type)) return "the record was incomplete";
  return op.problem?.detail !== undefined && op.problem.detail.length > 0 ? `head office said: ${op.problem.detail}` : "head office did not accept it";
}

export function attentionItem(op: OpView, nameOf: NameOf): AttentionItem {
  if (op.state === "rejected") {
    return {
      seq: op.seq,
      kind: "rejected",
      title: `${what(op, nameOf)} was not recorded: ${reason(op)}.`,
      action: "Stock was not changed at head office. Tell your manager; redo it once it is fixed.",
    };
  }
  const short = op.shortfall;
  const units = short === null ? "" : ` ${short.units === 1 ? "1 unit" : `${short.units} units`}`;
  const after =
    short === null
      ? "The online team has been told."
      : short.short === 0
        ? "Those orders are now served from another location; nothing to do here."
        : `${short.short === 1 ? "1 unit" : `${short.short} units`} of online orders could not be served elsewhere; the online team has been told.`;
  return {
    seq: op.seq,
    kind: "shortfall",
    title: `${what(op, nameOf)} went through, but${units} had been promised to online orders.`,
    action: after,
  };
}

/** Rejections first (they need someone to act), then shortfalls; oldest first within each. */
export function attentionList(status: Pick<SyncStatus, "needsAttention" | "shortfalls">, nameOf: NameOf): AttentionItem[] {
  return [...status.needsAttention.map((op) => attentionItem(op, nameOf)), ...status.shortfalls.map((op) => attentionItem(op, nameOf))];
}
