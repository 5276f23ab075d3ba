import {
  asyncScheduler,
  catchError,
  defer,
  EMPTY,
  exhaustMap,
  ignoreElements,
  merge,
  Observable,
  observeOn,
  Subject,
  takeUntil,
  tap,
  throwError,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs';
import { errorMessage, type Emit, type EventInput, type OrchestratorEvent } from './events.js';
import { Lane, LoopStoppedError } from './lane.js';
import { retryWithBackoff, type BackoffOptions } from './retry-backoff.js';
import { tickGrid } from './tick-grid.js';

/** What a stream gets from its loop: who it works for, the time, and where to report. */
export interface StreamContext {
  tenant: string;
  now(): number;
  emit: Emit;
  scheduler: SchedulerLike;
  /**
   * Whether this process may act for the tenant now (SPEC §4.5: it holds the tenant's lease).
   * The loop's context always has it; absent (a context built by hand) means always.
   */
  isActing?(): boolean;
  /**
   * Throws `NotLeaderError` unless this process may act for the tenant now. A stream calls it
   * right before each effect (kill, clean, submit, write), so a run that began as the holder
   * stops mid-way once the lease is lost. Absent (a context built by hand) means always allowed.
   */
  assertActing?(): void;
}

/**
 * This process does not act for the tenant now: another replica holds its lease, or this
 * one's lapsed (SPEC §4.5). The HTTP layer answers 503 `NOT_LEADER` naming the holder.
 */
export class NotLeaderError extends Error {
  readonly httpStatus = 503;
  readonly httpCode = 'NOT_LEADER';
  constructor(
    readonly tenant: string,
    /** The replica that holds the lease, when one does. */
    readonly holder: string | null,
    /** Until when (wall clock, ISO) the holder's lease runs at least, when known. */
    readonly holderValidUntil: string | null = null,
  ) {
    super(
      holder
        ? `this replica does not act for tenant ${tenant}: ${holder} holds its lease; send actions there`
        : `this replica does not act for tenant ${tenant}: no replica holds its lease right now; try again shortly`,
    );
    this.name = 'NotLeaderError';
  }
}

/**
 * Whether this process may act for a tenant (SPEC §4.5). While it may not, ticks of acting
 * streams do nothing (no error, no backoff) and acting commands are refused; reads run anyway.
 */
export interface LoopGate {
  /** Command kinds that act (submit, kill, clean, write rows); the others are reads, run on every replica. */
  readonly acting: ReadonlySet<string>;
  isActing(): boolean;
  /** The refusal of an acting command (names the holder). */
  refusal(): NotLeaderError;
  /**
   * Emits when this process starts acting for the tenant (its lease acquired, again after a
   * database outage outlived it, or taken over): acting streams then tick at once instead of at
   * their next interval, so work that failed or was skipped meanwhile resumes promptly.
   */
  readonly acquired$?: Observable<unknown>;
}

/**
 * One source stream of a tenant (Spark poll, discovery, delay sample): a timer-driven
 * action plus the commands that run in the same lane, serialized with its ticks.
 */
export interface StreamDefinition {
  name: string;
  intervalMs: number;
  /** The command a tick runs; a manual command with the same name and arguments shares it. */
  tick: { command: string; args: unknown };
  commands: Record<string, (args: never) => ObservableInput<unknown>>;
}

export interface Command {
  kind: string;
  args: unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class UnknownCommandError extends Error {
  constructor(readonly command: string) {
    super(`unknown command "${command}"`);
    this.name = 'UnknownCommandError';
  }
}

export interface TenantLoopOptions {
  tenant: string;
  /** Built once the context exists, so streams can close over `emit` and `now`. */
  streams: (ctx: StreamContext) => StreamDefinition[];
  backoff: BackoffOptions;
  scheduler?: SchedulerLike;
  /**
   * Spreads first ticks over [0, firstTickSpreadMs) so many tenants do not poll in the same
   * millisecond; later ticks fall at a random place of the whole interval and stay there (see tickGrid).
   */
  firstTickSpreadMs?: number;
  random?: () => number;
  events: Subject<OrchestratorEvent>;
  /** Whether this process acts for the tenant (many replicas); absent: it always does. */
  gate?: LoopGate;
}

/**
 * A tenant's control loop: its source streams merged with its command Subject. HTTP
 * handlers push commands; ticks and commands of one stream share a Lane, so they never
 * overlap; each stream's ticks are retried with backoff, so a failing stream comes back and
 * never stops the others.
 */
export class TenantLoop {
  readonly tenant: string;
  readonly context: StreamContext;
  private readonly commands = new Subject<Command>();
  private readonly stop$ = new Subject<void>();
  private readonly streams: StreamDefinition[];
  private readonly lanes = new Map<string, Lane>();
  private readonly routes = new Map<string, { lane: Lane; handler: (args: never) => ObservableInput<unknown> }>();
  private running = false;

  constructor(private readonly opts: TenantLoopOptions) {
    this.tenant = opts.tenant;
    const scheduler = opts.scheduler ?? asyncScheduler;
    this.context = {
      tenant: opts.tenant,
      scheduler,
      now: () => scheduler.now(),
      emit: (event: EventInput) => opts.events.next({ ...event, tenant: opts.tenant, at: scheduler.now() } as OrchestratorEvent),
      isActing: () => !opts.gate || opts.gate.isActing(),
      assertActing: () => {
        if (opts.gate && !opts.gate.isActing()) throw opts.gate.refusal();
      },
    };
    this.streams = opts.streams(this.context);
    for (const stream of this.streams) {
      const lane = new Lane(`${opts.tenant}/${stream.name}`);
      this.lanes.set(stream.name, lane);
      for (const [kind, handler] of Object.entries(stream.commands)) this.routes.set(kind, { lane, handler });
    }
  }

  /** The loop itself; subscribe to run it. Completes after `stop()`. */
  run(): Observable<never> {
    return defer(() => {
      this.running = true;
      this.context.emit({ type: 'loop.started', streams: this.streams.map((s) => s.name) });
      return merge(...this.streams.map((s) => this.ticks(s)), this.commands.pipe(tap((cmd) => this.route(cmd))));
    }).pipe(takeUntil(this.stop$), ignoreElements());
  }

  /** Pushes a command into the loop and resolves with the outcome of the action it ran. */
  dispatch<R>(kind: string, args: unknown = {}): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (!this.running) return reject(new LoopStoppedError());
      this.commands.next({ kind, args, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  get commandKinds(): string[] {
    return [...this.routes.keys()];
  }

  /** Stops the ticks, refuses new commands, and resolves when the actions in flight have finished. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stop$.next();
    await Promise.all([...this.lanes.values()].map((lane) => lane.close()));
    this.context.emit({ type: 'loop.stopped' });
  }

  private route(cmd: Command): void {
    const route = this.routes.get(cmd.kind);
    if (!route) return cmd.reject(new UnknownCommandError(cmd.kind));
    const gate = this.gateOf(cmd.kind);
    // Refused at once on a replica that does not act; checked again when the job starts (it may wait behind another).
    if (gate && !gate.isActing()) return cmd.reject(gate.refusal());
    route.lane.enqueue(commandKey(cmd.kind, cmd.args), this.work(cmd.kind, route.handler, cmd.args), {
      resolve: cmd.resolve,
      reject: (error) => {
        if (!(error instanceof LoopStoppedError) && !(error instanceof NotLeaderError)) {
          this.context.emit({ type: 'command.failed', command: cmd.kind, error: errorMessage(error) });
        }
        cmd.reject(error);
      },
    });
  }

  /** The gate, when `kind` acts and the loop has one. */
  private gateOf(kind: string): LoopGate | undefined {
    const gate = this.opts.gate;
    return gate?.acting.has(kind) ? gate : undefined;
  }

  /** The handler's work, refused when it starts on a replica that (no longer) acts. */
  private work(kind: string, handler: (args: never) => ObservableInput<unknown>, args: unknown): () => ObservableInput<unknown> {
    const gate = this.gateOf(kind);
    if (!gate) return () => handler(args as never);
    return () => {
      if (!gate.isActing()) throw gate.refusal();
      return handler(args as never);
    };
  }

  private ticks(stream: StreamDefinition): Observable<unknown> {
    const { command, args } = stream.tick;
    const route = this.routes.get(command);
    if (!route) throw new UnknownCommandError(command);
    const random = this.opts.random ?? Math.random;
    const spread = Math.min(stream.intervalMs, this.opts.firstTickSpreadMs ?? stream.intervalMs);
    let firstDelay = Math.floor(random() * spread);
    // Where in its interval the stream ticks after the first one: where the first tick fell when
    // that is spread over the whole interval; else a place of its own, so that the ticks of
    // long intervals (discovery every 5 min) are spread over the interval, not over its first
    // 15 s, while the first run still comes within them.
    let phase = spread >= stream.intervalMs ? firstDelay : Math.floor(random() * stream.intervalMs);
    // Acting again after not acting (ticks were skipped meanwhile): tick now, not at the next interval.
    const acquired$ = this.gateOf(command)?.acquired$;
    const actingAgain = acquired$ ? acquired$.pipe(observeOn(this.context.scheduler)) : EMPTY;
    return defer(() => {
      // After a retry the stream ticks at once (the backoff delay already was the wait), then every interval from there.
      const [delay, at] = [firstDelay, phase];
      firstDelay = 0;
      phase = 0;
      return merge(tickGrid(delay, at, stream.intervalMs, this.context.scheduler), actingAgain);
    }).pipe(
      // A tick that arrives while the previous one still runs is dropped, not queued. On a
      // replica that does not act, a tick of an acting stream does nothing: no error, no backoff;
      // a run that loses the lease mid-way ends the same way.
      exhaustMap(() => {
        const gate = this.gateOf(command);
        if (gate && !gate.isActing()) return EMPTY;
        return route.lane
          .submit(commandKey(command, args), this.work(command, route.handler, args))
          .pipe(catchError((error: unknown) => (error instanceof NotLeaderError ? EMPTY : throwError(() => error))));
      }),
      retryWithBackoff({
        ...this.opts.backoff,
        random,
        scheduler: this.context.scheduler,
        onRetry: ({ attempt, delayMs, error }) =>
          this.context.emit({ type: 'stream.retrying', stream: stream.name, attempt, delayMs, error: errorMessage(error) }),
      }),
    );
  }
}

/** Identical commands (same kind, same arguments) share one run. */
export function commandKey(kind: string, args: unknown): string {
  return `${kind}:${stableJson(args)}`;
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}
