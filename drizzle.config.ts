import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./ledger/schema.ts",
  out: "./ledger/migrations",
});
