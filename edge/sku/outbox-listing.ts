/**
 * An authority's side of the outbox registry (edge/sku/outbox-registry.ts): listed before its
 * first unflushed movement, unlisted once its outbox has stayed empty for OUTBOX_LINGER_MS. A busy
 * SKU stays listed and pays nothing per movement; an idle one pays one call when it wakes.
 *
 * State lives in the object's meta rows: `outbox_epoch` (the last epoch used, never reused) and
 * `outbox_listed` (the epoch it is listed under, absent when not listed).
 */
import type { RegistryApi } from "../stubs";
import type { SkuStorage } from "./sku-storage";

/** How long an authority stays listed after its outbox emptied (a SKU that sells every few seconds stays listed). */
export const OUTBOX_LINGER_MS = 30_000;

export class OutboxListing {
  /** When to leave, if the outbox is still empty then; null when no leave is due. */
  leaveAtMs: number | null = null;
  private joining: Promise<void> | null = null;
  /** The epoch listed under (the `outbox_listed` meta row, read once: this object is its only writer). */
  private listed: number | null;

  constructor(
    private readonly store: SkuStorage,
    private readonly registry: (sku: string) => Pick<RegistryApi, "join" | "leave">,
    /** TEST-ONLY: the authority's planted "unlisted-outbox" bug (see PlantedBug). */
    private readonly plantedSkip: () => boolean = () => false,
  ) {
    const v = store.meta("outbox_listed");
    this.listed = v === undefined ? null : Number(v);
  }

  /** Listed before this returns; call before any change that may write a movement. Throws if the registry cannot be reached (the change is then not made). */
  async ensure(sku: string): Promise<void> {
    this.leaveAtMs = null;
    if (this.listed !== null || this.plantedSkip()) return;
    // Requests arriving while the join is in flight wait for the same join.
    this.joining ??= (async () => {
      const epoch = Number(this.store.meta("outbox_epoch") ?? "0") + 1;
      this.store.setMeta("outbox_epoch", String(epoch));
      try {
        await this.registry(sku).join(sku, epoch);
        this.store.setMeta("outbox_listed", String(epoch));
        this.listed = epoch;
      } finally {
        this.joining = null;
      }
    })();
    await this.joining;
  }

  /** The outbox just emptied: leave after the linger, unless a movement comes first. */
  emptied(nowMs: number): void {
    if (this.listed !== null && this.joining === null) this.leaveAtMs = nowMs + OUTBOX_LINGER_MS;
  }

  /** From the alarm: leave if due and the outbox is still empty. A failed leave only costs a report one question. */
  async leaveIfDue(sku: string, nowMs: number, outboxEmpty: boolean): Promise<void> {
    if (this.leaveAtMs === null || this.leaveAtMs > nowMs) return;
    this.leaveAtMs = null;
    const epoch = this.listed;
    if (epoch === null || !outboxEmpty || this.joining !== null) return;
    // Unlisted here first: a movement from now on joins again under a newer epoch, which this leave cannot remove.
    this.store.deleteMeta("outbox_listed");
    this.listed = null;
    try {
      await this.registry(sku).leave(sku, epoch);
    } catch (error) {
      console.warn(`sku ${sku}: leaving the outbox registry failed; the entry stays until the next leave`, error);
    }
  }
}
