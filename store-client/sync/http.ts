/**
 * The two requests of the sync protocol over an injected fetch-like transport, each ending in an
 * Outcome: the documented answer, or a SyncFailure saying why not. Nothing here retries; the
 * engine decides.
 *
 * Every request has a deadline on the injected clock, so a request the network swallowed ends as
 * a `timeout` instead of stalling the terminal's sync forever.
 */
import type { Clock } from "../clock";
import { parseRetryAfterMs } from "./backoff";
import { parseProblem, parsePullPage, parsePushAnswer, parseTerminalState, type PullPage, type PushRequest, type PushResult, type TerminalState, type WireProblem } from "./protocol";
import { describe, failureOfStatus, type Outcome } from "./sync-failure";

export interface TransportRequest {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  headers: { get(name: string): string | null };
  json(): Promise<unknown>;
}

/** What `fetch` is to this client; `globalThis.fetch` fits. */
export type Transport = (url: string, init: TransportRequest) => Promise<TransportResponse>;

export interface HttpDeps {
  baseUrl: string;
  token: () => Promise<string>;
  transport: Transport;
  clock: Clock;
  requestTimeoutMs: number;
}

export async function postPush(deps: HttpDeps, request: PushRequest, signal: AbortSignal): Promise<Outcome<PushResult[]>> {
  const answer = await send(deps, "/v1/sync/push", { method: "POST", body: JSON.stringify(request) }, signal);
  if (!answer.ok) return answer;
  const parsed = parsePushAnswer(answer.value, request.ops.map((op) => op.seq));
  return parsed.ok ? parsed : { ok: false, failure: { kind: "bad_answer", detail: parsed.detail } };
}

export async function getPull(deps: HttpDeps, cursor: string | null, limit: number, incarnation: string | null, signal: AbortSignal): Promise<Outcome<PullPage>> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor !== null) query.set("since", cursor);
  if (incarnation !== null) query.set("incarnation", incarnation);
  const answer = await send(deps, `/v1/sync/pull?${query.toString()}`, { method: "GET" }, signal);
  if (!answer.ok) return answer;
  const parsed = parsePullPage(answer.value);
  return parsed.ok ? parsed : { ok: false, failure: { kind: "bad_answer", detail: parsed.detail } };
}

export async function getState(deps: HttpDeps, signal: AbortSignal): Promise<Outcome<TerminalState>> {
  const answer = await send(deps, "/v1/sync/state", { method: "GET" }, signal);
  if (!answer.ok) return answer;
  const parsed = parseTerminalState(answer.value);
  return parsed.ok ? parsed : { ok: false, failure: { kind: "bad_answer", detail: parsed.detail } };
}

const TIMED_OUT = Symbol("timed out");
const ABORTED = Symbol("aborted");

/** One request: the parsed JSON body of a 2xx, or the failure. */
async function send(deps: HttpDeps, path: string, init: { method: "GET" | "POST"; body?: string }, outer: AbortSignal): Promise<Outcome<unknown>> {
  let token: string;
  try {
    token = await deps.token();
  } catch (cause) {
    return { ok: false, failure: { kind: "unauthorized", status: null, problem: null, detail: `no token: ${describe(cause)}` } };
  }
  const request: TransportRequest = { method: init.method, headers: { authorization: `Bearer ${token}`, accept: "application/json" } };
  if (init.body !== undefined) {
    request.headers["content-type"] = "application/json";
    request.body = init.body;
  }
  const url = deps.baseUrl.replace(/\/+$/, "") + path;
  const what = `${init.method} ${path}`;

  // The engine may have aborted while the token was fetched, before the listener below exists.
  if (outer.aborted) return { ok: false, failure: { kind: "network", detail: `${what}: aborted before it was sent` } };
  const controller = new AbortController();
  request.signal = controller.signal;
  const abort = (): void => controller.abort();
  outer.addEventListener("abort", abort);
  let timer: unknown;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = deps.clock.setTimeout(() => resolve(TIMED_OUT), deps.requestTimeoutMs);
  });
  const aborted = new Promise<typeof ABORTED>((resolve) => controller.signal.addEventListener("abort", () => resolve(ABORTED)));
  try {
    // The deadline covers the body too: a stalled body is as silent as a stalled connection. The
    // abort ends the wait itself, so neither depends on the transport honouring the signal.
    const outcome = await Promise.race([exchange(deps, url, request, what), deadline, aborted]);
    if (outcome === ABORTED) return { ok: false, failure: { kind: "network", detail: `${what}: aborted` } };
    if (outcome !== TIMED_OUT) return outcome;
    controller.abort();
    return { ok: false, failure: { kind: "timeout", detail: `${what} had no answer in ${deps.requestTimeoutMs} ms` } };
  } finally {
    deps.clock.clearTimeout(timer);
    outer.removeEventListener("abort", abort);
  }
}

async function exchange(deps: HttpDeps, url: string, request: TransportRequest, what: string): Promise<Outcome<unknown>> {
  let response: TransportResponse;
  try {
    response = await deps.transport(url, request);
  } catch (cause) {
    return { ok: false, failure: { kind: "network", detail: `${what}: ${describe(cause)}` } };
  }
  if (response.status >= 200 && response.status <= 299) {
    try {
      return { ok: true, value: await response.json() };
    } catch (cause) {
      return { ok: false, failure: { kind: "bad_answer", detail: `${what}: body is not JSON (${describe(cause)})` } };
    }
  }
  const problem = await readProblem(response);
  return { ok: false, failure: failureOfStatus(response.status, problem, parseRetryAfterMs(response.headers.get("retry-after"), deps.clock.now())) };
}

async function readProblem(response: TransportResponse): Promise<WireProblem | null> {
  try {
    return parseProblem(await response.json());
  } catch {
    // An error answer without a problem+json body (a proxy's page): the status says enough.
    return null;
  }
}
