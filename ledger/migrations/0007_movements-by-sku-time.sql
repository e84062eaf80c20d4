-- Movements keyed by (sku, occurred_at, id), WITHOUT ROWID: a movement is one row written, kept in
-- SKU and time order, instead of its row and its (sku, occurred_at) index entry
-- (docs/performance.md, "The ledger's rows"). A movement landed again carries the same SKU and time
-- (it comes from the same outbox row), so INSERT OR IGNORE on this key still lands it once; whoever
-- asks whether a movement landed has the movement and looks it up by all three.
CREATE TABLE `movements_by_sku_time` (
	`id` text NOT NULL,
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
	PRIMARY KEY(`sku`, `occurred_at`, `id`),
	CONSTRAINT "movements_qty_positive" CHECK("qty" > 0),
	CONSTRAINT "movements_two_accounts" CHECK("from_account" <> "to_account")
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `movements_by_sku_time` SELECT `id`, `sku`, `from_account`, `to_account`, `qty`, `occurred_at`, `recorded_at`, `landed_at`, `source`, `ref`, `lot`, `expires_on` FROM `movements`;
--> statement-breakpoint
DROP TABLE `movements`;
--> statement-breakpoint
ALTER TABLE `movements_by_sku_time` RENAME TO `movements`;
