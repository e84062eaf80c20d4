/**
 * The attention list: what head office refused, and sales that took units online orders were
 * counting on, each in a cashier's words, until someone says they have seen it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { api, atStore, catalog, launch, openPos, sellByBarcode, statusOf, token, unique, type Browser } from "./support/world";

let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
});

const attention = (page: import("playwright-core").Page) => page.getByRole("list", { name: "Attention list" });

describe("the attention list", () => {
  it("shows a sale head office rejected, in words, until it is marked as seen", async () => {
    // A till of a store head office has not set up: every op it sends is rejected.
    const t = token({ sub: unique("S999-pos"), role: "terminal", store: "S999" });
    const item = (await catalog()).find((r) => r.barcode !== null)!;
    browser = await launch();
    const page = await browser.context.newPage();
    await openPos(page, t);
    await expect.poll(() => page.getByText(/Catalog: \d+ items on this device/).count(), { timeout: 30_000 }).toBe(1);
    await sellByBarcode(page, item.barcode!);
    await expect.poll(() => attention(page).textContent(), { timeout: 30_000 }).toContain(`Sale of 1 × ${item.name} was not recorded: this store is not set up at head office.`);
    expect(await statusOf(page).textContent()).toMatch(/all synced/);
    await page.getByRole("button", { name: /^Seen: Sale of 1/ }).click();
    await expect.poll(() => page.getByText("Nothing to look at.").count()).toBe(1);
  });

  it("shows a shortfall when a sale takes units held for online orders", async () => {
    const t = token({ sub: "S001-pos-2", role: "terminal", store: "S001" });
    // An item whose free stock at S001 an online shopper then holds entirely.
    let item = null;
    for (const row of await catalog()) {
      const s = await atStore(row.sku, "S001");
      if (row.barcode !== null && s.held === 0 && s.available >= 2) {
        item = { ...row, available: s.available };
        break;
      }
    }
    expect(item).not.toBeNull();
    const shopper = token({ sub: unique("shopper"), role: "shopper" });
    const hold = await api("POST", `/v1/carts/${unique("cart")}/holds`, shopper, { lines: [{ sku: item!.sku, qty: item!.available, location: "S001" }], ttlSeconds: 900 });
    expect(hold.status).toBe(201);

    browser = await launch();
    const page = await browser.context.newPage();
    await openPos(page, t);
    await expect.poll(() => statusOf(page).textContent(), { timeout: 30_000 }).toMatch(/online.*all synced/);
    // The reserve (2) and one more: on hand falls below what the holds need.
    const box = page.getByLabel("Scan or search");
    for (let i = 0; i < 3; i++) {
      await box.fill(item!.barcode!);
      await box.press("Enter");
    }
    await expect.poll(() => page.getByLabel(`Quantity of ${item!.name}`).inputValue()).toBe("3");
    await page.getByRole("button", { name: "Sell", exact: true }).click();
    await expect.poll(() => attention(page).textContent(), { timeout: 30_000 }).toContain(`Sale of 3 × ${item!.name} went through, but`);
    expect(await attention(page).textContent()).toContain("had been promised to online orders");
    await page.screenshot({ path: "docs/screenshots/pos-attention.png" });
  });
});
