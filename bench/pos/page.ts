/**
 * The in-page half of the POS benchmark: runs inside Chromium on the Worker's origin, against the
 * same IndexedDB database the POS app filled (its terminal's), through the store client the app
 * uses. Each function answers plain timings for bench/pos.mjs to summarise.
 */
import { createStoreClient, type StoreClient } from "../../store-client/create-store-client";

interface BenchApi {
  open(terminalId: string, storeId: string, token: string): Promise<number>;
  lookups(barcodes: string[]): Promise<number[]>;
  fillOutbox(skus: string[], n: number): Promise<{ pending: number; ms: number }>;
  sales(skus: string[], n: number): Promise<number[]>;
  close(): Promise<void>;
}

let client: StoreClient | null = null;
const need = (): StoreClient => {
  if (client === null) throw new Error("open() first");
  return client;
};

const bench: BenchApi = {
  async open(terminalId, storeId, token) {
    // No syncing: the outbox must stay as full as the benchmark makes it.
    client = await createStoreClient({ baseUrl: location.origin, token, storeId, terminalId, autoSync: false });
    return client.db.catalog.count();
  },
  async lookups(barcodes) {
    const c = need();
    const times: number[] = [];
    for (const b of barcodes) {
      const t0 = performance.now();
      const item = await c.findByBarcode(b);
      times.push(performance.now() - t0);
      if (item === undefined) throw new Error(`barcode ${b} not in the local catalog`);
    }
    return times;
  },
  async fillOutbox(skus, n) {
    const c = need();
    const t0 = performance.now();
    // Recorded 250 ops at a time (one transaction each), as fast as the outbox takes them.
    for (let done = 0; done < n; done += 250) {
      const lines = Array.from({ length: Math.min(250, n - done) }, (_, i) => ({ sku: skus[(done + i) % skus.length]!, qty: 1 }));
      const r = await c.sell(lines);
      if (!r.ok) throw new Error("a sale was refused");
    }
    const status = await c.status();
    return { pending: status.pendingCount, ms: performance.now() - t0 };
  },
  async sales(skus, n) {
    const c = need();
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await c.sell([{ sku: skus[i % skus.length]!, qty: 1 }]);
      times.push(performance.now() - t0);
      if (!r.ok) throw new Error("a sale was refused");
    }
    return times;
  },
  async close() {
    await client?.close();
    client = null;
  },
};

(globalThis as unknown as { posBench: BenchApi }).posBench = bench;
document.title = "pos bench ready";
