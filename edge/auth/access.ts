/**
 * The routes' role guards, from the access table (access-table.ts): only the roles a rule names
 * get past; the route checks the scope where it knows the location.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/app-env";
import { rolesOf, ruleOf, type RouteKey } from "./access-table";
import { requireRole } from "./auth";

/** Route guard from the table: only the roles the rule names get past (401 without a token). */
export const allowed = (key: RouteKey): MiddlewareHandler<AppEnv> => requireRole(...rolesOf(ruleOf(key)));

