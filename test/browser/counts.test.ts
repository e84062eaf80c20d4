/**
 * A shelf count across two devices and the manager's approval, in Chromium: two clerks join one
 * count at their tills, count different zones, one goes offline and keeps counting, reconnects;
 * the report shows the merged totals; the manager approves in /manager and the adjustment shows in
 * availability. Needs the counts routes and the till's count sheets (the counts work); until both
 * are there, it is reported as skipped, not passed.
 */
import type { Page, WebSocketRoute } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { openCount } from "../../apps/pos/count/open-count";
import { api, atStore, base, catalog, launch, openPos, token, unique, type Browser } from "./support/world";

const browsers: Browser[] = [];
afterEach(async () => {
  for (const b of browsers.splice(0)) await b.close();
});

const staff = (n: number) => token({ sub: `S004-clerk-${n}`, role: "staff", store: "S004" });
const probe = await api("GET", "/v1/counts?location=S004&state=open", staff(1));
// Both halves: the edge's count routes, and the till's count sheets (store-client/counts/).
const countsLanded = probe.status === 200 && openCount !== null;

/**
 * A browser's count sockets through a cord the test can pull: `context.setOffline` stops new
 * requests but leaves an open WebSocket up, so going offline here also drops the sheet's socket and
 * refuses new ones until the network is back, as a lost Wi-Fi would.
 */
async function networkCord(browser: Browser): Promise<{ cut(): Promise<void>; restore(): Promise<void> }> {
  let offline = false;
  const open = new Set<WebSocketRoute>();
  await browser.context.routeWebSocket(/\/v1\/counts\/[^/]+\/sync/, (ws) => {
    if (offline) return void ws.close({ code: 1001, reason: "offline" });
    ws.connectToServer();
    open.add(ws);
  });
  return {
    async cut() {
      offline = true;
      await browser.context.setOffline(true);
      for (const ws of open) await ws.close({ code: 1001, reason: "offline" });
      open.clear();
    },
    async restore() {
      offline = false;
      await browser.context.setOffline(false);
    },
  };
}

async function joinAsClerk(page: Page, clerk: number, countId: string): Promise<void> {
  await openPos(page, token({ sub: unique(`S004-count-till-${clerk}`), role: "terminal", store: "S004" }));
  await page.keyboard.press("F6");
  await page.getByRole("button", { name: `Sign in as Clerk ${clerk}, Store 4 (South)` }).click();
  await page.getByRole("button", { name: `Join count ${countId}` }).click();
  await expect.poll(() => page.getByRole("status", { name: "Count sheet connection" }).textContent(), { timeout: 20_000 }).toContain("connected");
}

/** The Total column of a SKU's row on a clerk's sheet. */
async function totalOn(page: Page, sku: string): Promise<string | null> {
  return page.getByRole("table", { name: "Count sheet" }).getByRole("row").filter({ hasText: sku }).getByRole("cell").nth(2).textContent();
}

async function enter(page: Page, sku: string, zone: string, qty: number): Promise<void> {
  await page.getByRole("radio", { name: zone }).click();
  const box = page.getByLabel(`Count of ${sku} in ${zone}`);
  await box.fill(String(qty));
  await box.press("Tab");
}

describe("a shelf count", () => {
  it.skipIf(!countsLanded)("merges two clerks' zones, one counted offline, and the manager's approval adjusts availability (needs the count routes)", async () => {
    const items = [];
    for (const row of await catalog()) {
      if ((await atStore(row.sku, "S004")).onHand >= 3) items.push(row.sku);
      if (items.length === 2) break;
    }
    const [a, b] = items as [string, string];
    const created = await api<{ countId: string }>("POST", "/v1/counts", staff(1), { location: "S004", skus: [a, b], zones: ["front", "back"] });
    expect(created.status).toBe(201);
    const { countId } = created.body;

    const one = await launch();
    const two = await launch();
    browsers.push(one, two);
    const p1 = await one.context.newPage();
    const cord = await networkCord(two);
    const p2 = await two.context.newPage();
    await joinAsClerk(p1, 1, countId);
    await joinAsClerk(p2, 2, countId);
    await expect.poll(() => p1.locator(".presence").textContent(), { timeout: 20_000 }).toContain("S004-clerk-2");

    await enter(p1, a, "front", 2);
    await cord.cut();
    await expect.poll(() => p2.getByRole("status", { name: "Count sheet connection" }).textContent(), { timeout: 30_000 }).toMatch(/offline|connecting/);
    await enter(p2, a, "back", 1);
    await enter(p2, b, "back", 1);
    // Nothing of it reached the first clerk while the second was offline.
    expect(await p1.getByRole("table", { name: "Count sheet" }).textContent()).not.toContain("S004-clerk-2 in back");
    await cord.restore();
    // Back online, the sheets merge: each clerk's screen shows both zones' entries in the totals.
    for (const page of [p1, p2]) {
      await expect.poll(async () => [await totalOn(page, a), await totalOn(page, b)], { timeout: 30_000 }).toEqual(["3", "1"]);
    }

    // The clerk who was offline is back among those counting.
    await expect.poll(() => p1.locator(".presence").textContent(), { timeout: 40_000 }).toContain("S004-clerk-2 (back)");
    await p1.screenshot({ path: "docs/screenshots/pos-count.png" });
    await p1.getByRole("button", { name: "Submit count" }).click();
    const report = async () => (await api<{ lines: { sku: string; counted: number; variance: number }[] }>("GET", `/v1/counts/${countId}/report`, staff(1))).body;
    await expect.poll(async () => (await report()).lines.map((l) => [l.sku, l.counted]), { timeout: 30_000 }).toEqual([
      [a, 3],
      [b, 1],
    ]);
    const varianceOfA = (await report()).lines.find((l) => l.sku === a)!.variance;
    const before = await atStore(a, "S004");

    const manager = await launch();
    browsers.push(manager);
    const m = await manager.context.newPage();
    await m.goto(`${base()}/manager?count=${countId}#token=${token({ sub: "manager-south", role: "manager", region: "south" })}`);
    await m.getByRole("img", { name: /Variance by SKU/ }).waitFor({ timeout: 20_000 });
    const approve = m.getByRole("button", { name: /^Approve( anyway)?$/ });
    const anyway = (await approve.textContent()) === "Approve anyway";
    await approve.click();
    if (anyway) await m.getByRole("button", { name: "Yes, approve anyway" }).click();
    await expect.poll(() => m.getByRole("table", { name: "Adjustments" }).textContent(), { timeout: 20_000 }).toContain(a);
    await m.screenshot({ path: "docs/screenshots/manager-count-report.png" });
    await expect.poll(async () => (await atStore(a, "S004")).onHand, { timeout: 30_000 }).toBe(before.onHand + varianceOfA);
  });
});
