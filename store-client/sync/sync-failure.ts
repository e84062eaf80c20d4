/**
 * Every way a sync request can fail, as a closed list; each kind is retryable or not, once, here.
 *
 * Retryable kinds are the network's and the server's passing trouble: the engine waits (backoff)
 * and tries the same batch again, which is safe because the edge dedupes by (terminalId, seq).
 * The others mean retrying unchanged cannot help: a 400 or 413 is a bug in this client (the
 * batch is refused whole and nothing applied), a 401/403 needs a new token, an unknown status
 * needs a newer client. The engine stops on them with an error status instead of spinning.
 */
import type { WireProblem } from "./protocol";

export type SyncFailure =
  | { kind: "network"; detail: string }
  | { kind: "timeout"; detail: string }
  /** 429 or 503, with the server's Retry-After when it gave one. */
  | { kind: "overloaded"; status: number; retryAfterMs: number | null; problem: WireProblem | null }
  /** 408 or another 5xx. */
  | { kind: "server_error"; status: number; problem: WireProblem | null }
  /** A 2xx that is not the documented answer (a captive portal's page, a server bug). */
  | { kind: "bad_answer"; detail: string }
  /** 400, 413, 422: the edge refused the request as malformed. */
  | { kind: "refused"; status: number; problem: WireProblem | null }
  /** 401 or 403, or the token could not be had. */
  | { kind: "unauthorized"; status: number | null; problem: WireProblem | null; detail: string }
  | { kind: "unexpected_status"; status: number; problem: WireProblem | null }
  /** IndexedDB failed, or this client has a bug. */
  | { kind: "client_failure"; detail: string; cause: unknown };

export type SyncFailureKind = SyncFailure["kind"];

export const RETRYABLE = {
  network: true,
  timeout: true,
  overloaded: true,
  server_error: true,
  bad_answer: true,
  refused: false,
  unauthorized: false,
  unexpected_status: false,
  client_failure: false,
} as const satisfies Record<SyncFailureKind, boolean>;

export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: SyncFailure };

/** The failure an HTTP status that is not 2xx stands for. */
export function failureOfStatus(status: number, problem: WireProblem | null, retryAfterMs: number | null): SyncFailure {
  if (status === 429 || status === 503) return { kind: "overloaded", status, retryAfterMs, problem };
  if (status === 408 || (status >= 500 && status <= 599)) return { kind: "server_error", status, problem };
  if (status === 400 || status === 413 || status === 422) return { kind: "refused", status, problem };
  if (status === 401 || status === 403) return { kind: "unauthorized", status, problem, detail: problem?.detail ?? `status ${status}` };
  return { kind: "unexpected_status", status, problem };
}

export const describe = (cause: unknown): string => (cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause));
