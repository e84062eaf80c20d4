/**
 * The regional manager's dashboard in Chromium: the demo sign-in, the region overview with a till
 * that has not synced for hours standing out as stale.
 */
import { afterEach, describe, expect, it } from "vitest";
import { answers200, api, base, catalog, d1, launch, token, type Browser } from "./support/world";

let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
});

// The overview is the counts work's route (GET /v1/regions/:regionId/overview); where the edge
// does not answer it, there is no overview to look at and the test says so instead of passing.
const overviewLanded = await answers200("GET", "/v1/regions/north/overview", token({ sub: "probe", role: "manager", region: "north" }));

describe("the manager dashboard", () => {
  it("signs a manager in through the demo sign-in and keeps the token on the device", async () => {
    browser = await launch();
    const page = await browser.context.newPage();
    await page.goto(`${base()}/manager`);
    await page.getByRole("button", { name: "Sign in as Manager, region North" }).waitFor();
    await page.screenshot({ path: "docs/screenshots/manager-sign-in.png" });
    await page.getByRole("button", { name: "Sign in as Manager, region North" }).click();
    await expect.poll(() => page.getByRole("heading", { name: "Region north" }).count(), { timeout: 30_000 }).toBe(1);
    await page.reload();
    await expect.poll(() => page.getByRole("heading", { name: "Region north" }).count(), { timeout: 30_000 }).toBe(1);
    expect(await page.getByRole("button", { name: /^Sign in as/ }).count()).toBe(0);
  });

  it.skipIf(!overviewLanded)("shows a till that has not synced for hours as stale (needs GET /v1/regions/:regionId/overview)", async () => {
    const fresh = "S002-pos-1";
    const old = "S002-pos-2";
    const sku = (await catalog())[0]!.sku;
    for (const id of [fresh, old]) {
      // One sale each: a push is what the edge records a till's sync by.
      const pushed = await api("POST", "/v1/sync/push", token({ sub: id, role: "terminal", store: "S002" }), { terminalId: id, ops: [{ seq: 1, kind: "sale", sku, qty: 1, occurredAt: new Date().toISOString() }] });
      expect(pushed.status).toBe(200);
    }
    d1(`UPDATE terminals SET last_sync_at = ${Date.now() - 3 * 3600_000} WHERE id = '${old}'`);

    browser = await launch();
    const page = await browser.context.newPage();
    await page.goto(`${base()}/manager#token=${token({ sub: "manager-north", role: "manager", region: "north" })}`);
    const row = (id: string) => page.locator(`tr[data-terminal="${id}"]`);
    await expect.poll(() => row(old).textContent(), { timeout: 20_000 }).toContain("STALE");
    expect(await row(old).textContent()).toContain("3 h ago");
    expect(await row(fresh).textContent()).not.toContain("STALE");
    await page.screenshot({ path: "docs/screenshots/manager-overview.png" });
  });
});
