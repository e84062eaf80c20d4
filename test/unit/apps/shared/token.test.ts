import { describe, expect, it } from "vitest";
import { isExpired, readClaims, tokenFromHash } from "../../../../apps/shared/token";
import { ago, money } from "../../../../apps/shared/format";

const jwt = (claims: object) => `${Buffer.from('{"alg":"HS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

describe("signing in from the address bar", () => {
  it("finds the token in #token=, among other hash parameters", () => {
    expect(tokenFromHash("#token=abc.def.ghi")).toBe("abc.def.ghi");
    expect(tokenFromHash("#x=1&token=t")).toBe("t");
    expect(tokenFromHash("")).toBeNull();
    expect(tokenFromHash("#token=")).toBeNull();
  });

  it("reads who a token is for without verifying it", () => {
    expect(readClaims(jwt({ sub: "S001-pos-1", role: "terminal", store: "S001", exp: 10 }))).toEqual({ sub: "S001-pos-1", role: "terminal", store: "S001", exp: 10 });
    expect(readClaims("not-a-token")).toBeNull();
    expect(readClaims(jwt({ role: "terminal" }))).toBeNull();
  });

  it("knows an expired token", () => {
    expect(isExpired({ sub: "a", role: "staff", exp: 100 }, 100_000)).toBe(true);
    expect(isExpired({ sub: "a", role: "staff", exp: 101 }, 100_000)).toBe(false);
  });
});

describe("how screens say times and money", () => {
  it("says ages in words", () => {
    expect([ago(null), ago(1000), ago(42_000), ago(5 * 60_000), ago(3 * 3600_000), ago(3 * 86_400_000)]).toEqual(["never", "just now", "42 s ago", "5 min ago", "3 h ago", "3 days ago"]);
  });
  it("prints minor units", () => {
    expect([money(1234), money(5), money(-250)]).toEqual(["12.34", "0.05", "−2.50"]);
  });
});
