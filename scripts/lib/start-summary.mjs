// What `npm start` and `npm run dev` share: their command line (--no-seed, PORT), how they speak,
// and what they print once the Worker is up and seeded: where everything is.
import { parseArgs } from "node:util";
import { HOST } from "./dev-server.mjs";

/**
 * The command line of a start script named `name` ("start", "dev"): its log lines, its exit on a
 * fatal error, --no-seed, and the port from $PORT (default 8787) with the base URL on it.
 */
export function startCli(name) {
  const say = (msg) => process.stdout.write(`[${name}] ${msg}\n`);
  const die = (msg, code = 1) => {
    process.stderr.write(`[${name}] ${msg}\n`);
    process.exit(code);
  };
  const { values } = parseArgs({ options: { "no-seed": { type: "boolean" } }, strict: true });
  const port = Number(process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 1 || port > 65535) die(`PORT must be a TCP port number, got "${process.env.PORT}"`);
  return { say, die, noSeed: values["no-seed"] === true, port, base: `http://${HOST}:${port}` };
}

/** The summary block; `server` names what serves the Worker, `tail` is the last line. */
export function startSummary({ base, seeded, demo, root, server, tail = "From here on: the Worker's warnings and errors as they happen." }) {
  const q = "'";
  return `
edgestock is running at ${base}   (Ctrl+C stops it)
  served by  ${server}

  POS        ${base}/pos       ${demo ? "(demo sign-in: pick a till of a store)" : "(sign in: /pos#token=<terminal token>)"}
  manager    ${base}/manager   ${demo ? "(demo sign-in: pick the manager of a region)" : "(sign in: /manager#token=<manager token>)"}

  liveness   ${base}/healthz
  API        ${base}/v1/...  (routes and examples: README, "API (v1)")
  data       ${seeded ? "regions north/south, stores S001-S006, warehouses W001/W002, SKU-00001..SKU-01000" : `not seeded (run: npm run seed -- --url ${base})`}
  state      ${root}/.wrangler/state  (delete it for a clean slate)

  token      TOKEN=$(npm run -s token -- --role shopper)
             other roles: terminal --store S001, staff --store S001, manager --region north, admin, service

  availability
    curl -s ${base}/v1/skus/SKU-00001/availability

  hold one unit in a cart
    curl -s -X POST ${base}/v1/carts/cart-1/holds \\
      -H "authorization: Bearer $TOKEN" -H ${q}content-type: application/json${q} \\
      -d ${q}{"lines":[{"sku":"SKU-00001","qty":1}]}${q}

  ${tail}
`;
}
