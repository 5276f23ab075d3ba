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
 *
 * The lease period `leaseMs` (`ha.leaseSeconds`) is the promise made to operators: a holder that
 * dies is replaced within it, counted from its death. A renewal therefore sets the row to run out
 * `expiryMs` (nine tenths of the period) after the statement, and a waiting replica schedules its
 * next attempt to land right at that expiry; the last tenth is for that attempt's own latency
 * (timer, round trip to MySQL). A holder killed just after renewing is thus replaced after
 * `expiryMs` plus a few ms, not after the whole period plus the waiting replica's lag.
 */
import { crc32 } from 'node:zlib';

export interface LeaseTiming {
  /** The lease period: a dead holder is replaced within this long of its death. */
  leaseMs: number;
  /** A renewal sets the row to run out this long after the statement (database clock): `leaseMs` − `takeoverBudgetMs`. */
  expiryMs: number;
  /** The part of the period left, after the row runs out, for a waiting replica's attempt to land (its timer and round trip). */
  takeoverBudgetMs: number;
  /** A holder renews this often: three tries per lease. */
  renewEveryMs: number;
  /** Local deadline = request start + expiryMs − marginMs: what is left for an action in flight to land before anyone can take over. */
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
 * The timing of a lease period of `leaseMs`: the row runs out 0.9 L after a renewal (the last
 * tenth is the waiting replica's budget to take it: 1.5 s of the default 15 s); renew every third
 * of the period; the margin is a fifth (3 s of 15 s), so the local deadline falls 0.7 L after a
 * renewal started. A holder stays valid through one bad renewal: the one at L/3 may answer as
 * late as its timeout at 2L/3 < 0.7 L, and one that fails at once is retried at L/2. An action
 * started just before the deadline still has a fifth of the period to finish before another
 * replica may act.
 */
export function leaseTiming(leaseMs: number): LeaseTiming {
  if (!(leaseMs >= 300)) throw new Error(`a lease must last at least 300 ms, got ${leaseMs}`);
  const renewEveryMs = Math.floor(leaseMs / 3);
  const takeoverBudgetMs = Math.floor(leaseMs / 10);
  return {
    leaseMs,
    expiryMs: leaseMs - takeoverBudgetMs,
    takeoverBudgetMs,
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

/**
 * What one successful round read, the same for every tenant: its local times, the database clock
 * of its read, and the local deadline of every lease it renewed or took. Kept once per round, not
 * per tenant: a held lease's deadline is always the last successful round's (every round reads
 * every tenant, and one that fails changes no deadline).
 */
export interface RoundClock {
  /** Local time its answer arrived. */
  readAt: number;
  /** The database clock when the rows were read. */
  dbNow: number;
  /** Local deadline of the leases held after this round: request start + expiry − margin. */
  validUntil: number;
}

/** The clock of a round whose request started at `startedAt` (local) and answered at `readAt`, reading the database clock `dbNow`. */
export function roundClock(startedAt: number, readAt: number, dbNow: number, timing: LeaseTiming): RoundClock {
  return { readAt, dbNow, validUntil: startedAt + timing.expiryMs - timing.marginMs };
}

/**
 * What a process knows of one tenant's lease, as of the last round. A round that changes none of
 * it keeps the same object: the times that move every round live in its `RoundClock`.
 */
export interface TenantLeaseState {
  tenant: string;
  /** The token of our own lease while we hold it (its deadline is the round clock's `validUntil`); null otherwise. */
  held: number | null;
  /** Who holds the lease by the last successful read (possibly us); null when nobody's is live. */
  holder: string | null;
  /** The holder named in the row at the last read, live or not: who held it last. */
  lastHolder: string | null;
  /** The token of the last row read (null before the first read). */
  token: number | null;
  /** When another replica's live lease runs out, on the database clock of the last read; null when ours or nobody's. */
  othersExpiresAt: number | null;
  /** Whether a round has read the tenant's row yet. */
  read: boolean;
}

export function initialLeaseState(tenant: string): TenantLeaseState {
  return { tenant, held: null, holder: null, lastHolder: null, token: null, othersExpiresAt: null, read: false };
}

export type LeaseEvent =
  | { type: 'lease.acquired'; token: number; previousHolder: string | null; takeover: boolean; validForMs: number }
  | { type: 'lease.lost'; token: number; newHolder: string | null; reason: string };

export interface Observed {
  state: TenantLeaseState;
  events: LeaseEvent[];
}

/** Whether this process may act for the tenant at local time `now`: it holds the lease and the last round's deadline has not passed. */
export function isHeld(state: TenantLeaseState, clock: RoundClock | null, now: number): boolean {
  return state.held !== null && clock !== null && now < clock.validUntil;
}

/** A held lease whose local deadline has passed is dropped (the holder stops acting) even though nothing was heard. */
export function expireIfDue(state: TenantLeaseState, clock: RoundClock | null, now: number): Observed {
  if (state.held === null || isHeld(state, clock, now)) return { state, events: [] };
  return {
    state: { ...state, held: null },
    events: [{ type: 'lease.lost', token: state.held, newHolder: null, reason: 'not renewed before its local deadline (MySQL did not answer in time)' }],
  };
}

/** `state` itself when the fields a round reads are unchanged (it lives on, nothing new is kept), else a new state. */
function settled(
  s: TenantLeaseState,
  held: number | null,
  holder: string | null,
  lastHolder: string | null,
  token: number | null,
  othersExpiresAt: number | null,
): TenantLeaseState {
  if (s.read && s.held === held && s.holder === holder && s.lastHolder === lastHolder && s.token === token && s.othersExpiresAt === othersExpiresAt) return s;
  return { tenant: s.tenant, held, holder, lastHolder, token, othersExpiresAt, read: true };
}

/**
 * What a successful round's answer means for one tenant. The round ran an acquire-or-renew for
 * every tenant (the conditional UPDATE takes a lease that is ours or has run out), then read the
 * rows back with the database's clock. `prevClock` is the clock of the round before (whose
 * deadline the local clock checks first), `clock` this round's.
 */
export function observeRound(
  prev: TenantLeaseState,
  prevClock: RoundClock | null,
  input: { row: LeaseRow | undefined; clock: RoundClock; me: string },
): Observed {
  const { row, clock, me } = input;
  const now = clock.readAt;
  // First, what the local clock alone says (a round that answered late must not extend a deadline that passed).
  const expired = expireIfDue(prev, prevClock, now);
  const events = expired.events;
  const before = expired.state;
  if (!row) {
    // No row (deleted by hand mid-round): nothing was renewed; stop acting, the next round inserts it again.
    if (before.held !== null) events.push({ type: 'lease.lost', token: before.held, newHolder: null, reason: 'the lease row is missing' });
    return { state: settled(before, null, null, before.lastHolder, before.token, null), events };
  }

  const live = row.expiresAt > clock.dbNow;
  const holder = live ? row.holder : null;
  const lastHolder = row.holder === '' ? null : row.holder;
  const othersExpiresAt = holder !== null && holder !== me ? row.expiresAt : null;

  if (holder === me) {
    // The UPDATE matched (it always does for our own row), so the row was set to run out
    // `expiryMs` after a moment after the request started: the round clock's deadline counts from then.
    if (clock.validUntil <= now) {
      // Answered too late to be of use: not acting on it (the next round renews again).
      if (before.held !== null) events.push({ type: 'lease.lost', token: before.held, newHolder: me, reason: 'renewal answered after its local deadline' });
      return { state: settled(before, null, holder, lastHolder, row.token, othersExpiresAt), events };
    }
    if (before.held !== row.token) {
      const previousHolder = prev.lastHolder !== null && prev.lastHolder !== me ? prev.lastHolder : null;
      events.push({ type: 'lease.acquired', token: row.token, previousHolder, takeover: previousHolder !== null, validForMs: clock.validUntil - now });
    }
    return { state: settled(before, row.token, holder, lastHolder, row.token, othersExpiresAt), events };
  }

  if (before.held !== null) {
    events.push({
      type: 'lease.lost',
      token: before.held,
      newHolder: holder,
      reason: holder ? `held by ${holder} now` : 'the lease row no longer names this process',
    });
  }
  return { state: settled(before, null, holder, lastHolder, row.token, othersExpiresAt), events };
}

/**
 * Local time (ms) at which another replica's lease, as last read, runs out: the read's answer
 * arrived at the clock's `readAt`, its database clock was `dbNow`. The estimate errs late by the
 * read's return trip (a ms or two on a LAN), never early.
 */
export function otherExpiresAt(state: TenantLeaseState, clock: RoundClock | null): number | null {
  if (state.othersExpiresAt === null || clock === null) return null;
  return clock.readAt + (state.othersExpiresAt - clock.dbNow);
}

/**
 * Local ms until the next round.
 *  - A holder renews `renewEveryMs` after its last round started.
 *  - A replica waiting for another's lease schedules its attempt to land `takeoverSlackMs` after
 *    that lease runs out (read from the row, on the database clock), so a dead holder is replaced
 *    `expiryMs` + the attempt's latency after its last renewal: within one lease period of its
 *    death. Between reads it looks again at the regular pace, so it always knows the latest expiry.
 *  - A lease that had run out when read but was not ours (our UPDATE ran a hair before the
 *    expiry, or the holder released it between our statements), while this replica holds less
 *    than its share: again at once.
 *  - After a failed round, sooner than the regular pace (but still at a known expiry if that
 *    comes first).
 */
export function nextRoundDelay(
  states: Iterable<TenantLeaseState>,
  clock: RoundClock | null,
  last: { startedAt: number; ok: boolean; wantsMore?: boolean },
  now: number,
  timing: LeaseTiming,
): number {
  let due = last.ok ? last.startedAt + timing.renewEveryMs : now + timing.retryAfterFailureMs;
  for (const s of states) {
    // Only a replica below its share takes free leases (absent: it takes every one).
    if (last.ok && (last.wantsMore ?? true) && s.held === null && s.holder === null && s.read) {
      // Free (or missing) when read, yet not ours after the round: take it now (a missing row is inserted again).
      due = Math.min(due, now);
      continue;
    }
    const expiresAt = otherExpiresAt(s, clock);
    if (expiresAt !== null) due = Math.min(due, expiresAt + timing.takeoverSlackMs);
  }
  return Math.max(timing.minRoundGapMs, Math.min(timing.renewEveryMs, due - now));
}

/** ms left of a held lease at local time `now` (0 when not held). */
export function validForMs(state: TenantLeaseState, clock: RoundClock | null, now: number): number {
  return isHeld(state, clock, now) ? clock!.validUntil - now : 0;
}

/**
 * How many tenants' leases replica `me` should hold when `replicas` (ids, this one among them)
 * share `tenants` tenants: ⌈T/N⌉ for the first T mod N replicas in id order, ⌊T/N⌋ for the rest,
 * so the shares add up to T. A replica that does not see itself listed (its heartbeat not read
 * back yet) counts itself in.
 */
export function shareOf(replicas: readonly string[], me: string, tenants: number): number {
  const ids = [...new Set(replicas.includes(me) ? replicas : [...replicas, me])].sort();
  const n = ids.length;
  const base = Math.floor(tenants / n);
  return ids.indexOf(me) < tenants % n ? base + 1 : base;
}

/**
 * A replica's preference for a tenant (lower first): a hash of the two, the same CRC-32 as the
 * database's `CRC32(CONCAT(holder, tenant))` by which it takes free leases, so replicas prefer
 * different tenants and each the same ones every time.
 */
export function preference(me: string, tenant: string): number {
  return crc32(Buffer.from(`${me}${tenant}`, 'utf8'));
}

/** The held tenants to hand over to get down to `share`: those this replica prefers least. */
export function toHandOver(held: readonly string[], share: number, me: string): string[] {
  const excess = held.length - Math.max(0, share);
  if (excess <= 0) return [];
  return [...held].sort((a, b) => preference(me, b) - preference(me, a) || (a < b ? 1 : -1)).slice(0, excess);
}
