import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// wrangler.toml's [assets] directory must exist for the workers pool to start; `npm test` builds
// the apps into it first, and an empty one is enough for the edge tests (SELF.fetch skips assets).
mkdirSync(fileURLToPath(new URL("./dist/web", import.meta.url)), { recursive: true });

const migrations = await readD1Migrations(fileURLToPath(new URL("./ledger/migrations", import.meta.url)));

export default defineConfig({
  test: {
    projects: [
      {
        // Routes and Durable Objects inside workerd, with real object storage and a real D1.
        plugins: [
          cloudflareTest({
            main: "./edge/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // The ledger's own DB, and a second, empty one where a test applies the migrations in
              // steps to check an upgrade over rows already there (test/edge/ledger-upgrade.test.ts).
              d1Databases: { DB: "00000000-0000-4000-8000-000000000000", UPGRADE_DB: "upgrade" },
              // SEED replays a randomized test inside workerd, where process.env does not reach.
              bindings: { AUTH_SECRET: "test-secret-0123456789abcdef0123456789abcdef", TEST_MIGRATIONS: migrations, TEST_SEED: process.env.SEED ?? "",
                // The seeded simulation (test/edge/sim/): how many runs, or one seed to replay, and its steps.
                SIM_RUNS: process.env.SIM_RUNS ?? "", SIM_SEED: process.env.SIM_SEED ?? "", SIM_STEPS: process.env.SIM_STEPS ?? "",
                // As `npm start` has it (.dev.vars): the demo sign-in on, for loopback hosts only.
                DEMO_SIGN_IN: "1",
                // A flush lands as soon as the ledger writer is free, instead of waiting up to a second
                // for other SKUs' flushes: tests flush one SKU at a time and wait for it. The gather
                // window itself is tested with the writer's own setting (test/edge/ledger-writer.test.ts).
                LEDGER_GATHER_MS: "0" },
            },
          }),
        ],
        test: {
          name: "edge",
          include: ["test/edge/**/*.test.ts"],
          setupFiles: ["./test/edge/setup.ts"],
          // Shared 2-core machines: a slow run is not a failure; wrong answers are.
          testTimeout: 60_000,
        },
      },
      {
        // Pure rules and the store client, in Node.
        test: {
          name: "unit",
          environment: "node",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        // The POS and manager apps in real Chromium (Debian's, never downloaded) against the real
        // Worker as `npm start` runs it, started once by the global setup (test/browser/).
        test: {
          name: "browser",
          environment: "node",
          include: ["test/browser/**/*.test.ts"],
          globalSetup: ["./test/browser/global-setup.mjs"],
          // One Chromium at a time on a 2-core machine; each test is a whole flow.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
