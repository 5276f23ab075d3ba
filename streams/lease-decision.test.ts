import { describe, expect, it } from 'vitest';
import {
  preference,
  shareOf,
  toHandOver,
  expireIfDue,
  initialLeaseState,
  isHeld,
  leaseTiming,
  nextRoundDelay,
  observeRound,
  otherExpiresAt,
  roundClock,
  validForMs,
  type LeaseRow,
  type RoundClock,
  type TenantLeaseState,
} from './lease-decision.js';

const ME = 'host-a:1:aaaa';
const OTHER = 'host-b:2:bbbb';
const timing = leaseTiming(15_000);

const row = (over: Partial<LeaseRow> = {}): LeaseRow => ({
  tenant: 'T',
  holder: ME,
  expiresAt: 1_000_000 + 15_000,
  token: 1,
  acquiredAt: 1_000_000,
  renewedAt: 1_000_000,
  ...over,
});

describe('lease timing', () => {
  it('renews three times per lease, keeps a fifth as margin, and survives one failed renewal', () => {
    expect(timing).toMatchObject({ leaseMs: 15_000, expiryMs: 13_500, takeoverBudgetMs: 1_500, renewEveryMs: 5_000, marginMs: 3_000, requestTimeoutMs: 5_000 });
    for (const leaseMs of [300, 1_000, 2_000, 15_000, 60_000]) {
      const t = leaseTiming(leaseMs);
      // The row runs out before the period ends: the rest is the waiting replica's budget to take it.
      expect(t.expiryMs + t.takeoverBudgetMs).toBe(leaseMs);
      expect(t.takeoverBudgetMs).toBeGreaterThan(t.takeoverSlackMs);
      const localValidity = t.expiryMs - t.marginMs;
      // A renewal that answers as late as its timeout still lands before the local deadline, and one that fails at once is retried before it.
      expect(t.renewEveryMs + t.requestTimeoutMs).toBeLessThan(localValidity);
      expect(t.renewEveryMs + t.retryAfterFailureMs).toBeLessThan(localValidity);
      expect(t.marginMs).toBeGreaterThan(0);
    }
  });

  it('refuses a lease too short to renew', () => {
    expect(() => leaseTiming(100)).toThrow(/at least 300 ms/);
  });
});

/** A round that started at `startedAt` and answered at `readAt`, reading the database clock at `dbNow`. */
const clockOf = (startedAt: number, readAt: number, dbNow = 1_000_000, t = timing): RoundClock => roundClock(startedAt, readAt, dbNow, t);
/** A state held with `token` (its deadline is the round clock's). */
const heldBy = (tenant: string, token: number): TenantLeaseState => ({
  ...initialLeaseState(tenant),
  held: token,
  holder: ME,
  lastHolder: ME,
  token,
  read: true,
});

