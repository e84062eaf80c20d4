// HS256 compact JWS verification for the peer, as edgestock's Worker checks its bearer tokens:
// header alg HS256 only (never `none`), a constant-time signature comparison, `exp` in the future.
import { createHmac, timingSafeEqual } from "node:crypto";

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function json(segment) {
  try {
    return JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    // Not base64url JSON: the caller answers "malformed".
    return undefined;
  }
}

/** `{ ok: true, payload }` for a valid token at `nowS` (Unix seconds), else `{ ok: false, reason }`. */
export function verifyHs256(token, secret, nowS) {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return { ok: false, reason: "malformed" };
  const [h, p, sig] = parts;
  const header = json(h);
  if (header?.alg !== "HS256") return { ok: false, reason: "algorithm" };
  const expected = createHmac("sha256", secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(sig, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "signature" };
  const payload = json(p);
  if (typeof payload !== "object" || payload === null) return { ok: false, reason: "malformed" };
  if (!Number.isInteger(payload.exp) || payload.exp <= nowS) return { ok: false, reason: "expired" };
  return { ok: true, payload };
}
