/**
 * The demo sign-in of a local edgestock (`npm start`): who the seeded people are, and a token for
 * one of them, so a newcomer can open `/pos` or `/manager` and try it without an identity provider.
 *
 * Enabled only when the Worker's `DEMO_SIGN_IN` is "1" (`.dev.vars`, written by `npm start`) and
 * the request came to a loopback host; otherwise both routes answer 404 as if they did not exist.
 * `npm run deploy` refuses a configuration that enables it and deploys with it off, so a deployed
 * edge never hands out tokens. The people are derived from the locations and regions in D1: for
 * each store two terminals and two clerks, for each region a manager.
 */
import { asc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { sign } from "hono/jwt";
import { z } from "zod";
import { locations, regions } from "../../ledger/schema";
import type { AppEnv } from "../http/app-env";
import { problem, ProblemError } from "../http/problem";
import { json } from "../http/validate";

/** A demo token lasts a working day. */
const DEMO_TOKEN_TTL_S = 12 * 3600;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export interface DemoPerson {
  id: string;
  label: string;
  role: "terminal" | "staff" | "manager";
  store?: string;
  region?: string;
}

/** The seeded people of these stores and regions. Pure. */
export function demoPeople(stores: readonly { id: string; name: string }[], regionList: readonly { id: string; name: string }[]): DemoPerson[] {
  const people: DemoPerson[] = [];
  for (const s of stores) {
    for (const n of [1, 2]) people.push({ id: `${s.id}-pos-${n}`, label: `Till ${n}, ${s.name}`, role: "terminal", store: s.id });
    for (const n of [1, 2]) people.push({ id: `${s.id}-clerk-${n}`, label: `Clerk ${n}, ${s.name}`, role: "staff", store: s.id });
  }
  for (const r of regionList) people.push({ id: `manager-${r.id}`, label: `Manager, region ${r.name}`, role: "manager", region: r.id });
  return people;
}

/** Whether the demo sign-in answers this request: enabled, and asked of a loopback host. */
export function demoSignInEnabled(env: { DEMO_SIGN_IN?: string | undefined }, url: string): boolean {
  return env.DEMO_SIGN_IN === "1" && LOOPBACK.has(new URL(url).hostname);
}

function assertEnabled(env: { DEMO_SIGN_IN?: string | undefined }, url: string): void {
  if (demoSignInEnabled(env, url)) return;
  throw new ProblemError(problem("not_found", "no such route"));
}

async function loadPeople(db: D1Database): Promise<DemoPerson[]> {
  const d = drizzle(db);
  const [locs, regs] = await Promise.all([
    d.select({ id: locations.id, name: locations.name, kind: locations.kind }).from(locations).orderBy(asc(locations.id)).all(),
    d.select({ id: regions.id, name: regions.name }).from(regions).orderBy(asc(regions.id)).all(),
  ]);
  return demoPeople(locs.filter((l) => l.kind === "store"), regs);
}

export const demoRoutes = new Hono<AppEnv>()
  .use("/demo/*", async (c, next) => {
    assertEnabled(c.env, c.req.url);
    await next();
  })
  .get("/demo/people", async (c) => c.json({ people: await loadPeople(c.env.DB) }))
  .post("/demo/sign-in", json(z.strictObject({ person: z.string().min(1).max(64) })), async (c) => {
    const { person } = c.req.valid("json");
    const found = (await loadPeople(c.env.DB)).find((p) => p.id === person);
    if (found === undefined) throw new ProblemError(problem("not_found", `no demo person ${person}`));
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: found.id,
      role: found.role,
      ...(found.store === undefined ? {} : { store: found.store }),
      ...(found.region === undefined ? {} : { region: found.region }),
      iat: now,
      exp: now + DEMO_TOKEN_TTL_S,
    };
    return c.json({ token: await sign(claims, c.env.AUTH_SECRET, "HS256"), person: found });
  });
