CREATE TABLE `balances` (
	`sku` text NOT NULL,
	`account` text NOT NULL,
	`balance` integer NOT NULL,
	PRIMARY KEY(`sku`, `account`)
);
--> statement-breakpoint
CREATE TABLE `events` (
	`position` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`sku` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_id_unique` ON `events` (`id`);--> statement-breakpoint
CREATE TABLE `movements` (
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
	CONSTRAINT "movements_qty_positive" CHECK("movements"."qty" > 0),
	CONSTRAINT "movements_two_accounts" CHECK("movements"."from_account" <> "movements"."to_account")
);
--> statement-breakpoint
CREATE INDEX `movements_sku_occurred` ON `movements` (`sku`,`occurred_at`);--> statement-breakpoint
CREATE TABLE `sold_out` (
	`sku` text PRIMARY KEY NOT NULL,
	`sold_out` integer NOT NULL,
	`seq` integer NOT NULL,
	`event_id` text NOT NULL,
	`since` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `transfers` (
	`id` text PRIMARY KEY NOT NULL,
	`sku` text NOT NULL,
	`from_location` text NOT NULL,
	`to_location` text NOT NULL,
	`qty` integer NOT NULL,
	`state` text NOT NULL,
	`received` integer,
	`lost` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `skus` ADD `low_stock` integer DEFAULT 0 NOT NULL;