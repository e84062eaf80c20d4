/**
 * A count's report (docs/counts.md, I8): expected = the units at `loc:<location>` as of the
 * count's start by occurredAt, and whether the report can be sure yet.
 *
 * expected(sku) = ledger balance now
 *               − what landed movements with occurredAt after the start did to the location
 *               + what movements still in the authority's outbox, occurredAt at or before the start, do to it.
 *
 * Only movements after the start are read (the movements' key begins with (sku, occurred_at): one range per SKU),
 * never the whole ledger. The outbox part asks only the authorities the outbox registry lists
 * (edge/sku/outbox-registry.ts): an authority joins it before it commits a movement and leaves
 * only once its outbox has been empty for a while, so an unlisted SKU has all its acknowledged
 * movements in D1 already. Order: registry, then the listed authorities, then D1. A movement that
 * lands between an authority's answer and the D1 read is in both, and is counted once by id.
 *
 * Provisional: a terminal of the store that has not synced since before the start may hold sales
 * from before it, which would lower `expected`; the report names those terminals until they sync.
 */
import { effectAsOf, isPendingTerminal } from "../../ledger/rules/count-sheet";
import type { Movement } from "../../ledger/rules/movement";
import type { Env } from "../env";
import { landedMovementIds } from "../sku/ledger-sink";
import { registryShard } from "../sku/outbox-registry";
import { chunks } from "../chunks";
import { countSession, outboxRegistryShard } from "../stubs";
import { OUTBOX_SLICE_MAX, pooled } from "./fan-out";

/** Slices of SKUs asked at once. */
const SLICES_AT_ONCE = 4;

/** SKUs per D1 statement when SKUs are passed as a JSON list. */
const JSON_SKUS_MAX = 5_000;

export interface PendingTerminal {
  readonly terminalId: string;
  readonly lastSyncAt: string;
}

/** Which of `skus` the outbox registry lists: one question per registry shard, all at once. */
export async function listedInOutboxes(env: Env, skus: readonly string[]): Promise<string[]> {
  const byShard = new Map<string, string[]>();
  for (const sku of skus) {
    const shard = registryShard(sku);
    const group = byShard.get(shard);
    if (group === undefined) byShard.set(shard, [sku]);
    else group.push(sku);
  }
  const listed = await Promise.all([...byShard].map(([shard, group]) => outboxRegistryShard(env, shard).listedAmong(group)));
  return listed.flat();
}

/** Expected units per SKU at `location` as of `startedAtMs` (I8). */
export async function expectedAt(env: Env, countId: string, location: string, skus: readonly string[], startedAtMs: number): Promise<Map<string, number>> {
  const account = `loc:${location}`;
  // The outboxes first: whatever lands after this answer is also in the D1 read below, and is
  // dropped there by id. Only listed SKUs are asked, through the count's object, a slice per call
  // (see outboxEffects).
  const session = countSession(env, countId);
  const listed = await listedInOutboxes(env, skus);
  const pending = (await pooled(chunks(listed, OUTBOX_SLICE_MAX), SLICES_AT_ONCE, (part) => session.outboxEffects(location, part, startedAtMs))).flat();
  const expected = new Map<string, number>(skus.map((s) => [s, 0]));
  // CROSS JOIN keeps the SKU list as the outer loop, so each SKU is one index range, whatever the
  // planner would guess about a million movements.
  for (const part of chunks(skus, JSON_SKUS_MAX)) {
    const list = JSON.stringify(part);
    const [balances, after] = await env.DB.batch<{ sku: string; n: number }>([
      env.DB.prepare("SELECT b.sku AS sku, b.balance AS n FROM json_each(?1) j CROSS JOIN balances b ON b.sku = j.value AND b.account = ?2").bind(list, account),
      env.DB.prepare(
        "SELECT m.sku AS sku, SUM(CASE WHEN m.to_account = ?2 THEN m.qty ELSE -m.qty END) AS n FROM json_each(?1) j CROSS JOIN movements m ON m.sku = j.value AND m.occurred_at > ?3 WHERE m.from_account = ?2 OR m.to_account = ?2 GROUP BY m.sku",
      ).bind(list, account, startedAtMs),
    ]);
    for (const r of balances?.results ?? []) expected.set(r.sku, (expected.get(r.sku) ?? 0) + r.n);
    for (const r of after?.results ?? []) expected.set(r.sku, (expected.get(r.sku) ?? 0) - r.n);
  }
  if (pending.length > 0) {
    const landed = await landedMovementIds(env.DB, pending as Movement[]);
    for (const m of pending as Movement[]) if (!landed.has(m.id)) expected.set(m.sku, (expected.get(m.sku) ?? 0) + effectAsOf(m, account, startedAtMs));
  }
  return expected;
}

/** The store's terminals that have not synced since before the count started. */
export async function pendingTerminals(env: Env, store: string, startedAtMs: number): Promise<PendingTerminal[]> {
  const rows = await env.DB.prepare("SELECT id, last_sync_at FROM terminals WHERE store_id = ? ORDER BY id").bind(store).all<{ id: string; last_sync_at: number }>();
  return rows.results.filter((t) => isPendingTerminal(t.last_sync_at, startedAtMs)).map((t) => ({ terminalId: t.id, lastSyncAt: new Date(t.last_sync_at).toISOString() }));
}

/** The SKUs a count covers when none are named: every SKU with stock or movements at the location. */
export async function skusAt(env: Env, location: string, max: number): Promise<string[]> {
  const rows = await env.DB.prepare("SELECT DISTINCT sku FROM balances WHERE account = ? ORDER BY sku LIMIT ?").bind(`loc:${location}`, max + 1).all<{ sku: string }>();
  return rows.results.map((r) => r.sku);
}
