/**
 * The count sheet over WebSocket, with the stock y-websocket client: joining, merging offline
 * work, refusing writes outside the sheet's shape, surviving hibernation and restarts, closing only
 * the socket that sent garbage, freezing on submit.
 */
import { abortAllDurableObjects, env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";
import type { CountSession } from "../../edge/count/count-session";
import { catalog, call, fresh, must, token } from "./helpers";
import { clerk, rawSocket, until } from "./count-clients";

const skuA = fresh("CNT-A");
const skuB = fresh("CNT-B");
let staffAnna = "";
let staffBen = "";

async function newCount(zones: string[] = []): Promise<string> {
  const r = await must(call("POST", "/v1/counts", { token: staffAnna, body: { location: "CS1", skus: [skuA, skuB], ...(zones.length > 0 ? { zones } : {}) } }));
  return r.body.countId as string;
}

const inCount = <R>(countId: string, fn: (o: CountSession) => R | Promise<R>) =>
  runInDurableObject(env.COUNT.get(env.COUNT.idFromName(countId)) as unknown as DurableObjectStub, (o) => fn(o as unknown as CountSession));

beforeAll(async () => {
  await catalog({ locations: [{ id: "CS1", kind: "store", region: "CR1" }], skus: [skuA, skuB] });
  staffAnna = await token({ role: "staff", sub: "anna", store: "CS1" });
  staffBen = await token({ role: "staff", sub: "ben", store: "CS1" });
});

describe("the count sheet with the stock y-websocket client", () => {
  it("lets a second clerk see the first clerk's entries, by token parameter and by header", async () => {
    const countId = await newCount();
    const anna = clerk(countId, "anna", staffAnna, { via: "param" });
    const ben = clerk(countId, "ben", staffBen, { via: "header" });
    await until("both synced", () => anna.provider.synced && ben.provider.synced);
    anna.set(skuA, "aisle-1", 7);
    await until("ben sees anna's entry", () => ben.total(skuA) === 7);
    expect(ben.doc.getMap<Y.Map<number>>("lines").get(skuA)?.toJSON()).toEqual({ "anna:aisle-1": 7 });
    expect((await inCount(countId, (o) => o.entries()))[skuA]).toEqual({ "anna:aisle-1": 7 });
    anna.destroy();
    ben.destroy();
  });

  it("keeps every entry two clerks counted offline in different zones, and the totals add up", async () => {
    const countId = await newCount();
    const anna = clerk(countId, "anna", staffAnna);
    const ben = clerk(countId, "ben", staffBen);
    await until("both synced", () => anna.provider.synced && ben.provider.synced);
    anna.provider.disconnect();
    ben.provider.disconnect();
    anna.set(skuA, "front", 3);
    anna.set(skuB, "front", 1);
    ben.set(skuA, "back", 4);
    ben.set(skuB, "back", 10);
    anna.set(skuA, "front", 5); // a correction, offline
    anna.provider.connect();
    ben.provider.connect();
    await until("both converge", () => anna.total(skuA) === 9 && ben.total(skuA) === 9 && anna.total(skuB) === 11 && ben.total(skuB) === 11);
    const stored = await inCount(countId, (o) => o.entries());
    expect(stored[skuA]).toEqual({ "anna:front": 5, "ben:back": 4 });
    expect(stored[skuB]).toEqual({ "anna:front": 1, "ben:back": 10 });
    anna.destroy();
    ben.destroy();
  });

  it("shows each clerk who else is counting (awareness relayed to every socket) and forgets a clerk who leaves", async () => {
    const countId = await newCount();
    const anna = clerk(countId, "anna", staffAnna);
    const ben = clerk(countId, "ben", staffBen);
    const present = (c: typeof anna) => [...c.provider.awareness.getStates().values()].map((s) => s.counterId as string).sort();
    await until("both see both", () => present(anna).join() === "anna,ben" && present(ben).join() === "anna,ben");
    ben.destroy();
    await until("anna sees ben gone", () => present(anna).join() === "anna");
    anna.destroy();
  });
});

describe("what the sheet refuses", () => {
  it("replaces only the clerk's own entry on correction, and refuses one that writes another counter's entry", async () => {
    const countId = await newCount();
    const anna = clerk(countId, "anna", staffAnna);
    const ben = clerk(countId, "ben", staffBen);
    await until("synced", () => anna.provider.synced && ben.provider.synced);
    anna.set(skuA, "z1", 2);
    ben.set(skuA, "z1", 6);
    await until("merged", () => anna.total(skuA) === 8 && ben.total(skuA) === 8);
    anna.set(skuA, "z1", 3);
    await until("correction seen", () => ben.total(skuA) === 9);
    // Anna's device writes Ben's entry: refused, closed with the reason, not seen by Ben, not stored.
    anna.doc.getMap<Y.Map<number>>("lines").get(skuA)?.set("ben:z1", 0);
    await until("anna is told", () => anna.closes.some((c) => c.code === 4403));
    expect(anna.closes.find((c) => c.code === 4403)?.reason).toMatch(/another counter/);
    await new Promise((r) => setTimeout(r, 200));
    expect(ben.doc.getMap<Y.Map<number>>("lines").get(skuA)?.get("ben:z1")).toBe(6);
    expect((await inCount(countId, (o) => o.entries()))[skuA]).toEqual({ "anna:z1": 3, "ben:z1": 6 });
    anna.destroy();
    ben.destroy();
  });

  it.each([
    ["a negative quantity", (l: Y.Map<unknown>) => l.set("anna:z1", -1), /whole number/],
    ["a fractional quantity", (l: Y.Map<unknown>) => l.set("anna:z1", 1.5), /whole number/],
    ["a text quantity", (l: Y.Map<unknown>) => l.set("anna:z1", "3"), /whole number/],
    ["a key outside the shape", (l: Y.Map<unknown>) => l.set("anna", 1), /counterId>:<zone/],
    ["a zone the count does not have", (l: Y.Map<unknown>) => l.set("anna:roof", 1), /zone/],
  ])("refuses %s and nobody else sees it", async (_name, write, reason) => {
    const countId = await newCount(["z1", "z2"]);
    const anna = clerk(countId, "anna", staffAnna);
    const ben = clerk(countId, "ben", staffBen);
    await until("synced", () => anna.provider.synced && ben.provider.synced);
    const line = anna.doc.getMap<Y.Map<unknown>>("lines").get(skuA);
    if (line === undefined) throw new Error("no line");
    write(line);
    await until("anna is told", () => anna.closes.length > 0);
    expect(anna.closes[0]?.reason).toMatch(reason);
    await new Promise((r) => setTimeout(r, 200));
    expect(ben.doc.getMap<Y.Map<unknown>>("lines").get(skuA)?.toJSON()).toEqual({});
    expect((await inCount(countId, (o) => o.entries()))[skuA]).toEqual({});
    anna.destroy();
    ben.destroy();
  });

  it("refuses a line for an unknown SKU", async () => {
    const countId = await newCount();
    const anna = clerk(countId, "anna", staffAnna);
    await until("synced", () => anna.provider.synced);
    anna.doc.getMap<Y.Map<number>>("lines").set("NOT-IN-COUNT", new Y.Map<number>());
    await until("anna is told", () => anna.closes.length > 0);
    expect(anna.closes[0]).toMatchObject({ code: 4403 });
    expect(Object.keys(await inCount(countId, (o) => o.entries())).sort()).toEqual([skuA, skuB].sort());
    anna.destroy();
  });

  it("closes only the socket that sent garbage or an oversized message; the others keep syncing", async () => {
    const countId = await newCount();
    const ben = clerk(countId, "ben", staffBen);
    await until("synced", () => ben.provider.synced);
    const garbage = await rawSocket(countId, staffAnna);
    garbage.ws.send(new Uint8Array([0, 7, 255, 255, 255]));
    expect((await garbage.closed).code).toBe(4400);
    const text = await rawSocket(countId, staffAnna);
    text.ws.send("hello");
    expect((await text.closed).code).toBe(4400);
    const big = await rawSocket(countId, staffAnna);
    big.ws.send(new Uint8Array(1024 * 1024 + 1));
    expect((await big.closed).code).toBe(4413);
    const anna = clerk(countId, "anna", staffAnna);
    await until("anna synced", () => anna.provider.synced);
    anna.set(skuB, "z", 2);
    await until("ben still gets updates", () => ben.total(skuB) === 2);
    expect(ben.closes).toEqual([]);
    anna.destroy();
    ben.destroy();
  });

  it("freezes on submit: updates are refused, the last state stays readable", async () => {
    const countId = await newCount();
    const anna = clerk(countId, "anna", staffAnna);
    await until("synced", () => anna.provider.synced);
    anna.set(skuA, "z", 4);
    await until("stored", async () => (await inCount(countId, (o) => o.entries()))[skuA]?.["anna:z"] === 4);
    await must(call("POST", `/v1/counts/${countId}/submit`, { token: staffBen }));
    await until("anna sees it frozen", () => anna.doc.getMap("meta").get("state") === "submitted");
    anna.set(skuA, "z", 40);
    await until("anna is told", () => anna.closes.some((c) => c.code === 4409));
    expect((await inCount(countId, (o) => o.entries()))[skuA]).toEqual({ "anna:z": 4 });
    anna.destroy();
    // A late joiner still reads the frozen sheet.
    const late = clerk(countId, "ben", staffBen);
    await until("late joiner synced", () => late.provider.synced);
    expect(late.total(skuA)).toBe(4);
    late.destroy();
  });
});

describe("the sheet's storage", () => {
  it("survives an object restart: the document is rebuilt from its snapshot and log", async () => {
    const countId = await newCount();
    const anna = clerk(countId, "anna", staffAnna);
    await until("synced", () => anna.provider.synced);
    for (let i = 0; i < 20; i++) anna.set(skuA, `z${i}`, i);
    await until("stored", async () => Object.keys((await inCount(countId, (o) => o.entries()))[skuA] ?? {}).length === 20);
    anna.destroy();
    await abortAllDurableObjects();
    const entries = (await inCount(countId, (o) => o.entries()))[skuA] ?? {};
    expect(Object.values(entries).reduce((n, v) => n + v, 0)).toBe(190);
    const back = clerk(countId, "anna", staffAnna);
    await until("rejoined", () => back.provider.synced && back.total(skuA) === 190);
    back.destroy();
  });

  it("keeps the log bounded by folding it into the snapshot", async () => {
    const countId = await newCount();
    const anna = clerk(countId, "anna", staffAnna);
    await until("synced", () => anna.provider.synced);
    for (let i = 0; i < 600; i++) anna.set(skuB, "z", i);
    await until("all stored", async () => (await inCount(countId, (o) => o.entries()))[skuB]?.["anna:z"] === 599, 30_000);
    const stats = await inCount(countId, (o) => o.storageStats());
    expect(stats.logUpdates).toBeLessThan(500);
    expect(stats.snapshotBytes).toBeGreaterThan(0);
    anna.destroy();
    await abortAllDurableObjects();
    expect((await inCount(countId, (o) => o.entries()))[skuB]).toEqual({ "anna:z": 599 });
  });
});
