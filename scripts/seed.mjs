// Demo data through the public API, safe to run any number of times:
//   npm run seed -- --url http://127.0.0.1:8787
// PUTs are idempotent; receipts carry Idempotency-Key `seed.<sku>.<location>`, and the whole
// receipt phase is skipped once the last SKU has stock.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { readSecret, signToken } from "./lib/jwt.mjs";
import { apiClient, pool } from "./lib/http.mjs";
import { ROOT } from "./lib/wrangler.mjs";

export const REGIONS = [
  { id: "north", name: "North" },
  { id: "south", name: "South" },
];

export const LOCATIONS = [
  { id: "S001", kind: "store", regionId: "north", name: "Store 1 (North)", reserve: 2 },
  { id: "S002", kind: "store", regionId: "north", name: "Store 2 (North)", reserve: 2 },
  { id: "S003", kind: "store", regionId: "north", name: "Store 3 (North)", reserve: 2 },
  { id: "S004", kind: "store", regionId: "south", name: "Store 4 (South)", reserve: 2 },
  { id: "S005", kind: "store", regionId: "south", name: "Store 5 (South)", reserve: 2 },
  { id: "S006", kind: "store", regionId: "south", name: "Store 6 (South)", reserve: 2 },
  { id: "W001", kind: "warehouse", regionId: "north", name: "Warehouse North", reserve: 0 },
  { id: "W002", kind: "warehouse", regionId: "south", name: "Warehouse South", reserve: 0 },
];

const STORES = LOCATIONS.filter((l) => l.kind === "store").map((l) => l.id);
const WAREHOUSES = LOCATIONS.filter((l) => l.kind === "warehouse").map((l) => l.id);

export const DEFAULT_SKU_COUNT = 1000;

export const skuId = (n) => `SKU-${String(n).padStart(5, "0")}`;

const ADJECTIVES = ["Organic", "Classic", "Family", "Fresh", "Premium", "Everyday", "Mini", "Large", "Crunchy", "Light", "Smoked", "Spicy"];
const PRODUCTS = ["Apples", "Coffee", "Pasta", "Yogurt", "Rice", "Tea", "Cookies", "Olive Oil", "Cereal", "Cheese", "Tomatoes", "Bread", "Juice", "Chocolate"];
const SIZES = ["250 g", "500 g", "1 kg", "330 ml", "1 l", "6-pack"];

/** EAN-13 check digit over the first 12 digits. */
function ean13(first12) {
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(first12[i]) * (i % 2 === 0 ? 1 : 3);
  return `${first12}${(10 - (sum % 10)) % 10}`;
}

/** One SKU's catalog entry and its receipts, all derived from its number so every run agrees. */
export function skuPlan(n) {
  const sku = skuId(n);
  const name = `${ADJECTIVES[n % ADJECTIVES.length]} ${PRODUCTS[(n * 7) % PRODUCTS.length]} ${SIZES[(n * 5) % SIZES.length]} #${n}`;
  // Prefix 200 is GS1's in-store range, so these never collide with real product codes.
  const barcode = ean13(`200${String(n).padStart(9, "0")}`);
  const perishable = n % 10 === 0;
  const receipts = [];
  WAREHOUSES.forEach((location, i) => {
    receipts.push({ sku, location, qty: 50 + ((n * 37 + i * 53) % 151) });
  });
  // Two or three stores, stepping by two so both regions get some.
  const storeCount = 2 + (n % 2);
  for (let k = 0; k < storeCount; k++) {
    const location = STORES[(n + 2 * k) % STORES.length];
    receipts.push({ sku, location, qty: 1 + ((n * 13 + k * 29) % 60) });
  }
  return { sku, body: { name, barcode, perishable }, receipts };
}

/**
 * Seeds regions, locations, SKUs and stock at `baseUrl`. Resolves with counts; throws an
 * HttpError carrying the response body on any non-2xx answer.
 */
export async function seed(baseUrl, { log = console.log, concurrency = 16, skuCount = DEFAULT_SKU_COUNT, secret } = {}) {
  const started = Date.now();
  const now = Math.floor(started / 1000);
  const token = signToken({ sub: "seed", role: "admin", iat: now, exp: now + 3600 }, secret ?? readSecret(ROOT));
  const api = apiClient(baseUrl, token);

  for (const r of REGIONS) await api.request("PUT", `/v1/regions/${r.id}`, { name: r.name });
  await pool(LOCATIONS, concurrency, (l) =>
    api.request("PUT", `/v1/locations/${l.id}`, { kind: l.kind, regionId: l.regionId, name: l.name, reserve: l.reserve }),
  );

  const plans = Array.from({ length: skuCount }, (_, i) => skuPlan(i + 1));
  await pool(plans, concurrency, (p) => api.request("PUT", `/v1/skus/${p.sku}`, p.body));

  const last = plans[plans.length - 1];
  const lastAvailability = await api.request("GET", `/v1/skus/${last.sku}/availability`);
  let receipts = 0;
  let units = 0;
  let skipped = false;
  if (lastAvailability?.onHand > 0) {
    skipped = true;
  } else {
    const receive = async (r) => {
      await api.request("POST", "/v1/receipts", r, { "idempotency-key": `seed.${r.sku}.${r.location}` });
      receipts++;
      units += r.qty;
    };
    // The last SKU's stock is the "already seeded" marker, so it goes in only after every other
    // receipt succeeded: an interrupted run is then redone (deduplicated by key), not skipped.
    await pool(plans.slice(0, -1).flatMap((p) => p.receipts), concurrency, receive);
    await pool(last.receipts, concurrency, receive);
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const stock = skipped ? "receipts already present, skipped" : `${receipts} receipts (${units} units)`;
  log(`seed: ${REGIONS.length} regions, ${LOCATIONS.length} locations, ${plans.length} SKUs, ${stock} at ${api.base} in ${seconds} s`);
  return { regions: REGIONS.length, locations: LOCATIONS.length, skus: plans.length, receipts, units, skipped };
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      skus: { type: "string" },
      concurrency: { type: "string" },
    },
    strict: true,
  });
  const url = values.url ?? process.env.SEED_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`;
  const skuCount = values.skus === undefined ? DEFAULT_SKU_COUNT : Number(values.skus);
  const concurrency = values.concurrency === undefined ? 16 : Number(values.concurrency);
  if (!Number.isSafeInteger(skuCount) || skuCount < 1 || skuCount > 99_999) throw new Error("--skus must be 1..99999");
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new Error("--concurrency must be a positive integer");
  await seed(url, { skuCount, concurrency });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`seed failed: ${err.message}`);
    process.exit(1);
  });
}