describe('observing a round', () => {
  const base = initialLeaseState('T');

  it('acquires: deadline = request start + expiry − margin, on the local clock', () => {
    const clock = clockOf(500, 520);
    const { state, events } = observeRound(base, null, { row: row(), clock, me: ME });
    expect(state.held).toBe(1);
    expect(clock.validUntil).toBe(500 + 13_500 - 3_000);
    expect(state.holder).toBe(ME);
    expect(events).toEqual([{ type: 'lease.acquired', token: 1, previousHolder: null, takeover: false, validForMs: 10_500 - 20 }]);
    expect(isHeld(state, clock, 10_999)).toBe(true);
    expect(isHeld(state, clock, 11_000)).toBe(false);
    expect(isHeld(state, null, 600)).toBe(false);
  });

  it('renews silently with the same token: the deadline moves with the round clock, the state stays the same object', () => {
    const first = clockOf(500, 520);
    const held = observeRound(base, null, { row: row(), clock: first, me: ME }).state;
    const second = clockOf(5_500, 5_530, 1_005_000);
    const { state, events } = observeRound(held, first, { row: row({ expiresAt: 1_005_000 + 13_500, renewedAt: 1_005_000 }), clock: second, me: ME });
    expect(events).toEqual([]);
    expect(state).toBe(held);
    expect(isHeld(state, second, 5_500 + 10_499)).toBe(true);
    expect(isHeld(state, second, 5_500 + 10_500)).toBe(false);
  });

  it('reports a takeover from the holder seen last, with the larger token', () => {
    const first = clockOf(0, 10);
    const waiting = observeRound(base, null, { row: row({ holder: OTHER, token: 4 }), clock: first, me: ME }).state;
    expect(waiting.held).toBeNull();
    expect(waiting.holder).toBe(OTHER);
    expect(otherExpiresAt(waiting, first)).toBe(10 + 15_000);
    const { state, events } = observeRound(waiting, first, {
      row: row({ token: 5, expiresAt: 1_016_000 + 15_000 }),
      clock: clockOf(16_000, 16_010, 1_016_000),
      me: ME,
    });
    expect(state.held).toBe(5);
    expect(state.othersExpiresAt).toBeNull();
    expect(events).toEqual([expect.objectContaining({ type: 'lease.acquired', token: 5, previousHolder: OTHER, takeover: true })]);
  });

  it('a lapsed lease names nobody as holder, but remembers who held it last', () => {
    const { state } = observeRound(base, null, { row: row({ holder: OTHER, expiresAt: 999_000 }), clock: clockOf(0, 5), me: ME });
    expect(state.holder).toBeNull();
    expect(state.lastHolder).toBe(OTHER);
    expect(state.othersExpiresAt).toBeNull();
  });

  it('loses the lease when the row names another holder', () => {
    const { state, events } = observeRound(heldBy('T', 3), clockOf(0, 5), { row: row({ holder: OTHER, token: 4 }), clock: clockOf(1_000, 1_010), me: ME });
    expect(state.held).toBeNull();
    expect(events).toEqual([{ type: 'lease.lost', token: 3, newHolder: OTHER, reason: `held by ${OTHER} now` }]);
  });

  it('does not act on a renewal that answered after its own local deadline', () => {
    // The request started at 0 (deadline 10 500) and answered at 10 600: the deadline already passed.
    const { state, events } = observeRound(heldBy('T', 3), clockOf(-4_000, -3_990), { row: row({ token: 3 }), clock: clockOf(0, 10_600), me: ME });
    expect(state.held).toBeNull();
    expect(events.map((e) => e.type)).toEqual(['lease.lost']);
  });

  it('re-acquiring after a lapse is a new term: acquired again', () => {
    const lapsed = expireIfDue(heldBy('T', 3), clockOf(1_500, 1_510), 12_000);
    expect(lapsed.state.held).toBeNull();
    expect(lapsed.events).toEqual([expect.objectContaining({ type: 'lease.lost', token: 3, newHolder: null })]);
    const { state, events } = observeRound(lapsed.state, clockOf(1_500, 1_510), { row: row({ token: 4 }), clock: clockOf(20_000, 20_010), me: ME });
    expect(state.held).toBe(4);
    expect(events).toEqual([expect.objectContaining({ type: 'lease.acquired', token: 4, takeover: false })]);
  });

  it('a missing row drops a held lease', () => {
    const { state, events } = observeRound(heldBy('T', 3), clockOf(-100, -90), { row: undefined, clock: clockOf(0, 10), me: ME });
    expect(state.held).toBeNull();
    expect(events.map((e) => e.type)).toEqual(['lease.lost']);
  });
});

describe('local deadline (fencing)', () => {
  it('drops the lease at the deadline without any answer from the database', () => {
    const held = heldBy('T', 7);
    const clock = clockOf(1_500, 1_510);
    expect(clock.validUntil).toBe(12_000);
    expect(expireIfDue(held, clock, 11_999)).toEqual({ state: held, events: [] });
    const { state, events } = expireIfDue(held, clock, 12_000);
    expect(isHeld(state, clock, 11_000)).toBe(false);
    expect(events).toHaveLength(1);
    expect(validForMs(held, clock, 11_000)).toBe(1_000);
    expect(validForMs(held, clock, 13_000)).toBe(0);
  });

  it('the deadline falls at least the margin before the lease can run out in the database', () => {
    // Whenever the statement ran after the request started (it must), the database expiry
    // (statement time + expiry) is ≥ request start + expiry = local deadline + margin.
    for (const delay of [0, 5, 1_000, 4_999]) {
      const startedAt = 100;
      const statementAt = startedAt + delay;
      const dbExpiry = statementAt + timing.expiryMs;
      const clock = clockOf(startedAt, statementAt + 1);
      const { state } = observeRound(initialLeaseState('T'), null, { row: row(), clock, me: ME });
      expect(state.held).toBe(1);
      expect(dbExpiry - clock.validUntil).toBeGreaterThanOrEqual(timing.marginMs);
    }
  });
});

