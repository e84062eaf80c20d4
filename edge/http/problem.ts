/**
 * The one list of expected failures. Every outcome a client can cause is a `Problem` value with a
 * `kind` from this closed union; `PROBLEMS` maps each kind to its HTTP status and problem+json type
 * (RFC 9457). A kind without an entry fails to compile (`satisfies`).
 */

export type ProblemKind =
  | "invalid_request"
  | "malformed_json"
  | "unsupported_media_type"
  | "payload_too_large"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "unknown_sku"
  | "unknown_location"
  | "unknown_region"
  | "cart_not_found"
  | "cart_empty"
  | "cart_checked_out"
  | "insufficient_stock"
  | "hold_expired"
  | "idempotency_key_reused"
  | "seq_conflict"
  | "barcode_in_use"
  | "transfer_not_found"
  | "transfer_received"
  | "over_receipt"
  | "count_not_found"
  | "count_not_open"
  | "count_not_submitted"
  | "count_provisional"
  | "overloaded"
  | "unavailable"
  | "internal";

interface ProblemSpec {
  readonly status: number;
  readonly title: string;
  /** Whether the same request may succeed if sent again unchanged. */
  readonly retryable: boolean;
}

export const PROBLEMS = {
  invalid_request: { status: 400, title: "The request is not valid", retryable: false },
  malformed_json: { status: 400, title: "The body is not valid JSON", retryable: false },
  unsupported_media_type: { status: 415, title: "The body must be application/json", retryable: false },
  payload_too_large: { status: 413, title: "The body is too large", retryable: false },
  unauthorized: { status: 401, title: "Missing or invalid credentials", retryable: false },
  forbidden: { status: 403, title: "Not allowed for this role or scope", retryable: false },
  not_found: { status: 404, title: "Not found", retryable: false },
  method_not_allowed: { status: 405, title: "Method not allowed", retryable: false },
  unknown_sku: { status: 404, title: "Unknown SKU", retryable: false },
  unknown_location: { status: 404, title: "Unknown location", retryable: false },
  unknown_region: { status: 404, title: "Unknown region", retryable: false },
  cart_not_found: { status: 404, title: "Cart not found", retryable: false },
  cart_empty: { status: 409, title: "The cart holds nothing to check out", retryable: false },
  cart_checked_out: { status: 409, title: "The cart has been checked out", retryable: false },
  insufficient_stock: { status: 409, title: "Not enough stock available", retryable: true },
  hold_expired: { status: 409, title: "A hold expired and its stock is gone", retryable: false },
  idempotency_key_reused: { status: 409, title: "Idempotency-Key reused with a different request", retryable: false },
  seq_conflict: { status: 409, title: "This terminal already used the seq for a different operation", retryable: false },
  barcode_in_use: { status: 409, title: "The barcode belongs to another SKU", retryable: false },
  transfer_not_found: { status: 404, title: "Transfer not found", retryable: false },
  transfer_received: { status: 409, title: "The transfer has already been received", retryable: false },
  over_receipt: { status: 409, title: "More received than was sent", retryable: false },
  count_not_found: { status: 404, title: "Count not found", retryable: false },
  count_not_open: { status: 409, title: "The count is no longer open", retryable: false },
  count_not_submitted: { status: 409, title: "The count has not been submitted yet", retryable: true },
  count_provisional: { status: 409, title: "The count's report is provisional", retryable: true },
  overloaded: { status: 429, title: "Too many requests", retryable: true },
  unavailable: { status: 503, title: "Temporarily unavailable", retryable: true },
  internal: { status: 500, title: "Internal error", retryable: true },
} as const satisfies Record<ProblemKind, ProblemSpec>;

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export interface Problem {
  readonly kind: ProblemKind;
  readonly detail: string;
  /** Extension members (RFC 9457 §3.2), for example `errors` or `lines`. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export const problem = (kind: ProblemKind, detail: string, extra?: Readonly<Record<string, unknown>>): Problem =>
  extra === undefined ? { kind, detail } : { kind, detail, extra };

export const problemType = (kind: ProblemKind): string => kind.replaceAll("_", "-");

export function problemBody(p: Problem, instance?: string): Record<string, unknown> {
  const spec = PROBLEMS[p.kind];
  return {
    type: problemType(p.kind),
    title: spec.title,
    status: spec.status,
    detail: p.detail,
    ...(instance === undefined ? {} : { instance }),
    ...p.extra,
  };
}

export function problemResponse(p: Problem, init?: { instance?: string; headers?: Record<string, string> }): Response {
  const spec = PROBLEMS[p.kind];
  return new Response(JSON.stringify(problemBody(p, init?.instance)), {
    status: spec.status,
    headers: { "content-type": "application/problem+json", ...init?.headers },
  });
}

/** An expected outcome: a value, or the problem that prevented it. */
export type Result<T> = ({ readonly ok: true } & T) | { readonly ok: false; readonly problem: Problem };

/** Thrown inside request handling to leave through the error funnel as a problem response. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
    this.name = "ProblemError";
  }
}
