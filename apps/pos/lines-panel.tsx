/**
 * Building up a sale, a return, a delivery or a write-off: scan or type a barcode (Enter adds it),
 * or search by name and pick; change quantities; one key (Enter on the empty box, or the button)
 * records it through the store client. Recording never waits for the network.
 */
import { useRef, useState } from "preact/hooks";
import { searchCatalog } from "../../store-client/catalog/catalog-pages";
import type { StoreClient } from "../../store-client/create-store-client";
import type { CatalogItem } from "../../store-client/db/store-db";
import { SHRINK_REASONS } from "../../store-client/ops/op-rules";
import { money, plural } from "../shared/format";
import { addItem, cartTotal, setQty, type Cart } from "./view/cart";

export type LinesKind = "sale" | "return" | "receipt" | "write_off";

const WORDS = {
  sale: { title: "Sell", button: "Sell", done: "Sale recorded" },
  return: { title: "Return", button: "Return", done: "Return recorded" },
  receipt: { title: "Receive a delivery", button: "Receive", done: "Delivery recorded" },
  write_off: { title: "Write off", button: "Write off", done: "Write-off recorded" },
} as const;

type Reason = (typeof SHRINK_REASONS)[number];

export function LinesPanel({ client, kind }: { client: StoreClient; kind: LinesKind }) {
  const [cart, setCart] = useState<Cart>([]);
  const [text, setText] = useState("");
  const [matches, setMatches] = useState<CatalogItem[]>([]);
  const [message, setMessage] = useState<{ tone: "ok" | "offline" | "error"; text: string } | null>(null);
  const [reason, setReason] = useState<Reason>("damaged");
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const words = WORDS[kind];

  const add = (item: CatalogItem) => {
    setCart((c) => addItem(c, item));
    setMatches([]);
    setText("");
    setMessage(null);
    input.current?.focus();
  };

  const lookUp = async (q: string) => {
    const found = await searchCatalog(client, q);
    if (found.length === 1 && (found[0]?.barcode === q.trim() || found[0]?.sku === q.trim())) return add(found[0]);
    if (found.length === 0) {
      setMatches([]);
      setMessage({ tone: "error", text: `Nothing in the catalog matches “${q.trim()}”.` });
      return;
    }
    setMatches(found);
    setMessage(null);
  };

  const complete = async () => {
    if (cart.length === 0 || busy) return;
    setBusy(true);
    try {
      const lines = cart.map((l) => ({ sku: l.sku, qty: l.qty }));
      const result =
        kind === "sale"
          ? await client.sell(lines)
          : kind === "return"
            ? await client.returnItems(lines)
            : kind === "receipt"
              ? await client.receive(lines)
              : await client.writeOff(lines.map((l) => ({ ...l, reason })));
      if (!result.ok) {
        setMessage({ tone: "error", text: `Not recorded: ${result.problem.errors.map((e) => e.message).join("; ")}` });
        return;
      }
      const units = cart.reduce((n, l) => n + l.qty, 0);
      const past = result.warnings.map((w) => `${nameIn(cart, w.sku)}: ${plural(w.pastAllowanceBy, "unit")} past what this store had free for online orders`);
      setMessage({ tone: past.length > 0 ? "offline" : "ok", text: `${words.done} (${plural(units, "item")}).${past.length > 0 ? ` ${past.join("; ")}.` : ""}` });
      setCart([]);
      setMatches([]);
    } finally {
      setBusy(false);
      input.current?.focus();
    }
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const q = (e.currentTarget as HTMLInputElement).value;
    if (q.trim() === "" || e.ctrlKey) void complete();
    else void lookUp(q);
  };

  const total = cartTotal(cart);
  return (
    <section aria-label={words.title} class="lines-panel">
      <div class="scan-row">
        <label for={`scan-${kind}`}>Scan or search</label>
        <input
          id={`scan-${kind}`}
          ref={input}
          type="search"
          autoFocus
          autoComplete="off"
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={onKeyDown}
          placeholder="barcode, SKU or name — Enter adds; Enter on an empty box completes"
        />
      </div>
      {matches.length > 0 && (
        <ul aria-label="Matching items" class="matches">
          {matches.map((m) => (
            <li key={m.sku}>
              <button onClick={() => add(m)}>
                {m.name} <span class="muted">{m.sku}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <table aria-label="Lines">
        <thead>
          <tr>
            <th>Item</th>
            <th>SKU</th>
            <th class="num">Quantity</th>
            <th class="num">Price</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {cart.length === 0 && (
            <tr>
              <td colSpan={5} class="muted">No lines yet.</td>
            </tr>
          )}
          {cart.map((l) => (
            <tr key={l.sku}>
              <td>{l.name}</td>
              <td class="muted">{l.sku}</td>
              <td class="num">
                <input
                  type="number"
                  min={0}
                  class="qty"
                  aria-label={`Quantity of ${l.name}`}
                  value={l.qty}
                  onChange={(e) => setCart((c) => setQty(c, l.sku, Number((e.currentTarget as HTMLInputElement).value)))}
                />
              </td>
              <td class="num">{l.priceMinor === undefined ? "—" : money(l.priceMinor * l.qty)}</td>
              <td>
                <button aria-label={`Remove ${l.name}`} onClick={() => setCart((c) => setQty(c, l.sku, 0))}>
                  ✕
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="total-row">
        <div class="total" aria-label="Total">
          <strong>{plural(total.units, "item")}</strong>
          {total.valueMinor !== null ? <strong> · {money(total.valueMinor)}</strong> : total.pricedMinor > 0 ? <span> · {money(total.pricedMinor)} + {plural(total.unpricedLines, "unpriced line")}</span> : null}
        </div>
        {kind === "write_off" && (
          <label>
            Reason{" "}
            <select value={reason} onChange={(e) => setReason((e.currentTarget as HTMLSelectElement).value as Reason)}>
              {SHRINK_REASONS.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
        )}
        <button class="primary complete" disabled={cart.length === 0 || busy} onClick={() => void complete()}>
          {words.button}
        </button>
      </div>
      {message !== null && (
        <p role="alert" class={`card tone-${message.tone}`}>
          {message.text}
        </p>
      )}
    </section>
  );
}

function nameIn(cart: Cart, sku: string): string {
  return cart.find((l) => l.sku === sku)?.name ?? sku;
}
