// The PostgreSQL peer of the hot-SKU benchmark: what a retailer would otherwise run, an application
// server (Node http + pg) over PostgreSQL that takes a row lock on the stock row for every hold, as
// Saleor and Vendure do. It speaks edgestock's JSON contract for the routes the benchmark uses:
//
//   GET  /healthz                          → 200 {status: "ok"}            (no database)
//   POST /v1/carts/:cartId/holds           {lines: [{sku, qty, location?}], ttlSeconds?}
//                                          → 201 {cartId, expiresAt, holds: [{holdId, sku, location, qty, expiresAt}]}
//                                          → 409 insufficient-stock (problem+json, nothing held)
//   POST /v1/carts/:cartId/checkout        → 200 {orderId, cartId, lines: [{sku, location, qty}]}
//                                          → 409 hold-expired / cart-empty, 404 cart-not-found
//   GET  /v1/skus/:sku/availability        → 200 {sku, onHand, held, available}
//
// Holds and checkout need a shopper's HS256 bearer token signed with AUTH_SECRET (401 / 403 as in
// edgestock). Each request is one READ COMMITTED transaction; the stock row is locked with
// SELECT … FOR UPDATE and always after the cart row, in (sku, location) order, so two requests
// never deadlock. PostgreSQL runs with fsync and synchronous commit on: a 201 is durable.
//
// Left out, and why it does not flatter the peer: Idempotency-Keys (edgestock stores them, which
// costs it a write), per-location reserves and location kinds (the benchmark uses one warehouse),
// re-holding expired lines at checkout (edgestock tries; the peer answers 409 hold-expired).
//
//   node bench/peers/pg-peer.mjs --database postgres://... [--port 0] [--host 127.0.0.1] [--pool 8]
//   (AUTH_SECRET from the environment; prints "pg-peer listening on http://HOST:PORT" when ready)
import { randomUUID } from "node:crypto";
import http from "node:http";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { verifyHs256 } from "./hs256.mjs";
import { createSchema } from "./pg-schema.mjs";

const ID = /^[A-Za-z0-9._:-]{1,64}$/;
const CART_LINES_MAX = 50;
const HOLD_QTY_MAX = 10_000;
const HOLD_TTL_MIN_S = 5;
const HOLD_TTL_MAX_S = 3600;
const HOLD_TTL_DEFAULT_S = 900;
const BODY_BYTES_MAX = 64 * 1024;

const PROBLEMS = {
  invalid_request: { status: 400, title: "The request is not valid" },
  malformed_json: { status: 400, title: "The body is not valid JSON" },
  payload_too_large: { status: 413, title: "The body is too large" },
  unauthorized: { status: 401, title: "Missing or invalid credentials" },
  forbidden: { status: 403, title: "Not allowed for this role or scope" },
  not_found: { status: 404, title: "Not found" },
  unknown_sku: { status: 404, title: "Unknown SKU" },
  cart_not_found: { status: 404, title: "Cart not found" },
  cart_empty: { status: 409, title: "The cart holds nothing to check out" },
  cart_checked_out: { status: 409, title: "The cart has been checked out" },
  insufficient_stock: { status: 409, title: "Not enough stock available" },
  hold_expired: { status: 409, title: "A hold expired and its stock is gone" },
  internal: { status: 500, title: "Internal error" },
};

/** An expected outcome that is not a success: answered as problem+json, never logged. */
class Problem extends Error {
  constructor(kind, detail, extra = {}) {
    super(detail);
    this.kind = kind;
    this.extra = extra;
  }
}

