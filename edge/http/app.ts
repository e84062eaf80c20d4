/**
 * The HTTP app: request id, body limit, media type, authentication, the routes, and one error
 * funnel. Every failure leaves as RFC 9457 problem+json: expected ones (`ProblemError`, Hono's own
 * 4xx) with their status, bugs as a 500 that names the request id and hides the message.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { auditRoutes } from "../audit/audit-routes";
import { authenticate } from "../auth/auth";
import { cartRoutes } from "../cart/cart-routes";
import { catalogRoutes } from "../catalog/catalog-routes";
import { changefeedRoutes } from "../changefeed/changefeed-routes";
import { countRoutes, countSyncRoutes } from "../count/count-routes";
import { overviewRoutes } from "../count/region-overview";
import { demoRoutes } from "../demo/demo-sign-in";
import { skuRoutes } from "../sku/sku-routes";
import { stockRoutes } from "../sku/stock-routes";
import { syncRoutes } from "../sync/sync-routes";
import type { AppEnv } from "./app-env";
import { problem, ProblemError, problemResponse, type ProblemKind } from "./problem";
import { BODY_BYTES_MAX, SYNC_BODY_BYTES_MAX } from "./validate";

const JSON_MEDIA = /^application\/([\w.-]+\+)?json$/i;

const kindForStatus = (status: number): ProblemKind =>
  status === 401 ? "unauthorized" : status === 403 ? "forbidden" : status === 404 ? "not_found" : status === 413 ? "payload_too_large" : status === 415 ? "unsupported_media_type" : status < 500 ? "invalid_request" : "internal";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(requestId());
  // A push of 500 ops needs more room than any other request.
  const limitTo = (maxSize: number) => bodyLimit({ maxSize, onError: () => problemResponse(problem("payload_too_large", `request bodies here are limited to ${maxSize} bytes`)) });
  app.use("/v1/sync/push", limitTo(SYNC_BODY_BYTES_MAX));
  app.use(async (c, next) => (c.req.path === "/v1/sync/push" ? next() : limitTo(BODY_BYTES_MAX)(c, next)));
  app.use(async (c, next) => {
    const type = c.req.header("content-type");
    const hasBody = c.req.header("transfer-encoding") !== undefined || Number(c.req.header("content-length") ?? 0) > 0;
    if (["POST", "PUT", "PATCH"].includes(c.req.method) && (type !== undefined || hasBody) && !JSON_MEDIA.test(type?.split(";")[0]?.trim() ?? "")) {
      throw new ProblemError(problem("unsupported_media_type", `content-type ${type ?? "(none)"} is not accepted; send application/json`));
    }
    return next();
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.use("/v1/*", authenticate);
  app.route("/v1", catalogRoutes);
  app.route("/v1", skuRoutes);
  app.route("/v1", stockRoutes);
  app.route("/v1", cartRoutes);
  app.route("/v1", auditRoutes);
  app.route("/v1", syncRoutes);
  app.route("/v1", changefeedRoutes);
  app.route("/v1", countSyncRoutes);
  app.route("/v1", countRoutes);
  app.route("/v1", overviewRoutes);
  app.route("/v1", demoRoutes);

  app.notFound((c) => problemResponse(problem("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));

  app.onError((error, c) => {
    if (error instanceof ProblemError) return problemResponse(error.problem);
    if (error instanceof HTTPException && error.status < 500) {
      const kind = error.status === 400 && /json/i.test(error.message) ? "malformed_json" : kindForStatus(error.status);
      return problemResponse(problem(kind, error.message));
    }
    // Durable Object errors say whether they are load (overloaded) or transient (retryable).
    const flags = error as { overloaded?: unknown; retryable?: unknown };
    if (flags.overloaded === true) return problemResponse(problem("overloaded", "this SKU is busy; retry shortly"), { headers: { "retry-after": "1" } });
    const id = c.get("requestId");
    if (flags.retryable === true) {
      console.warn(`request ${id}: transient failure`, error);
      return problemResponse(problem("unavailable", `a transient failure; retry (request ${id})`), { headers: { "retry-after": "1" } });
    }
    console.error(`request ${id} failed`, error);
    return problemResponse(problem("internal", `something went wrong on our side; quote request ${id} when reporting it`), { instance: `urn:request:${id}` });
  });

  return app;
}
