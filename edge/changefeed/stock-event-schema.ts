/**
 * The changefeed's wire contract, checked at the door: a `StockEvent` (ledger/rules/events.ts) as a
 * zod schema, so a consumer can tell an event from anything else that arrives on the queue. A
 * message that fails it is not an event and must change nothing (I7). Fields added later are let
 * through (consumers ignore what they do not know); missing or mistyped fields are not.
 */
import { z } from "zod";
import type { EventType, StockEvent } from "../../ledger/rules/events";
import { Id } from "../http/validate";

/** Every event type, once: a type missing here, or one that no longer exists, fails to compile. */
const TYPES = {
  "stock.changed": true,
  "stock.low": true,
  "sku.sold_out": true,
  "sku.back_in_stock": true,
  "hold.shortfall": true,
  "terminal.seq_conflict": true,
  "count.approved": true,
} as const satisfies Record<EventType, true>;

export const EVENT_TYPES = Object.keys(TYPES) as EventType[];

const Units = z.number().int({ message: "must be a whole number" });

const StockLevel = z.object({ onHand: Units, held: Units, available: Units });

export const StockEventSchema = z
  .object({
    id: z.string(),
    sku: Id,
    seq: z.number().int({ message: "must be a whole number" }).positive({ message: "must be at least 1" }),
    type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
    location: Id.nullable(),
    before: StockLevel,
    after: StockLevel,
    movementId: z.string().min(1).nullable(),
    occurredAt: z.iso.datetime({ message: "must be an ISO 8601 time" }),
    recordedAt: z.iso.datetime({ message: "must be an ISO 8601 time" }),
  })
  .refine((e) => e.id === `${e.sku}:${e.seq}`, { message: "must be <sku>:<seq>", path: ["id"] }) satisfies z.ZodType<StockEvent>;
