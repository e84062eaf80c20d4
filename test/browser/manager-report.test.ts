/**
 * A count's report in /manager, against the real count routes: the lines and the variance chart,
 * a provisional report naming the till it waits for, "Approve anyway" asking first, then the
 * adjustments with their movement ids, and availability following them.
 */
import { afterEach, describe, expect, it } from "vitest";
import { answers200, api, atStore, base, catalog, launch, token, type Browser } from "./support/world";

let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
});

const clerk = token({ sub: "S006-clerk-1", role: "staff", store: "S006" });
const countsServed = await answers200("GET", "/v1/counts?location=S006", clerk);

describe("a count's report on the dashboard", () => {
  it.skipIf(!countsServed)("shows a provisional count's variances, approves it anyway after asking, and lists the adjustments (needs the count routes)", async () => {
    const skus: string[] = [];
    for (const row of await catalog()) {
      if ((await atStore(row.sku, "S006")).onHand > 0) skus.push(row.sku);
      if (skus.length === 3) break;
    }
    expect(skus).toHaveLength(3);
    // A till of the store syncs before the count starts and not after: the report waits for it.
    const till = token({ sub: "S006-pos-1", role: "terminal", store: "S006" });
    const pushed = await api("POST", "/v1/sync/push", till, { terminalId: "S006-pos-1", ops: [{ seq: 1, kind: "sale", sku: skus[0], qty: 1, occurredAt: new Date().toISOString() }] });
    expect(pushed.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));

    const created = await api<{ countId: string }>("POST", "/v1/counts", clerk, { location: "S006", skus, zones: ["front"] });
    expect(created.status).toBe(201);
    const { countId } = created.body;
    // Nobody counted anything: every line is short by what the book says.
    expect((await api("POST", `/v1/counts/${countId}/submit`, clerk, {})).status).toBe(200);
    const report = (await api<{ lines: { sku: string; expected: number; variance: number }[] }>("GET", `/v1/counts/${countId}/report`, clerk)).body;
    const largest = [...report.lines].sort((a, b) => Math.abs(b.variance) - Math.abs(a.variance) || a.sku.localeCompare(b.sku))[0]!;

    browser = await launch();
    const page = await browser.context.newPage();
    await page.goto(`${base()}/manager?count=${countId}#token=${token({ sub: "manager-south", role: "manager", region: "south" })}`);
    const chart = page.getByRole("img", { name: /^Variance by SKU, largest first/ });
    await chart.waitFor({ timeout: 20_000 });
    // The chart's first bar is the largest variance.
    expect(await chart.getAttribute("aria-label")).toContain(`largest first: ${largest.sku} ${largest.variance}`);
    await expect.poll(() => page.getByRole("note").textContent(), { timeout: 20_000 }).toContain("S006-pos-1");

    await page.screenshot({ path: "docs/screenshots/manager-count-report.png", fullPage: true });
    await page.getByRole("button", { name: "Approve anyway" }).click();
    const dialog = page.getByRole("alertdialog", { name: "Approve a provisional count" });
    expect(await dialog.textContent()).toContain("S006-pos-1");
    await dialog.getByRole("button", { name: "Yes, approve anyway" }).click();
    const adjustments = page.getByRole("table", { name: "Adjustments" });
    await expect.poll(() => adjustments.textContent(), { timeout: 20_000 }).toContain(largest.sku);
    expect(await adjustments.getByRole("row").count()).toBe(1 + report.lines.filter((l) => l.variance !== 0).length);
    await expect.poll(() => page.getByText("Approved: the variances were posted as adjustments.").count()).toBe(1);
    expect(await page.getByRole("button", { name: /^Approve/ }).count()).toBe(0);

    for (const line of report.lines) await expect.poll(async () => (await atStore(line.sku, "S006")).onHand, { timeout: 30_000 }).toBe(0);
  });
});
