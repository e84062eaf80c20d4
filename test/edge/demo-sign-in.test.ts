import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { demoPeople, demoSignInEnabled } from "../../edge/demo/demo-sign-in";
import { catalog, fresh } from "./helpers";

const post = (url: string, body: unknown) => SELF.fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the demo sign-in", () => {
  it("is off unless DEMO_SIGN_IN is exactly 1, and never for a host that is not loopback", () => {
    expect(demoSignInEnabled({}, "http://127.0.0.1:8787/v1/demo/people")).toBe(false);
    expect(demoSignInEnabled({ DEMO_SIGN_IN: "0" }, "http://127.0.0.1:8787/v1/demo/people")).toBe(false);
    expect(demoSignInEnabled({ DEMO_SIGN_IN: "true" }, "http://localhost/v1/demo/people")).toBe(false);
    expect(demoSignInEnabled({ DEMO_SIGN_IN: "1" }, "https://edgestock.example.com/v1/demo/people")).toBe(false);
    expect(demoSignInEnabled({ DEMO_SIGN_IN: "1" }, "http://localhost:8787/v1/demo/people")).toBe(true);
  });

  it("answers 404 to a host that is not loopback even when enabled", async () => {
    expect((await SELF.fetch("https://edgestock.example.com/v1/demo/people")).status).toBe(404);
    const signIn = await post("https://edgestock.example.com/v1/demo/sign-in", { person: "S001-pos-1" });
    expect(signIn.status).toBe(404);
    expect(((await signIn.json()) as { token?: unknown }).token).toBeUndefined();
  });

  it("lists the people of the stores in D1 and signs a token the API accepts", async () => {
    const store = fresh("DS");
    await catalog({ locations: [{ id: store, kind: "store", region: "demo-r" }] });
    const people = (await (await SELF.fetch("http://127.0.0.1/v1/demo/people")).json()) as { people: { id: string; role: string }[] };
    expect(people.people.filter((p) => p.id.startsWith(`${store}-`)).map((p) => p.role)).toEqual(["terminal", "terminal", "staff", "staff"]);
    const signIn = await post("http://127.0.0.1/v1/demo/sign-in", { person: `${store}-pos-1` });
    expect(signIn.status).toBe(200);
    const { token } = (await signIn.json()) as { token: string };
    const pull = await SELF.fetch("http://127.0.0.1/v1/sync/pull", { headers: { authorization: `Bearer ${token}` } });
    expect(pull.status).toBe(200);
    expect((await post("http://127.0.0.1/v1/demo/sign-in", { person: "nobody" })).status).toBe(404);
  });

  it("names two tills and two clerks per store and a manager per region", () => {
    const people = demoPeople([{ id: "S001", name: "Store 1" }], [{ id: "north", name: "North" }]);
    expect(people.map((p) => [p.id, p.role, p.store ?? p.region])).toEqual([
      ["S001-pos-1", "terminal", "S001"],
      ["S001-pos-2", "terminal", "S001"],
      ["S001-clerk-1", "staff", "S001"],
      ["S001-clerk-2", "staff", "S001"],
      ["manager-north", "manager", "north"],
    ]);
  });
});
