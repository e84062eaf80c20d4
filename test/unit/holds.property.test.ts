/**
 * Random sequences of receive / hold / commit / release / clock ticks, applied through the pure
 * rules the SkuAuthority uses, with expiry applied lazily before every step as the object does.
 * After every step: available never below zero at any location (I1), every account sums to zero
 * and each location's on-hand equals its account (I4), held equals the active holds, and a hold
 * that ended never changes again (I6). Replay a failure with SEED=<printed seed>.
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import { commitHold, expireDue, grantHolds, receiptMovement, releaseHold, type Hold, type LocationStock } from "../../ledger/rules/holds";
import { locationAccount } from "../../ledger/rules/ids";
import { applyMovement, type Movement } from "../../ledger/rules/movement";
import { seedFrom } from "../support/seeded";

const SEED = seedFrom(process.env.SEED);
const LOCATIONS: readonly Pick<LocationStock, "location" | "kind" | "reserve">[] = [
  { location: "W1", kind: "warehouse", reserve: 0 },
  { location: "S1", kind: "store", reserve: 2 },
  { location: "S2", kind: "store", reserve: 0 },
];

type Op =
  | { kind: "receive"; at: number; qty: number }
  | { kind: "hold"; at: number | null; qty: number; ttlMs: number }
  | { kind: "commit"; pick: number }
  | { kind: "release"; pick: number }
  | { kind: "tick"; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("receive" as const), at: fc.nat(2), qty: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant("hold" as const), at: fc.option(fc.nat(2)), qty: fc.integer({ min: 1, max: 8 }), ttlMs: fc.integer({ min: 5_000, max: 60_000 }) }),
  fc.record({ kind: fc.constant("commit" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 30_000 }) }),
);

class Model {
  nowMs = 1_000_000;
  readonly balances = new Map<string, number>();
  readonly held = new Map<string, number>();
  readonly holds = new Map<string, Hold>();
  readonly movements: Movement[] = [];
  private requests = 0;

  stocks(): LocationStock[] {
    return LOCATIONS.map((l) => ({ ...l, onHand: this.balances.get(locationAccount(l.location)) ?? 0, held: this.held.get(l.location) ?? 0 }));
  }

  apply(op: Op): void {
    this.expire();
    switch (op.kind) {
      case "tick":
        this.nowMs += op.ms;
        this.expire();
        return;
      case "receive": {
        const m = receiptMovement({ id: `rcpt.${this.movements.length}`, sku: "P", location: LOCATIONS[op.at]?.location ?? "W1", qty: op.qty, nowMs: this.nowMs, source: "system", ref: null, lot: null, expiresOn: null });
        this.move(m);
        return;
      }
      case "hold": {
        const location = op.at === null ? undefined : LOCATIONS[op.at]?.location;
        const g = grantHolds(this.stocks(), { requestId: `q${this.requests++}`, cartId: "c", lines: [{ lineIndex: 0, qty: op.qty, location }], ttlMs: op.ttlMs }, this.nowMs);
        if (g.ok) for (const h of g.holds) this.start(h);
        return;
      }
      case "commit":
      case "release": {
        const all = [...this.holds.values()];
        const h = all[op.pick % Math.max(1, all.length)];
        if (h === undefined) return;
        const r = op.kind === "commit" ? commitHold(h, { sku: "P", nowMs: this.nowMs, source: "system", ref: "o" }) : releaseHold(h, this.nowMs);
        if (!r.ok) {
          expect(r.hold).toBe(h); // refused: nothing about the hold changes
          return;
        }
        this.end(r.hold);
        if (r.movement !== null) this.move(r.movement);
        return;
      }
    }
  }

  private expire(): void {
    for (const h of expireDue([...this.holds.values()], this.nowMs)) this.end(h);
  }

  private start(h: Hold): void {
    expect(this.holds.has(h.holdId)).toBe(false);
    this.holds.set(h.holdId, h);
    this.held.set(h.location, (this.held.get(h.location) ?? 0) + h.qty);
  }

  private end(h: Hold): void {
    const before = this.holds.get(h.holdId);
    expect(before?.state, `hold ${h.holdId} ends once`).toBe("active");
    this.holds.set(h.holdId, h);
    this.held.set(h.location, (this.held.get(h.location) ?? 0) - h.qty);
  }

  private move(m: Movement): void {
    applyMovement(this.balances, m);
    this.movements.push(m);
  }

  check(): void {
    const total = [...this.balances.values()].reduce((a, b) => a + b, 0);
    expect(total, "all accounts sum to zero").toBe(0);
    for (const s of this.stocks()) {
      // Holds never reach into the reserve; only a reserve larger than the stock makes this negative.
      if (s.held > 0) expect(s.onHand - s.held - s.reserve, `available at ${s.location} never below zero`).toBeGreaterThanOrEqual(0);
      expect(s.held, `held at ${s.location} never more than on hand`).toBeLessThanOrEqual(s.onHand);
      const active = [...this.holds.values()].filter((h) => h.state === "active" && h.location === s.location).reduce((n, h) => n + h.qty, 0);
      expect(s.held, `held at ${s.location} is the sum of its active holds`).toBe(active);
    }
    const sold = this.movements.filter((m) => m.to === "customer").reduce((n, m) => n + m.qty, 0);
    const committed = [...this.holds.values()].filter((h) => h.state === "committed").reduce((n, h) => n + h.qty, 0);
    expect(sold, "every committed unit is sold once").toBe(committed);
  }
}

it("keeps availability, conservation and single endings over random operation sequences", () => {
  console.log(`holds property: SEED=${SEED}`);
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => {
      const model = new Model();
      for (const op of ops) {
        model.apply(op);
        model.check();
      }
    }),
    { seed: SEED, numRuns: 400 },
  );
});