describe('when to ask again', () => {
  const held = heldBy('A', 1);
  const clock = clockOf(0, 30);
  /** Another replica's lease, read at local 1 000 (database clock 1 000 000), running out `inMs` later. */
  const waiting = (inMs: number): TenantLeaseState => ({
    ...initialLeaseState('B'),
    holder: OTHER,
    lastHolder: OTHER,
    token: 2,
    othersExpiresAt: 1_000_000 + inMs,
    read: true,
  });
  const readAt1000 = clockOf(990, 1_000);

  it('a holder renews every third of the lease after its last round started', () => {
    expect(nextRoundDelay([held], clock, { startedAt: 0, ok: true }, 30, timing)).toBe(4_970);
  });

  it('a waiting replica asks just after the other holder’s lease runs out', () => {
    expect(nextRoundDelay([held, waiting(1_200)], readAt1000, { startedAt: 990, ok: true }, 1_000, timing)).toBe(1_200 + timing.takeoverSlackMs);
    // Never more than the regular pace, never a busy loop.
    expect(nextRoundDelay([waiting(60_000)], readAt1000, { startedAt: 990, ok: true }, 1_000, timing)).toBe(timing.renewEveryMs - 10);
    expect(nextRoundDelay([waiting(0)], readAt1000, { startedAt: 990, ok: true }, 2_000, timing)).toBe(timing.minRoundGapMs);
  });

  it('retries sooner after a failed round, but still lands at a known expiry that comes first', () => {
    expect(nextRoundDelay([held], clock, { startedAt: 0, ok: false }, 100, timing)).toBe(timing.retryAfterFailureMs);
    expect(timing.retryAfterFailureMs).toBeLessThan(timing.renewEveryMs);
    expect(nextRoundDelay([waiting(300)], readAt1000, { startedAt: 1_500, ok: false }, 1_200, timing)).toBe(100 + timing.takeoverSlackMs);
  });

  it('asks again at once when the lease was free when read but the round did not take it', () => {
    // Our UPDATE ran a hair before the expiry, the SELECT after it (or the holder released in between).
    const lapsed = observeRound(initialLeaseState('B'), null, { row: row({ holder: OTHER, token: 2, expiresAt: 999_999 }), clock: readAt1000, me: ME }).state;
    expect([lapsed.held, lapsed.holder, lapsed.lastHolder]).toEqual([null, null, OTHER]);
    expect(nextRoundDelay([held, lapsed], readAt1000, { startedAt: 990, ok: true }, 1_000, timing)).toBe(timing.minRoundGapMs);
    // Unless it holds its share already.
    expect(nextRoundDelay([held, lapsed], readAt1000, { startedAt: 990, ok: true, wantsMore: false }, 1_000, timing)).toBe(timing.renewEveryMs - 10);
    // A missing row too (it is inserted again by the next round).
    const missing = observeRound(lapsed, readAt1000, { row: undefined, clock: readAt1000, me: ME }).state;
    expect(nextRoundDelay([missing], readAt1000, { startedAt: 990, ok: true }, 1_000, timing)).toBe(timing.minRoundGapMs);
    // Never before the first read.
    expect(nextRoundDelay([initialLeaseState('C')], null, { startedAt: 990, ok: true }, 1_000, timing)).toBe(timing.renewEveryMs - 10);
  });
});

/**
 * The holder's and a waiting replica's rounds against a model of the lease row, on one timeline:
 * the holder renews on its cadence until it is killed at a random moment (a renewal it had sent
 * still lands), the waiting replica runs rounds as `nextRoundDelay` schedules them, each statement
 * `latency` ms after the one before. The database clock is offset from the local one (they are
 * never compared). Whatever the kill's phase against the renewals and the replicas' phase against
 * each other, the waiting replica acquires within one lease period of the kill.
 */
