/**
 * Signing in: a token handed to the page as `#token=<JWT>` (the retailer's sign-in page redirects
 * there) is kept on the device and removed from the address bar, then used from then on, offline
 * too. The page never verifies a token (it has no secret); it reads its claims to know who it is
 * for, and the edge answers 401 when it is not valid.
 */

export interface Claims {
  sub: string;
  role: string;
  store?: string;
  region?: string;
  /** Seconds since the epoch. */
  exp?: number;
}

/** The claims of a JWT, or null when it is not one. Pure. */
export function readClaims(token: string): Claims | null {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(parts[1].length / 4) * 4, "="));
    const raw: unknown = JSON.parse(json);
    if (typeof raw !== "object" || raw === null) return null;
    const c = raw as Record<string, unknown>;
    if (typeof c.sub !== "string" || typeof c.role !== "string") return null;
    const claims: Claims = { sub: c.sub, role: c.role };
    if (typeof c.store === "string") claims.store = c.store;
    if (typeof c.region === "string") claims.region = c.region;
    if (typeof c.exp === "number") claims.exp = c.exp;
    return claims;
  } catch {
    // Not base64url JSON: not a token this page can use.
    return null;
  }
}

/** The token in a location hash like `#token=abc` (other hash parameters allowed), or null. Pure. */
export function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  const token = params.get("token");
  return token !== null && token.length > 0 ? token : null;
}

export function isExpired(claims: Claims, nowMs: number): boolean {
  return claims.exp !== undefined && claims.exp * 1000 <= nowMs;
}

export interface SignedIn {
  token: string;
  claims: Claims;
}

/** Where one app keeps its tokens on this device, one slot per role it signs in with. */
export class TokenStore {
  constructor(private readonly prefix: string) {}

  get(slot: string): SignedIn | null {
    const token = localStorage.getItem(`${this.prefix}.${slot}`);
    if (token === null) return null;
    const claims = readClaims(token);
    return claims === null ? null : { token, claims };
  }

  set(slot: string, token: string): void {
    localStorage.setItem(`${this.prefix}.${slot}`, token);
  }

  clear(slot: string): void {
    localStorage.removeItem(`${this.prefix}.${slot}`);
  }
}

/**
 * Take a token from the address bar, if there is one: answer it and remove it from the URL (and
 * the history entry), so it is not bookmarked, shared or left in the browser's history.
 */
export function takeTokenFromAddressBar(): string | null {
  const token = tokenFromHash(location.hash);
  if (token === null) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return token;
}
