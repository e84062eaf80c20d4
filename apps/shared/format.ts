/** Words and numbers as the screens say them. Pure. */

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 days ago". */
export function ago(ms: number | null): string {
  if (ms === null) return "never";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/** Same as `ago` for a duration that is not "ago": "5 min", "3 h". */
export function duration(ms: number): string {
  const text = ago(ms);
  return text === "just now" ? "a few seconds" : text.replace(/ ago$/, "");
}

export function agoSince(iso: string | null, nowMs: number): string {
  if (iso === null) return "never";
  const t = Date.parse(iso);
  return Number.isNaN(t) ? "unknown" : ago(nowMs - t);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** Minor units (cents) as money: 1234 → "12.34". */
export function money(minor: number): string {
  const sign = minor < 0 ? "−" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100).toLocaleString("en-US")}.${String(abs % 100).padStart(2, "0")}`;
}
