/**
 * Validation of everything a client sends: bodies, path parameters, query strings and the
 * Idempotency-Key header, through Hono's validator with zod schemas. A failure is a 400
 * problem+json listing every `{path, message}`, before any state is touched (I7).
 */
import { zValidator } from "@hono/zod-validator";
import type { Context } from "hono";
import { z } from "zod";
import { ID_PATTERN } from "../../ledger/rules/ids";
import type { IdempotencyInput } from "../sku/sku-api";
import { problem, ProblemError, problemResponse, type FieldError } from "./problem";

/** Largest request body accepted anywhere, in bytes. */
export const BODY_BYTES_MAX = 64 * 1024;
/** Largest push from a terminal: 500 ops of a few hundred bytes each. */
export const SYNC_BODY_BYTES_MAX = 256 * 1024;

export const Id = z.string().regex(ID_PATTERN, { message: "must be 1–64 characters of A–Z a–z 0–9 . _ : -" });

export const Qty = (max: number) =>
  z
    .number({ message: "must be a number" })
    .int({ message: "must be a whole number" })
    .positive({ message: "must be at least 1" })
    .max(max, { message: `must be at most ${max}` });

const fieldErrors = (issues: readonly z.core.$ZodIssue[]): FieldError[] =>
  issues.map((i) => ({ path: i.path.length === 0 ? "" : `/${i.path.map(String).join("/")}`, message: i.message }));

const invalid = (where: string, issues: readonly z.core.$ZodIssue[]) =>
  problemResponse(problem("invalid_request", `the ${where} is not valid`, { errors: fieldErrors(issues) }));

export const json = <T extends z.ZodType>(schema: T) =>
  zValidator("json", schema, (result) => (result.success ? undefined : invalid("body", result.error.issues)));

export const params = <T extends z.ZodType>(schema: T) =>
  zValidator("param", schema, (result) => (result.success ? undefined : invalid("path", result.error.issues)));

export const query = <T extends z.ZodType>(schema: T) =>
  zValidator("query", schema, (result) => (result.success ? undefined : invalid("query", result.error.issues)));

/**
 * The request's Idempotency-Key, with a fingerprint of what it asks for (method, path, validated
 * body), or null when the client sent none. The same key with another fingerprint is a conflict.
 */
export async function idempotencyOf(c: Context, body: unknown): Promise<IdempotencyInput | null> {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return null;
  if (!ID_PATTERN.test(key)) {
    throw new ProblemError(problem("invalid_request", "the Idempotency-Key header is not valid", { errors: [{ path: "header/Idempotency-Key", message: "must be 1–64 characters of A–Z a–z 0–9 . _ : -" }] }));
  }
  const text = `${c.req.method} ${new URL(c.req.url).pathname} ${JSON.stringify(body ?? null)}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const fingerprint = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { key, fingerprint };
}

/** `idempotencyOf`, with the key scoped to the caller, for requests whose keys live in a SKU's authority. */
export async function callerIdempotency(c: Context, body: unknown, caller: string): Promise<IdempotencyInput | null> {
  const idem = await idempotencyOf(c, body);
  return idem === null ? null : { key: `${caller}:${idem.key}`, fingerprint: idem.fingerprint };
}
