/** One store, one terminal, one fake edge: the common setup of the store-client tests. */
import { createStoreClient, type StoreClient, type StoreClientOptions } from "../../../../store-client/create-store-client";
import { FakeEdge, type FakeEdgeOptions, type FakeSku } from "./fake-edge";
import { ManualClock } from "./manual-clock";

export const STORE = "S001";
export const TERMINAL = "S001-pos-1";
export const TOKEN = "token-pos-1";

let dbCount = 0;
export const freshDbName = (label: string): string => `edgestock-test-${label}-${++dbCount}`;

export function makeEdge(skus: Record<string, FakeSku>, options: Partial<FakeEdgeOptions> = {}): FakeEdge {
  return new FakeEdge({ storeId: STORE, tokens: { [TOKEN]: TERMINAL }, skus, ...options });
}

const open: StoreClient[] = [];

/**
 * A client of TERMINAL against `edge`, on a manual clock, online, no auto-sync unless asked.
 * The fake edge's ledger lands at once unless the test gives it a flush lag.
 */
export async function openClient(edge: FakeEdge, overrides: Partial<StoreClientOptions> & { clock?: ManualClock } = {}): Promise<{ client: StoreClient; clock: ManualClock }> {
  const clock = overrides.clock ?? new ManualClock();
  const client = await createStoreClient({
    baseUrl: "https://edge.test/",
    token: TOKEN,
    storeId: STORE,
    terminalId: TERMINAL,
    db: freshDbName("client"),
    transport: edge.transport,
    random: () => 0.5,
    window: null,
    navigator: { onLine: true },
    autoSync: false,
    ...overrides,
    tuning: { ...overrides.tuning },
    clock,
  });
  open.push(client);
  return { client, clock };
}

/** Close every client the test opened (afterEach). */
export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((c) => c.close()));
}
