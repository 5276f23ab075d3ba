import { map, share, Subject, type Observable, type Subscription } from 'rxjs';
import type { EventInput, OrchestratorEvent } from './events.js';
import type { CommandArgs, CommandKind, CommandResult } from './commands.js';
import { LoopStoppedError } from './lane.js';
import { TenantLoop, type TenantLoopOptions } from './tenant-loop.js';

export class UnknownTenantError extends Error {
  constructor(readonly tenant: string) {
    super(`unknown tenant "${tenant}"`);
    this.name = 'UnknownTenantError';
  }
}

/** What the supervisor builds a tenant's loop from (it adds the shared event stream). */
export type SupervisedLoopOptions<V> = Omit<TenantLoopOptions<V>, 'events'>;

/**
 * Runs every tenant's loop and merges their events into one stream. Loops are independent:
 * each retries its own streams, so one tenant's failing dependency never stops another. Each
 * loop runs in a subscription of its own, so a config reload can add, remove and replace loops
 * while the others (and the event stream) keep running.
 */
export class Supervisor<V = unknown> {
  private readonly eventsSubject = new Subject<OrchestratorEvent>();
  /**
   * Every tenant's events, as the logs, the metrics and `GET /api/v1/events` read them: through
   * `scrub` first (the daemon removes secret values there, so an error message that quotes a
   * credential — an S3 or Spark answer echoing a request — reaches no reader).
   */
  readonly events$: Observable<OrchestratorEvent>;
  private readonly loops = new Map<string, TenantLoop<V>>();
  private readonly running = new Map<string, Subscription>();
  private started = false;
  private stopped = false;

  constructor(tenants: SupervisedLoopOptions<V>[], opts: { scrub?: (event: OrchestratorEvent) => OrchestratorEvent } = {}) {
    const scrub = opts.scrub;
    this.events$ = (scrub ? this.eventsSubject.pipe(map(scrub)) : this.eventsSubject).pipe(share());
    for (const t of tenants) this.loops.set(t.tenant, this.build(t));
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const loop of this.loops.values()) this.run(loop);
  }

  /** Adds a tenant's loop; it runs at once when the supervisor does. */
  add(options: SupervisedLoopOptions<V>): TenantLoop<V> {
    if (this.stopped) throw new LoopStoppedError();
    if (this.loops.has(options.tenant)) throw new Error(`tenant "${options.tenant}" already has a loop`);
    const loop = this.build(options);
    this.loops.set(options.tenant, loop);
    if (this.started) this.run(loop);
    return loop;
  }

  /**
   * Stops the tenant's loop (its action in flight finishes; commands meanwhile are refused as
   * stopping) and forgets it. Resolves once it has stopped.
   */
  async remove(tenant: string): Promise<void> {
    const loop = this.loop(tenant);
    await loop.stop();
    this.forget(loop);
  }

  /**
   * Stops the tenant's loop, then runs a new one built from `next()` (called once the old one has
   * stopped, so what it builds never overlaps the old loop's work). The tenant stays known
   * throughout: requests meanwhile are refused as stopping, never as an unknown tenant.
   */
  async replace(tenant: string, next: () => SupervisedLoopOptions<V> | Promise<SupervisedLoopOptions<V>>): Promise<TenantLoop<V>> {
    const old = this.loop(tenant);
    await old.stop();
    const options = await next();
    if (this.stopped) throw new LoopStoppedError();
    this.running.get(tenant)?.unsubscribe();
    const loop = this.build({ ...options, tenant });
    this.loops.set(tenant, loop);
    if (this.started) this.run(loop);
    return loop;
  }

  /** An event of the tenant that does not come from its loop (a reload's, a lease's); the tenant need not have a loop. */
  emit(tenant: string, event: EventInput): void {
    this.eventsSubject.next({ ...event, tenant, at: Date.now() } as OrchestratorEvent);
  }

  loop(tenant: string): TenantLoop<V> {
    const loop = this.loops.get(tenant);
    if (!loop) throw new UnknownTenantError(tenant);
    return loop;
  }

  has(tenant: string): boolean {
    return this.loops.has(tenant);
  }

  get tenants(): string[] {
    return [...this.loops.keys()];
  }

  dispatch<K extends CommandKind>(tenant: string, kind: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
    return this.has(tenant) ? this.loop(tenant).dispatch(kind, args) : Promise.reject(new UnknownTenantError(tenant));
  }

  /** `TenantLoop.enqueue` of the tenant's loop: a refusal throws at once. */
  enqueue<K extends CommandKind>(tenant: string, kind: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
    return this.loop(tenant).enqueue(kind, args);
  }

  /** Stops every loop's ticks and waits for the actions in flight; then completes the event stream. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
    for (const subscription of this.running.values()) subscription.unsubscribe();
    this.running.clear();
    this.eventsSubject.complete();
  }

  private build(options: SupervisedLoopOptions<V>): TenantLoop<V> {
    return new TenantLoop<V>({ ...options, events: this.eventsSubject });
  }

  private run(loop: TenantLoop<V>): void {
    this.running.set(loop.tenant, loop.run().subscribe());
  }

  /** Drops a stopped loop (only if it is still the tenant's: a replacement may have taken its place). */
  private forget(loop: TenantLoop<V>): void {
    if (this.loops.get(loop.tenant) !== loop) return;
    this.running.get(loop.tenant)?.unsubscribe();
    this.running.delete(loop.tenant);
    this.loops.delete(loop.tenant);
  }
}
