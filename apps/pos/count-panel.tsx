/**
 * Counting shelves at the till: the clerk signs in as themself (a staff token: the counter is the
 * person, not the till), joins an open count of the store, picks a zone and enters quantities; the
 * sheet keeps working offline and merges when the network returns; submit freezes it.
 *
 * The sheet itself comes from the store client's count sheets (`OpenCount`); where this build has
 * none, the panel says so instead of pretending.
 */
import { useEffect, useState } from "preact/hooks";
import { SignIn } from "../shared/sign-in";
import { presenceLine, sheetRows, type CountSheet, type CountSummary, type OpenCount } from "./count/count-sheet";
import { tokens, type Session } from "./session";

export function CountPanel({ session, openCount }: { session: Session; openCount: OpenCount }) {
  const [clerk, setClerk] = useState(() => tokens.get("clerk"));
  const store = session.terminal.claims.store;
  if (openCount === null) {
    return (
      <section aria-label="Count" class="count-panel">
        <h2>Count</h2>
        <p class="muted">Shelf counts are not available in this build of the till.</p>
      </section>
    );
  }
  if (clerk === null || clerk.claims.store !== store) {
    return (
      <section aria-label="Count" class="count-panel">
        <p>Counting is done as yourself: sign in with your own clerk account for store {store}.</p>
        <SignIn
          app="pos"
          roles={["staff"]}
          onToken={(token) => {
            tokens.set("clerk", token);
            setClerk(tokens.get("clerk"));
          }}
        />
      </section>
    );
  }
  return <Counting store={store ?? ""} clerkToken={clerk.token} me={clerk.claims.sub} openCount={openCount} session={session} onSignOut={() => (tokens.clear("clerk"), setClerk(null))} />;
}

function Counting(p: { store: string; clerkToken: string; me: string; openCount: NonNullable<OpenCount>; session: Session; onSignOut: () => void }) {
  const [counts, setCounts] = useState<CountSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [joined, setJoined] = useState<{ summary: CountSummary; sheet: CountSheet } | null>(null);

  useEffect(() => {
    if (joined !== null) return;
    void fetch(`/v1/counts?location=${encodeURIComponent(p.store)}&state=open`, { headers: { authorization: `Bearer ${p.clerkToken}` } })
      .then(async (res) => {
        if (!res.ok) throw new Error(`the open counts could not be listed (${res.status})`);
        const body = (await res.json()) as { counts?: CountSummary[] };
        setCounts(body.counts ?? []);
      })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [joined]);

  if (joined !== null) return <Sheet {...p} summary={joined.summary} sheet={joined.sheet} onLeave={() => (void joined.sheet.close(), setJoined(null))} />;
  return (
    <section aria-label="Count" class="count-panel">
      <h2>Open counts at {p.store}</h2>
      <p class="muted">
        Signed in as {p.me}. <button onClick={p.onSignOut}>Not you?</button>
      </p>
      {error !== null && <p role="alert">{error}</p>}
      {counts !== null && counts.length === 0 && <p>No open count at this store.</p>}
      <ul>
        {(counts ?? []).map((c) => (
          <li key={c.countId}>
            <button onClick={() => void p.openCount(c.countId, p.clerkToken).then((sheet) => setJoined({ summary: c, sheet }), (e: unknown) => setError(String(e)))}>
              Join count {c.countId}
            </button>{" "}
            <span class="muted">
              {c.skus.length} items, zones {c.zones.join(", ")}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Sheet(p: { me: string; clerkToken: string; summary: CountSummary; sheet: CountSheet; session: Session; onLeave: () => void }) {
  const { sheet, summary } = p;
  const [, setVersion] = useState(0);
  const [zone, setZone] = useState(summary.zones[0] ?? "main");
  const [names, setNames] = useState(new Map<string, string>());
  const [submitted, setSubmitted] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => sheet.subscribe(() => setVersion((v) => v + 1)), [sheet]);
  // The others see which zone this clerk is counting.
  useEffect(() => sheet.setZone(zone), [sheet, zone]);
  useEffect(() => {
    void Promise.all(summary.skus.map(async (s) => [s, (await p.session.client.findBySku(s))?.name ?? s] as const)).then((pairs) => setNames(new Map(pairs)));
  }, [summary.countId]);
  const rows = sheetRows(summary.skus, (s) => names.get(s) ?? s, (s) => sheet.entries(s), p.me, zone);
  const frozen = sheet.frozen();
  const submit = async () => {
    const res = await fetch(`/v1/counts/${encodeURIComponent(summary.countId)}/submit`, { method: "POST", headers: { authorization: `Bearer ${p.clerkToken}`, "content-type": "application/json" }, body: "{}" });
    setSubmitted(res.ok ? "Submitted: the sheet is frozen and the manager can review it." : `Not submitted (${res.status}).`);
  };
  return (
    <section aria-label={`Count ${summary.countId}`} class="count-panel">
      <h2>Count {summary.countId}</h2>
      <p role="status" aria-label="Count sheet connection">
        sheet {sheet.connection()}
        {frozen ? " · frozen" : ""}
      </p>
      {sheet.connection() === "refused" && <p role="alert" class="card tone-error">Head office closed this sheet: {sheet.refusal()}</p>}
      {sheet.connection() === "offline" && <p class="card tone-offline">Offline: keep counting, the sheet merges when the network is back.</p>}
      <p class="presence">{presenceLine(sheet.presence(), p.me)}</p>
      <div class="zones" role="radiogroup" aria-label="Zone">
        {summary.zones.map((z) => (
          <button key={z} role="radio" aria-checked={z === zone} class={z === zone ? "tab active" : "tab"} onClick={() => setZone(z)}>
            {z}
          </button>
        ))}
      </div>
      <table aria-label="Count sheet">
        <thead>
          <tr>
            <th>Item</th>
            <th class="num">Your count in {zone}</th>
            <th class="num">Total</th>
            <th>Others</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.sku}>
              <td>
                {r.name} <span class="muted">{r.sku}</span>
              </td>
              <td class="num">
                <input
                  type="number"
                  min={0}
                  class="qty"
                  disabled={frozen}
                  aria-label={`Count of ${r.sku} in ${zone}`}
                  value={r.mine ?? ""}
                  // Written as it is typed: the sheet holds the figure at once, so an update from
                  // another clerk re-rendering this row cannot wipe what is being typed.
                  onInput={(e) => {
                    const text = (e.currentTarget as HTMLInputElement).value;
                    if (text === "") return;
                    const done = sheet.set(r.sku, zone, Number(text));
                    setProblem(done.ok ? null : `Not counted: ${done.problem}.`);
                  }}
                />
              </td>
              <td class="num">{r.total}</td>
              <td class="muted">{r.others.join("; ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <button class="primary" disabled={frozen} onClick={() => void submit()}>
          Submit count
        </button>{" "}
        <button onClick={p.onLeave}>Leave</button>
      </p>
      {problem !== null && <p role="alert" class="card tone-error">{problem}</p>}
      {submitted !== null && <p role="alert">{submitted}</p>}
    </section>
  );
}
