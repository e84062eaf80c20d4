// The test runtime's `env` (from "cloudflare:test"): the Worker's bindings plus what the tests add.
type WorkerEnv = import("../edge/env").Env;

declare namespace Cloudflare {
  interface Env {
    readonly SKU: WorkerEnv["SKU"];
    readonly CART: WorkerEnv["CART"];
    readonly COUNT: WorkerEnv["COUNT"];
    readonly OUTBOX: WorkerEnv["OUTBOX"];
    readonly LEDGER: WorkerEnv["LEDGER"];
    readonly LEDGER_GATHER_MS?: string;
    readonly DB: WorkerEnv["DB"];
    /** An empty D1 for upgrade tests (vitest.config.ts). */
    readonly UPGRADE_DB: WorkerEnv["DB"];
    readonly CHANGES: WorkerEnv["CHANGES"];
    readonly AUTH_SECRET: string;
    readonly TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** SEED from the environment of `npm test`, to replay a randomized test; empty when unset. */
    readonly TEST_SEED: string;
    /** The seeded simulation (test/edge/sim/): runs, a seed to replay, its steps; empty when unset. */
    readonly SIM_RUNS: string;
    readonly SIM_SEED: string;
    readonly SIM_STEPS: string;
    /** The soak benchmark (bench/soak.mjs): how many operations to put through one SKU object. */
    readonly SOAK_OPS?: string;
  }
}
