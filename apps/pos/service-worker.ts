/**
 * The POS service worker: keeps the app shell (the /pos page, its scripts, styles, manifest and
 * icon) in the Cache Storage, so the till starts with no network after its first load, a reload
 * while offline and a browser restart included. The catalog, stock and outbox live in IndexedDB
 * through store-client/, not here: this worker never sees or caches API answers.
 *
 * The file list and version are written in at build time (scripts/build-apps.mjs); a new build is
 * a new worker with a new cache, and the old cache goes when it activates.
 *
 * Strategy: precached files are served cache first (they are content-hashed, or the page that
 * names them); the API (`/v1/*`) always goes to the network.
 */

declare const __PRECACHE__: string[];
declare const __CACHE_VERSION__: string;

interface ExtendableEventLike extends Event {
  waitUntil(work: Promise<unknown>): void;
}
interface FetchEventLike extends ExtendableEventLike {
  readonly request: Request;
  respondWith(response: Promise<Response> | Response): void;
}
interface ServiceWorkerScope {
  addEventListener(type: "install" | "activate", listener: (event: ExtendableEventLike) => void): void;
  addEventListener(type: "fetch", listener: (event: FetchEventLike) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly location: Location;
}
// reason: this file runs in a ServiceWorkerGlobalScope, which the DOM lib the apps compile with does not describe.
const sw = self as unknown as ServiceWorkerScope;

const CACHE_PREFIX = "edgestock-pos-";
const CACHE = `${CACHE_PREFIX}${__CACHE_VERSION__}`;
const PRECACHED = new Set(__PRECACHE__);

sw.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(__PRECACHE__);
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      await sw.clients.claim();
    })(),
  );
});

/** The cache key of a request this worker serves, or null to leave it to the network. */
function precachedPath(request: Request): string | null {
  if (request.method !== "GET") return null;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return null;
  const path = url.pathname === "/pos/" || url.pathname === "/pos.html" ? "/pos" : url.pathname;
  return PRECACHED.has(path) ? path : null;
}

sw.addEventListener("fetch", (event) => {
  const path = precachedPath(event.request);
  if (path === null) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      const hit = await cache.match(path);
      if (hit !== undefined) return hit;
      // Not cached (the cache was cleared under us): the network, and keep it for next time.
      const response = await fetch(event.request);
      if (response.ok && !response.redirected) await cache.put(path, response.clone());
      return response;
    })(),
  );
});
