import { from, Observable, type ObservableInput } from 'rxjs';

/** The loop is stopping or stopped: no new work is accepted. */
export class LoopStoppedError extends Error {
  constructor() {
    super('the control loop is shutting down');
    this.name = 'LoopStoppedError';
  }
}

export interface Waiter<R> {
  resolve(value: R): void;
  reject(error: unknown): void;
}

interface Job {
  key: string;
  work: () => ObservableInput<unknown>;
  waiters: Waiter<unknown>[];
}

/**
 * One lane of work per tenant and kind (Spark, discovery, delay): jobs run one at a time,
 * in arrival order, so a timer tick and a manual command can never race. A job whose key
 * equals one that is running or queued is not run again: its caller waits for that one.
 * A job ends when its work completes (its last value is the result) or fails; the next starts
 * right after its callers have heard, synchronously, so a lane in virtual time runs like one in real time.
 */
export class Lane {
  private readonly queued: Job[] = [];
  private running: Job | undefined;
  private closed = false;
  /** True while a finished job's callers are told: work they queue starts after, in order. */
  private delivering = false;
  private idleWaiters: (() => void)[] = [];

  constructor(readonly name: string) {}

  /** Queues `work` under `key` (or joins the identical job already running or queued). */
  enqueue<R>(key: string, work: () => ObservableInput<R>, waiter: Waiter<R>): void {
    if (this.closed) {
      waiter.reject(new LoopStoppedError());
      return;
    }
    const same = this.running?.key === key ? this.running : this.queued.find((j) => j.key === key);
    if (same) {
      same.waiters.push(waiter as Waiter<unknown>);
      return;
    }
    this.queued.push({ key, work, waiters: [waiter as Waiter<unknown>] });
    this.next();
  }

  /** `enqueue` as a cold Observable of the job's result; unsubscribing does not cancel the job. */
  submit<R>(key: string, work: () => ObservableInput<R>): Observable<R> {
    return new Observable<R>((subscriber) => {
      let active = true;
      this.enqueue<R>(key, work, {
        resolve: (value) => {
          if (!active) return;
          subscriber.next(value);
          subscriber.complete();
        },
        reject: (error) => active && subscriber.error(error),
      });
      return () => {
        active = false;
      };
    });
  }

  get busy(): boolean {
    return this.running !== undefined || this.queued.length > 0;
  }

  /** Resolves once nothing runs or waits in the lane (at once when it is idle). */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new work, drops what is queued, and resolves once the running job has finished. */
  close(): Promise<void> {
    this.closed = true;
    for (const job of this.queued.splice(0)) for (const w of job.waiters) w.reject(new LoopStoppedError());
    return this.whenIdle();
  }

  /** Starts the next queued job unless one runs (or a finished one's callers are being told). */
  private next(): void {
    if (this.running || this.delivering) return;
    const job = this.queued.shift();
    if (!job) return;
    this.running = job;
    let last: unknown;
    let finished = false;
    const finish = (outcome: { value: unknown } | { error: unknown }) => {
      if (finished) return;
      finished = true;
      this.running = undefined;
      this.delivering = true;
      try {
        for (const w of job.waiters) {
          if ('error' in outcome) w.reject(outcome.error);
          else w.resolve(outcome.value);
        }
      } finally {
        this.delivering = false;
      }
      if (!this.busy) for (const resolve of this.idleWaiters.splice(0)) resolve();
      this.next();
    };
    let source: Observable<unknown>;
    try {
      source = from(job.work());
    } catch (error) {
      finish({ error });
      return;
    }
    source.subscribe({
      next: (value) => (last = value),
      error: (error: unknown) => finish({ error }),
      complete: () => finish({ value: last }),
    });
  }
}
