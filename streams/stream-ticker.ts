import { Subscription, type Observable, type SchedulerLike } from 'rxjs';
import { backoffDelay, type BackoffOptions, type RetryInfo } from './retry-backoff.js';
import { scheduleGrid } from './tick-grid.js';

export interface StreamTickerOptions {
  intervalMs: number;
  /** Delay of the very first tick, and where in the interval the later ones fall (see scheduleGrid). */
  firstDelayMs: number;
  phaseMs: number;
  /** What else runs a tick now: the lease acquired again (delivered through the scheduler), the stream's wakeups. */
  acquired$?: Observable<unknown>;
  wakeups?: Observable<unknown>;
  scheduler: SchedulerLike;
  /** Grid ticks wait for the next multiple of this on the scheduler's clock (see scheduleGrid); 0 or absent: exact. */
  quantumMs?: number;
  backoff: BackoffOptions;
  /**
   * Runs one tick: calls `done(error?)` once when the run has ended (an error starts the backoff),
   * or returns false when it started nothing (the tick is not the process's to run).
   */
  run(done: (error?: unknown) => void): boolean;
  onRetry(info: RetryInfo): void;
}

/**
 * The ticks of one stream of a tenant, with plain timers instead of an operator chain per stream
 * (a thousand tenants hold four of these each, idle nearly all the time): a tick on the grid,
 * when the lease is acquired again, or on a wakeup; a tick that comes while a run is in flight is
 * dropped, not queued; a failed run stops the ticks, waits a growing jittered delay, then ticks at
 * once and every interval from there; one successful run resets the delay.
 */
export class StreamTicker {
  private sources: Subscription | undefined;
  private retryTimer: Subscription | undefined;
  private inFlight = false;
  /** Counts starts and stops: the end of a run of an earlier start is not this one's. */
  private generation = 0;
  private attempt = 0;
  private stopped = false;

  constructor(private readonly opts: StreamTickerOptions) {}

  start(): void {
    this.listen(this.opts.firstDelayMs, this.opts.phaseMs);
  }

  /** Stops every timer and subscription; the end of a run in flight is ignored. */
  stop(): void {
    this.stopped = true;
    this.generation++;
    this.inFlight = false;
    this.sources?.unsubscribe();
    this.retryTimer?.unsubscribe();
  }

  private listen(firstDelayMs: number, phaseMs: number): void {
    const { scheduler } = this.opts;
    const sources = new Subscription();
    this.sources = sources;
    sources.add(scheduleGrid(firstDelayMs, phaseMs, this.opts.intervalMs, scheduler, () => this.tick(), this.opts.quantumMs));
    if (this.opts.acquired$)
      sources.add(
        this.opts.acquired$.subscribe(() => {
          const action = scheduler.schedule(() => {
            sources.remove(action);
            this.tick();
          });
          sources.add(action);
        }),
      );
    if (this.opts.wakeups) sources.add(this.opts.wakeups.subscribe(() => this.tick()));
  }

  private tick(): void {
    if (this.inFlight || this.stopped) return;
    const generation = this.generation;
    this.inFlight = true;
    let ended = false;
    const started = this.opts.run((error?: unknown) => {
      if (ended || generation !== this.generation) return;
      ended = true;
      this.inFlight = false;
      if (error === undefined) this.attempt = 0;
      else this.fail(error);
    });
    if (!started && !ended) this.inFlight = false;
  }

  private fail(error: unknown): void {
    this.generation++;
    this.sources?.unsubscribe();
    const delayMs = backoffDelay(++this.attempt, this.opts.backoff);
    this.opts.onRetry({ attempt: this.attempt, delayMs, error });
    this.retryTimer = this.opts.scheduler.schedule(() => {
      // After the backoff the stream ticks at once (the delay was the wait), then every interval from there.
      if (!this.stopped) this.listen(0, 0);
    }, delayMs);
  }
}
