import { useEffect, useState } from "preact/hooks";

export type Polled<T> = { kind: "loading" } | { kind: "ok"; value: T; atMs: number } | { kind: "failed"; error: string; last: { value: T; atMs: number } | null };

/** Load now and every `everyMs`; keeps the last good answer when a refresh fails. `again` reloads at once. */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: readonly unknown[]): [Polled<T>, () => void] {
  const [state, setState] = useState<Polled<T>>({ kind: "loading" });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stop = false;
    const run = async () => {
      try {
        const value = await load();
        if (!stop) setState({ kind: "ok", value, atMs: Date.now() });
      } catch (e) {
        if (!stop) setState((s) => ({ kind: "failed", error: e instanceof Error ? e.message : String(e), last: s.kind === "ok" ? { value: s.value, atMs: s.atMs } : s.kind === "failed" ? s.last : null }));
      }
    };
    void run();
    const t = setInterval(() => void run(), everyMs);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [...deps, tick]);
  return [state, () => setTick((n) => n + 1)];
}
