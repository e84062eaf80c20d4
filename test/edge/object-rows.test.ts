/**
 * What a sale costs in the objects' own storage: SQLite-backed Durable Objects are billed per row
 * written, index entries included. Counted in real object storage, from each statement's
 * `rowsWritten` (what the bill counts), over sales of a SKU that already sells (its accounts,
 * held units and lots exist): a hold in a new cart, its checkout, and the flush that lands it.
 */
import { describe, expect, it } from "vitest";
import { call, catalog, fresh, inCart, inSku, must, receive, shopperToken } from "./helpers";
import { settle } from "./objects";

/** Count the rows every statement of `sql` writes from now on; the tally, and how to stop. */
function tally(sql: SqlStorage): { rows: () => number; stop: () => void } {
  const exec = sql.exec;
  const cursors: { rowsWritten: number }[] = [];
  sql.exec = function (this: SqlStorage, ...args: Parameters<SqlStorage["exec"]>) {
    const cursor = exec.apply(sql, args);
    cursors.push(cursor);
    return cursor;
  } as SqlStorage["exec"];
  return { rows: () => cursors.reduce((n, c) => n + c.rowsWritten, 0), stop: () => void (sql.exec = exec) };
}

async function sale(sku: string, cartId: string): Promise<void> {
  const token = await shopperToken();
  await must(call("POST", `/v1/carts/${cartId}/holds`, { token, body: { lines: [{ sku, qty: 1 }] } }));
  await must(call("POST", `/v1/carts/${cartId}/checkout`, { token }));
}

describe("object rows written per sale", () => {
  it("a sale of a busy SKU writes about 11 rows in its authority and 5 in its cart's coordinator", async () => {
    const sku = fresh("ROWS");
    await catalog({ locations: [{ id: "W1" }], skus: [sku] });
    await receive(sku, "W1", 100);
    await sale(sku, fresh("cart-rows"));
    await settle(sku);

    const SALES = 10;
    const carts = Array.from({ length: SALES }, () => fresh("cart-rows"));
    const skuRows = await inSku(sku, (_i, state) => tally(state.storage.sql));
    let cartRows = 0;
    for (const cartId of carts) {
      // Tallied one cart at a time: carts share coordinator shards, and a shard's other carts are idle here.
      const t = await inCart(cartId, (_i, state) => tally(state.storage.sql));
      await sale(sku, cartId);
      cartRows += await inCart(cartId, () => t.rows());
      await inCart(cartId, () => t.stop());
    }
    await settle(sku);
    const perSaleSku = (await inSku(sku, () => skuRows.rows())) / SALES;
    await inSku(sku, () => skuRows.stop());
    const perSaleCart = cartRows / SALES;
    console.log(`object rows per sale: authority ${perSaleSku}, cart coordinator ${perSaleCart}`);

    // Hold: its row, the location's held units. Checkout: the hold's end, held units, two balances,
    // the lot, the outbox row, and the location's stock.changed event folded into the newest one
    // (a fraction of a new event and its seq now and then). Flush: the outbox row gone. (A rowid
    // hold and an AUTOINCREMENT outbox with a unique index on the movement id wrote 14.2.)
    expect(perSaleSku).toBeLessThanOrEqual(12);
    // The cart (its row and its age entry), its line, the line committed, the cart checked out (8 with rowid tables and the order id written first).
    expect(perSaleCart).toBeLessThanOrEqual(5);
    expect(perSaleSku).toBeGreaterThan(0);
  });
});
