/**
 * Pure decisions of the lease keeper (SPEC §4.5): timing and margin math, what a renewal round's
 * answer means for each tenant, when a held lease has run out locally, and when to ask again.
 * No I/O and no clock of their own: every time is passed in.
 *
 * Two clocks meet here and are never mixed:
 *  - the DATABASE clock (ms), in which rows store `expiresAt`; replicas compare against it only
 *    inside SQL, so their own clock skew does not matter;
 *  - each process's LOCAL MONOTONIC clock (`performance.now()`), in which a holder keeps the
 *    deadline of its own lease: the start of the renewal request that succeeded + lease length −
 *    safety margin. The database set `expiresAt` to (its clock when it ran the statement) + lease
 *    length, and it ran the statement after the request started, so the local deadline falls at
 *    least `marginMs` before any other replica can take the lease over: the holder stops acting
 *    first (fencing), even when it hears nothing back from MySQL.
 */

export interface LeaseTiming {
  leaseMs: number;
  /** A holder renews this often: three tries per lease. */
  renewEveryMs: number;
  /** Local deadline = request start + leaseMs − marginMs: what is left for an action in flight to land before anyone can take over. */
  marginMs: number;
  /** A round that has not answered by then counts as failed (the local deadline still governs). */
  requestTimeoutMs: number;
  /** After a failed round, try again this soon. */
  retryAfterFailureMs: number;
  /** Asked for just after another holder's lease runs out, by this much. */
  takeoverSlackMs: number;
  /** Never two rounds closer than this. */
  minRoundGapMs: number;
}

/**
 * The timing of a lease of `leaseMs`: renew every third of it; the margin is a fifth (3 s of the
 * default 15 s), so a holder stays valid through one failed or slow renewal (renewals at L/3 and
 * 2L/3 both start before the deadline at 0.8 L) and an action started just before the deadline
 * still has a fifth of the lease to finish before another replica may act.
 */
export function leaseTiming(leaseMs: number): LeaseTiming {
  if (!(leaseMs >= 300)) throw new Error(`a lease must last at least 300 ms, got ${leaseMs}`);
  const renewEveryMs = Math.floor(leaseMs / 3);
  return {
    leaseMs,
    renewEveryMs,
    marginMs: Math.floor(leaseMs / 5),
    requestTimeoutMs: renewEveryMs,
    retryAfterFailureMs: Math.max(50, Math.floor(renewEveryMs / 2)),
    takeoverSlackMs: 5,
    minRoundGapMs: 10,
  };
}

/** One `tenant_leases` row as the database returned it (times in database ms). */
export interface LeaseRow {
  tenant: string;
  holder: string;
  expiresAt: number;
  token: number;
  acquiredAt: number;
  renewedAt: number;
}

/** What a process knows of one tenant's lease. */
export interface TenantLeaseState {
  tenant: string;
  /** Our own lease while we hold it: its token, and its deadline on the local monotonic clock. */
  held: { token: number; validUntil: number } | null;
  /** Who holds the lease by the last successful read (possibly us); null when nobody's is live. */
  holder: string | null;
  /** The holder named in the row at the last read, live or not: who held it last. */
  lastHolder: string | null;
  /** The token of the last row read (null before the first read). */
  token: number | null;
  /** At the last read: ms until the holder's lease runs out on the database clock, and when (local) it was read. */
  expiresInMs: number | null;
  readAt: number | null;
}

export function initialLeaseState(tenant: string): TenantLeaseState {
  return { tenant, held: null, holder: null, lastHolder: null, token: null, expiresInMs: null, readAt: null };
}

export type LeaseEvent =
  | { type: 'lease.acquired'; token: number; previousHolder: string | null; takeover: boolean; validForMs: number }
  | { type: 'lease.lost'; token: number; newHolder: string | null; reason: string };

export interface Observed {
  state: TenantLeaseState;
  events: LeaseEvent[];
}

/** Whether this process may act for the tenant at local time `now`: it holds the lease and its local deadline has not passed. */
export function isHeld(state: TenantLeaseState, now: number): boolean {
  return state.held !== null && now < state.held.validUntil;
}

