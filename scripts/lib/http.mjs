// A small JSON client for the edgestock API: bearer auth, loud failures, polite retries.

export class HttpError extends Error {
  constructor(method, url, status, body) {
    super(`${method} ${url} -> ${status}: ${body}`);
    this.name = "HttpError";
    this.status = status;
    this.body = body;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// 429 and 503 are the API's "try again later"; every request sent here is safe to repeat
// (PUTs by nature, receipts by Idempotency-Key), so a short retry beats failing a long seed.
const RETRY_STATUS = new Set([429, 503]);
const MAX_ATTEMPTS = 5;

/**
 * `client.request(method, path, body?, headers?)` resolves with the parsed JSON body of a 2xx
 * answer (or null when empty) and throws HttpError with the response body otherwise.
 */
export function apiClient(baseUrl, token) {
  const base = baseUrl.replace(/\/+$/, "");
  async function request(method, path, body, headers = {}) {
    const url = `${base}${path}`;
    for (let attempt = 1; ; attempt++) {
      let res;
      try {
        res = await fetch(url, {
          method,
          headers: {
            accept: "application/json",
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        if (attempt < MAX_ATTEMPTS) {
          await sleep(100 * 2 ** attempt);
          continue;
        }
        throw new Error(`${method} ${url} failed: ${err.cause?.message ?? err.message}`);
      }
      const text = await res.text();
      if (res.ok) return text === "" ? null : JSON.parse(text);
      if (RETRY_STATUS.has(res.status) && attempt < MAX_ATTEMPTS) {
        const after = Number(res.headers.get("retry-after"));
        await sleep(Number.isFinite(after) && after > 0 ? Math.min(after, 10) * 1000 : 100 * 2 ** attempt);
        continue;
      }
      throw new HttpError(method, url, res.status, text);
    }
  }
  return { base, request };
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure stops new work and rejects. */
export async function pool(items, limit, fn) {
  let next = 0;
  let failed = null;
  async function worker() {
    while (failed === null && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (err) {
        failed ??= err;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== null) throw failed;
}

/** Resolves true once GET `url` answers 200, false after `timeoutMs`. */
export async function waitFor200(url, { timeoutMs = 60_000, intervalMs = 250, isAlive = () => true } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // Not listening yet.
    }
    await sleep(intervalMs);
  }
  return false;
}