describe('failover within one lease period of the death (model)', () => {
  function failover(leaseMs: number, killAt: number, followerPhase: number, latency: number): { ms: number; tookAfterExpiryMs: number } {
    const t = leaseTiming(leaseMs);
    const dbOffset = 1_700_000_000_000;
    const db = (local: number) => local + dbOffset;
    const lease = { holder: OTHER, expiresAt: db(0) + t.expiryMs, token: 1 };
    // The holder's renewal statements: each round starts every renewEveryMs; one started before the kill still lands.
    const renewals: number[] = [];
    for (let start = t.renewEveryMs; start < killAt; start += t.renewEveryMs) renewals.push(start + latency);
    const applyRenewals = (until: number) => {
      while (renewals.length && renewals[0]! <= until) lease.expiresAt = db(renewals.shift()!) + t.expiryMs;
    };
    let state = initialLeaseState('T');
    let clock: RoundClock | null = null;
    let start = followerPhase;
    for (let round = 0; round < 10_000; round++) {
      const updateAt = start + latency;
      applyRenewals(updateAt);
      const tookAfterExpiryMs = updateAt - (lease.expiresAt - dbOffset);
      if (lease.holder !== ME && lease.expiresAt <= db(updateAt))
        Object.assign(lease, { holder: ME, token: lease.token + 1, expiresAt: db(updateAt) + t.expiryMs });
      const selectAt = updateAt + latency;
      applyRenewals(selectAt);
      const now = selectAt + latency;
      const next = roundClock(start, now, db(selectAt), t);
      const observed = observeRound(state, clock, {
        row: { tenant: 'T', holder: lease.holder, expiresAt: lease.expiresAt, token: lease.token, acquiredAt: 0, renewedAt: 0 },
        clock: next,
        me: ME,
      });
      state = observed.state;
      clock = next;
      if (observed.events.some((e) => e.type === 'lease.acquired')) return { ms: now - killAt, tookAfterExpiryMs };
      start = now + nextRoundDelay([state], clock, { startedAt: start, ok: true }, now, t);
    }
    throw new Error('never acquired');
  }

  it('for any kill phase, replica phase and statement latency up to 20 ms', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (const leaseMs of [2_000, 15_000]) {
      const t = leaseTiming(leaseMs);
      let worst = 0;
      for (let i = 0; i < 2_000; i++) {
        const killAt = 10 * leaseMs + random() * 3 * t.renewEveryMs;
        const latency = 1 + Math.floor(random() * 20);
        const { ms, tookAfterExpiryMs } = failover(leaseMs, killAt, random() * t.renewEveryMs, latency);
        // Never before the dead holder's lease ran out; promptly after it.
        expect(tookAfterExpiryMs).toBeGreaterThanOrEqual(0);
        expect(tookAfterExpiryMs).toBeLessThanOrEqual(t.takeoverSlackMs + 4 * latency + t.minRoundGapMs);
        worst = Math.max(worst, ms);
      }
      expect(worst).toBeLessThanOrEqual(leaseMs);
      // The worst case is a kill just after a renewal: the expiry plus the attempt's latency.
      expect(worst).toBeGreaterThan(t.expiryMs - t.renewEveryMs);
    }
  });

  it('a kill right after a renewal is replaced after the expiry plus the attempt, well inside the period', () => {
    const t = leaseTiming(2_000);
    const renewalLandsAt = 3 * t.renewEveryMs + 5;
    const { ms } = failover(2_000, renewalLandsAt + 1, 17, 5);
    expect(ms).toBeGreaterThanOrEqual(t.expiryMs - 1);
    expect(ms).toBeLessThanOrEqual(t.expiryMs + t.takeoverSlackMs + 4 * 5 + t.minRoundGapMs);
  });
});

describe('shares of the tenants among replicas', () => {
  it('add up to the tenants, each ⌊T/N⌋ or ⌈T/N⌉, the larger ones to the first replicas by id', () => {
    for (const [n, tenants] of [
      [1, 7],
      [2, 7],
      [3, 1000],
      [3, 2],
      [4, 0],
      [5, 13],
    ] as const) {
      const ids = Array.from({ length: n }, (_, i) => `r${i}`);
      const shares = ids.map((id) => shareOf([...ids].reverse(), id, tenants));
      expect(shares.reduce((a, b) => a + b, 0)).toBe(tenants);
      for (const s of shares) expect([Math.floor(tenants / n), Math.ceil(tenants / n)]).toContain(s);
      expect([...shares].sort((a, b) => b - a)).toEqual(shares);
    }
  });

  it('counts a replica in that does not see its own heartbeat yet', () => {
    expect(shareOf(['a'], 'b', 7)).toBe(3);
    expect(shareOf([], 'b', 7)).toBe(7);
  });

  it('hands over the excess, the tenants the replica prefers least, the same ones every time', () => {
    const held = Array.from({ length: 10 }, (_, i) => `T${i}`);
    const give = toHandOver(held, 6, 'host:1:ab');
    expect(give).toHaveLength(4);
    expect(toHandOver([...held].reverse(), 6, 'host:1:ab')).toEqual(give);
    const kept = held.filter((t) => !give.includes(t));
    expect(Math.max(...kept.map((t) => preference('host:1:ab', t)))).toBeLessThan(Math.min(...give.map((t) => preference('host:1:ab', t))));
    expect(toHandOver(held, 10, 'host:1:ab')).toEqual([]);
  });
});
