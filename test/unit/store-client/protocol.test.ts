import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { backoffDelayMs, parseRetryAfterMs, type BackoffPolicy } from "../../../store-client/sync/backoff";
import { parsePullPage, parsePushAnswer } from "../../../store-client/sync/protocol";
import { failureOfStatus, RETRYABLE } from "../../../store-client/sync/sync-failure";

describe("reading push answers", () => {
  it("accepts one result per op, in op order, with problems and shortfalls", () => {
    const body = {
      results: [
        { seq: 41, status: "applied" },
        { seq: 42, status: "duplicate" },
        { seq: 43, status: "rejected", problem: { type: "unknown-sku", detail: "no such SKU" } },
        { seq: 44, status: "applied", shortfall: { location: "S001", units: 1, resourced: 1, short: 0 } },
      ],
    };
    expect(parsePushAnswer(body, [41, 42, 43, 44])).toEqual({ ok: true, value: body.results });
  });

  it.each([
    ["no results list", { ok: true }],
    ["a missing result", { results: [{ seq: 1, status: "applied" }] }],
    ["results out of op order", { results: [{ seq: 2, status: "applied" }, { seq: 1, status: "applied" }] }],
    ["an unknown status", { results: [{ seq: 1, status: "maybe" }, { seq: 2, status: "applied" }] }],
    ["a problem without a type", { results: [{ seq: 1, status: "rejected", problem: { detail: "x" } }, { seq: 2, status: "applied" }] }],
    ["a malformed shortfall", { results: [{ seq: 1, status: "applied", shortfall: { units: "1" } }, { seq: 2, status: "applied" }] }],
  ])("refuses an answer with %s, so none of it is applied", (_name, body) => {
    expect(parsePushAnswer(body, [1, 2]).ok).toBe(false);
  });
});

describe("reading pull pages", () => {
  it("accepts the documented shape", () => {
    const body = { changes: [{ sku: "A", location: "S001", onHand: 4, available: -1 }], cursor: "17", more: true };
    expect(parsePullPage(body)).toEqual({ ok: true, value: body });
  });
  it.each([
    ["no cursor", { changes: [], more: false }],
    ["a fractional on-hand", { changes: [{ sku: "A", location: "S001", onHand: 1.5, available: 0 }], cursor: "1", more: false }],
    ["an HTML page", "<html>captive portal</html>"],
  ])("refuses a page with %s", (_name, body) => {
    expect(parsePullPage(body).ok).toBe(false);
  });
});

describe("which failures are retried", () => {
  it.each([
    [400, "refused", false],
    [413, "refused", false],
    [401, "unauthorized", false],
    [403, "unauthorized", false],
    [404, "unexpected_status", false],
    [408, "server_error", true],
    [429, "overloaded", true],
    [500, "server_error", true],
    [503, "overloaded", true],
  ] as const)("status %i is %s (retryable: %s)", (status, kind, retryable) => {
    const failure = failureOfStatus(status, null, null);
    expect(failure.kind).toBe(kind);
    expect(RETRYABLE[failure.kind]).toBe(retryable);
  });
});

describe("backoff", () => {
  const policy: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, retryAfterMaxMs: 300_000 };

  it.each([
    [1, 0, 500],
    [1, 0.999_999, 1_000],
    [2, 0.5, 1_500],
    [3, 0, 2_000],
    [7, 0.999_999, 60_000],
    [50, 0, 30_000],
  ])("retry %i with random %f waits %i ms: doubling, jittered in the upper half, capped", (attempt, r, expected) => {
    expect(backoffDelayMs(attempt, policy, () => r)).toBe(expected);
  });

  it("waits at least the server's Retry-After, up to a bound", () => {
    expect(backoffDelayMs(1, policy, () => 0, 7_000)).toBe(7_000);
    expect(backoffDelayMs(1, policy, () => 0, 3_600_000)).toBe(300_000);
    expect(backoffDelayMs(5, policy, () => 0, 10)).toBe(8_000);
  });

  it("reads Retry-After as seconds or as a date", () => {
    const now = Date.UTC(2026, 10, 25, 10, 0, 0);
    expect(parseRetryAfterMs("7", now)).toBe(7_000);
    expect(parseRetryAfterMs(new Date(now + 12_000).toUTCString(), now)).toBe(12_000);
    expect(parseRetryAfterMs("soon", now)).toBeNull();
    expect(parseRetryAfterMs(null, now)).toBeNull();
  });

  it("refuses an attempt number below 1 and a random outside [0, 1)", () => {
    expect(() => backoffDelayMs(0, policy, () => 0)).toThrow();
    expect(() => backoffDelayMs(1, policy, () => 1)).toThrow();
  });
});
