import type { SyncStatus } from "../../store-client/status/sync-status";
import { attentionList } from "./view/attention";
import { attentionOverflow } from "./view/status-line";

export function AttentionPanel({ status, nameOf, onAcknowledge }: { status: SyncStatus | null; nameOf: (sku: string) => string; onAcknowledge: (seq: number) => void }) {
  const items = status === null ? [] : attentionList(status, nameOf);
  const more = status === null ? null : attentionOverflow(status);
  return (
    <section aria-labelledby="attention-title" class="attention card">
      <h2 id="attention-title">Needs attention {items.length > 0 && <span class="badge">{status?.attentionCount}</span>}</h2>
      {items.length === 0 ? (
        <p class="muted">Nothing to look at.</p>
      ) : (
        <ul aria-label="Attention list">
          {items.map((item) => (
            <li key={item.seq} class={item.kind === "rejected" ? "tone-error" : "tone-offline"}>
              <p class="title">{item.title}</p>
              <p class="action">{item.action}</p>
              <button onClick={() => onAcknowledge(item.seq)} aria-label={`Seen: ${item.title}`}>Seen</button>
            </li>
          ))}
        </ul>
      )}
      {more !== null && <p class="muted">{more}</p>}
    </section>
  );
}
