/** Stock lookup: this store's local stock of one item, with what is still only on this device. */
import { useEffect, useState } from "preact/hooks";
import { searchCatalog } from "../../store-client/catalog/catalog-pages";
import type { StoreClient } from "../../store-client/create-store-client";
import type { CatalogItem } from "../../store-client/db/store-db";
import type { LocalStock } from "../../store-client/stock/stock-view";
import { stockWords } from "./view/stock-view";

export function StockPanel({ client, nowMs }: { client: StoreClient; nowMs: number }) {
  const [text, setText] = useState("");
  const [matches, setMatches] = useState<CatalogItem[]>([]);
  const [shown, setShown] = useState<{ item: CatalogItem; stock: LocalStock } | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const show = async (item: CatalogItem) => {
    setShown({ item, stock: await client.stock(item.sku) });
    setMatches([]);
    setMessage(null);
  };
  // Live: figures change as this device syncs and other tills sell; re-read every tick.
  const shownSku = shown?.item.sku;
  useEffect(() => {
    if (shown === null) return;
    let stale = false;
    void client.stock(shown.item.sku).then((stock) => {
      if (!stale) setShown((s) => (s !== null && s.item.sku === stock.sku ? { item: s.item, stock } : s));
    });
    return () => {
      stale = true;
    };
  }, [nowMs, shownSku]);
  const lookUp = async () => {
    const found = await searchCatalog(client, text);
    if (found.length === 1 && found[0] !== undefined) return show(found[0]);
    setMatches(found);
    setShown(null);
    setMessage(found.length === 0 ? `Nothing in the catalog matches “${text.trim()}”.` : null);
  };
  const words = shown === null ? null : stockWords(shown.stock, nowMs);
  return (
    <section aria-label="Stock lookup" class="stock-panel">
      <div class="scan-row">
        <label for="scan-stock">Scan or search</label>
        <input
          id="scan-stock"
          type="search"
          autoFocus
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              void lookUp();
            }
          }}
        />
      </div>
      {message !== null && <p role="alert">{message}</p>}
      {matches.length > 0 && (
        <ul aria-label="Matching items" class="matches">
          {matches.map((m) => (
            <li key={m.sku}>
              <button onClick={() => void show(m)}>
                {m.name} <span class="muted">{m.sku}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {shown !== null && words !== null && (
        <dl class="card stock-figures" aria-label={`Stock of ${shown.item.name}`}>
          <dt>Item</dt>
          <dd>
            {shown.item.name} <span class="muted">{shown.item.sku}</span>
          </dd>
          <dt>On hand here</dt>
          <dd data-testid="on-hand">{words.onHand}</dd>
          <dt>Free to sell without touching online orders</dt>
          <dd>{words.available}</dd>
          <dt>Pending on this device</dt>
          <dd>{words.pending}</dd>
          <dt>Head office's figure</dt>
          <dd>{words.confirmed}</dd>
        </dl>
      )}
    </section>
  );
}
