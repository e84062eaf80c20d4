/**
 * One count's report: counted, expected and variance per SKU, a chart of the variances, whether it
 * is provisional and which tills it waits for, and approval (asking again when provisional). After
 * approval, the adjustments with their movement ids. Refreshes by itself until approved.
 */
import { useState } from "preact/hooks";
import { agoSince } from "../shared/format";
import { call } from "./api";
import { usePoll } from "./use-poll";
import { VarianceChart } from "./variance-chart";
import { approveStep, reportView, varianceBars } from "./view/report";

export const REPORT_POLL_MS = 5_000;

interface Adjustment {
  sku: string;
  delta: number;
  movementId: string;
}

/** `GET /v1/counts/:countId`: the count and its audit trail. */
interface CountDetail {
  approvedAt?: string | null;
  approvedBy?: string | null;
  acceptProvisional?: boolean | null;
  adjustments?: Adjustment[];
}

export function Report({ token, countId, onBack }: { token: string; countId: string; onBack: () => void }) {
  const path = `/v1/counts/${encodeURIComponent(countId)}`;
  const [polled, reload] = usePoll(
    async () => {
      const [report, detail] = await Promise.all([call(token, "GET", `${path}/report`), call(token, "GET", path) as Promise<CountDetail>]);
      return { report: reportView(report), detail };
    },
    REPORT_POLL_MS,
    [token, countId],
  );
  const [confirming, setConfirming] = useState(false);
  const [approved, setApproved] = useState<Adjustment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const loaded = polled.kind === "ok" ? polled.value : polled.kind === "failed" ? (polled.last?.value ?? null) : null;
  const report = loaded?.report ?? null;
  // The adjustments: this approval's answer, or the count's audit trail once it is approved.
  const adjustments = approved ?? (report?.state === "approved" ? (loaded?.detail.adjustments ?? []) : null);

  const approve = async (acceptProvisional: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const answer = (await call(token, "POST", `/v1/counts/${encodeURIComponent(countId)}/approve`, acceptProvisional ? { acceptProvisional: true } : {})) as { adjustments?: Adjustment[] };
      setApproved(answer.adjustments ?? []);
      setConfirming(false);
      reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="report-title">
      <div class="section-head">
        <button onClick={onBack}>← Region</button>
        <h2 id="report-title">Count {countId}</h2>
        <span class="muted" aria-live="polite">
          {polled.kind === "loading" ? "loading…" : polled.kind === "failed" ? `could not refresh: ${polled.error}` : `refreshes every ${REPORT_POLL_MS / 1000} s`}
        </span>
      </div>
      {report !== null && (
        <>
          <p>
            Store <strong>{report.location}</strong> · <span class={`state state-${report.state}`}>{report.state}</span> · started {agoSince(report.startedAt, Date.now())}
            {report.submittedAt !== null && <> · submitted {agoSince(report.submittedAt, Date.now())}</>} · total |variance| <strong>{report.absVariance}</strong>
          </p>
          {report.provisional && (
            <p role="note" class="card tone-offline provisional">
              Provisional: {report.pendingTerminals.length === 1 ? "a till" : `${report.pendingTerminals.length} tills`} of this store {report.pendingTerminals.length === 1 ? "has" : "have"} not synced since before the count started, and may hold sales that
              change the expected figures: {report.pendingTerminals.map((t) => `${t.terminalId} (last sync ${agoSince(t.lastSyncAt, Date.now())})`).join(", ")}. It turns final by itself when they sync.
            </p>
          )}
          <VarianceChart bars={varianceBars(report.lines)} />
          <ApproveControls
            step={approved !== null ? { kind: "done" } : approveStep(report)}
            busy={busy}
            confirming={confirming}
            onApprove={() => void approve(false)}
            onAskAnyway={() => setConfirming(true)}
            onConfirmAnyway={() => void approve(true)}
            onCancel={() => setConfirming(false)}
          />
          {error !== null && (
            <p role="alert" class="card tone-error">
              Not approved: {error}
            </p>
          )}
          {adjustments !== null && (
            <div class="card">
              <h3>Adjustments posted</h3>
              {loaded?.detail.approvedBy != null && (
                <p class="muted">
                  Approved by {loaded.detail.approvedBy}
                  {loaded.detail.approvedAt != null && <> {agoSince(loaded.detail.approvedAt, Date.now())}</>}
                  {loaded.detail.acceptProvisional === true && ", while the report was provisional"}.
                </p>
              )}
              <table aria-label="Adjustments">
                <thead>
                  <tr>
                    <th>SKU</th>
                    <th class="num">Change</th>
                    <th>Movement</th>
                  </tr>
                </thead>
                <tbody>
                  {adjustments.map((a) => (
                    <tr key={a.movementId}>
                      <td>{a.sku}</td>
                      <td class="num">{a.delta > 0 ? `+${a.delta}` : a.delta}</td>
                      <td>
                        <code>{a.movementId}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <table aria-label="Count lines">
            <thead>
              <tr>
                <th>SKU</th>
                <th class="num">Counted</th>
                <th class="num">Expected</th>
                <th class="num">Variance</th>
              </tr>
            </thead>
            <tbody>
              {report.lines.map((l) => (
                <tr key={l.sku} class={l.variance === 0 ? "" : l.variance < 0 ? "short" : "over"}>
                  <td>{l.sku}</td>
                  <td class="num">{l.counted}</td>
                  <td class="num">{l.expected}</td>
                  <td class="num">{l.variance > 0 ? `+${l.variance}` : l.variance}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function ApproveControls(p: {
  step: ReturnType<typeof approveStep>;
  busy: boolean;
  confirming: boolean;
  onApprove: () => void;
  onAskAnyway: () => void;
  onConfirmAnyway: () => void;
  onCancel: () => void;
}) {
  switch (p.step.kind) {
    case "done":
      return <p class="card tone-ok">Approved: the variances were posted as adjustments.</p>;
    case "not_ready":
      return <p class="muted">{p.step.why}</p>;
    case "approve":
      return (
        <button class="primary" disabled={p.busy} onClick={p.onApprove}>
          Approve
        </button>
      );
    case "approve_anyway":
      return p.confirming ? (
        <div role="alertdialog" aria-label="Approve a provisional count" class="card tone-offline">
          <p>
            This report may still change: {p.step.waitingFor.join(", ")} may hold sales from before the count. Approving now posts today's variances, and the choice is recorded.
          </p>
          <button class="primary" disabled={p.busy} onClick={p.onConfirmAnyway}>
            Yes, approve anyway
          </button>{" "}
          <button onClick={p.onCancel}>Cancel</button>
        </div>
      ) : (
        <button class="primary" disabled={p.busy} onClick={p.onAskAnyway}>
          Approve anyway
        </button>
      );
  }
}