/** A held lease whose local deadline has passed is dropped (the holder stops acting) even though nothing was heard. */
export function expireIfDue(state: TenantLeaseState, now: number): Observed {
  if (!state.held || now < state.held.validUntil) return { state, events: [] };
  return {
    state: { ...state, held: null },
    events: [{ type: 'lease.lost', token: state.held.token, newHolder: null, reason: 'not renewed before its local deadline (MySQL did not answer in time)' }],
  };
}

/**
 * What a successful round's answer means for one tenant. The round ran an acquire-or-renew for
 * every tenant (the conditional UPDATE takes a lease that is ours or has run out), then read the
 * rows back with the database's clock (`dbNow`). `startedAt` is the local time the round's
 * request started, `now` the local time its answer arrived.
 */
export function observeRound(
  prev: TenantLeaseState,
  input: { row: LeaseRow | undefined; dbNow: number; me: string; startedAt: number; now: number; timing: LeaseTiming },
): Observed {
  const { row, dbNow, me, startedAt, now, timing } = input;
  // First, what the local clock alone says (a round that answered late must not extend a deadline that passed).
  const expired = expireIfDue(prev, now);
  const events = [...expired.events];
  const before = expired.state;
  if (!row) {
    // No row (deleted by hand mid-round): nothing was renewed; stop acting, the next round inserts it again.
    if (before.held) events.push({ type: 'lease.lost', token: before.held.token, newHolder: null, reason: 'the lease row is missing' });
    return { state: { ...before, held: null, holder: null, expiresInMs: null, readAt: now }, events };
  }

  const live = row.expiresAt > dbNow;
  const holder = live ? row.holder : null;
  const expiresInMs = live ? row.expiresAt - dbNow : 0;
  const base = { ...before, holder, lastHolder: row.holder === '' ? null : row.holder, token: row.token, expiresInMs, readAt: now };

  if (holder === me) {
    // The UPDATE matched (it always does for our own row), so the lease was set to run
    // `leaseMs` from a moment after `startedAt`: the local deadline counts from `startedAt`.
    const validUntil = startedAt + timing.leaseMs - timing.marginMs;
    if (validUntil <= now) {
      // Answered too late to be of use: not acting on it (the next round renews again).
      if (before.held) events.push({ type: 'lease.lost', token: before.held.token, newHolder: me, reason: 'renewal answered after its local deadline' });
      return { state: { ...base, held: null }, events };
    }
    const continuing = before.held !== null && before.held.token === row.token;
    if (!continuing) {
      const previousHolder = prev.lastHolder !== null && prev.lastHolder !== me ? prev.lastHolder : null;
      events.push({ type: 'lease.acquired', token: row.token, previousHolder, takeover: previousHolder !== null, validForMs: validUntil - now });
    }
    return { state: { ...base, held: { token: row.token, validUntil } }, events };
  }

  if (before.held) {
    events.push({
      type: 'lease.lost',
      token: before.held.token,
      newHolder: holder,
      reason: holder ? `held by ${holder} now` : 'the lease row no longer names this process',
    });
  }
  return { state: { ...base, held: null }, events };
}

/**
 * Local ms until the next round. A holder renews `renewEveryMs` after its last round started; a
 * replica waiting for another's lease asks again just after that lease runs out (so it takes
 * over within one lease period of the holder's last renewal), or at the regular pace; after a
 * failed round, sooner.
 */
export function nextRoundDelay(
  states: readonly TenantLeaseState[],
  last: { startedAt: number; ok: boolean },
  me: string,
  now: number,
  timing: LeaseTiming,
): number {
  if (!last.ok) return timing.retryAfterFailureMs;
  let due = last.startedAt + timing.renewEveryMs;
  for (const s of states) {
    if (s.holder === null || s.holder === me || s.expiresInMs === null || s.readAt === null) continue;
    due = Math.min(due, s.readAt + s.expiresInMs + timing.takeoverSlackMs);
  }
  return Math.max(timing.minRoundGapMs, Math.min(timing.renewEveryMs, due - now));
}

/** ms left of a held lease at local time `now` (0 when not held). */
export function validForMs(state: TenantLeaseState, now: number): number {
  return state.held ? Math.max(0, state.held.validUntil - now) : 0;
}
