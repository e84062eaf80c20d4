CREATE TABLE `terminals` (
	`id` text PRIMARY KEY NOT NULL,
	`store_id` text NOT NULL,
	`last_sync_at` integer NOT NULL,
	`last_seq` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `events` ADD `location` text;--> statement-breakpoint
CREATE INDEX `events_location_position` ON `events` (`location`,`position`);