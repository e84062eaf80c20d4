/**
 * Two tabs of the same till selling at once while offline: both write to the one outbox on this
 * device (each sale its own seq), one tab syncs at a time, and every sale lands exactly once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { atStore, catalog, flushedAudit, launch, openPos, sellByBarcode, statusOf, token, unique, type Browser } from "./support/world";

let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
});

describe("two tabs of one till", () => {
  it("sell at the same time offline and every sale lands once when the network returns", async () => {
    const t = token({ sub: unique("S001-tabs"), role: "terminal", store: "S001" });
    let item = null;
    for (const row of (await catalog()).reverse()) {
      if (row.barcode !== null && (await atStore(row.sku, "S001")).onHand >= 12) {
        item = row;
        break;
      }
    }
    expect(item).not.toBeNull();
    const { sku, barcode } = item!;
    const soldBefore = (await flushedAudit(sku)).ledger.customer ?? 0;

    browser = await launch();
    const first = await browser.context.newPage();
    await openPos(first, t);
    const second = await browser.context.newPage();
    // The second tab signs in from the token this device kept.
    await openPos(second, null);
    for (const page of [first, second]) await expect.poll(() => statusOf(page).textContent(), { timeout: 30_000 }).toMatch(/online.*all synced/);

    await browser.context.setOffline(true);
    const sellFive = async (page: typeof first) => {
      for (let i = 0; i < 5; i++) await sellByBarcode(page, barcode!);
    };
    await Promise.all([sellFive(first), sellFive(second)]);
    for (const page of [first, second]) await expect.poll(() => statusOf(page).textContent()).toMatch(/offline.*10 pending/);

    await browser.context.setOffline(false);
    for (const page of [first, second]) await expect.poll(() => statusOf(page).textContent(), { timeout: 30_000 }).toMatch(/online.*all synced/);
    const audit = await flushedAudit(sku);
    expect(audit.consistent).toBe(true);
    expect((audit.ledger.customer ?? 0) - soldBefore).toBe(10);
  });
});
