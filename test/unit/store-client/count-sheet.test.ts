/**
 * The store client's count sheet (store-client/counts/) in Node, over real WebSockets (`ws`), with
 * the stock y-websocket provider and y-indexeddb on fake-indexeddb, against the real Worker served
 * by workerd (scripts/lib/workerd-server.mjs) on a throwaway state directory.
 */
import "fake-indexeddb/auto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { openCount, type CountSheet } from "../../../store-client/counts/count-sheet";

interface Server {
  base: string;
  stop(): Promise<void>;
}

let server: Server;
let stateDir = "";
let admin = "";
let sign: (claims: Record<string, unknown>) => string = () => "";
const SKUS = ["CS-NODE-1", "CS-NODE-2"];

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });

async function api(method: string, path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === "" ? null : JSON.parse(text);
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  // reason: plain ESM helpers of the repository's scripts, without type declarations.
  const workerd = (await import("../../../scripts/lib/workerd-server.mjs" as string)) as { startWorkerdServer(o: object): Promise<Server> };
  const jwt = (await import("../../../scripts/lib/jwt.mjs" as string)) as { readSecret(): string; signToken(c: object, s: string): string };
  stateDir = mkdtempSync(join(os.tmpdir(), "edgestock-counts-node-"));
  server = await workerd.startWorkerdServer({ port: await freePort(), persistTo: stateDir });
  const secret = jwt.readSecret();
  const now = Math.floor(Date.now() / 1000);
  sign = (claims) => jwt.signToken({ iat: now, exp: now + 3600, ...claims }, secret);
  admin = sign({ sub: "admin-node", role: "admin" });
  await api("PUT", "/v1/regions/NR1", admin, { name: "NR1" });
  await api("PUT", "/v1/locations/NS1", admin, { kind: "store", regionId: "NR1", name: "NS1" });
  for (const sku of SKUS) await api("PUT", `/v1/skus/${sku}`, admin, { name: sku });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  if (stateDir !== "") rmSync(stateDir, { recursive: true, force: true });
});

const staff = (sub: string) => sign({ sub, role: "staff", store: "NS1" });

async function newCount(): Promise<string> {
  return (await api("POST", "/v1/counts", staff("lead"), { location: "NS1", skus: SKUS, zones: ["front", "back"] })).countId as string;
}

const open = (countId: string, token: string): Promise<CountSheet> => openCount({ baseUrl: server.base, countId, token, WebSocket });

describe("a count sheet in the store client, over real sockets", () => {
  it("lets two clerks count different zones offline; after reconnecting every entry is there and the totals add up", async () => {
    const countId = await newCount();
    const anna = await open(countId, staff("anna"));
    const ben = await open(countId, staff("ben"));
    await until("both connected and synced", () => anna.synced() && ben.synced());
    expect(anna.connection()).toBe("connected");
    expect(anna.skus()).toEqual(SKUS);
    await until("each sees the other", () => anna.presence().length === 2 && ben.presence().length === 2);
    expect(anna.presence().map((p) => p.counterId).sort()).toEqual(["anna", "ben"]);
    // Both lose the network and keep counting (the same device storage, no edge reachable).
    await anna.close();
    await ben.close();
    const annaOffline = await openCount({ baseUrl: "http://127.0.0.1:9", countId, token: staff("anna"), WebSocket });
    const benOffline = await openCount({ baseUrl: "http://127.0.0.1:9", countId, token: staff("ben"), WebSocket });
    expect(annaOffline.skus()).toEqual(SKUS); // the device's copy (y-indexeddb)
    expect(annaOffline.set("CS-NODE-1", "front", 4)).toEqual({ ok: true });
    expect(benOffline.set("CS-NODE-1", "back", 6)).toEqual({ ok: true });
    expect(annaOffline.set("CS-NODE-1", "front", 5)).toEqual({ ok: true }); // a correction
    expect(annaOffline.connection()).not.toBe("connected");
    await annaOffline.close();
    await benOffline.close();
    const annaBack = await open(countId, staff("anna"));
    const benBack = await open(countId, staff("ben"));
    await until("converged", () => annaBack.total("CS-NODE-1") === 11 && benBack.total("CS-NODE-1") === 11);
    expect(benBack.entries("CS-NODE-1")).toEqual({ "anna:front": 5, "ben:back": 6 });
    await annaBack.close();
    await benBack.close();
  });

  it("refuses bad quantities and zones locally, and shows the sheet frozen after submit", async () => {
    const countId = await newCount();
    const anna = await open(countId, staff("anna"));
    await until("synced", () => anna.synced());
    expect(anna.set("CS-NODE-2", "front", -1).ok).toBe(false);
    expect(anna.set("CS-NODE-2", "front", 1.5).ok).toBe(false);
    expect(anna.set("CS-NODE-2", "front:x", 1).ok).toBe(false);
    expect(anna.set("NOT-ON-SHEET", "front", 1).ok).toBe(false);
    expect(anna.set("CS-NODE-2", "front", 3)).toEqual({ ok: true });
    let counted = -1;
    const end = Date.now() + 15_000;
    while (counted !== 3 && Date.now() < end) {
      const r = await api("GET", `/v1/counts/${countId}/report`, staff("lead"));
      counted = r.lines.find((l: { sku: string }) => l.sku === "CS-NODE-2")?.counted ?? -1;
    }
    await api("POST", `/v1/counts/${countId}/submit`, staff("lead"));
    await until("frozen", () => anna.frozen());
    expect(anna.set("CS-NODE-2", "front", 9).ok).toBe(false);
    const report = await api("GET", `/v1/counts/${countId}/report`, staff("lead"));
    expect(report.lines.find((l: { sku: string }) => l.sku === "CS-NODE-2")).toMatchObject({ counted: 3, entries: { "anna:front": 3 } });
    await anna.close();
  });

  it("says refused, with the edge's reason, when an offline entry reaches a sheet that was submitted meanwhile", async () => {
    const countId = await newCount();
    const first = await open(countId, staff("anna"));
    await until("synced", () => first.synced());
    await first.close();
    const offline = await openCount({ baseUrl: "http://127.0.0.1:9", countId, token: staff("anna"), WebSocket });
    expect(offline.set("CS-NODE-1", "back", 2)).toEqual({ ok: true });
    await offline.close();
    await api("POST", `/v1/counts/${countId}/submit`, staff("lead"));
    const back = await open(countId, staff("anna"));
    await until("refused", () => back.connection() === "refused");
    expect(back.refusal()).toMatch(/^4409 .*frozen/);
    const report = await api("GET", `/v1/counts/${countId}/report`, staff("lead"));
    expect(report.lines.find((l: { sku: string }) => l.sku === "CS-NODE-1")).toMatchObject({ counted: 0, entries: {} });
    await back.close();
  });
});
