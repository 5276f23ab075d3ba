/**
 * A check that runs in the background, so that whoever asks for its verdict never waits on it
 * (`GET /healthcheck` and its database ping: a hung database must be reported DOWN, not make the
 * probe time out).
 *
 * Once started, a run begins every `intervalMs` (measured from the start of the previous one),
 * at most one in flight: a run still in flight when the next is due delays it until it settles.
 * The verdict, read synchronously at any time, is
 *  - the outcome of the latest settled run (success or failure), unless
 *  - the run in flight has been running for more than `budgetMs`: then a failure,
 *    `CheckOverdueError`, whatever the latest settled run said — a check that stopped answering
 *    is DOWN within `intervalMs + budgetMs` of its last answer.
 * Before the first run settles (within its budget) there is no verdict yet; `verdict()` waits for
 * that first run, at most until its budget is spent.
 *
 * The cost does not depend on the number of callers: one run per interval, none while stopped.
 * A success seen elsewhere (`observe`: the database answered one of the daemon's own statements)
 * stands for a run: the next run is due an interval after it, so a busy daemon's traffic is the
 * check and a run is only made when that traffic has been quiet for an interval.
 */

/** The outcome of a settled run. */
export type RunOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** The run in flight has not settled within its budget. */
export class CheckOverdueError extends Error {
  constructor(
    readonly runningMs: number,
    readonly budgetMs: number,
  ) {
    super(`no answer for ${Math.round(runningMs)} ms (budget ${budgetMs} ms)`);
    this.name = 'CheckOverdueError';
  }
}

export interface BackgroundCheckOptions {
  /** Time between the starts of two runs. */
  intervalMs: number;
  /** How long a run may be in flight before the verdict is a failure. */
  budgetMs: number;
  now?: () => number;
}

export class BackgroundCheck<T> {
  private readonly now: () => number;
  private latest: { startedAt: number; outcome: RunOutcome<T> } | undefined;
  private inFlight: { startedAt: number; settled: Promise<void> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly run: () => Promise<T>,
    private readonly opts: BackgroundCheckOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Starts the runs: the first one now (when none is in flight), then one every interval. */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (!this.inFlight) this.runOnce();
    else this.schedule();
  }

  /** No new run starts; the one in flight settles on its own. */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The verdict now, without waiting; undefined while the first run is in flight within its budget. */
  current(): RunOutcome<T> | undefined {
    const flight = this.inFlight;
    if (flight) {
      const runningMs = this.now() - flight.startedAt;
      if (runningMs > this.opts.budgetMs) return { ok: false, error: new CheckOverdueError(runningMs, this.opts.budgetMs) };
    }
    return this.latest?.outcome;
  }

  /**
   * The verdict: at once when there is one; else (before the first run settled) when that run
   * settles or its budget is spent, whichever comes first. Not started, it runs once for this call.
   */
  async verdict(): Promise<RunOutcome<T>> {
    const now = this.current();
    if (now) return now;
    if (!this.inFlight) this.runOnce();
    const flight = this.inFlight!;
    const left = Math.max(0, this.opts.budgetMs - (this.now() - flight.startedAt)) + 1;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([flight.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
    clearTimeout(timer);
    return this.current() ?? { ok: false, error: new CheckOverdueError(this.now() - flight.startedAt, this.opts.budgetMs) };
  }

  /**
   * A success seen now, outside the runs: the verdict (unless a run in flight is over its budget)
   * and the time the next run is due count from it. A hung check stays visible: the run in flight
   * is still judged by its budget.
   */
  observe(value: T): void {
    const at = this.now();
    if (!this.latest || this.latest.startedAt <= at) this.latest = { startedAt: at, outcome: { ok: true, value } };
  }

  private runOnce(): void {
    const startedAt = this.now();
    let promise: Promise<T>;
    try {
      promise = this.run();
    } catch (error) {
      promise = Promise.reject(error);
    }
    const settled = promise.then(
      (value) => this.settle(startedAt, { ok: true, value }),
      (error: unknown) => this.settle(startedAt, { ok: false, error }),
    );
    this.inFlight = { startedAt, settled };
    this.schedule();
  }

  private settle(startedAt: number, outcome: RunOutcome<T>): void {
    if (this.inFlight?.startedAt === startedAt) this.inFlight = undefined;
    if (!this.latest || this.latest.startedAt <= startedAt) this.latest = { startedAt, outcome };
    // A run that outlived its interval: the next one was waiting for it.
    if (this.running && !this.timer) this.schedule();
  }

  /** The next run, `intervalMs` after the start of the latest one; while one is in flight, when it settles. */
  private schedule(): void {
    if (!this.running || this.timer) return;
    const last = this.inFlight?.startedAt ?? this.latest?.startedAt ?? this.now();
    const delay = Math.max(0, last + this.opts.intervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.running) return;
      // Still in flight: settle() schedules the next run when it settles.
      if (this.inFlight) return;
      // A success observed since: the next run is due an interval after it.
      if (this.latest && this.now() - this.latest.startedAt < this.opts.intervalMs) return this.schedule();
      this.runOnce();
    }, delay);
    this.timer.unref?.();
  }
}
