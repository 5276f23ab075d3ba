import { map, merge, share, Subject, type Observable, type Subscription } from 'rxjs';
import type { OrchestratorEvent } from './events.js';
import type { CommandArgs, CommandKind, CommandResult } from './commands.js';
import { TenantLoop, type TenantLoopOptions } from './tenant-loop.js';

export class UnknownTenantError extends Error {
  constructor(readonly tenant: string) {
    super(`unknown tenant "${tenant}"`);
    this.name = 'UnknownTenantError';
  }
}

/**
 * Runs every tenant's loop and merges their events into one stream. Loops are independent:
 * each retries its own streams, so one tenant's failing dependency never stops another.
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
  private subscription: Subscription | undefined;

  constructor(tenants: Omit<TenantLoopOptions<V>, 'events'>[], opts: { scrub?: (event: OrchestratorEvent) => OrchestratorEvent } = {}) {
    const scrub = opts.scrub;
    this.events$ = (scrub ? this.eventsSubject.pipe(map(scrub)) : this.eventsSubject).pipe(share());
    for (const t of tenants) this.loops.set(t.tenant, new TenantLoop<V>({ ...t, events: this.eventsSubject }));
  }

  start(): void {
    if (this.subscription) return;
    this.subscription = merge(...[...this.loops.values()].map((l) => l.run())).subscribe();
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
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.eventsSubject.complete();
  }
}
