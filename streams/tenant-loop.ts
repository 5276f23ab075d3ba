import { asyncScheduler, Observable, type ObservableInput, type SchedulerLike, type Subject, type Subscriber } from 'rxjs';
import { COMMAND_ACTS, type CommandArgs, type CommandKind, type CommandResult } from './commands.js';
import { errorMessage, type Emit, type EventInput, type OrchestratorEvent } from './events.js';
import { NotLeaderError, type LoopGate } from './leadership.js';
import { Lane, LoopStoppedError } from './lane.js';
import type { BackoffOptions } from './retry-backoff.js';
import { StreamTicker } from './stream-ticker.js';

/** What a stream gets from its loop: who it works for, the time, where to report, and whether it may act. */
export interface StreamContext {
  tenant: string;
  now(): number;
  emit: Emit;
  scheduler: SchedulerLike;
  /** Whether this process may act for the tenant now (SPEC §4.5: it holds the tenant's lease; always, without leases). */
  isActing(): boolean;
  /**
   * Throws `NotLeaderError` unless this process may act for the tenant now. The Spark executor
   * calls it right before each effect (kill, clean, submit, write), so a run that began as the
   * holder stops midway once the lease is lost.
   */
  assertActing(): void;
  /**
   * Which term of acting for the tenant this is: the lease's token while this process holds it
   * (null while it does not; 0 without leases, one term for the whole run). A stream that keeps
   * observations between runs starts them afresh in a new term: what happened meanwhile was
   * another replica's to see.
   */
  actingTerm(): number | null;
}

/** The handlers of the commands a stream takes, typed by the command map. */
export type CommandHandlers = { [K in CommandKind]?: (args: CommandArgs<K>) => ObservableInput<CommandResult<K>> };

/** One of the commands, with its arguments (what a tick runs). */
export type AnyCommand = { [K in CommandKind]: { command: K; args: CommandArgs<K> } }[CommandKind];

/**
 * One source stream of a tenant (Spark, discovery, delay sample): a timer-driven
 * command plus the commands that run in the same lane, serialized with its ticks.
 */
export interface StreamDefinition {
  name: string;
  intervalMs: number;
  /** The command a tick runs; a manual command with the same kind and arguments shares it. */
  tick: AnyCommand;
  commands: CommandHandlers;
  /**
   * A tick that needs no run: called at each tick (not at a manual command) while the stream's
   * lane is idle; true means the stream found nothing to do and recorded the tick itself, so it
   * does not enter the lane.
   */
  quietTick?: () => boolean;
  /**
   * What the stream watches between ticks: each emission runs a tick now (dropped while one
   * runs), when what was seen says the last run is out of date. The ticks keep their places.
   */
  wakeups?: Observable<unknown>;
}

/** A loop's streams, and the views of their state that readers (HTTP, metrics) get through the loop. */
export interface BuiltStreams<V> {
  definitions: StreamDefinition[];
  views: V;
}

export class UnknownCommandError extends Error {
  constructor(readonly command: string) {
    super(`unknown command "${command}"`);
    this.name = 'UnknownCommandError';
  }
}

export interface TenantLoopOptions<V = unknown> {
  tenant: string;
  /** Built once the context exists, so streams can close over `emit` and `now`. */
  streams: (ctx: StreamContext) => StreamDefinition[] | BuiltStreams<V>;
  backoff: BackoffOptions;
  scheduler?: SchedulerLike;
  /**
   * Spreads first ticks over [0, firstTickSpreadMs) so many tenants do not poll in the same
   * millisecond; later ticks fall at a random place of the whole interval and stay there (see tickGrid).
   */
  firstTickSpreadMs?: number;
  /**
   * The ticks after the first wait for the next multiple of this (see scheduleGrid), so that the
   * ticks of many tenants due close together share a wakeup; absent: each at its exact time.
   */
  tickQuantumMs?: number;
  random?: () => number;
  events: Subject<OrchestratorEvent>;
  /** Whether this process acts for the tenant (many replicas); absent: it always does. */
  gate?: LoopGate;
}

