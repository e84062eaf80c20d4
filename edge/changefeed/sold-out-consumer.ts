/**
 * The changefeed's queue consumer: keeps the sold-out index (`sold_out` in D1) that search and
 * other services read through `GET /v1/sold-out`.
 *
 * The queue delivers at least once and, across retries, out of order. The index stays right anyway
 * because each SKU's events carry its own increasing `seq`: a row changes only for an event newer
 * than the one it records (`WHERE excluded.seq > sold_out.seq`), so a duplicate or an older event
 * arriving late changes nothing, and applying a batch in any order ends in the same state.
 *
 * Per message: a body that is not a StockEvent is acked and logged (retrying it can never help);
 * an event whose D1 write fails is retried with a growing delay; everything else is acked.
 */
import { sql } from "drizzle-orm";
import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import type { StockEvent } from "../../ledger/rules/events";
import { soldOut } from "../../ledger/schema";
import type { Env } from "../env";
import { StockEventSchema } from "./stock-event-schema";

/** Longest wait before a failed message is delivered again. */
const RETRY_DELAY_SECONDS_MAX = 60;

/** What an event says about the sold-out index: sold out, back in stock, or nothing. */
export function soldOutOf(event: StockEvent): boolean | null {
  switch (event.type) {
    case "sku.sold_out":
      return true;
    case "sku.back_in_stock":
      return false;
    case "stock.changed":
    case "stock.low":
    case "hold.shortfall":
    case "terminal.seq_conflict":
    case "count.approved":
      return null;
  }
}

/** Records the event in the index unless the index already knows a newer (or the same) event of its SKU. */
async function applySoldOut(db: DrizzleD1Database, event: StockEvent, isSoldOut: boolean): Promise<void> {
  await db
    .insert(soldOut)
    // `since`: the authority's clock at the transition, not a terminal's (occurredAt may be hours old).
    .values({ sku: event.sku, soldOut: isSoldOut, seq: event.seq, eventId: event.id, since: event.recordedAt })
    .onConflictDoUpdate({
      target: soldOut.sku,
      set: { soldOut: sql`excluded.sold_out`, seq: sql`excluded.seq`, eventId: sql`excluded.event_id`, since: sql`excluded.since` },
      setWhere: sql`excluded.seq > ${soldOut.seq}`,
    })
    .run();
}

/** The start of a body for the log; anything the queue can carry, BigInts and cycles included. */
function preview(body: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch {
    // Handled: not JSON-shaped (a BigInt, a cycle); the log gets its string form instead.
  }
  return (text ?? String(body)).slice(0, 500);
}

/** Wait before message delivery `attempts` + 1: 2, 4, 8, ... seconds, at most a minute. */
export const retryDelaySeconds = (attempts: number): number => Math.min(2 ** Math.max(1, attempts), RETRY_DELAY_SECONDS_MAX);

/** The Worker's queue() handler. Bodies are typed unknown: they are checked here, not trusted. */
export const consumeChanges: ExportedHandlerQueueHandler<Env, unknown> = async (batch, env) => {
  const db = drizzle(env.DB);
  for (const msg of batch.messages) {
    const parsed = StockEventSchema.safeParse(msg.body);
    if (!parsed.success) {
      console.error(`changefeed: message ${msg.id} on ${batch.queue} is not a StockEvent; dropped`, {
        issues: parsed.error.issues.map((i) => `${i.path.join("/")}: ${i.message}`),
        body: preview(msg.body),
      });
      msg.ack();
      continue;
    }
    const isSoldOut = soldOutOf(parsed.data);
    if (isSoldOut === null) {
      msg.ack();
      continue;
    }
    try {
      await applySoldOut(db, parsed.data, isSoldOut);
      msg.ack();
    } catch (error) {
      // Handled: the write is idempotent, so the message is delivered again later and applied then.
      const delaySeconds = retryDelaySeconds(msg.attempts);
      console.warn(`changefeed: event ${parsed.data.id} (message ${msg.id}, attempt ${msg.attempts}) not applied; retry in ${delaySeconds}s`, error);
      msg.retry({ delaySeconds });
    }
  }
};
