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
 * may be when another tenant reuses it: 5 % of the poll interval, at most 1 s. A poll then sees
 * a change at most that much later, so a dead driver is still resubmitted within 1.05 × the
 * interval (plus the read and the create), while the tenants of a master read it once per max
 * age instead of once per poll each.
 */
export function sharedReadMaxAgeMs(pollIntervalMs: number): number {
  return Math.min(1_000, 0.05 * pollIntervalMs);
}
