/**
 * The sign-in screen: how a token reaches this device. In production the retailer's sign-in page
 * redirects to `/pos#token=<JWT>` or `/manager#token=<JWT>`. Locally, the demo sign-in lists the
 * seeded people when the edge offers it.
 */
import { useEffect, useState } from "preact/hooks";
import { demoPeople, demoToken, type DemoPerson } from "./demo-sign-in";

export interface SignInProps {
  app: "pos" | "manager";
  /** The demo people this app can sign in as. */
  roles: readonly DemoPerson["role"][];
  onToken: (token: string) => void;
  /** Why the last token was not taken, if one was offered. */
  notice?: string | null;
}

export function SignIn({ app, roles, onToken, notice }: SignInProps) {
  const [people, setPeople] = useState<DemoPerson[] | null | "loading">("loading");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void demoPeople().then((p) => setPeople(p === null ? null : p.filter((x) => roles.includes(x.role))));
  }, []);
  const pick = async (person: DemoPerson) => {
    setError(null);
    try {
      onToken(await demoToken(person.id));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const groups = roles.map((role) => ({ role, people: people === null || people === "loading" ? [] : people.filter((p) => p.role === role) }));
  const roleWords = { terminal: "Tills", staff: "Clerks", manager: "Regional managers" } as const;
  return (
    <main class="sign-in">
      <h1>{app === "pos" ? "edgestock POS" : "edgestock manager"}: sign in</h1>
      {notice !== undefined && notice !== null && <p role="alert" class="card tone-error">{notice}</p>}
      <p class="muted">
        Your retailer's sign-in page brings you here with a token (<code>/{app}#token=…</code>); it is kept on this device and works offline.
      </p>
      {people === "loading" && <p>Looking for the demo sign-in…</p>}
      {people === null && <p class="muted">No demo sign-in on this server.</p>}
      {error !== null && <p role="alert" class="card tone-error">{error}</p>}
      {people !== null && people !== "loading" && (
        <section aria-label="Demo sign-in">
          <h2>Demo sign-in</h2>
          {groups.map((g) =>
            g.people.length === 0 ? null : (
              <div key={g.role} class="people">
                <h3>{roleWords[g.role]}</h3>
                <ul>
                  {g.people.map((p) => (
                    <li key={p.id}>
                      <button onClick={() => void pick(p)} aria-label={`Sign in as ${p.label}`}>
                        {p.label} <span class="muted">({p.id})</span>
                      </button>
                    </li>
                  ))}
                </ul>
              </div>
            ),
          )}
        </section>
      )}
    </main>
  );
}
