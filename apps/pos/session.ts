/**
 * The till's session: one store client for the signed-in terminal, and the catalog kept fresh
 * from the edge. The app renders what this hands it and calls its methods; the store client does
 * the storing and syncing.
 */
import { catalogState, syncCatalog, type CatalogProgress, type CatalogState } from "../../store-client/catalog/catalog-pages";
import { createStoreClient, type StoreClient } from "../../store-client/create-store-client";
import { TokenStore, type SignedIn } from "../shared/token";

export const tokens = new TokenStore("edgestock.pos");
/** The till's own token (role terminal) and the clerk's (role staff, for counts). */
export type Slot = "terminal" | "clerk";

export function slotFor(role: string): Slot | null {
  return role === "terminal" ? "terminal" : role === "staff" ? "clerk" : null;
}

/** Refresh the catalog when it is older than this (and the till is online). */
export const CATALOG_REFRESH_MS = 60 * 60 * 1000;

export interface Session {
  client: StoreClient;
  terminal: SignedIn;
  catalog(): Promise<CatalogState>;
  /** Fetch the whole catalog from the edge, reporting progress; the old one stays if it fails. */
  refreshCatalog(onProgress: (p: CatalogProgress) => void): Promise<{ ok: true; items: number } | { ok: false; detail: string }>;
  close(): Promise<void>;
}

export async function openSession(terminal: SignedIn): Promise<Session> {
  const { sub, store } = terminal.claims;
  if (store === undefined) throw new Error("this terminal token names no store");
  // The token is read at each request, so a new one signed in on this device is used at once.
  const currentToken = (): string => tokens.get("terminal")?.token ?? terminal.token;
  const client = await createStoreClient({ baseUrl: location.origin, token: currentToken, storeId: store, terminalId: sub });
  return {
    client,
    terminal,
    catalog: () => catalogState(client),
    async refreshCatalog(onProgress) {
      const loaded = await syncCatalog(client, { baseUrl: location.origin, token: currentToken, onProgress });
      if (loaded.ok) return loaded;
      return { ok: false, detail: loaded.problem.kind === "catalog_source_failed" ? loaded.problem.detail : "the catalog from head office is not valid" };
    },
    close: () => client.close(),
  };
}
