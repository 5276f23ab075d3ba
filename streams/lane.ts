import { concatMap, defer, EMPTY, from, last, Observable, Subject, type ObservableInput, type Subscription } from 'rxjs';

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
  cancelled: boolean;
}

/**
 * One lane of work per tenant and kind (Spark, discovery, delay): jobs run one at a time,
 * in arrival order, so a timer tick and a manual command can never race. A job whose key
 * equals one that is running or queued is not run again: its caller waits for that one.
 */
export class Lane {
  private readonly jobs = new Subject<Job>();
  private readonly queued: Job[] = [];
  private running: Job | undefined;
  private closed = false;
  private readonly idle = new Subject<void>();
  private readonly subscription: Subscription;

  constructor(readonly name: string) {
    this.subscription = this.jobs.pipe(concatMap((job) => this.runJob(job))).subscribe();
  }

  /** Queues `work` under `key` (or joins the identical job already running or queued). */
  enqueue<R>(key: string, work: () => ObservableInput<R>, waiter: Waiter<R>): void {
    if (this.closed) {
      waiter.reject(new LoopStoppedError());
      return;
    }
    const same = this.running?.key === key && !this.running.cancelled ? this.running : this.queued.find((j) => j.key === key);
    if (same) {
      same.waiters.push(waiter as Waiter<unknown>);
      return;
    }
    const job: Job = { key, work, waiters: [waiter as Waiter<unknown>], cancelled: false };
    this.queued.push(job);
    this.jobs.next(job);
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
    return new Promise((resolve) => {
      const sub = this.idle.subscribe(() => {
        sub.unsubscribe();
        resolve();
      });
    });
  }

  /** Refuses new work, drops what is queued, and resolves once the running job has finished. */
  close(): Promise<void> {
    this.closed = true;
    for (const job of this.queued.splice(0)) {
      job.cancelled = true;
      for (const w of job.waiters) w.reject(new LoopStoppedError());
    }
    const done = () => {
      this.subscription.unsubscribe();
    };
    if (!this.running) {
      done();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const sub = this.idle.subscribe(() => {
        sub.unsubscribe();
        done();
        resolve();
      });
    });
  }

  private runJob(job: Job): Observable<never> {
    if (job.cancelled) return EMPTY;
    this.queued.splice(this.queued.indexOf(job), 1);
    this.running = job;
    return new Observable<never>((subscriber) => {
      const finish = (outcome: { value: unknown } | { error: unknown }) => {
        this.running = undefined;
        for (const w of job.waiters) {
          if ('error' in outcome) w.reject(outcome.error);
          else w.resolve(outcome.value);
        }
        if (!this.busy) this.idle.next();
        subscriber.complete();
      };
      const inner = defer(() => from(job.work()))
        .pipe(last(undefined, undefined))
        .subscribe({ next: (value) => finish({ value }), error: (error: unknown) => finish({ error }) });
      return () => inner.unsubscribe();
    });
  }
}
