/** `window` and `navigator` stand-ins: online/offline events on demand, and an in-memory Web Locks. */
import type { NavigatorLike, OnlineEventTarget } from "../../../../store-client/create-store-client";
import type { LockManagerLike } from "../../../../store-client/sync/sync-lock";

export class FakeWindow implements OnlineEventTarget {
  private readonly listeners = { online: new Set<() => void>(), offline: new Set<() => void>() };

  addEventListener(type: "online" | "offline", listener: () => void): void {
    this.listeners[type].add(listener);
  }

  removeEventListener(type: "online" | "offline", listener: () => void): void {
    this.listeners[type].delete(listener);
  }

  dispatch(type: "online" | "offline"): void {
    for (const listener of [...this.listeners[type]]) listener();
  }

  listenerCount(): number {
    return this.listeners.online.size + this.listeners.offline.size;
  }
}

/** Web Locks with `ifAvailable`: a held name is refused, not queued. */
export class FakeLocks implements LockManagerLike {
  private readonly held = new Set<string>();
  granted = 0;
  refused = 0;

  async request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<unknown>): Promise<unknown> {
    if (!options.ifAvailable) throw new Error("the store client always asks with ifAvailable");
    if (this.held.has(name)) {
      this.refused += 1;
      return callback(null);
    }
    this.held.add(name);
    this.granted += 1;
    try {
      return await callback({ name, mode: "exclusive" });
    } finally {
      this.held.delete(name);
    }
  }
}

export const onlineNavigator = (locks?: LockManagerLike): NavigatorLike => (locks === undefined ? { onLine: true } : { onLine: true, locks });

/** Compile-time only: the browser's own `window` and `navigator` fit what the client asks for. */
export function browserGlobalsFit(win: Window, nav: Navigator): [OnlineEventTarget, NavigatorLike] {
  return [win, nav];
}
