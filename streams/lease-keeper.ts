/**
 * Many replicas (SPEC §4.5): which process acts for which tenant. Each process has a holder id
 * and runs one renewal loop for all its tenants: every round takes, in one batch, every tenant's
 * lease that is its own or has run out, and reads them all back with the database's clock (the
 * statements are in `src/db/leases.ts`, the decisions in `lease-decision.ts`).
 *
 * Per tenant a `LeaseView` answers `isHolder()`: true while this process holds the lease and
 * the local deadline of its last successful renewal has not passed. The deadline is on this
 * process's monotonic clock and falls a safety margin before the lease can run out in MySQL, so
 * `isHolder()` turns false — and the loop stops acting — before any other replica can take over,
 * even when MySQL never answers again (fencing). A renewal sets the row to run out nine tenths of
 * the lease period later, and a waiting replica schedules its attempt to land just after that
 * expiry, so a dead holder is replaced within one lease period of its death.
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Subject } from 'rxjs';
import type { LeaseStore, ReplicaRow } from '../src/db/leases.js';
import { errorMessage, type EventInput } from './events.js';
import {
  expireIfDue,
  initialLeaseState,
  isHeld,
  leaseTiming,
  nextRoundDelay,
  observeRound,
  roundClock,
  shareOf,
  toHandOver,
  validForMs,
  type LeaseEvent,
  type LeaseRow,
  type LeaseTiming,
  type Observed,
  type RoundClock,
  type TenantLeaseState,
} from './lease-decision.js';
import { NotLeaderError, type LoopGate } from './leadership.js';
import { clusterView, leaseEventInput, leaseStatus, leaseView, newHolderId, type ClusterView, type LeaseStatus, type LeaseView } from './lease-views.js';
import { withTimeout } from '../src/common/timeout.js';

export interface LeaseKeeperOptions {
  store: LeaseStore;
  tenants: readonly string[];
  /** This machine's name, as `GET /api/v1/cluster` shows it (default `os.hostname()`). */
  host?: string;
  /**
   * Resolves once no acting work of the tenant is in flight (its loop's gate already refuses new
   * work): the keeper waits for it before handing the tenant's lease to another replica.
   */
  drain?(tenant: string): Promise<void>;
  leaseMs: number;
  holderId?: string;
  /** Local monotonic clock in ms (default `performance.now`). */
  now?: () => number;
  /** Wall clock for the status (default `Date.now`). */
  wallNow?: () => number;
  /** Where lease events go (the tenant's event stream). */
  emit?: (tenant: string, event: EventInput) => void;
  /** Longest wait for the release on stop (default 2 s). */
  releaseTimeoutMs?: number;
  /** Told of every round (for debug logs): how long it took, whether it answered, and the next one's delay. */
  onRound?: (round: { ok: boolean; durationMs: number; nextInMs: number; holding: string[]; error?: string }) => void;
}

