import type { Principal } from "../auth/auth";
import type { Env } from "../env";

/** Hono's view of the Worker: its bindings and what middleware leaves for the handlers. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    principal: Principal | undefined;
    requestId: string;
  };
}
