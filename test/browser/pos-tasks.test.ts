/**
 * The till's other tasks, by keyboard: a delivery received, a write-off with its reason and a
 * return, each landing at the edge as the movement it is, and the stock lookup showing the local
 * figure with what is still pending, then head office's confirmation.
 */
import { afterEach, describe, expect, it } from "vitest";
import { atStore, catalog, flushedAudit, launch, openPos, statusOf, token, unique, type Browser } from "./support/world";

let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
});

describe("the till's tasks", () => {
  it("receives, writes off with a reason and takes a return, and the stock lookup follows", async () => {
    const t = token({ sub: unique("S003-tasks"), role: "terminal", store: "S003" });
    const item = (await catalog()).find((r) => r.barcode !== null && r.sku.endsWith("7"))!;
    const before = await flushedAudit(item.sku);
    const onHandBefore = (await atStore(item.sku, "S003")).onHand;

    browser = await launch();
    const page = await browser.context.newPage();
    await openPos(page, t);
    await expect.poll(() => statusOf(page).textContent(), { timeout: 30_000 }).toMatch(/online.*all synced/);
    const box = () => page.getByLabel("Scan or search");
    const scan = async (times: number) => {
      for (let i = 0; i < times; i++) {
        await box().fill(item.barcode!);
        await box().press("Enter");
      }
    };

    await browser.context.setOffline(true);
    await page.keyboard.press("F3");
    await scan(5);
    await box().press("Enter");
    await expect.poll(() => page.getByRole("alert").textContent()).toBe("Delivery recorded (5 items).");

    await page.keyboard.press("F4");
    await scan(2);
    await page.getByLabel("Reason").selectOption("expired");
    await page.getByRole("button", { name: "Write off", exact: true }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toBe("Write-off recorded (2 items).");

    await page.keyboard.press("F2");
    await scan(1);
    await box().press("Enter");
    await expect.poll(() => page.getByRole("alert").textContent()).toBe("Return recorded (1 item).");

    await page.keyboard.press("F5");
    await box().fill(item.barcode!);
    await box().press("Enter");
    const figure = (label: string) => page.getByText(label, { exact: true }).locator("xpath=following-sibling::dd[1]").textContent();
    await expect.poll(() => figure("On hand here")).toBe(String(onHandBefore + 4));
    expect(await figure("Pending on this device")).toBe("+4 from 3 operations on this device not yet confirmed");

    await browser.context.setOffline(false);
    await expect.poll(() => figure("Pending on this device"), { timeout: 30_000 }).toBe("none");
    expect(await figure("On hand here")).toBe(String(onHandBefore + 4));
    expect(await figure("Head office's figure")).toMatch(new RegExp(`^${onHandBefore + 4} on hand, confirmed`));

    const after = await flushedAudit(item.sku);
    expect(after.consistent).toBe(true);
    const moved = (account: string) => (after.ledger[account] ?? 0) - (before.ledger[account] ?? 0);
    expect([moved("supplier"), moved("shrink:expired"), moved("customer")]).toEqual([-5, 2, -1]);
  });
});
