/**
 * One read shared by many callers (the tenants of a daemon reading the same thing on their own
 * schedules): a caller that arrives while the read is in flight waits for it, and a result
 * whose read started less than `maxAgeMs` ago is answered again. `invalidate()` (after a write
 * that changes what is read) makes the next caller read anew: neither the read in flight then
 * nor the last result reaches a caller that asks after it. A failed read is shared only by the
 * callers that were waiting for it; it is never answered again.
 */
export class SharedRead<T> {
  private generation = 0;
  private inFlight: { generation: number; promise: Promise<T> } | undefined;
  private last: { generation: number; startedAt: number; value: T } | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(maxAgeMs >= 0) || !Number.isFinite(maxAgeMs)) throw new TypeError('SharedRead: maxAgeMs must be a finite number >= 0');
  }

  get(): Promise<T> {
    const generation = this.generation;
    const fresh = this.fresh();
    if (fresh) return Promise.resolve(fresh.value);
    const flight = this.inFlight;
    if (flight && flight.generation === generation) return flight.promise;
    const startedAt = this.now();
    const promise = this.read().then((value) => {
      if (this.generation === generation) this.last = { generation, startedAt, value };
      return value;
    });
    const current = { generation, promise };
    this.inFlight = current;
    const done = () => {
      if (this.inFlight === current) this.inFlight = undefined;
    };
    promise.then(done, done);
    return promise;
  }

  /** The result `get()` would answer now without reading, if there is one: for a caller that must not wait. */
  peek(): { value: T } | undefined {
    return this.fresh();
  }

  invalidate(): void {
    this.generation += 1;
    this.inFlight = undefined;
    this.last = undefined;
  }

  private fresh(): { value: T } | undefined {
    const last = this.last;
    return last && last.generation === this.generation && this.now() - last.startedAt < this.maxAgeMs ? last : undefined;
  }
}

/**
 * How old a shared read of what the Spark polls look at (the master's state, the replay rows)
 * may be when another tenant reuses it: a fifth of the poll interval, at most 3 s. Any read
 * that shows a tenant's driver gone wakes that tenant (streams/spark/stream.ts), so a death is
 * seen at most that long after it happened and the driver is resubmitted within 1.2 × the
 * interval at worst (plus the read and the create; about 0.2 × at 15 s polls), while the
 * tenants of a master read it once per max age instead of once per poll each. Each read costs
 * both sides: the master renders every driver and application it knows, and the daemon parses
 * it (1,000 drivers: 310 kB, a few ms of CPU).
 */
export function sharedReadMaxAgeMs(pollIntervalMs: number): number {
  return Math.min(3_000, 0.2 * pollIntervalMs);
}
