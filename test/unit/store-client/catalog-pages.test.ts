import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { catalogState, fetchCatalog, searchCatalog, syncCatalog, type CatalogProgress } from "../../../store-client/catalog/catalog-pages";
import type { Transport } from "../../../store-client/sync/http";
import { closeAll, makeEdge, openClient } from "./support/harness";

afterEach(closeAll);

const edgeItems = Array.from({ length: 25 }, (_, i) => ({ sku: `SKU-${String(i + 1).padStart(3, "0")}`, name: i % 2 === 0 ? `Organic Coffee ${i + 1}` : `Rye Bread ${i + 1}`, barcode: i === 3 ? null : `2000000000${String(i).padStart(3, "0")}`, perishable: false }));

/** The edge's GET /v1/catalog over edgeItems, paged by SKU; `failAfter` pages answer 503 after that many. */
function catalogEdge(failAfter = Infinity): { transport: Transport; urls: string[] } {
  const urls: string[] = [];
  const transport: Transport = async (url) => {
    urls.push(url);
    const q = new URL(url).searchParams;
    if (urls.length > failAfter) return { status: 503, headers: { get: () => null }, json: async () => ({}) };
    const after = q.get("after");
    const limit = Number(q.get("limit"));
    const rest = edgeItems.filter((i) => after === null || i.sku > after);
    const items = rest.slice(0, limit);
    return { status: 200, headers: { get: () => null }, json: async () => ({ items, next: rest.length > limit ? items.at(-1)!.sku : null }) };
  };
  return { transport, urls };
}

describe("the catalog from the edge", () => {
  it("pages GET /v1/catalog by SKU and reports progress page by page", async () => {
    const { transport, urls } = catalogEdge();
    const progress: CatalogProgress[] = [];
    const items = await fetchCatalog({ baseUrl: "https://edge.example", token: "t", transport, pageSize: 10, onProgress: (p) => progress.push(p) });
    expect(items).toHaveLength(25);
    expect(items[3]).toEqual({ sku: "SKU-004", name: "Rye Bread 4" });
    expect(urls.map((u) => new URL(u).search)).toEqual(["?limit=10", "?limit=10&after=SKU-010", "?limit=10&after=SKU-020"]);
    expect(progress).toEqual([
      { pages: 1, items: 10, done: false },
      { pages: 2, items: 20, done: false },
      { pages: 3, items: 25, done: true },
    ]);
  });

  it("replaces the local catalog once every page is in, and keeps the old one when a page fails", async () => {
    const { client } = await openClient(makeEdge({}));
    await client.loadCatalog([{ sku: "OLD-1", name: "Old item" }]);
    const failing = catalogEdge(1);
    const failed = await syncCatalog(client, { baseUrl: "https://edge.example", token: "t", transport: failing.transport, pageSize: 10 });
    expect(failed.ok).toBe(false);
    expect((await catalogState(client)).items).toBe(1);

    const loaded = await syncCatalog(client, { baseUrl: "https://edge.example", token: "t", transport: catalogEdge().transport, pageSize: 10 });
    expect(loaded).toEqual({ ok: true, items: 25 });
    const state = await catalogState(client);
    expect(state.items).toBe(25);
    expect(state.loadedAtMs).not.toBeNull();
    expect(await client.findBySku("OLD-1")).toBeUndefined();
  });

  it("searches by exact barcode or SKU first, then by every word of the name", async () => {
    const { client } = await openClient(makeEdge({}));
    await syncCatalog(client, { baseUrl: "https://edge.example", token: "t", transport: catalogEdge().transport });
    expect((await searchCatalog(client, "2000000000002")).map((i) => i.sku)).toEqual(["SKU-003"]);
    expect((await searchCatalog(client, "SKU-004")).map((i) => i.sku)).toEqual(["SKU-004"]);
    expect((await searchCatalog(client, "rye 1")).map((i) => i.sku)).toEqual(["SKU-010", "SKU-012", "SKU-014", "SKU-016", "SKU-018"]);
    expect(await searchCatalog(client, "coffee", 3)).toHaveLength(3);
    expect(await searchCatalog(client, "  ")).toEqual([]);
  });
});
