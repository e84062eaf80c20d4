import type { SyncStatus } from "../../store-client/status/sync-status";
import { statusLine } from "./view/status-line";

export function StatusBar({ status, nowMs, onSync }: { status: SyncStatus | null; nowMs: number; onSync: () => void }) {
  if (status === null) return <div role="status" class="status-bar tone-busy">starting…</div>;
  const line = statusLine(status, nowMs);
  return (
    <div class={`status-bar tone-${line.tone}`}>
      <div role="status" aria-live="polite" class="status-words">
        <strong class="connection">{line.connection}</strong>
        <span> · </span>
        <span class="pending">{line.pending}</span>
        <span> · </span>
        <span class="last-sync">{line.lastSync}</span>
      </div>
      {line.problem !== null && <div class="status-problem">{line.problem}</div>}
      <button onClick={onSync} aria-label="Sync now">Sync now</button>
    </div>
  );
}