export class LeaseKeeper {
  readonly holderId: string;
  readonly timing: LeaseTiming;
  private tenants: readonly string[];
  private readonly states = new Map<string, TenantLeaseState>();
  /** The last successful round's times: the deadline of every lease held (null before the first). */
  private clock: RoundClock | null = null;
  private readonly views = new Map<string, LeaseView>();
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** Per tenant: emits when this process acquires the tenant's lease (the loop's gate `acquired$`). */
  private readonly acquired = new Map<string, Subject<void>>();
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<{ startedAt: number; ok: boolean }> | undefined;
  private started = false;
  private stopped = false;
  private failStreak = 0;
  private readonly host: string;
  /** This replica's share of the tenants by the last membership read (all of them before the first). */
  private share = Number.POSITIVE_INFINITY;
  /** Tenants whose lease is being handed to another replica: nothing new starts, the action in flight finishes. */
  private readonly handingOver = new Set<string>();
  /** Tenants handed over, with the token released: a round that read the row before the release does not make it held again. */
  private readonly released = new Map<string, number>();
  /** The live replicas at the last round, and that round's database clock and local time. */
  private membership: { replicas: ReplicaRow[]; dbNow: number; readAt: number } | null = null;
  private lastError: { at: number; message: string } | null = null;
  private readonly firstRound: Promise<void>;
  private resolveFirstRound: () => void = () => undefined;

  constructor(private readonly opts: LeaseKeeperOptions) {
    this.holderId = opts.holderId ?? newHolderId();
    this.host = opts.host ?? hostname();
    this.timing = leaseTiming(opts.leaseMs);
    this.tenants = [...new Set(opts.tenants)];
    this.now = opts.now ?? (() => performance.now());
    this.wallNow = opts.wallNow ?? Date.now;
    for (const t of this.tenants) {
      this.states.set(t, initialLeaseState(t));
      this.acquired.set(t, new Subject<void>());
    }
    this.firstRound = new Promise((resolve) => (this.resolveFirstRound = resolve));
  }

  /** Starts the renewal loop (the first round at once). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.loop();
  }

  /** Resolves once the first round has answered (or failed). */
  ready(): Promise<void> {
    return this.firstRound;
  }

  /** One acquire-or-renew round now (joins the one in flight). The loop runs them by itself; tests call it directly. */
  round(): Promise<{ startedAt: number; ok: boolean }> {
    this.inFlight ??= this.runRound().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  view(tenant: string): LeaseView {
    let view = this.views.get(tenant);
    if (view) return view;
    if (!this.states.has(tenant)) throw new Error(`no lease is kept for tenant "${tenant}"`);
    const state = () => this.states.get(tenant)!;
    view = leaseView(tenant, {
      state,
      isHolder: () => !this.stopped && isHeld(state(), this.clock, this.now()),
      deadline: () => this.clock?.validUntil ?? null,
      status: () => this.status(tenant),
    });
    this.views.set(tenant, view);
    return view;
  }

  /**
   * Follows a reload: added tenants get a lease state (taken by the next rounds), removed ones are
   * given up (their loops have stopped: no action is in flight) and forgotten.
   */
  async setTenants(tenants: readonly string[]): Promise<{ added: string[]; removed: string[] }> {
    const next = [...new Set(tenants)];
    const added = next.filter((t) => !this.states.has(t));
    const removed = this.tenants.filter((t) => !next.includes(t));
    for (const t of added) {
      this.states.set(t, initialLeaseState(t));
      this.acquired.set(t, new Subject<void>());
    }
    for (const t of removed) {
      this.states.delete(t);
      this.views.delete(t);
      this.acquired.get(t)?.complete();
      this.acquired.delete(t);
    }
    this.tenants = next;
    if (removed.length > 0 && this.started && !this.stopped) {
      await withTimeout(this.opts.store.release(removed, this.holderId), this.timing.requestTimeoutMs, 'release').catch(() => 0);
    }
    if (added.length > 0 && this.started && !this.stopped) await this.round();
    return { added, removed };
  }

  /** The replicas and who acts for each tenant, as of the last round (no query of its own). */
  cluster(): ClusterView {
    const clock = { now: this.now(), wall: this.wallNow() };
    const tenants = this.tenants.map((tenant) => ({ tenant, status: this.status(tenant) }));
    return clusterView(this.holderId, tenants, this.membership?.replicas ?? [], this.clock?.readAt ?? null, clock);
  }

  /** The gate of the tenant's loop: acting commands and ticks only while this process holds the lease. */
  gate(tenant: string): LoopGate {
    const view = this.view(tenant);
    return {
      isActing: () => view.isHolder(),
      accepting: () => !this.handingOver.has(tenant),
      term: () => (view.isHolder() ? view.token : null),
      acquired$: this.acquired.get(tenant)!.asObservable(),
      refusal: () => {
        const s = this.status(tenant);
        const other = s.holder !== null && s.holder !== this.holderId ? s.holder : null;
        return new NotLeaderError(tenant, other, other ? s.validUntil : null);
      },
    };
  }

  status(tenant: string): LeaseStatus {
    const s = this.states.get(tenant);
    if (!s) throw new Error(`no lease is kept for tenant "${tenant}"`);
    return leaseStatus(s, this.clock, { holderId: this.holderId, stopped: this.stopped, lastError: this.lastError }, { now: this.now(), wall: this.wallNow() });
  }

  /**
   * Stops renewing and gives the leases up: `isHolder()` is false from here on (call it after the
   * loops have finished their actions), then MySQL is told so another replica can take over at
   * once. Resolves with how many leases were released (0 when MySQL did not answer).
   */
  async stop(): Promise<number> {
    if (this.stopped) return 0;
    this.stopped = true;
    this.resolveFirstRound();
    clearTimeout(this.timer);
    clearTimeout(this.deadlineTimer);
    await this.inFlight?.catch(() => undefined);
    for (const [tenant, s] of this.states) this.states.set(tenant, { ...s, held: null });
    if (!this.started) return 0;
    const store = this.opts.store;
    const released = await withTimeout(store.release(this.tenants, this.holderId), this.opts.releaseTimeoutMs ?? 2_000, 'release').catch(() => 0);
    // Counted out at once: the others' shares grow at their next round instead of after the heartbeat runs out.
    await withTimeout(store.leave(this.holderId), this.opts.releaseTimeoutMs ?? 2_000, 'leave').catch(() => undefined);
    return released;
  }

  // ------------------------------------------------------------ the loop

  private loop(): void {
    if (this.stopped) return;
    void this.round().then(({ startedAt, ok }) => {
      this.resolveFirstRound();
      if (this.stopped) return;
      const now = this.now();
      const wantsMore = this.tenantsHeld(now, false).length < this.share;
      const delay = nextRoundDelay(this.states.values(), this.clock, { startedAt, ok, wantsMore }, now, this.timing);
      this.opts.onRound?.({
        ok,
        durationMs: Math.round(now - startedAt),
        nextInMs: Math.round(delay),
        holding: this.tenantsHeld(now, true),
        ...(ok || !this.lastError ? {} : { error: this.lastError.message }),
      });
      this.timer = setTimeout(() => this.loop(), delay);
      this.timer.unref?.();
    });
  }

  private async runRound(): Promise<{ startedAt: number; ok: boolean }> {
    const startedAt = this.now();
    try {
      const round = await withTimeout(this.statements(startedAt), this.timing.requestTimeoutMs, 'lease renewal');
      // Stopping: the leases this round may have taken are released by `stop()`.
      if (this.stopped) return { startedAt, ok: true };
      const now = this.now();
      const clock = roundClock(startedAt, now, round.dbNow, this.timing);
      const rows = new Map(round.rows.map((r) => [r.tenant, r]));
      // Every tenant is observed against the clocks before any state or clock changes, then all
      // change at once, then the events go out: a listener never sees a half-applied round.
      const changed: [string, Observed][] = [];
      for (const tenant of this.tenants) {
        const prev = this.states.get(tenant)!;
        const observed = this.afterRelease(tenant, observeRound(prev, this.clock, { row: rows.get(tenant), clock, me: this.holderId }));
        if (observed.state !== prev || observed.events.length > 0) changed.push([tenant, observed]);
      }
      this.clock = clock;
      for (const [tenant, { state }] of changed) this.states.set(tenant, state);
      for (const [tenant, { events }] of changed) this.report(tenant, events);
      this.armDeadlines();
      this.failStreak = 0;
      this.rebalance(now);
      return { startedAt, ok: true };
    } catch (err) {
      if (this.stopped) return { startedAt, ok: false };
      const now = this.now();
      this.failStreak += 1;
      this.lastError = { at: now, message: errorMessage(err) };
      for (const tenant of this.tenants) {
        const { state, events } = expireIfDue(this.states.get(tenant)!, this.clock, now);
        this.states.set(tenant, state);
        this.report(tenant, events);
        const holding = isHeld(state, this.clock, now);
        // Every failure matters to a holder (its deadline nears); a waiting replica hears of the first of a run.
        if (holding || this.failStreak === 1) {
          this.opts.emit?.(tenant, {
            type: 'lease.renew-failed',
            holder: this.holderId,
            holding,
            validForMs: Math.round(validForMs(state, this.clock, now)),
            error: errorMessage(err),
          });
        }
      }
      return { startedAt, ok: false };
    }
  }

  /**
   * One round's statements: the renewal of every lease it holds, the heartbeat (and the live
   * replicas, hence this one's share), the take of free leases up to its share, the read of the
   * rows. The heartbeat comes after the renewal and counts for less than a lease's expiry, so a
   * replica that dies anywhere in its round is counted out before its leases run out: the others'
   * takeover rounds, timed to the expiry, already see their larger shares.
   */
  private async statements(startedAt: number): Promise<{ dbNow: number; rows: LeaseRow[] }> {
    const { store } = this.opts;
    const { expiryMs, requestTimeoutMs } = this.timing;
    const renewed = await store.renew(this.holderId, expiryMs);
    const held = this.tenantsHeld(startedAt, false);
    const members = await store.heartbeat({ replica: this.holderId, host: this.host, tenantsHeld: held.length }, expiryMs - requestTimeoutMs / 2);
    this.membership = { replicas: members.replicas, dbNow: members.dbNow, readAt: this.now() };
    this.share = shareOf(
      members.replicas.map((r) => r.replica),
      this.holderId,
      this.tenants.length,
    );
    // Leases being handed over are renewed until released, but are not part of the share.
    const keeping = renewed - [...this.handingOver].filter((t) => this.states.get(t)?.held != null).length;
    const want = this.share - keeping;
    if (want > 0) await store.take(this.tenants, this.holderId, expiryMs, want);
    return store.read(this.tenants);
  }

  /** A row read before this replica's release still names it: the released term stays given up. A later term (taken again) is its own. */
  private afterRelease(tenant: string, observed: Observed): Observed {
    const token = this.released.get(tenant);
    if (token === undefined) return observed;
    if (observed.state.held === token) return { state: { ...observed.state, held: null }, events: observed.events.filter((e) => e.type !== 'lease.acquired') };
    if (observed.state.token !== token) this.released.delete(tenant);
    return observed;
  }

  /** Tenants held now, with or without those being handed over (a loop, for the reason `sharingUnchanged` in src/spark/master-state.ts gives). */
  private tenantsHeld(now: number, withHandingOver: boolean): string[] {
    const held: string[] = [];
    for (const t of this.tenants) if ((withHandingOver || !this.handingOver.has(t)) && isHeld(this.states.get(t)!, this.clock, now)) held.push(t);
    return held;
  }

  /** Above its share (a replica joined): hands the tenants it prefers least over, each once its action in flight has finished. */
  private rebalance(now: number): void {
    for (const tenant of toHandOver(this.tenantsHeld(now, false), this.share, this.holderId)) void this.handOver(tenant);
  }

  private async handOver(tenant: string): Promise<void> {
    this.handingOver.add(tenant);
    try {
      // The gate refuses new acting work from here; wait for the action in flight (bounded: a stuck action must not hold the tenant).
      await withTimeout(this.opts.drain?.(tenant) ?? Promise.resolve(), Math.max(30_000, 2 * this.timing.leaseMs), 'drain').catch(() => undefined);
      const s = this.states.get(tenant);
      if (this.stopped || s?.held == null) return;
      const token = s.held;
      // Released in MySQL first (nothing acts meanwhile: the gate is shut and the loop drained), then no longer held here.
      await withTimeout(this.opts.store.release([tenant], this.holderId), this.timing.requestTimeoutMs, 'release').catch(() => 0);
      this.released.set(tenant, token);
      const now = this.states.get(tenant);
      if (now) this.states.set(tenant, { ...now, held: null });
      this.armDeadlines();
      this.report(tenant, [
        {
          type: 'lease.lost',
          token,
          newHolder: null,
          reason: `handed over: ${this.membership?.replicas.length ?? 1} replicas share the tenants, this one keeps ${this.share}`,
        },
      ]);
    } finally {
      this.handingOver.delete(tenant);
    }
  }

  /**
   * At the local deadline of the held leases, the holder stops acting unless a renewal moved it.
   * One timer, for the last round's deadline, set again after each round (not one per tenant).
   */
  private armDeadlines(): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    const clock = this.clock;
    if (this.stopped || clock === null) return;
    let holding = false;
    for (const s of this.states.values()) if (s.held !== null) holding = true;
    if (!holding) return;
    this.deadlineTimer = setTimeout(
      () => {
        const now = this.now();
        for (const [tenant, s] of this.states) {
          const { state, events } = expireIfDue(s, this.clock, now);
          if (state === s) continue;
          this.states.set(tenant, state);
          this.report(tenant, events);
        }
        // A timer that fired a hair early finds nothing due and is set again.
        this.armDeadlines();
      },
      Math.max(0, clock.validUntil - this.now()) + 1,
    );
    this.deadlineTimer.unref?.();
  }

  private report(tenant: string, events: LeaseEvent[]): void {
    for (const e of events) {
      this.opts.emit?.(tenant, leaseEventInput(this.holderId, e));
      if (e.type === 'lease.acquired') this.acquired.get(tenant)!.next();
    }
  }
}
