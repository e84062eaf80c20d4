/**
 * Where the till gets its count sheets: the store client's `openCount` once it has one
 * (store-client/counts/). Until then null, and the count screen says counts are not available.
 */
import type { OpenCount } from "./count-sheet";

export const openCount: OpenCount = null;
