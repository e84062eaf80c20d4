-- Fewer D1 rows per movement when many SKUs sell slowly (docs/performance.md, "The ledger's rows").
-- A D1 batch that carries one movement each of a hundred SKUs wrote, per SKU, two balance rows, a
-- cursor row, an event row and its location entry besides the movement: about six rows per
-- movement. After this migration it writes, per SKU, one `ledger_skus` row (its balances and its
-- event cursor together) besides its movements, and, per batch, one page of events and one entry
-- per location those events are at.
--
-- Per SKU: its balances by account (a JSON object) and the highest event seq landed, in one row.
CREATE TABLE `ledger_skus` (
	`sku` text PRIMARY KEY NOT NULL,
	`event_seq` integer DEFAULT 0 NOT NULL,
	`balances` text DEFAULT '{}' NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `ledger_skus` (`sku`, `event_seq`, `balances`)
SELECT s.`sku`,
       COALESCE((SELECT c.`event_seq` FROM `ledger_cursors` c WHERE c.`sku` = s.`sku`), 0),
       COALESCE((SELECT json_group_object(b.`account`, b.`balance`) FROM `balances` b WHERE b.`sku` = s.`sku`), '{}')
FROM (SELECT `sku` FROM `balances` UNION SELECT `sku` FROM `ledger_cursors`) s;
--> statement-breakpoint
DROP TABLE `balances`;
--> statement-breakpoint
DROP TABLE `ledger_cursors`;
--> statement-breakpoint
-- Readers keep reading balances as (sku, account, balance) rows.
CREATE VIEW `balances` AS
SELECT l.`sku` AS `sku`, j.`key` AS `account`, j.`value` AS `balance` FROM `ledger_skus` l, json_each(l.`balances`) j;
--> statement-breakpoint
-- The changefeed as pages: one row per D1 batch holding that batch's events (a JSON array) in the
-- order they landed. Positions stay what they were, one per event and gapless: the page's first
-- event is at `first_position`, the next at `first_position + 1`, and the next page starts after
-- its last.
CREATE TABLE `event_pages` (
	`first_position` integer PRIMARY KEY NOT NULL,
	`count` integer NOT NULL,
	`landed_at` integer NOT NULL,
	`events` text NOT NULL
);
--> statement-breakpoint
-- Which pages hold events at a location: what a store's terminals pull by.
CREATE TABLE `event_page_locations` (
	`location` text NOT NULL,
	`first_position` integer NOT NULL,
	`landed_at` integer NOT NULL,
	PRIMARY KEY(`location`, `first_position`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Events landed before become pages of one, at their own position.
INSERT INTO `event_pages` (`first_position`, `count`, `landed_at`, `events`)
SELECT `position`, 1, COALESCE(CAST(strftime('%s', json_extract(`body`, '$.recordedAt')) AS integer) * 1000, 0), json_array(json(`body`)) FROM `events`;
--> statement-breakpoint
INSERT INTO `event_page_locations` (`location`, `first_position`, `landed_at`)
SELECT e.`location`, e.`position`, p.`landed_at` FROM `events` e JOIN `event_pages` p ON p.`first_position` = e.`position` WHERE e.`location` IS NOT NULL;
--> statement-breakpoint
DROP TABLE `events`;
--> statement-breakpoint
-- Readers keep reading events as rows: position, id, sku, seq, type, location, body, and the page.
CREATE VIEW `events` AS
SELECT p.`first_position` + j.`key` AS `position`,
       json_extract(j.`value`, '$.id') AS `id`,
       json_extract(j.`value`, '$.sku') AS `sku`,
       json_extract(j.`value`, '$.seq') AS `seq`,
       json_extract(j.`value`, '$.type') AS `type`,
       json_extract(j.`value`, '$.location') AS `location`,
       j.`value` AS `body`,
       p.`first_position` AS `page`,
       p.`landed_at` AS `landed_at`
FROM `event_pages` p, json_each(p.`events`) j;
