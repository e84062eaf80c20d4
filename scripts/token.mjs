// Prints one signed token and nothing else on stdout, so scripts can capture it:
//   TOKEN=$(npm run -s token -- --role terminal --store S001)
import { parseArgs } from "node:util";
import { ensureDevVars, readSecret, signToken } from "./lib/jwt.mjs";
import { ROOT } from "./lib/wrangler.mjs";

export const ROLES = ["shopper", "terminal", "staff", "manager", "admin", "service"];
const ID = /^[A-Za-z0-9._:-]{1,64}$/;

const USAGE = `usage: npm run -s token -- --role <${ROLES.join("|")}> [--store S] [--region G] [--sub X] [--ttl SECONDS]
  --role    required
  --store   store claim (terminal, staff)
  --region  region claim (manager)
  --sub     subject; default <role>-local (a terminal with --store: <store>-pos)
  --ttl     lifetime in seconds; default 3600`;

function fail(message) {
  process.stderr.write(`token: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      role: { type: "string" },
      store: { type: "string" },
      region: { type: "string" },
      sub: { type: "string" },
      ttl: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  fail(err.message);
}

if (values.help) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(0);
}
if (!values.role) fail("--role is required");
if (!ROLES.includes(values.role)) fail(`unknown role "${values.role}"`);
for (const key of ["store", "region", "sub"]) {
  if (values[key] !== undefined && !ID.test(values[key])) fail(`--${key} must be 1-64 characters of A-Z a-z 0-9 . _ : -`);
}
const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
if (!Number.isSafeInteger(ttl) || ttl <= 0) fail("--ttl must be a positive whole number of seconds");

// Tokens without the scope claim are still printed (useful for trying a refusal), but say so.
if ((values.role === "terminal" || values.role === "staff") && !values.store) {
  process.stderr.write(`token: note: the API refuses a ${values.role} token without --store (401)\n`);
}
if (values.role === "manager" && !values.region) {
  process.stderr.write("token: note: the API refuses a manager token without --region (401)\n");
}

const { created, path } = ensureDevVars(ROOT);
if (created) process.stderr.write(`token: wrote a new AUTH_SECRET to ${path}\n`);

const sub = values.sub ?? (values.role === "terminal" && values.store ? `${values.store}-pos` : `${values.role}-local`);
const iat = Math.floor(Date.now() / 1000);
const claims = {
  sub,
  role: values.role,
  ...(values.store ? { store: values.store } : {}),
  ...(values.region ? { region: values.region } : {}),
  iat,
  exp: iat + ttl,
};

process.stdout.write(`${signToken(claims, readSecret(ROOT))}\n`);
