/**
 * A cashier's day in real Chromium against the real Worker: the till loads once, the network goes,
 * twenty sales are rung up by barcode, the page is reloaded and the browser restarted while still
 * offline, and every sale is still there; back online, exactly those twenty land in the ledger and
 * the till's stock agrees with the authority's.
 */
import { afterEach, describe, expect, it } from "vitest";
import { atStore, catalog, flushedAudit, launch, openPos, sellByBarcode, statusOf, token, unique, type Browser } from "./support/world";

let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
});

describe("the POS day", () => {
  it("keeps 20 offline sales through a reload and a browser restart, then lands each exactly once", async () => {
    // A fixed name (each run has a fresh state): the screenshot it makes stays the same run to run.
    const terminalId = "S001-pos-1";
    const t = token({ sub: terminalId, role: "terminal", store: "S001" });
    // Four items with stock at S001, five sales of each.
    const items = [];
    for (const row of await catalog()) {
      if (row.barcode === null) continue;
      if ((await atStore(row.sku, "S001")).onHand >= 8) items.push(row);
      if (items.length === 4) break;
    }
    expect(items).toHaveLength(4);
    const before = new Map<string, number>();
    for (const item of items) before.set(item.sku, (await flushedAudit(item.sku)).ledger.customer ?? 0);

    browser = await launch();
    const page = await browser.context.newPage();
    await openPos(page, t);
    // The token left the address bar and stays on the device.
    expect(new URL(page.url()).hash).toBe("");
    await expect.poll(() => page.getByText(/Catalog: \d+ items on this device/).count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => statusOf(page).textContent(), { timeout: 30_000 }).toMatch(/online.*all synced/);

    await browser.context.setOffline(true);
    await expect.poll(() => statusOf(page).textContent()).toMatch(/^offline/);
    for (let i = 0; i < 20; i++) await sellByBarcode(page, items[i % 4]!.barcode!);
    await expect.poll(() => statusOf(page).textContent()).toMatch(/offline.*20 pending/);
    // The README's picture of a till working offline: one more sale being rung up.
    await page.getByLabel("Scan or search").fill(items[0]!.barcode!);
    await page.getByLabel("Scan or search").press("Enter");
    await page.screenshot({ path: "docs/screenshots/pos-offline.png" });
    await page.getByRole("button", { name: /^Remove / }).click();

    await page.reload();
    await expect.poll(() => statusOf(page).textContent(), { timeout: 20_000 }).toMatch(/offline.*20 pending/);

    const context = await browser.relaunch();
    await context.setOffline(true);
    const again = await context.newPage();
    await again.goto(`${page.url().split("#")[0]}`);
    await expect.poll(() => statusOf(again).textContent(), { timeout: 20_000 }).toMatch(/offline.*20 pending/);
    expect(await again.getByLabel("Scan or search").isVisible()).toBe(true);

    await context.setOffline(false);
    await expect.poll(() => statusOf(again).textContent(), { timeout: 30_000 }).toMatch(/online.*all synced/);

    // Exactly twenty units went to customers, five of each item, in the ledger.
    for (const item of items) {
      const audit = await flushedAudit(item.sku);
      expect(audit.consistent).toBe(true);
      expect((audit.ledger.customer ?? 0) - before.get(item.sku)!).toBe(5);
    }

    // The till's stock of each item is the authority's.
    await again.getByRole("tab", { name: /Stock/ }).click();
    for (const item of items) {
      const authority = await atStore(item.sku, "S001");
      const box = again.getByLabel("Scan or search");
      await box.fill(item.barcode!);
      await box.press("Enter");
      await expect.poll(() => again.getByTestId("on-hand").textContent(), { timeout: 15_000 }).toBe(String(authority.onHand));
      await expect.poll(() => again.getByText("Pending on this device").locator("xpath=following-sibling::dd[1]").textContent(), { timeout: 15_000 }).toBe("none");
    }
  });
});