function send(res, status, body, type = "application/json") {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendProblem(res, p) {
  const spec = PROBLEMS[p.kind];
  send(res, spec.status, { type: p.kind.replaceAll("_", "-"), title: spec.title, status: spec.status, detail: p.message, ...p.extra }, "application/problem+json");
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > BODY_BYTES_MAX) {
        reject(new Problem("payload_too_large", `the body must be at most ${BODY_BYTES_MAX} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The shopper behind the bearer token, or a Problem (401 without a valid token, 403 for other roles). */
function shopper(req, secret, nowS) {
  const header = req.headers.authorization;
  if (header === undefined) throw new Problem("unauthorized", "this request needs a bearer token");
  const m = /^Bearer +(\S+)$/i.exec(header);
  if (m === null) throw new Problem("unauthorized", "the Authorization header must be 'Bearer <JWT>'");
  const claims = verifyHs256(m[1], secret, nowS);
  if (!claims.ok) throw new Problem("unauthorized", `the token is not valid: ${claims.reason}`);
  const { sub, role } = claims.payload;
  if (typeof sub !== "string" || !ID.test(sub)) throw new Problem("unauthorized", "the token's claims are not valid: sub");
  if (role !== "shopper") throw new Problem("forbidden", `role ${role} may not do this; allowed: shopper`);
  return sub;
}

/** The hold request, checked as edgestock's route checks it (zod there, by hand here). */
function holdRequest(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Problem("malformed_json", "the body is not valid JSON");
  }
  const bad = (path, message) => new Problem("invalid_request", `${path}: ${message}`, { errors: [{ path, message }] });
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("", "must be an object");
  for (const k of Object.keys(body)) if (k !== "lines" && k !== "ttlSeconds") throw bad(k, "unknown field");
  const { lines, ttlSeconds = HOLD_TTL_DEFAULT_S } = body;
  if (!Array.isArray(lines) || lines.length < 1) throw bad("lines", "must hold at least one line");
  if (lines.length > CART_LINES_MAX) throw bad("lines", `must have at most ${CART_LINES_MAX} lines`);
  lines.forEach((l, i) => {
    if (typeof l !== "object" || l === null) throw bad(`lines.${i}`, "must be an object");
    for (const k of Object.keys(l)) if (k !== "sku" && k !== "qty" && k !== "location") throw bad(`lines.${i}.${k}`, "unknown field");
    if (typeof l.sku !== "string" || !ID.test(l.sku)) throw bad(`lines.${i}.sku`, "must be an id");
    if (!Number.isInteger(l.qty) || l.qty < 1 || l.qty > HOLD_QTY_MAX) throw bad(`lines.${i}.qty`, `must be a whole number 1..${HOLD_QTY_MAX}`);
    if (l.location !== undefined && (typeof l.location !== "string" || !ID.test(l.location))) throw bad(`lines.${i}.location`, "must be an id");
  });
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < HOLD_TTL_MIN_S || ttlSeconds > HOLD_TTL_MAX_S) throw bad("ttlSeconds", `must be a whole number ${HOLD_TTL_MIN_S}..${HOLD_TTL_MAX_S}`);
  return { lines, ttlMs: ttlSeconds * 1000 };
}

/**
 * Which locations serve `qty` units, given the locked rows' `available`: the most available first
 * (a named location: only that one). Pure; null when there is not enough.
 */
export function allocate(rows, qty) {
  const total = rows.reduce((n, r) => n + r.available, 0);
  if (total < qty) return null;
  const out = [];
  let left = qty;
  for (const r of [...rows].sort((a, b) => b.available - a.available || a.location.localeCompare(b.location))) {
    if (left === 0) break;
    const take = Math.min(left, r.available);
    if (take > 0) out.push({ location: r.location, qty: take });
    left -= take;
  }
  return out;
}

/** Runs `fn(client)` in one transaction; a throw (Problem or bug) rolls it back. */
async function transaction(pool, fn) {
  const client = await pool.connect();
  let broken;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (e) {
    try {
      await client.query("ROLLBACK");
    } catch (rollbackError) {
      // The connection is unusable: it leaves the pool instead of going back to it.
      broken = rollbackError;
    }
    throw e;
  } finally {
    client.release(broken);
  }
}

/** The cart, created for `owner` if new, locked for the rest of the transaction. */
async function lockCart(client, cartId, owner) {
  // ON CONFLICT DO UPDATE (a no-op) both creates and row-locks the cart in one statement.
  const { rows } = await client.query(
    "INSERT INTO carts (cart_id, owner) VALUES ($1, $2) ON CONFLICT (cart_id) DO UPDATE SET cart_id = EXCLUDED.cart_id RETURNING owner, state",
    [cartId, owner],
  );
  return rows[0];
}

async function hold(pool, cartId, owner, { lines, ttlMs }) {
  return transaction(pool, async (client) => {
    const cart = await lockCart(client, cartId, owner);
    if (cart.owner !== owner) throw new Problem("cart_not_found", `cart ${cartId} does not exist`);
    if (cart.state !== "open") throw new Problem("cart_checked_out", `cart ${cartId} has been checked out; start a new cart`);
    const nowMs = Date.now();
    const now = new Date(nowMs);
    const expiresAt = new Date(nowMs + ttlMs);
    // Lines in (sku, location) order: every transaction locks stock rows in the same order.
    const order = lines.map((l, i) => ({ ...l, index: i })).sort((a, b) => a.sku.localeCompare(b.sku) || (a.location ?? "").localeCompare(b.location ?? ""));
    const granted = [];
    const short = [];
    for (const line of order) {
      const { rows: locked } = await client.query(
        line.location === undefined
          ? "SELECT location, on_hand, held FROM stock WHERE sku = $1 ORDER BY location FOR UPDATE"
          : "SELECT location, on_hand, held FROM stock WHERE sku = $1 AND location = $2 FOR UPDATE",
        line.location === undefined ? [line.sku] : [line.sku, line.location],
      );
      if (locked.length === 0) throw new Problem("unknown_sku", `unknown SKU ${line.sku}${line.location === undefined ? "" : ` at ${line.location}`}`);
      // Holds past their expiry end now, under the row lock, and give their units back.
      const { rows: expired } = await client.query(
        "WITH gone AS (UPDATE holds SET state = 'expired', ended_at = $3 WHERE sku = $1 AND location = ANY($2) AND state = 'active' AND expires_at <= $3 RETURNING location, qty) SELECT location, sum(qty)::int AS qty FROM gone GROUP BY location",
        [line.sku, locked.map((r) => r.location), now],
      );
      const freed = new Map(expired.map((e) => [e.location, e.qty]));
      const stock = locked.map((r) => ({ location: r.location, onHand: r.on_hand, held: r.held - (freed.get(r.location) ?? 0) }));
      // Within this transaction the rows already count the earlier lines' holds (their UPDATEs).
      const available = stock.map((s) => ({ location: s.location, available: s.onHand - s.held }));
      const plan = allocate(available, line.qty);
      if (plan === null) {
        short.push({ index: line.index, sku: line.sku, requested: line.qty, available: available.reduce((n, a) => n + Math.max(0, a.available), 0) });
        continue;
      }
      for (const s of stock) {
        const add = plan.filter((p) => p.location === s.location).reduce((n, p) => n + p.qty, 0);
        if (add === 0 && !freed.has(s.location)) continue;
        await client.query("UPDATE stock SET held = $3 WHERE sku = $1 AND location = $2", [line.sku, s.location, s.held + add]);
      }
      for (const p of plan) granted.push({ holdId: randomUUID(), sku: line.sku, location: p.location, qty: p.qty });
    }
    if (short.length > 0) {
      short.sort((a, b) => a.index - b.index);
      throw new Problem("insufficient_stock", "not every line can be held; nothing was held", { lines: short.map(({ sku, requested, available }) => ({ sku, requested, available })) });
    }
    await client.query(
      "INSERT INTO holds (hold_id, cart_id, sku, location, qty, created_at, expires_at, state) SELECT h, $2, s, l, q, $3, $4, 'active' FROM unnest($1::text[], $5::text[], $6::text[], $7::int[]) AS t(h, s, l, q)",
      [granted.map((g) => g.holdId), cartId, now, expiresAt, granted.map((g) => g.sku), granted.map((g) => g.location), granted.map((g) => g.qty)],
    );
    const iso = expiresAt.toISOString();
    return { cartId, expiresAt: iso, holds: granted.map((g) => ({ ...g, expiresAt: iso })) };
  });
}

async function checkout(pool, cartId, owner) {
  return transaction(pool, async (client) => {
    const { rows: carts } = await client.query("SELECT owner, state, order_json FROM carts WHERE cart_id = $1 FOR UPDATE", [cartId]);
    const cart = carts[0];
    if (cart === undefined || cart.owner !== owner) throw new Problem("cart_not_found", `cart ${cartId} does not exist`);
    // A cart is sold once: every later checkout gets the same order.
    if (cart.state === "checked_out") return cart.order_json;
    const { rows: holds } = await client.query(
      "SELECT hold_id, sku, location, qty, expires_at FROM holds WHERE cart_id = $1 AND state = 'active' ORDER BY sku, location, hold_id",
      [cartId],
    );
    if (holds.length === 0) throw new Problem("cart_empty", `cart ${cartId} has no holds to check out`);
    const nowMs = Date.now();
    const lost = holds.filter((h) => h.expires_at.getTime() <= nowMs);
    if (lost.length > 0) {
      throw new Problem("hold_expired", "a hold in the cart expired and its stock is no longer available; nothing was sold", {
        lines: lost.map((h) => ({ sku: h.sku, location: h.location, qty: h.qty, holdId: h.hold_id })),
      });
    }
    const lines = new Map();
    for (const h of holds) {
      const key = `${h.sku}\u0000${h.location}`;
      const line = lines.get(key) ?? { sku: h.sku, location: h.location, qty: 0 };
      lines.set(key, { ...line, qty: line.qty + h.qty });
    }
    // The UPDATE locks each stock row, in the same (sku, location) order as holds take them.
    for (const l of lines.values()) {
      await client.query("UPDATE stock SET on_hand = on_hand - $3, held = held - $3 WHERE sku = $1 AND location = $2", [l.sku, l.location, l.qty]);
    }
    const now = new Date(nowMs);
    const orderId = `ord_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    await client.query("UPDATE holds SET state = 'committed', ended_at = $2 WHERE hold_id = ANY($1)", [holds.map((h) => h.hold_id), now]);
    await client.query(
      "INSERT INTO movements (order_id, hold_id, sku, from_account, to_account, qty, occurred_at) SELECT $1, h, s, 'loc:' || l, 'customer', q, $2 FROM unnest($3::text[], $4::text[], $5::text[], $6::int[]) AS t(h, s, l, q)",
      [orderId, now, holds.map((h) => h.hold_id), holds.map((h) => h.sku), holds.map((h) => h.location), holds.map((h) => h.qty)],
    );
    const order = { orderId, cartId, lines: [...lines.values()] };
    await client.query("UPDATE carts SET state = 'checked_out', order_json = $2 WHERE cart_id = $1", [cartId, order]);
    return order;
  });
}

async function availability(pool, sku) {
  const { rows } = await pool.query(
    `SELECT coalesce(sum(s.on_hand), 0)::int AS on_hand,
            coalesce(sum(s.held), 0)::int - coalesce((SELECT sum(qty) FROM holds h WHERE h.sku = $1 AND h.state = 'active' AND h.expires_at <= now()), 0)::int AS held,
            count(*)::int AS locations
       FROM stock s WHERE s.sku = $1`,
    [sku],
  );
  const r = rows[0];
  if (r.locations === 0) throw new Problem("unknown_sku", `unknown SKU ${sku}`);
  return { sku, onHand: r.on_hand, held: r.held, available: r.on_hand - r.held };
}

const CART_ROUTE = /^\/v1\/carts\/([^/]+)\/(holds|checkout)$/;
const AVAILABILITY_ROUTE = /^\/v1\/skus\/([^/]+)\/availability$/;

/**
 * Starts the peer. Resolves with { base, pool, close() } once it listens; the schema is created
 * first if missing.
 */
export async function startPeer({ database, host = "127.0.0.1", port = 0, poolSize = 8, secret, log = (line) => process.stderr.write(`${line}\n`) }) {
  if (typeof secret !== "string" || secret === "") throw new Error("pg-peer: AUTH_SECRET is empty");
  const pool = new pg.Pool({ connectionString: database, max: poolSize });
  pool.on("error", (e) => log(`pg-peer: idle connection failed: ${e.message}`));
  await createSchema(pool);

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://peer");
    try {
      if (req.method === "GET" && url.pathname === "/healthz") return send(res, 200, { status: "ok" });
      const cartRoute = CART_ROUTE.exec(url.pathname);
      if (req.method === "POST" && cartRoute !== null) {
        const cartId = decodeURIComponent(cartRoute[1]);
        const owner = shopper(req, secret, Math.floor(Date.now() / 1000));
        if (!ID.test(cartId)) throw new Problem("invalid_request", "cartId: must be an id");
        if (cartRoute[2] === "holds") return send(res, 201, await hold(pool, cartId, owner, holdRequest(await readBody(req))));
        await readBody(req);
        return send(res, 200, await checkout(pool, cartId, owner));
      }
      const availabilityRoute = AVAILABILITY_ROUTE.exec(url.pathname);
      if (req.method === "GET" && availabilityRoute !== null) return send(res, 200, await availability(pool, decodeURIComponent(availabilityRoute[1])));
      throw new Problem("not_found", `no route for ${req.method} ${url.pathname}`);
    } catch (e) {
      if (e instanceof Problem) return sendProblem(res, e);
      // A bug or a database failure: logged with an id, answered as a bare 500.
      const requestId = randomUUID();
      log(`pg-peer: ${requestId} ${req.method} ${url.pathname}: ${e.stack ?? e}`);
      return sendProblem(res, new Problem("internal", `request ${requestId} failed`));
    }
  });
  // Long-lived keep-alive connections, as a load balancer in front of an app server keeps them.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 61_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address();
  return {
    base: `http://${host}:${bound}`,
    pool,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pool.end();
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: { database: { type: "string" }, host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "0" }, pool: { type: "string", default: "8" } },
    strict: true,
  });
  const poolSize = Number(values.pool);
  const port = Number(values.port);
  if (values.database === undefined) throw new Error("--database postgres://... is required");
  if (!Number.isSafeInteger(poolSize) || poolSize < 1) throw new Error("--pool must be a whole number >= 1");
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new Error("--port must be a TCP port (0: any free one)");
  const peer = await startPeer({ database: values.database, host: values.host, port, poolSize, secret: process.env.AUTH_SECRET ?? "" });
  process.stdout.write(`pg-peer listening on ${peer.base} (pool ${poolSize})\n`);
  const stop = () => peer.close().then(() => process.exit(0), () => process.exit(1));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`pg-peer: ${e.message}\n`);
    process.exit(1);
  });
}
