/**
 * Reading the changefeed's pages (ledger/schema.ts `event_pages`, migration 0008) as events.
 *
 * A D1 batch lands its events as one page; an event's position is its page's first position plus
 * its index there. These queries start at the page that holds the position after the cursor (found
 * on the primary key), so a read costs the pages after the cursor, never the whole feed; a store's
 * reads go through `event_page_locations` and open only the pages that hold its events.
 */

/** The first position of the page holding the event after `?1`, or 0: where a read after `?1` starts. */
const PAGE_OF_CURSOR = "COALESCE((SELECT first_position FROM event_pages WHERE first_position <= ?1 ORDER BY first_position DESC LIMIT 1), 0)";

/** An event as a reader gets it: its position and its body, the StockEvent as JSON. */
export interface EventRow {
  readonly position: number;
  readonly body: string;
}

/** Up to `limit` events after position `after`, in position order; of one location if given. */
export async function eventsAfter(db: D1Database, after: number, limit: number, location?: string): Promise<EventRow[]> {
  const statement =
    location === undefined
      ? db
          .prepare(
            `SELECT p.first_position + j.key AS position, j.value AS body FROM event_pages p CROSS JOIN json_each(p.events) j
             WHERE p.first_position >= ${PAGE_OF_CURSOR} AND p.first_position + j.key > ?1 ORDER BY p.first_position, j.key LIMIT ?2`,
          )
          .bind(after, limit)
      : db
          .prepare(
            `SELECT p.first_position + j.key AS position, j.value AS body
             FROM event_page_locations l CROSS JOIN event_pages p ON p.first_position = l.first_position CROSS JOIN json_each(p.events) j
             WHERE l.location = ?3 AND l.first_position >= ${PAGE_OF_CURSOR} AND p.first_position + j.key > ?1 AND json_extract(j.value, '$.location') = ?3
             ORDER BY l.first_position, j.key LIMIT ?2`,
          )
          .bind(after, limit, location);
  return (await statement.all<EventRow>()).results;
}

/**
 * The events at a location since a time, as rows of (position, sku, type, recordedAt, body), for
 * a query to filter further (`?1` the location, `?2` the ISO time). An event lands after it is
 * recorded, so only pages landed since then are opened.
 */
export const LOCATION_EVENTS_SINCE = `(
  SELECT p.first_position + j.key AS position, json_extract(j.value, '$.sku') AS sku, json_extract(j.value, '$.type') AS type,
         json_extract(j.value, '$.recordedAt') AS recorded_at, j.value AS body
  FROM event_page_locations l CROSS JOIN event_pages p ON p.first_position = l.first_position CROSS JOIN json_each(p.events) j
  WHERE l.location = ?1 AND l.landed_at >= CAST(strftime('%s', ?2) AS integer) * 1000 - 60000
    AND json_extract(j.value, '$.location') = ?1 AND json_extract(j.value, '$.recordedAt') >= ?2
)`;
