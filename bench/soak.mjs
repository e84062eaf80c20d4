// soak: a million operations through one SKU object and one cart shard (simulated days), in
// workerd with real Durable Object storage and D1; every table's rows at each 100,000 operations.
// Storage must stay flat, and answers to requests older than every retention must stay right.
//
//   npm run bench -- soak [--ops N]
//
// Runs test/edge/soak/rows.soak.ts through vitest's workers pool (bench/soak/vitest.config.mjs).
import { spawn } from "node:child_process";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../scripts/lib/wrangler.mjs";
import { writeResults } from "./lib/results.mjs";

const fmt = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

export async function main(argv) {
  const { values } = parseArgs({ args: argv, options: { ops: { type: "string", default: "1000000" } }, strict: true });
  const ops = Number(values.ops);
  if (!Number.isSafeInteger(ops) || ops < 1000) {
    process.stderr.write("soak: --ops must be a whole number of at least 1000\n");
    return 2;
  }
  process.stdout.write(`soak: ${fmt(ops)} operations through one SKU object and one cart shard (takes minutes)\n`);
  const startedAt = new Date();
  let output = "";
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--config", "bench/soak/vitest.config.mjs"], {
      cwd: ROOT,
      env: { ...process.env, SOAK_OPS: String(ops), WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("exit", (c) => resolve(c ?? 1));
  });
  const line = output.split("\n").find((l) => l.includes("SOAK_RESULT "));
  if (line === undefined) {
    process.stderr.write(`${output}\nsoak: the workload printed no result (exit ${code})\n`);
    return 1;
  }
  const result = JSON.parse(line.slice(line.indexOf("SOAK_RESULT ") + "SOAK_RESULT ".length));
  const tables = [...new Set(result.checkpoints.flatMap((c) => Object.keys(c.sku)))].filter((t) => !["meta", "accounts", "held", "lots"].includes(t)).sort();
  const header = ["operations", "simulated days", `s per ${fmt(result.checkpointOps)}`, ...tables.map((t) => `sku ${t}`), "sku all rows", "cart shard rows"];
  const rows = result.checkpoints.map((c) => [
    fmt(c.ops),
    fmt(c.simulatedDays, 1),
    c.ops === 0 ? "–" : fmt(c.seconds, 1),
    ...tables.map((t) => fmt(c.sku[t] ?? 0)),
    fmt(Object.values(c.sku).reduce((a, b) => a + b, 0)),
    fmt(Object.values(c.cart).reduce((a, b) => a + b, 0)),
  ]);
  process.stdout.write(`\n| ${header.join(" | ")} |\n|${header.map(() => "---:").join("|")}|\n${rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}\n`);
  process.stdout.write(
    `\nolder than every retention: terminal op seq 1 answered "${result.oldDuplicate}", checkout of the first (forgotten) cart answered ${result.oldCartCheckout}, ` +
      `on hand moved by them: ${result.onHandMovedByOldRequests}; audit consistent: ${result.auditConsistent}\n`,
  );
  writeResults("soak", { startedAt: startedAt.toISOString(), machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version }, exit: code, ...result });
  return code;
}
