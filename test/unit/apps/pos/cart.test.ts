import { describe, expect, it } from "vitest";
import { addItem, cartTotal, setQty } from "../../../../apps/pos/view/cart";

const coffee = { sku: "C", name: "Coffee", priceMinor: 450 };
const tea = { sku: "T", name: "Tea" };

describe("the cart a cashier builds", () => {
  it("adds a second scan of an item to its line, a new item at the end", () => {
    const cart = addItem(addItem(addItem([], coffee), tea), coffee);
    expect(cart.map((l) => [l.sku, l.qty])).toEqual([
      ["C", 2],
      ["T", 1],
    ]);
  });

  it("sets a quantity, and removes the line at 0", () => {
    const cart = setQty(setQty(addItem(addItem([], coffee), tea), "C", 4), "T", 0);
    expect(cart).toEqual([{ sku: "C", name: "Coffee", qty: 4, priceMinor: 450 }]);
  });

  it("totals units, and the value only when every line has a price", () => {
    expect(cartTotal(setQty(addItem([], coffee), "C", 3))).toEqual({ units: 3, valueMinor: 1350, pricedMinor: 1350, unpricedLines: 0 });
    expect(cartTotal(addItem(addItem([], coffee), tea))).toEqual({ units: 2, valueMinor: null, pricedMinor: 450, unpricedLines: 1 });
    expect(cartTotal([]).valueMinor).toBeNull();
  });
});
