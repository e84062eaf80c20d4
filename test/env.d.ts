import type { Env } from "../edge/env";

declare global {
  namespace Cloudflare {
    interface Env extends import("../edge/env").Env {
      readonly TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    }
  }
}

export type { Env };
