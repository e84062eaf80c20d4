/** The region at a glance: stores, their tills' sync freshness (stale ones stand out), shortfalls, counts, sold-out SKUs. */
import { ago, plural } from "../shared/format";
import { call } from "./api";
import { usePoll } from "./use-poll";
import { overviewView, type OverviewView } from "./view/overview";

export const OVERVIEW_POLL_MS = 10_000;

export function Overview({ token, region, onOpenCount }: { token: string; region: string; onOpenCount: (countId: string) => void }) {
  const [polled, reload] = usePoll(async () => overviewView(await call(token, "GET", `/v1/regions/${encodeURIComponent(region)}/overview`), Date.now()), OVERVIEW_POLL_MS, [token, region]);
  const view: OverviewView | null = polled.kind === "ok" ? polled.value : polled.kind === "failed" ? (polled.last?.value ?? null) : null;
  return (
    <section aria-labelledby="overview-title">
      <div class="section-head">
        <h2 id="overview-title">Region {region}</h2>
        <span class="muted" aria-live="polite">
          {polled.kind === "loading" ? "loading…" : polled.kind === "ok" ? `updated ${ago(Date.now() - polled.atMs)}, refreshes every ${OVERVIEW_POLL_MS / 1000} s` : `could not refresh: ${polled.error}`}
        </span>
        <button onClick={reload}>Refresh</button>
      </div>
      {view !== null && (
        <>
          <ul class="tiles" aria-label="Region summary">
            <li class={view.staleTerminals > 0 ? "tile tone-error" : "tile tone-ok"}>
              <strong>{view.staleTerminals}</strong> stale tills
            </li>
            <li class={view.shortfalls > 0 ? "tile tone-offline" : "tile"}>
              <strong>{view.shortfalls}</strong> open shortfalls
            </li>
            <li class="tile">
              <strong>{view.soldOut}</strong> sold out
            </li>
            {view.seqConflicts > 0 && (
              <li class="tile tone-error">
                <strong>{view.seqConflicts}</strong> refused till operations
              </li>
            )}
            <li class="tile">
              <strong>{view.stores.reduce((n, s) => n + s.counts.length, 0)}</strong> counts
            </li>
          </ul>
          <div class="stores">
            {view.stores.map((s) => (
              <article key={s.storeId} class="card store" aria-label={`Store ${s.storeId}`}>
                <h3>
                  {s.name} <span class="muted">{s.storeId}</span>
                </h3>
                <table aria-label={`Tills of ${s.storeId}`}>
                  <thead>
                    <tr>
                      <th>Till</th>
                      <th>Last sync</th>
                      <th class="num">Last seq</th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.terminals.length === 0 && (
                      <tr>
                        <td colSpan={3} class="muted">No till has synced here.</td>
                      </tr>
                    )}
                    {s.terminals.map((t) => (
                      <tr key={t.terminalId} class={t.stale ? "stale" : ""} data-terminal={t.terminalId}>
                        <td>{t.terminalId}</td>
                        <td>
                          {t.stale && <span class="stale-flag">STALE</span>} {t.ageMs === null ? "never" : ago(t.ageMs)}
                        </td>
                        <td class="num">{t.lastSeq ?? "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                <p>
                  {plural(s.shortfalls, "open shortfall")}
                  {s.soldOut.length > 0 && (
                    <>
                      {" · "}sold out: <span class="sold-out">{s.soldOut.slice(0, 8).join(", ")}{s.soldOut.length > 8 ? ` and ${s.soldOut.length - 8} more` : ""}</span>
                    </>
                  )}
                </p>
                {s.seqConflicts.length > 0 && (
                  <div role="alert" aria-label={`Refused till operations at ${s.storeId}`}>
                    <p>
                      <strong>{plural(s.seqConflicts.length, "till operation")} refused:</strong> its number was already used by a different operation of the same till (a restored backup, or two devices set up as one till). Check the till before the figures are trusted.
                    </p>
                    <ul>
                      {s.seqConflicts.map((c) => (
                        <li key={`${c.terminalId}:${c.seq}:${c.sku}`}>
                          {c.terminalId} operation #{c.seq} ({c.sku}){c.at === null ? "" : `, ${ago(Date.now() - Date.parse(c.at))}`}
                        </li>
                      ))}
                    </ul>
                  </div>
                )}
                {s.counts.length > 0 && (
                  <ul aria-label={`Counts at ${s.storeId}`} class="counts">
                    {s.counts.map((c) => (
                      <li key={c.countId}>
                        <button onClick={() => onOpenCount(c.countId)} aria-label={`Open count ${c.countId}`}>
                          {c.countId}
                        </button>{" "}
                        <span class={`state state-${c.state}`}>{c.state}</span>
                        {c.absVariance !== null && <span class="muted"> · |variance| {c.absVariance}</span>}
                      </li>
                    ))}
                  </ul>
                )}
              </article>
            ))}
          </div>
          <p class="muted">A till is stale when it has not synced for {Math.round(view.staleAfterMs / 60_000)} minutes or more: its sales may be missing from these figures.</p>
        </>
      )}
    </section>
  );
}
