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
