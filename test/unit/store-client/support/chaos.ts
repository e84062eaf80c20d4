/**
 * A network between the store client and the fake edge that loses, repeats, delays and reorders,
 * driven by a seeded generator so a failing run replays from its seed (yjs testHelper style).
 *
 * - drop a request (the edge never sees it), or drop the response after the edge applied it;
 * - answer 503 or 429 without reaching the edge;
 * - deliver a request twice, or keep a copy and deliver it later, after newer requests (reorder);
 * - delay (event-loop turns) or stall (no answer until the client gives up and aborts).
 */
import type { Transport, TransportRequest, TransportResponse } from "../../../../store-client/sync/http";
import type { FakeEdge } from "./fake-edge";
import { ticks } from "./manual-clock";

export interface ChaosRates {
  dropRequest: number;
  dropResponse: number;
  overloaded: number;
  duplicate: number;
  lateCopy: number;
  stall: number;
  delayTicksMax: number;
}

export const ROUGH_NETWORK: ChaosRates = { dropRequest: 0.12, dropResponse: 0.12, overloaded: 0.08, duplicate: 0.1, lateCopy: 0.1, stall: 0.04, delayTicksMax: 6 };

export interface ChaosNetwork {
  transport: Transport;
  /** Off: requests go straight through (late copies still queued are delivered first). */
  enabled: boolean;
  stats: Record<"dropRequest" | "dropResponse" | "overloaded" | "duplicate" | "lateCopy" | "lateDelivered" | "stall" | "clean", number>;
  /** Deliver every late copy now. */
  flushLate(): Promise<void>;
}

export function chaosNetwork(edge: FakeEdge, random: () => number, rates: ChaosRates): ChaosNetwork {
  const late: { url: string; init: TransportRequest }[] = [];
  const stats: ChaosNetwork["stats"] = { dropRequest: 0, dropResponse: 0, overloaded: 0, duplicate: 0, lateCopy: 0, lateDelivered: 0, stall: 0, clean: 0 };
  const chance = (p: number): boolean => random() < p;
  const delay = (): Promise<void> => ticks(Math.floor(random() * (rates.delayTicksMax + 1)));
  const deliverLate = async (): Promise<void> => {
    const copy = late.shift();
    if (copy === undefined) return;
    stats.lateDelivered += 1;
    // Its answer goes nowhere: the client stopped waiting for it long ago.
    await edge.handle(copy.url, copy.init);
  };

  const network: ChaosNetwork = {
    enabled: true,
    stats,
    async flushLate() {
      while (late.length > 0) await deliverLate();
    },
    transport: async (url, init): Promise<TransportResponse> => {
      if (!network.enabled) {
        await network.flushLate();
        return edge.handle(url, init);
      }
      if (late.length > 0 && chance(0.5)) await deliverLate();
      await delay();
      if (chance(rates.dropRequest)) {
        stats.dropRequest += 1;
        throw new TypeError("fetch failed (request lost)");
      }
      if (chance(rates.overloaded)) {
        stats.overloaded += 1;
        const status = chance(0.5) ? 503 : 429;
        return new Response(JSON.stringify({ type: "overloaded", status }), { status, headers: { "retry-after": String(Math.floor(random() * 3)) } });
      }
      if (chance(rates.lateCopy)) {
        stats.lateCopy += 1;
        late.push({ url, init: { ...init, headers: { ...init.headers } } });
      }
      const response = await edge.handle(url, init);
      if (chance(rates.duplicate)) {
        stats.duplicate += 1;
        await edge.handle(url, init);
      }
      if (chance(rates.stall)) {
        stats.stall += 1;
        // The edge did the work; the answer never comes. The client's deadline must end the wait.
        return new Promise<TransportResponse>((_, reject) => {
          const abort = (): void => reject(new DOMException("aborted", "AbortError"));
          if (init.signal?.aborted === true) abort();
          else init.signal?.addEventListener("abort", abort);
        });
      }
      await delay();
      if (chance(rates.dropResponse)) {
        stats.dropResponse += 1;
        throw new TypeError("fetch failed (response lost)");
      }
      stats.clean += 1;
      return response;
    },
  };
  return network;
}
