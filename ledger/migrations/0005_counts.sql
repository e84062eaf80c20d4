CREATE TABLE `count_lines` (
	`count_id` text NOT NULL,
	`sku` text NOT NULL,
	`counted` integer NOT NULL,
	`expected` integer NOT NULL,
	`variance` integer NOT NULL,
	`movement_id` text,
	PRIMARY KEY(`count_id`, `sku`)
);
--> statement-breakpoint
CREATE TABLE `counts` (
	`id` text PRIMARY KEY NOT NULL,
	`location` text NOT NULL,
	`region_id` text NOT NULL,
	`state` text NOT NULL,
	`skus` text NOT NULL,
	`zones` text NOT NULL,
	`blind` integer NOT NULL,
	`started_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`submitted_at` integer,
	`submitted_by` text,
	`approved_at` integer,
	`approved_by` text,
	`accept_provisional` integer,
	`abs_variance` integer
);
--> statement-breakpoint
CREATE INDEX `counts_location_state` ON `counts` (`location`,`state`);--> statement-breakpoint
CREATE INDEX `counts_region_state` ON `counts` (`region_id`,`state`);