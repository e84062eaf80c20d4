import { expect, it } from "vitest";
import { availability, call, catalog, fresh, receive, shopperToken } from "./helpers";

it("grants exactly 50 of 200 concurrent one-unit holds against 50 units", async () => {
  const sku = fresh("HOT");
  await catalog({ locations: [{ id: "W1" }], skus: [sku] });
  await receive(sku, "W1", 50);
  const shopper = await shopperToken();
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) => call("POST", `/v1/carts/${sku}-c${i}/holds`, { token: shopper, body: { lines: [{ sku, qty: 1 }] } })),
  );
  const granted = replies.filter((r) => r.status === 201);
  const refused = replies.filter((r) => r.status === 409);
  expect(granted).toHaveLength(50);
  expect(refused).toHaveLength(150);
  for (const r of refused) expect(r.body.type).toBe("insufficient-stock");
  const a = await availability(sku);
  expect(a).toMatchObject({ onHand: 50, held: 50, available: 0 });
});

it("grants exactly the available units when 200 concurrent holds are spread over locations with a store reserve", async () => {
  const sku = fresh("SPREAD");
  await catalog({ locations: [{ id: "W1" }, { id: "W2" }, { id: "S1", kind: "store", reserve: 4 }], skus: [sku] });
  await receive(sku, "W1", 20);
  await receive(sku, "W2", 15);
  await receive(sku, "S1", 10); // 4 of them are the store's reserve: 6 can go online
  const shopper = await shopperToken();
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) => {
      // A third name the store, a third a warehouse, a third let the authority choose.
      const location = i % 3 === 0 ? "S1" : i % 3 === 1 ? "W2" : undefined;
      return call("POST", `/v1/carts/${sku}-c${i}/holds`, { token: shopper, body: { lines: [{ sku, qty: 1, ...(location === undefined ? {} : { location }) }] } });
    }),
  );
  const granted = replies.filter((r) => r.status === 201);
  expect(replies.filter((r) => r.status === 409)).toHaveLength(200 - granted.length);
  expect(granted).toHaveLength(20 + 15 + 6);
  const heldAt = (l: string) => granted.flatMap((r) => r.body.holds).filter((h: { location: string }) => h.location === l).length;
  expect(heldAt("S1")).toBe(6);
  const a = await availability(sku);
  expect(a).toMatchObject({ onHand: 45, held: 41, available: 0 });
  expect(a.locations.find((l) => l.location === "S1")).toEqual({ location: "S1", onHand: 10, held: 6, reserve: 4, available: 0 });
});
