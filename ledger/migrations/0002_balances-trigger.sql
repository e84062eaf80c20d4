-- Balances move only when a movement row is actually inserted: landing the same movement again
-- (INSERT OR IGNORE on its id) fires nothing, so a retried flush changes no balance (I3, I4).
CREATE TRIGGER `movements_post_balances` AFTER INSERT ON `movements`
BEGIN
  INSERT INTO `balances` (`sku`, `account`, `balance`) VALUES (NEW.`sku`, NEW.`from_account`, -NEW.`qty`)
    ON CONFLICT (`sku`, `account`) DO UPDATE SET `balance` = `balance` - NEW.`qty`;
  INSERT INTO `balances` (`sku`, `account`, `balance`) VALUES (NEW.`sku`, NEW.`to_account`, NEW.`qty`)
    ON CONFLICT (`sku`, `account`) DO UPDATE SET `balance` = `balance` + NEW.`qty`;
END;
