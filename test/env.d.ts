import type { Env } from "../edge/env";

declare global {
  namespace Cloudflare {
    interface Env extends import("../edge/env").Env {
      readonly TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
      /** SEED from the environment of `npm test`, to replay a randomized test; empty when unset. */
      readonly TEST_SEED: string;
    }
  }
}

export type { Env };
