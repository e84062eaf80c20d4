/**
 * Migration 0008 over a ledger that already has rows: balances, cursors and events of the old
 * shape come through as they were (balances by account, events at their positions), and the next
 * batch lands after them, once.
 */
import { applyD1Migrations, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { landInD1, mergeBatches } from "../../edge/sku/ledger-sink";
import type { StockEvent } from "../../ledger/rules/events";
import type { Movement } from "../../ledger/rules/movement";

const db = env.UPGRADE_DB;
const PAGES = "0008_ledger-pages";

const oldEvent = (sku: string, seq: number, location: string | null) => ({ id: `${sku}:${seq}`, sku, seq, type: "stock.changed", location, recordedAt: "2026-12-01T10:00:00.000Z" });

describe("migration 0008 (ledger pages) over an existing ledger", () => {
  it("keeps every balance, cursor and event position, and lands the next batch after them once", async () => {
    const before = env.TEST_MIGRATIONS.filter((m) => m.name < PAGES);
    const pages = env.TEST_MIGRATIONS.filter((m) => m.name.startsWith(PAGES));
    expect(pages).toHaveLength(1);
    await applyD1Migrations(db, before);
    await db.batch([
      db.prepare("INSERT INTO movements (id, sku, from_account, to_account, qty, occurred_at, recorded_at, landed_at, source) VALUES ('m1', 'UA', 'supplier', 'loc:S1', 5, 1, 1, 2, 'receipt'), ('m2', 'UA', 'loc:S1', 'customer', 2, 3, 3, 4, 'sale')"),
      db.prepare("INSERT INTO balances (sku, account, balance) VALUES ('UA', 'supplier', -5), ('UA', 'loc:S1', 3), ('UA', 'customer', 2), ('UB', 'loc:S2', 0)"),
      db.prepare("INSERT INTO ledger_cursors (sku, event_seq) VALUES ('UA', 2), ('UC', 1)"),
      ...[oldEvent("UA", 1, "S1"), oldEvent("UC", 1, null), oldEvent("UA", 2, "S1")].map((e) =>
        db.prepare("INSERT INTO events (id, sku, seq, type, location, body) VALUES (?, ?, ?, ?, ?, ?)").bind(e.id, e.sku, e.seq, e.type, e.location, JSON.stringify(e)),
      ),
    ]);
    await applyD1Migrations(db, pages);

    const balances = await db.prepare("SELECT sku, account, balance FROM balances ORDER BY sku, account").all();
    expect(balances.results).toEqual([
      { sku: "UA", account: "customer", balance: 2 },
      { sku: "UA", account: "loc:S1", balance: 3 },
      { sku: "UA", account: "supplier", balance: -5 },
      { sku: "UB", account: "loc:S2", balance: 0 },
    ]);
    expect((await db.prepare("SELECT sku, event_seq FROM ledger_skus ORDER BY sku").all()).results).toEqual([
      { sku: "UA", event_seq: 2 },
      { sku: "UB", event_seq: 0 },
      { sku: "UC", event_seq: 1 },
    ]);
    const events = await db.prepare("SELECT position, id, location FROM events ORDER BY position").all();
    expect(events.results).toEqual([
      { position: 1, id: "UA:1", location: "S1" },
      { position: 2, id: "UC:1", location: null },
      { position: 3, id: "UA:2", location: "S1" },
    ]);

    // The next batch: UA's seq 2 again (a retried flush) and 3, with a movement already landed and a new one.
    const sale = (id: string, at: number, qty: number): Movement => ({ id, sku: "UA", from: "loc:S1", to: "customer", qty, occurredAtMs: at, recordedAtMs: at, source: "system", ref: null, lot: null, expiresOn: null });
    const batch = mergeBatches([{ sku: "UA", batch: { movements: [sale("m2", 3, 2), sale("m3", 5, 1)], events: [oldEvent("UA", 2, "S1"), oldEvent("UA", 3, "S1")] as unknown as StockEvent[], transfers: [] } }]);
    await landInD1(db, batch, 10);
    await landInD1(db, batch, 11);
    expect((await db.prepare("SELECT account, balance FROM balances WHERE sku = 'UA' ORDER BY account").all()).results).toEqual([
      { account: "customer", balance: 3 },
      { account: "loc:S1", balance: 2 },
      { account: "supplier", balance: -5 },
    ]);
    expect((await db.prepare("SELECT position, id FROM events ORDER BY position").all()).results.map((r) => [r.position, r.id])).toEqual([
      [1, "UA:1"],
      [2, "UC:1"],
      [3, "UA:2"],
      [4, "UA:3"],
    ]);
    expect((await db.prepare("SELECT location, first_position FROM event_page_locations ORDER BY first_position").all()).results).toEqual([
      { location: "S1", first_position: 1 },
      { location: "S1", first_position: 3 },
      { location: "S1", first_position: 4 },
    ]);
  });
});
