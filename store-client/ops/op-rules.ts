/**
 * What a cashier's action becomes: lines in, ops out, each op one SKU of one kind. Pure.
 *
 * Invariant protected: nothing enters the outbox that the edge would refuse with a 400. A 400
 * refuses the whole push batch, so one malformed op recorded here would stop the terminal from
 * syncing anything after it. The checks mirror the edge's 400 rules (docs/sync-protocol.md):
 * ids of 1–64 characters of `A–Z a–z 0–9 . _ : -`, quantities positive integers, a write-off
 * reason from the closed list. Facts the edge may still reject one op at a time (an SKU it does not
 * know) are not checked here: the local catalog can be older than the edge's.
 */
import { isId, type ShrinkReason } from "../../ledger/rules/ids";
import type { OpKind, WireOp } from "../sync/protocol";

export const SHRINK_REASONS = ["damaged", "lost", "stolen", "expired"] as const satisfies readonly ShrinkReason[];

/** The edge's largest quantity of one pushed op (OP_QTY_MAX in edge/sync/sync-routes.ts). */
export const OP_QTY_MAX = 100_000;

/** One call records at most one push batch's worth of ops. */
export const LINES_PER_CALL_MAX = 500;

export interface Line {
  sku: string;
  qty: number;
  lot?: string;
}

export interface WriteOffLine extends Line {
  reason: ShrinkReason;
}

/** An op before it has a seq and a time: what a line says. */
export type OpDraft = Omit<WireOp, "seq" | "occurredAt">;

export interface FieldError {
  path: string;
  message: string;
}

export type OpProblem = { kind: "invalid_lines"; errors: FieldError[] };

export type Drafted = { ok: true; drafts: OpDraft[] } | { ok: false; problem: OpProblem };

/** Units into (+) or out of (−) the store's shelf for one op. */
export function stockDelta(op: Pick<WireOp, "kind" | "qty">): number {
  switch (op.kind) {
    case "sale":
    case "write_off":
      return -op.qty;
    case "return":
    case "receipt":
      return op.qty;
  }
}

/** Turn lines into op drafts, or say every line that is wrong and record nothing. */
export function draftOps(kind: OpKind, lines: readonly (Line | WriteOffLine)[]): Drafted {
  const errors: FieldError[] = [];
  if (!Array.isArray(lines) || lines.length === 0) errors.push({ path: "lines", message: "at least one line" });
  else if (lines.length > LINES_PER_CALL_MAX) errors.push({ path: "lines", message: `at most ${LINES_PER_CALL_MAX} lines` });
  if (errors.length > 0) return { ok: false, problem: { kind: "invalid_lines", errors } };

  const drafts: OpDraft[] = [];
  lines.forEach((line, i) => {
    const at = `lines[${i}]`;
    if (typeof line.sku !== "string" || !isId(line.sku)) errors.push({ path: `${at}.sku`, message: "1–64 characters of A–Z a–z 0–9 . _ : -" });
    if (!Number.isSafeInteger(line.qty) || line.qty < 1 || line.qty > OP_QTY_MAX) {
      errors.push({ path: `${at}.qty`, message: `a whole number from 1 to ${OP_QTY_MAX}` });
    }
    if (line.lot !== undefined && (typeof line.lot !== "string" || !isId(line.lot))) {
      errors.push({ path: `${at}.lot`, message: "1–64 characters of A–Z a–z 0–9 . _ : -" });
    }
    const draft: OpDraft = { kind, sku: line.sku, qty: line.qty };
    if (line.lot !== undefined) draft.lot = line.lot;
    if (kind === "write_off") {
      const reason = "reason" in line ? line.reason : undefined;
      const known = SHRINK_REASONS.find((r) => r === reason);
      if (known === undefined) errors.push({ path: `${at}.reason`, message: `one of ${SHRINK_REASONS.join(", ")}` });
      else draft.reason = known;
    }
    drafts.push(draft);
  });
  return errors.length > 0 ? { ok: false, problem: { kind: "invalid_lines", errors } } : { ok: true, drafts };
}

/** Give drafts consecutive seqs from `firstSeq` and the time they happened. */
export function numberOps(drafts: readonly OpDraft[], firstSeq: number, occurredAtMs: number): WireOp[] {
  if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) throw new Error(`seq must start at a positive integer, got ${firstSeq}`);
  const occurredAt = new Date(occurredAtMs).toISOString();
  return drafts.map((d, i) => ({ ...d, seq: firstSeq + i, occurredAt }));
}
