import { describe, expect, it } from "vitest";
import { adminToken, call, catalog, fresh, token } from "./helpers";

describe("the region routes' guards", () => {
  it("let the region's manager read its overview while only admins write the region", async () => {
    const region = fresh("rg");
    await catalog({ locations: [{ id: fresh("RS"), kind: "store", region }] });
    const manager = await token({ role: "manager", sub: "m-1", region });
    expect((await call("GET", `/v1/regions/${region}/overview`, { token: manager })).status).toBe(200);
    expect((await call("PUT", `/v1/regions/${region}`, { token: manager, body: { name: "x" } })).status).toBe(403);
    expect((await call("PUT", `/v1/regions/${region}`, { token: await adminToken(), body: { name: "x" } })).status).toBe(200);
  });
});
