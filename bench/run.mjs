// `npm run bench -- [name] [options]`: runs bench/<name>.mjs, or every bench when no name is given.
// Each bench module exports `main(argv)` resolving with its exit code.
import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const known = readdirSync(here)
  .filter((f) => f.endsWith(".mjs") && f !== "run.mjs")
  .map((f) => f.slice(0, -".mjs".length))
  .sort();

const argv = process.argv.slice(2);
const named = argv.length > 0 && !argv[0].startsWith("-") ? argv[0] : undefined;
const rest = named === undefined ? argv : argv.slice(1);

if (named === "help" || argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(`usage: npm run bench -- [${known.join("|")}] [options]\n(no name runs them all; see each bench file for its options)\n`);
  process.exit(0);
}
if (named !== undefined && !known.includes(named)) {
  process.stderr.write(`bench: unknown bench "${named}"; known: ${known.join(", ")}\n`);
  process.exit(2);
}

let exitCode = 0;
for (const name of named === undefined ? known : [named]) {
  const mod = await import(pathToFileURL(`${here}/${name}.mjs`).href);
  const code = await mod.main(rest);
  exitCode = Math.max(exitCode, code ?? 0);
}
process.exit(exitCode);
