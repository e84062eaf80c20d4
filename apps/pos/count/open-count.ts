/** Where the till gets its count sheets: the store client's, on this page's origin, with the clerk's token. */
import { openCount as openSheet } from "../../../store-client/counts/count-sheet";
import type { OpenCount } from "./count-sheet";

export const openCount: OpenCount = (countId, staffToken) => openSheet({ baseUrl: location.origin, countId, token: staffToken });
