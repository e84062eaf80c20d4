/**
 * The till: status bar on top (always visible), the task tabs (F1–F6), the task, and the attention
 * list beside it. Everything it shows comes from the store client; everything it does is a call to it.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { CatalogProgress, CatalogState } from "../../store-client/catalog/catalog-pages";
import type { SyncStatus } from "../../store-client/status/sync-status";
import { plural } from "../shared/format";
import { AttentionPanel } from "./attention-panel";
import { CountPanel } from "./count-panel";
import { openCount } from "./count/open-count";
import { LinesPanel, type LinesKind } from "./lines-panel";
import { CATALOG_REFRESH_MS, type Session } from "./session";
import { StatusBar } from "./status-bar";
import { StockPanel } from "./stock-panel";

type Task = LinesKind | "stock" | "count";
const TASKS: { task: Task; label: string; key: string }[] = [
  { task: "sale", label: "Sell", key: "F1" },
  { task: "return", label: "Return", key: "F2" },
  { task: "receipt", label: "Receive", key: "F3" },
  { task: "write_off", label: "Write off", key: "F4" },
  { task: "stock", label: "Stock", key: "F5" },
  { task: "count", label: "Count", key: "F6" },
];

type CatalogView = { kind: "idle"; state: CatalogState } | { kind: "loading"; progress: CatalogProgress | null } | { kind: "failed"; detail: string; state: CatalogState };

export function Till({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const { client, terminal } = session;
  const [status, setStatus] = useState<SyncStatus | null>(null);
  const [task, setTask] = useState<Task>("sale");
  const [nowMs, setNowMs] = useState(Date.now());
  const [catalog, setCatalog] = useState<CatalogView | null>(null);
  const [offlineReady, setOfflineReady] = useState(false);
  const names = useRef(new Map<string, string>());

  useEffect(() => client.subscribe(setStatus), [client]);
  useEffect(() => {
    const t = setInterval(() => setNowMs(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    void navigator.serviceWorker?.ready.then(() => setOfflineReady(true));
  }, []);

  const refresh = async () => {
    setCatalog({ kind: "loading", progress: null });
    const result = await session.refreshCatalog((progress) => setCatalog({ kind: "loading", progress }));
    const state = await session.catalog();
    setCatalog(result.ok ? { kind: "idle", state } : { kind: "failed", detail: result.detail, state });
  };
  useEffect(() => {
    let stop = false;
    const check = async () => {
      const state = await session.catalog();
      if (stop) return;
      const stale = state.loadedAtMs === null || Date.now() - state.loadedAtMs > CATALOG_REFRESH_MS;
      if (stale && navigator.onLine) await refresh();
      else setCatalog({ kind: "idle", state });
    };
    void check();
    const t = setInterval(() => void check(), CATALOG_REFRESH_MS / 4);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [session]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const found = TASKS.find((t) => t.key === e.key);
      if (found === undefined) return;
      e.preventDefault();
      setTask(found.task);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // Names for the attention list, looked up once per SKU.
  const [, setNamesVersion] = useState(0);
  useEffect(() => {
    const skus = [...(status?.needsAttention ?? []), ...(status?.shortfalls ?? [])].map((o) => o.sku).filter((s) => !names.current.has(s));
    if (skus.length === 0) return;
    void Promise.all(skus.map(async (s) => [s, (await client.findBySku(s))?.name ?? s] as const)).then((pairs) => {
      for (const [s, n] of pairs) names.current.set(s, n);
      setNamesVersion((v) => v + 1);
    });
  }, [status]);
  const nameOf = useMemo(() => (sku: string) => names.current.get(sku) ?? sku, [status]);

  const catalogLine =
    catalog === null
      ? "catalog: checking…"
      : catalog.kind === "loading"
        ? `Loading the catalog: ${catalog.progress === null ? "starting" : `${plural(catalog.progress.items, "item")} (${plural(catalog.progress.pages, "page")})`}…`
        : catalog.kind === "failed"
          ? `Catalog not refreshed (${catalog.detail}); using ${plural(catalog.state.items, "item")} on this device.`
          : `Catalog: ${plural(catalog.state.items, "item")} on this device.`;

  return (
    <div class="till">
      <header class="till-header">
        <div class="who">
          <strong>{terminal.claims.sub}</strong> <span class="muted">store {terminal.claims.store}</span>
        </div>
        <StatusBar status={status} nowMs={nowMs} onSync={() => void client.sync()} />
        <button onClick={onSignOut} class="sign-out">
          Sign out
        </button>
      </header>
      <nav role="tablist" aria-label="Tasks" class="tasks">
        {TASKS.map((t) => (
          <button key={t.task} role="tab" aria-selected={task === t.task} class={task === t.task ? "tab active" : "tab"} onClick={() => setTask(t.task)}>
            {t.label} <kbd>{t.key}</kbd>
          </button>
        ))}
      </nav>
      <div class="till-body">
        <main class="task card">
          {task === "stock" ? (
            <StockPanel client={client} nowMs={nowMs} />
          ) : task === "count" ? (
            <CountPanel session={session} openCount={openCount} />
          ) : (
            <LinesPanel key={task} client={client} kind={task} />
          )}
        </main>
        <AttentionPanel status={status} nameOf={nameOf} onAcknowledge={(seq) => void client.acknowledge(seq)} />
      </div>
      <footer class="till-footer muted">
        <span aria-live="polite" class="catalog-line">
          {catalogLine}
        </span>
        {catalog !== null && catalog.kind !== "loading" && (
          <button onClick={() => void refresh()} disabled={!navigator.onLine}>
            Refresh catalog
          </button>
        )}
        <span class="offline-ready">{offlineReady ? "Ready to work offline" : "Preparing offline use…"}</span>
      </footer>
    </div>
  );
}
