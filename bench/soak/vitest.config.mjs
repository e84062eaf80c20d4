// The soak benchmark's runner: the edge project's workerd pool (real Durable Object storage, real
// D1), running only the soak workload, with its size passed in as bindings.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL("../..", import.meta.url));
const migrations = await readD1Migrations(`${root}/ledger/migrations`);

export default defineConfig({
  root,
  plugins: [
    cloudflareTest({
      main: "./edge/index.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          AUTH_SECRET: "soak-secret-0123456789abcdef0123456789abcdef",
          TEST_MIGRATIONS: migrations,
          TEST_SEED: "",
          SOAK_OPS: process.env.SOAK_OPS ?? "1000000",
        },
      },
    }),
  ],
  test: {
    include: ["test/edge/soak/*.soak.ts"],
    setupFiles: ["./test/edge/setup.ts"],
    testTimeout: 4 * 3600_000,
  },
});
