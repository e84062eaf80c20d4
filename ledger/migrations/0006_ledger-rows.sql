-- Fewer D1 rows written per movement (docs/performance.md, "The ledger's rows").
-- Balances: the per-movement trigger (two upserts per movement) gives way to one upsert per
-- account per flush, written by the flush itself (edge/sku/ledger-sink.ts) for the movements of
-- the batch the ledger does not hold yet.
DROP TRIGGER `movements_post_balances`;
--> statement-breakpoint
-- Events: an event lands once because its SKU's cursor says which seqs are in; the unique index on
-- `id` (one more row written per event) is no longer needed for that.
CREATE TABLE `ledger_cursors` (
	`sku` text PRIMARY KEY NOT NULL,
	`event_seq` integer NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `ledger_cursors` (`sku`, `event_seq`) SELECT `sku`, MAX(`seq`) FROM `events` GROUP BY `sku`;
--> statement-breakpoint
DROP INDEX `events_id_unique`;
--> statement-breakpoint
-- Movements: keyed by id without a separate rowid, so a movement is its row plus its
-- (sku, occurred_at) entry, not three writes.
CREATE TABLE `movements_by_id` (
	`id` text PRIMARY KEY NOT NULL,
	`sku` text NOT NULL,
	`from_account` text NOT NULL,
	`to_account` text NOT NULL,
	`qty` integer NOT NULL,
	`occurred_at` integer NOT NULL,
	`recorded_at` integer NOT NULL,
	`landed_at` integer NOT NULL,
	`source` text NOT NULL,
	`ref` text,
	`lot` text,
	`expires_on` text,
	CONSTRAINT "movements_qty_positive" CHECK("qty" > 0),
	CONSTRAINT "movements_two_accounts" CHECK("from_account" <> "to_account")
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `movements_by_id` SELECT `id`, `sku`, `from_account`, `to_account`, `qty`, `occurred_at`, `recorded_at`, `landed_at`, `source`, `ref`, `lot`, `expires_on` FROM `movements`;
--> statement-breakpoint
DROP TABLE `movements`;
--> statement-breakpoint
ALTER TABLE `movements_by_id` RENAME TO `movements`;
--> statement-breakpoint
CREATE INDEX `movements_sku_occurred` ON `movements` (`sku`,`occurred_at`);
