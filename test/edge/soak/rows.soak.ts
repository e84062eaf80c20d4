/**
 * The soak workload behind `npm run bench -- soak`: a million operations through one SKU's object
 * and one cart shard, on simulated time, measuring every table's rows as it goes. Storage must
 * stay flat (docs/sync-protocol.md, "Retention"), and answers must stay right for what is older
 * than every retention. Not part of `npm test` (it takes minutes); the bench prints its table.
 *
 * Each round: four terminal databases take turns pushing 500 sales and returns; a shopper holds
 * and checks out two carts and holds and releases a third; staff books a receipt with an
 * Idempotency-Key. Simulated time moves 10 minutes or more per round (the run spans at least 14
 * days, twice the longest retention), on the SKU's clock and the shard's,
 * and both objects' alarms run (flush and pruning), as they would by themselves.
 */
import { runDurableObjectAlarm, env } from "cloudflare:test";
import { expect, it } from "vitest";
import { cartShard } from "../../../edge/stubs";
import { adminToken, catalog, inCart, inSku, must, peek, shopperToken, skuStub, token } from "../helpers";

const OPS = Number(env.SOAK_OPS ?? "1000000");
const PUSH_OPS = 500;
const TERMINALS = 4;
const OPS_PER_ROUND = PUSH_OPS + 7;
/** Simulated time per round: at least 10 minutes, and the whole run spans at least 14 days (twice the longest retention). */
const ROUND_MS = Math.max(10 * 60_000, Math.ceil((14 * 86_400_000) / Math.ceil(OPS / OPS_PER_ROUND)));
const CHECKPOINT_OPS = Math.max(1_000, Math.min(100_000, Math.round(OPS / 10)));
const SKU = "SOAK-00001";
const STORE = "S1";

/** Cart ids that all land in one shard, so one coordinator's rows tell the story. */
function cartIdsOfOneShard(): () => string {
  const shard = cartShard("soak-cart-0");
  let n = 0;
  return () => {
    for (;;) {
      const id = `soak-cart-${n++}`;
      if (cartShard(id) === shard) return id;
    }
  };
}

it("keeps a SKU object's and a cart shard's rows flat while a million operations pass", async () => {
  await catalog({ locations: [{ id: STORE, kind: "store" }], skus: [SKU] });
  const staff = await token({ role: "staff", sub: "soak-staff", store: STORE });
  const shopper = await shopperToken("soak-shopper");
  const admin = await adminToken();
  const terminals = await Promise.all(Array.from({ length: TERMINALS }, async (_, i) => ({ id: `soak-pos-${i}`, db: `db${i}`, token: await token({ role: "terminal", sub: `soak-pos-${i}`, store: STORE }), seq: 0 })));
  const nextCart = cartIdsOfOneShard();
  const firstCart = nextCart();

  let offsetMs = 0;
  const simNow = () => Date.now() + offsetMs;
  const setClocks = async (cartId: string) => {
    await inSku(SKU, (instance) => void (instance.now = simNow));
    await inCart(cartId, (instance) => void (instance.now = simNow));
  };
  await must(peek("POST", "/v1/receipts", { token: staff, body: { sku: SKU, location: STORE, qty: 100_000 } }));
  await setClocks(firstCart);

  const rows = async () => ({ sku: await inSku(SKU, (i) => i.rowCounts()), cart: await inCart(firstCart, (i) => i.rowCounts()) });
  const checkpoints: { ops: number; simulatedDays: number; seconds: number; sku: Record<string, number>; cart: Record<string, number> }[] = [];
  checkpoints.push({ ops: 0, simulatedDays: 0, seconds: 0, ...(await rows()) });

  let ops = 0;
  let round = 0;
  let mark = Date.now();
  let cartsHeld = 0;
  while (ops < OPS) {
    const t = terminals[round % TERMINALS]!;
    const batch = Array.from({ length: PUSH_OPS }, (_, i) => ({ seq: ++t.seq, kind: i % 2 === 0 ? "sale" : "return", sku: SKU, qty: 1, occurredAt: new Date(simNow()).toISOString() }));
    const pushed = await must(peek("POST", "/v1/sync/push", { token: t.token, body: { terminalId: t.id, incarnation: t.db, ops: batch } }));
    expect(pushed.body.results.every((r: { status: string }) => r.status === "applied")).toBe(true);
    ops += PUSH_OPS;

    const cart = round === 0 ? firstCart : nextCart();
    for (const [cartId, end] of [[cart, "checkout"], [nextCart(), "checkout"], [nextCart(), "release"]] as const) {
      await must(peek("POST", `/v1/carts/${cartId}/holds`, { token: shopper, body: { lines: [{ sku: SKU, qty: 1 }] }, headers: { "idempotency-key": `h-${cartId}` } }));
      if (end === "checkout") await must(peek("POST", `/v1/carts/${cartId}/checkout`, { token: shopper }));
      else await must(peek("DELETE", `/v1/carts/${cartId}/holds`, { token: shopper }));
      ops += 2;
      cartsHeld += 1;
    }
    await must(peek("POST", "/v1/receipts", { token: staff, body: { sku: SKU, location: STORE, qty: 2 }, headers: { "idempotency-key": `r-${round}` } }));
    ops += 1;

    // Time passes; the objects' alarms do what they would do by themselves.
    offsetMs += ROUND_MS;
    await inSku(SKU, async (instance) => {
      while ((await instance.flush()) === "more");
    });
    await runDurableObjectAlarm(skuStub(SKU));
    await runDurableObjectAlarm(env.CART.get(env.CART.idFromName(cartShard(firstCart))));
    round += 1;
    if (Math.floor(ops / CHECKPOINT_OPS) > checkpoints.length - 1) {
      const now = Date.now();
      checkpoints.push({ ops, simulatedDays: offsetMs / 86_400_000, seconds: (now - mark) / 1000, ...(await rows()) });
      mark = now;
    }
  }

  // Older than every retention: the first terminal's seq 1 (its record is long gone) is still a
  // duplicate, and the first cart (forgotten) cannot be checked out again.
  const before = (await must(peek("GET", `/v1/skus/${SKU}/availability`))).body.onHand;
  const first = terminals[0]!;
  const replay = await must(peek("POST", "/v1/sync/push", { token: first.token, body: { terminalId: first.id, incarnation: first.db, ops: [{ seq: 1, kind: "sale", sku: SKU, qty: 1, occurredAt: new Date().toISOString() }] } }));
  const recheckout = await peek("POST", `/v1/carts/${firstCart}/checkout`, { token: shopper });
  const after = (await must(peek("GET", `/v1/skus/${SKU}/availability`))).body.onHand;
  await inSku(SKU, async (instance) => {
    while ((await instance.flush()) !== "idle");
  });
  const audit = (await must(peek("GET", `/v1/audit/skus/${SKU}`, { token: admin }))).body;

  const result = {
    ops,
    checkpointOps: CHECKPOINT_OPS,
    rounds: round,
    carts: cartsHeld,
    simulatedDays: offsetMs / 86_400_000,
    checkpoints,
    oldDuplicate: replay.body.results[0].status,
    oldCartCheckout: recheckout.status,
    onHandMovedByOldRequests: after - before,
    auditConsistent: audit.consistent,
  };
  console.log(`SOAK_RESULT ${JSON.stringify(result)}`);
  expect(result.oldDuplicate).toBe("duplicate");
  expect(result.oldCartCheckout).toBe(404);
  expect(result.onHandMovedByOldRequests).toBe(0);
  expect(result.auditConsistent).toBe(true);
});
