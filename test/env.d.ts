// The test runtime's `env` (from "cloudflare:test"): the Worker's bindings plus what the tests add.
type WorkerEnv = import("../edge/env").Env;

declare namespace Cloudflare {
  interface Env {
    readonly SKU: WorkerEnv["SKU"];
    readonly CART: WorkerEnv["CART"];
    readonly DB: WorkerEnv["DB"];
    readonly CHANGES: WorkerEnv["CHANGES"];
    readonly AUTH_SECRET: string;
    readonly TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** SEED from the environment of `npm test`, to replay a randomized test; empty when unset. */
    readonly TEST_SEED: string;
  }
}
