CREATE TABLE `locations` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`region_id` text NOT NULL,
	`name` text NOT NULL,
	`reserve` integer DEFAULT 0 NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`region_id`) REFERENCES `regions`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "locations_reserve_nonneg" CHECK("locations"."reserve" >= 0)
);
--> statement-breakpoint
CREATE INDEX `locations_region` ON `locations` (`region_id`);--> statement-breakpoint
CREATE TABLE `regions` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `skus` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`barcode` text,
	`perishable` integer DEFAULT false NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `skus_barcode_unique` ON `skus` (`barcode`);