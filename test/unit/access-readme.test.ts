/**
 * The README's API table and the access table (edge/auth/access-table.ts) say the same thing:
 * every route of the table has a README row, whose "who" column is the table's rule in words, and
 * every route the README lists is in the table.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ACCESS, keyOf, whoText, type AccessRule } from "../../edge/auth/access-table";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const api = readme.slice(readme.indexOf("## API (v1)"));

/** `| \`GET /v1/x?a=&b=\` | who | ...` → ["GET /v1/x", "who"] */
const rows = [...api.matchAll(/^\| `(GET|PUT|POST|DELETE) ([^`?\s]+)[^`]*` \| ([^|]+) \|/gm)].map((m) => ({ key: `${m[1]} ${m[2]}`, who: (m[3] ?? "").trim() }));

describe("the README's API table", () => {
  it("lists routes", () => {
    expect(rows.length).toBeGreaterThan(10);
  });

  it.each((ACCESS as readonly AccessRule[]).map((rule) => ({ key: keyOf(rule), who: whoText(rule) })))("says who may call $key: $who", ({ key, who }) => {
    const row = rows.find((r) => r.key === key);
    expect(row, `README has no row for ${key}`).toBeDefined();
    expect(row?.who).toBe(who);
  });

  it("lists no route the access table does not know", () => {
    const known = new Set((ACCESS as readonly AccessRule[]).map(keyOf));
    expect(rows.map((r) => r.key).filter((k) => !known.has(k))).toEqual([]);
  });
});
