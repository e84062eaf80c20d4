/**
 * Signing a till in: the demo sign-in picks a seeded till; a till whose token expired keeps its
 * sales, says it must sign in again, and sends them once a new token arrives through `#token=`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { base, catalog, flushedAudit, launch, openPos, sellByBarcode, statusOf, token, unique, type Browser } from "./support/world";

let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
});

describe("signing a till in", () => {
  it("signs in as a seeded till through the demo sign-in and finds an item by name", async () => {
    browser = await launch();
    const page = await browser.context.newPage();
    await page.goto(`${base()}/pos`);
    await page.getByRole("button", { name: "Sign in as Till 2, Store 5 (South)" }).click();
    await expect.poll(() => page.getByText("S005-pos-2").count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.getByText(/Catalog: \d+ items on this device/).count(), { timeout: 30_000 }).toBe(1);
    const item = (await catalog())[4]!;
    const box = page.getByLabel("Scan or search");
    // Two words of its name, in another case: the matching items are offered to pick from.
    await box.fill(item.name.split(" ").slice(1, 3).join(" ").toLowerCase() + ` #${Number(item.sku.slice(4))}`);
    await box.press("Enter");
    await page.getByRole("list", { name: "Matching items" }).getByRole("button", { name: new RegExp(item.sku) }).click();
    await expect.poll(() => page.getByRole("button", { name: `Remove ${item.name}` }).count()).toBe(1);
  });

  it("keeps the sales of a till whose sign-in expired and sends them once it signs in again", async () => {
    const terminalId = unique("S002-expiring");
    const item = (await catalog()).find((r) => r.barcode !== null)!;
    const soldBefore = (await flushedAudit(item.sku)).ledger.customer ?? 0;
    browser = await launch();
    const page = await browser.context.newPage();
    await openPos(page, token({ sub: terminalId, role: "terminal", store: "S002" }, 8));
    await expect.poll(() => statusOf(page).textContent(), { timeout: 30_000 }).toMatch(/online.*all synced/);
    await new Promise((resolve) => setTimeout(resolve, 9_000));
    await sellByBarcode(page, item.barcode!);
    await expect.poll(() => statusOf(page).textContent(), { timeout: 30_000 }).toMatch(/^error.*1 pending/);
    await expect.poll(() => page.getByText(/not signed in any more/).count()).toBe(1);

    await page.goto(`${base()}/pos#token=${token({ sub: terminalId, role: "terminal", store: "S002" })}`);
    await expect.poll(() => statusOf(page).textContent(), { timeout: 30_000 }).toMatch(/online.*all synced/);
    expect(((await flushedAudit(item.sku)).ledger.customer ?? 0) - soldBefore).toBe(1);
  });
});
