// Where the repository and its pinned wrangler live, and the environment every wrangler child gets.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

// The installed, pinned wrangler (4.86.0); `npx` could otherwise fetch a newer one that needs Node 22.
export const WRANGLER_JS = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

// Without these, wrangler tries to reach the internet (there may be none) and prints noise.
export const QUIET_WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
  WRANGLER_SEND_ERROR_REPORTS: "false",
};

export function wranglerEnv(extra = {}) {
  return { ...process.env, ...QUIET_WRANGLER_ENV, ...extra };
}

export function assertWranglerInstalled() {
  if (!existsSync(WRANGLER_JS)) {
    throw new Error(`wrangler is not installed at ${WRANGLER_JS}: run \`npm ci\` first`);
  }
}

/** Runs wrangler to completion with inherited output; resolves with its exit code. */
export function runWrangler(args, { env = {}, stdio = ["ignore", "inherit", "inherit"] } = {}) {
  assertWranglerInstalled();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER_JS, ...args], { cwd: ROOT, env: wranglerEnv(env), stdio });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
