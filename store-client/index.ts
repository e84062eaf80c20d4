/**
 * edgestock store client: offline-first POS library for the browser (ESM). Start at
 * create-store-client.ts; the wire contract is docs/sync-protocol.md.
 */
export { createStoreClient, DEFAULT_TUNING } from "./create-store-client";
export type { ClientTuning, NavigatorLike, OnlineEventTarget, RecordResult, StatusListener, StoreClient, StoreClientOptions } from "./create-store-client";
export { openStoreDb } from "./db/store-db";
export type { CatalogItem, OpState, OutboxRow, StockRow, StoreDb } from "./db/store-db";
export type { CatalogLoaded, CatalogProblem } from "./catalog/catalog";
export type { Clock } from "./clock";
export type { FieldError, Line, OpProblem, WriteOffLine } from "./ops/op-rules";
export type { AllowanceWarning, LocalStock } from "./stock/stock-view";
export type { Connection, OpView, SyncStatus } from "./status/sync-status";
export type { Transport, TransportRequest, TransportResponse } from "./sync/http";
export type { OpKind, PushResult, Shortfall, WireOp, WireProblem } from "./sync/protocol";
export type { SyncFailure } from "./sync/sync-failure";
export type { SyncProblem, SyncState } from "./sync/sync-engine";
export type { LockManagerLike } from "./sync/sync-lock";
export { openCount, subjectOf } from "./counts/count-sheet";
export type { CountSheet, OpenCountOptions, Presence, SetResult, SheetConnection } from "./counts/count-sheet";
