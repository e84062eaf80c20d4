// HS256 tokens for local use, signed with the AUTH_SECRET the Worker reads from .dev.vars.
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const DEV_VARS = ".dev.vars";

const b64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A compact JWS (HS256) over `claims`. */
export function signToken(claims, secret) {
  if (typeof secret !== "string" || secret.length === 0) throw new Error("signToken: empty secret");
  const signingInput = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}`;
  const signature = createHmac("sha256", secret).update(signingInput).digest("base64url");
  return `${signingInput}.${signature}`;
}

/** KEY=value lines as wrangler reads them: comments, blank lines, `export ` and quotes allowed. */
export function parseDotenv(text) {
  const vars = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
    } else {
      // An unquoted value ends at an inline comment.
      value = value.replace(/\s+#.*$/, "").trim();
    }
    vars[m[1]] = value;
  }
  return vars;
}

/** AUTH_SECRET from `<dir>/.dev.vars`; throws with a hint when it is missing. */
export function readSecret(dir = process.cwd()) {
  const path = join(dir, DEV_VARS);
  if (!existsSync(path)) throw new Error(`${path} does not exist: run \`npm start\` once (or \`npm run -s token\`) to create it`);
  const secret = parseDotenv(readFileSync(path, "utf8")).AUTH_SECRET;
  if (!secret) throw new Error(`${path} has no AUTH_SECRET: run \`npm start\` once to add one`);
  return secret;
}

/**
 * Makes sure `<dir>/.dev.vars` holds a non-empty AUTH_SECRET, so a fresh clone works without a
 * manual step, and a DEMO_SIGN_IN line (1: the local demo sign-in of /pos and /manager is on; set
 * it to 0 to turn it off). An existing secret is never replaced: tokens already handed out stay
 * valid; an existing DEMO_SIGN_IN is left as it is.
 * Returns `{ path, created, demo }`: whether a secret was written, and whether the demo sign-in is on.
 */
export function ensureDevVars(dir = process.cwd()) {
  const path = join(dir, DEV_VARS);
  let text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const vars = parseDotenv(text);
  let created = false;
  if (!vars.AUTH_SECRET) {
    const line = `AUTH_SECRET=${randomBytes(32).toString("hex")}`;
    if (/^\s*(?:export\s+)?AUTH_SECRET\s*=/m.test(text)) {
      // Present but empty: fill that line in place rather than adding a second, conflicting one.
      text = text.replace(/^\s*(?:export\s+)?AUTH_SECRET\s*=.*$/m, line);
    } else {
      text = `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${line}\n`;
    }
    created = true;
  }
  const demoMissing = vars.DEMO_SIGN_IN === undefined;
  if (demoMissing) {
    text = `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}# The local demo sign-in of /pos and /manager (1 on, 0 off); never deployed.\nDEMO_SIGN_IN=1\n`;
  }
  if (created || demoMissing) writeFileSync(path, text, { mode: 0o600 });
  return { path, created, demo: (demoMissing ? "1" : vars.DEMO_SIGN_IN) === "1" };
}