/**
 * A tenant's control loop: its streams' ticks and the commands HTTP handlers push. Ticks and
 * commands of one stream share a Lane, so they never overlap; a stream whose run fails ticks
 * again after a backoff (StreamTicker), so a failing stream comes back and never stops the others.
 */
export class TenantLoop<V = unknown> {
  readonly tenant: string;
  readonly context: StreamContext;
  /** What the streams show of their state (undefined when the streams were given without views). */
  readonly views: V | undefined;
  private readonly streams: StreamDefinition[];
  private readonly lanes = new Map<string, Lane>();
  private readonly routes = new Map<CommandKind, { lane: Lane; handler: (args: never) => ObservableInput<unknown> }>();
  private running = false;
  private stopped = false;
  private tickers: StreamTicker[] = [];
  private runSubscriber: Subscriber<never> | undefined;

  constructor(private readonly opts: TenantLoopOptions<V>) {
    this.tenant = opts.tenant;
    const scheduler = opts.scheduler ?? asyncScheduler;
    this.context = {
      tenant: opts.tenant,
      scheduler,
      now: () => scheduler.now(),
      emit: (event: EventInput) => opts.events.next({ ...event, tenant: opts.tenant, at: scheduler.now() } as OrchestratorEvent),
      isActing: () => this.notActing() === undefined,
      assertActing: () => {
        const refused = this.notActing();
        if (refused) throw refused;
      },
      actingTerm: () => (opts.gate ? (opts.gate.term?.() ?? null) : 0),
    };
    const built = opts.streams(this.context);
    this.streams = Array.isArray(built) ? built : built.definitions;
    this.views = Array.isArray(built) ? undefined : built.views;
    for (const stream of this.streams) {
      const lane = new Lane(`${opts.tenant}/${stream.name}`);
      this.lanes.set(stream.name, lane);
      for (const [kind, handler] of Object.entries(stream.commands) as [CommandKind, (args: never) => ObservableInput<unknown>][])
        this.routes.set(kind, { lane, handler });
    }
  }

  /** The loop itself; subscribe to run it. Completes after `stop()`. */
  run(): Observable<never> {
    return new Observable<never>((subscriber) => {
      if (this.stopped) {
        subscriber.complete();
        return;
      }
      this.running = true;
      this.runSubscriber = subscriber;
      this.context.emit({ type: 'loop.started', streams: this.streams.map((s) => s.name) });
      this.tickers = this.streams.map((s) => this.ticker(s));
      for (const ticker of this.tickers) ticker.start();
      return () => this.stopTicking();
    });
  }

