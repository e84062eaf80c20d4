/**
 * The local demo sign-in (`npm start` only): the seeded people and a token for one of them. The
 * edge answers 404 for both routes unless `.dev.vars` enables them, and a deploy never does.
 */

export interface DemoPerson {
  id: string;
  label: string;
  role: "terminal" | "staff" | "manager";
  store?: string;
  region?: string;
}

/** The demo people, or null when the demo sign-in is not enabled here (or the edge is unreachable). */
export async function demoPeople(): Promise<DemoPerson[] | null> {
  try {
    const res = await fetch("/v1/demo/people", { headers: { accept: "application/json" } });
    if (res.status !== 200) return null;
    const body = (await res.json()) as { people?: DemoPerson[] };
    return Array.isArray(body.people) ? body.people : null;
  } catch {
    // Offline: the demo sign-in is simply not offered.
    return null;
  }
}

export async function demoToken(personId: string): Promise<string> {
  const res = await fetch("/v1/demo/sign-in", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ person: personId }),
  });
  const body = (await res.json()) as { token?: string; detail?: string };
  if (res.status !== 200 || typeof body.token !== "string") throw new Error(body.detail ?? `demo sign-in failed (${res.status})`);
  return body.token;
}
