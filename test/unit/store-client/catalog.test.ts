import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { closeAll, makeEdge, openClient } from "./support/harness";

afterEach(closeAll);

const items = [
  { sku: "SKU-00001", name: "Oat milk 1 l", barcode: "7310865004703", priceMinor: 229 },
  { sku: "SKU-00002", name: "Rye bread", barcode: "7311070347272" },
  { sku: "SKU-00003", name: "Carrier bag" },
];

describe("the local catalog", () => {
  it("finds an item by barcode and by SKU", async () => {
    const { client } = await openClient(makeEdge({}));
    expect(await client.loadCatalog(items)).toEqual({ ok: true, items: 3 });
    expect(await client.findByBarcode("7311070347272")).toEqual({ sku: "SKU-00002", name: "Rye bread", barcode: "7311070347272" });
    expect(await client.findBySku("SKU-00001")).toEqual(items[0]);
    expect(await client.findByBarcode("0000000000000")).toBeUndefined();
    expect(await client.findBySku("SKU-99999")).toBeUndefined();
  });

  it("merges loaded items by SKU, and replaces the whole catalog when asked", async () => {
    const { client } = await openClient(makeEdge({}));
    await client.loadCatalog(items);
    await client.loadCatalog([{ sku: "SKU-00002", name: "Rye bread, sliced", barcode: "7311070347272" }]);
    expect((await client.findBySku("SKU-00002"))?.name).toBe("Rye bread, sliced");
    expect(await client.db.catalog.count()).toBe(3);
    await client.loadCatalog([{ sku: "SKU-00009", name: "Gift card" }], "replace");
    expect(await client.db.catalog.toArray()).toEqual([{ sku: "SKU-00009", name: "Gift card" }]);
  });

  it("loads nothing when any item is invalid, and says which", async () => {
    const { client } = await openClient(makeEdge({}));
    await client.loadCatalog(items);
    const bad = [{ sku: "SKU-00004", name: "Tea" }, { sku: "bad sku", name: "x" }, { sku: "SKU-00004", name: "Tea again" }, { sku: "SKU-00005", name: "Coffee", priceMinor: 1.5 }];
    const result = await client.loadCatalog(bad as typeof items, "replace");
    expect(result).toEqual({
      ok: false,
      problem: {
        kind: "invalid_catalog",
        errors: [
          { path: "items[1].sku", message: expect.any(String) },
          { path: "items[2].sku", message: "SKU-00004 is listed twice" },
          { path: "items[3].priceMinor", message: expect.any(String) },
        ],
      },
    });
    expect(await client.db.catalog.count()).toBe(3);
  });

  it("refreshes from an injected source, replacing the catalog whole, and keeps the old one when the source fails", async () => {
    const { client } = await openClient(makeEdge({}));
    await client.loadCatalog(items);
    expect(await client.refreshCatalog(async () => [items[0]!, { sku: "SKU-00010", name: "Honey", barcode: "7310000000010" }])).toEqual({ ok: true, items: 2 });
    expect(await client.findByBarcode("7311070347272")).toBeUndefined();
    expect((await client.findByBarcode("7310000000010"))?.sku).toBe("SKU-00010");

    const failed = await client.refreshCatalog(async () => {
      throw new Error("back office unreachable");
    });
    expect(failed).toMatchObject({ ok: false, problem: { kind: "catalog_source_failed", detail: "back office unreachable" } });
    expect(await client.db.catalog.count()).toBe(2);
  });
});
