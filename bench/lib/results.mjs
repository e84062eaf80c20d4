// What every benchmark shares: whether a server answers, and where its figures are written.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

/** Whether an edgestock answers GET /healthz at `base` within 3 s. */
export async function reachable(base) {
  try {
    const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Write a bench's result as bench/results/<name>.json and say where. */
export function writeResults(name, result) {
  const file = join(RESULTS_DIR, `${name}.json`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nresults written to ${file}\n`);
}
