/** What the stock lookup says about one SKU: local figures, what is pending, how old the confirmed figure is. Pure. */
import type { LocalStock } from "../../../store-client/stock/stock-view";
import { ago, plural } from "../../shared/format";

export interface StockWords {
  onHand: string;
  available: string;
  pending: string;
  confirmed: string;
}

export function stockWords(stock: LocalStock, nowMs: number): StockWords {
  const sign = stock.overlayDelta > 0 ? "+" : "";
  return {
    onHand: String(stock.onHand),
    available: String(stock.allowance),
    pending: stock.overlayOps === 0 ? "none" : `${sign}${stock.overlayDelta} from ${plural(stock.overlayOps, "operation")} on this device not yet confirmed`,
    confirmed: stock.confirmed === null ? "head office has not confirmed a figure yet" : `${stock.confirmed.onHand} on hand, confirmed ${ago(nowMs - stock.confirmed.pulledAtMs)}`,
  };
}