  /** Pushes a command into the loop and resolves with the outcome of the action it ran. */
  dispatch<K extends CommandKind>(kind: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
    try {
      return this.enqueue(kind, args);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Like `dispatch`, but a command the loop refuses (stopped, unknown, or acting on a replica
   * that does not act) throws at once instead of rejecting later: for callers that answer
   * before the command has run (`POST /monitor-spark-job`).
   */
  enqueue<K extends CommandKind>(kind: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
    const refused = this.refusal(kind);
    if (refused) throw refused;
    return new Promise<CommandResult<K>>((resolve, reject) => this.route(kind, args, resolve as (v: unknown) => void, reject));
  }

  /** Why the loop would refuse `kind` now, if it would. */
  private refusal(kind: CommandKind): Error | undefined {
    if (!this.running) return new LoopStoppedError();
    if (!this.routes.has(kind)) return new UnknownCommandError(kind);
    return this.notActing(kind);
  }

  /**
   * The refusal when this process may not act for the tenant now (the gate is shut), for an
   * acting command `kind` or, without one, for any effect; undefined when it may. Every
   * leadership check of the loop, its streams and their writes comes here.
   */
  private notActing(kind?: CommandKind): NotLeaderError | undefined {
    const gate = this.opts.gate;
    if (!gate || (kind !== undefined && !COMMAND_ACTS[kind])) return undefined;
    // New work (a command or tick of `kind`) also waits for `accepting`; an effect of work in flight only needs the lease.
    const open = gate.isActing() && (kind === undefined || (gate.accepting?.() ?? true));
    return open ? undefined : gate.refusal();
  }

  /**
   * Resolves once no acting work runs or waits in the loop: what a replica handing the tenant's
   * lease over waits for (its gate already refuses new acting work).
   */
  async drained(): Promise<void> {
    const acting = this.streams.filter((s) => COMMAND_ACTS[s.tick.command] || Object.keys(s.commands).some((k) => COMMAND_ACTS[k as CommandKind]));
    await Promise.all(acting.map((s) => this.lanes.get(s.name)!.whenIdle()));
  }

  get commandKinds(): CommandKind[] {
    return [...this.routes.keys()];
  }

  /** Stops the ticks, refuses new commands, and resolves when the actions in flight have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.running) return;
    this.running = false;
    this.stopTicking();
    this.runSubscriber?.complete();
    await Promise.all([...this.lanes.values()].map((lane) => lane.close()));
    this.context.emit({ type: 'loop.stopped' });
  }

  private route(kind: CommandKind, args: unknown, resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
    const route = this.routes.get(kind);
    if (!route) return reject(new UnknownCommandError(kind));
    // Refused at enqueue on a replica that does not act; checked again when the job starts (it may wait behind another).
    route.lane.enqueue(commandKey(kind, args), this.work(kind, route.handler, args), {
      resolve,
      reject: (error) => {
        if (!(error instanceof LoopStoppedError) && !(error instanceof NotLeaderError)) {
          this.context.emit({ type: 'command.failed', command: kind, error: errorMessage(error) });
        }
        reject(error);
      },
    });
  }

  private stopTicking(): void {
    for (const ticker of this.tickers.splice(0)) ticker.stop();
  }

  /** The handler's work, refused when it starts on a replica that (no longer) acts. */
  private work(kind: CommandKind, handler: (args: never) => ObservableInput<unknown>, args: unknown): () => ObservableInput<unknown> {
    return () => {
      const refused = this.notActing(kind);
      if (refused) throw refused;
      return handler(args as never);
    };
  }

  private ticker(stream: StreamDefinition): StreamTicker {
    const { command, args } = stream.tick;
    const route = this.routes.get(command);
    if (!route) throw new UnknownCommandError(command);
    const random = this.opts.random ?? Math.random;
    const spread = Math.min(stream.intervalMs, this.opts.firstTickSpreadMs ?? stream.intervalMs);
    const firstDelayMs = Math.floor(random() * spread);
    // Where in its interval the stream ticks after the first one: where the first tick fell when
    // that is spread over the whole interval; else a place of its own, so that the ticks of
    // long intervals (discovery every 5 min) are spread over the interval, not over its first
    // 15 s, while the first run still comes within them.
    const phaseMs = spread >= stream.intervalMs ? firstDelayMs : Math.floor(random() * stream.intervalMs);
    const key = commandKey(command, args);
    const work = this.work(command, route.handler, args);
    // Acting again after not acting (ticks were skipped meanwhile): tick now, not at the next interval.
    const acquired$ = COMMAND_ACTS[command] ? this.opts.gate?.acquired$ : undefined;
    return new StreamTicker({
      intervalMs: stream.intervalMs,
      firstDelayMs,
      phaseMs,
      ...(acquired$ ? { acquired$ } : {}),
      ...(stream.wakeups ? { wakeups: stream.wakeups } : {}),
      scheduler: this.context.scheduler,
      ...(this.opts.tickQuantumMs ? { quantumMs: this.opts.tickQuantumMs } : {}),
      backoff: { ...this.opts.backoff, random },
      // On a replica that does not act, a tick of an acting stream does nothing: no error, no
      // backoff; a run that loses the lease mid-way ends the same way.
      run: (done) => {
        if (this.notActing(command)) return false;
        if (!route.lane.busy && stream.quietTick?.()) {
          done();
          return true;
        }
        route.lane.enqueue(key, work, {
          resolve: () => done(),
          reject: (error) => done(error instanceof NotLeaderError ? undefined : error),
        });
        return true;
      },
      onRetry: ({ attempt, delayMs, error }) =>
        this.context.emit({ type: 'stream.retrying', stream: stream.name, attempt, delayMs, error: errorMessage(error) }),
    });
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
