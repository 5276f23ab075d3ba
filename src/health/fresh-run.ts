/**
 * Shares runs of a check among its callers, never answering a caller with a run that started
 * more than `maxAgeMs` before it called.
 *
 * A call is answered by the latest run when that run started at most `maxAgeMs` before the call
 * (settled: at once, with its outcome, success or failure; in flight: when it settles).
 * Otherwise it waits for the next run, which starts at once when none is in flight, or as soon
 * as the one in flight settles, and is shared by every caller waiting for it. At most one run is
 * in flight, whatever the number of callers.
 *
 * A caller answered by a settled run older than `refreshAfterMs` (default: `maxAgeMs`) also
 * starts the next run, in the background; callers keep being answered by the latest settled run
 * until it is `maxAgeMs` old, so they wait only when a run takes longer than the difference.
 *
 * With `maxAgeMs` 0 every caller gets a run that began after it called. `GET /healthcheck`
 * uses a second, refreshed after half of it: polled by many clients it pings the database about
 * twice a second instead of once per request, no request waits for a ping while the database
 * answers within half a second, and it answers 500 at most a second (plus the ping's own
 * timeout) after the database stopped answering.
 */
/** The outcome of a settled run. */
export type RunOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A check shared by `sharedRecentRun`. */
export interface SharedRecentRun<T> {
  /** The outcome of a young enough run: of the latest settled one at once, else when one settles. */
  (): Promise<T>;
  /**
   * The latest settled run's outcome when it may answer a call now, without waiting (a caller
   * that can answer synchronously uses it); it starts the background refresh as a call does.
   * Undefined when a call would wait.
   */
  settled(): RunOutcome<T> | undefined;
}

export function sharedRecentRun<T>(run: () => Promise<T>, opts: { maxAgeMs: number; refreshAfterMs?: number; now?: () => number }): SharedRecentRun<T> {
  const now = opts.now ?? Date.now;
  const maxAgeMs = Math.max(0, opts.maxAgeMs);
  const refreshAfterMs = Math.min(maxAgeMs, Math.max(0, opts.refreshAfterMs ?? maxAgeMs));
  interface Run {
    startedAt: number;
    promise: Promise<T>;
    outcome?: RunOutcome<T>;
  }
  /** The latest run that settled (its promise settled). */
  let settled: Run | undefined;
  let inFlight: Run | undefined;
  /** The run the callers too late for `inFlight` wait for: it starts when `inFlight` settles. */
  let next: Promise<T> | undefined;

  const start = (): Promise<T> => {
    let promise: Promise<T>;
    try {
      promise = run();
    } catch (error) {
      promise = Promise.reject(error);
    }
    const entry: Run = { startedAt: now(), promise };
    inFlight = entry;
    const done = (outcome: RunOutcome<T>) => {
      entry.outcome = outcome;
      if (inFlight === entry) inFlight = undefined;
      if (!settled || settled.startedAt <= entry.startedAt) settled = entry;
    };
    promise.then(
      (value) => done({ ok: true, value }),
      (error: unknown) => done({ ok: false, error }),
    );
    return promise;
  };

  /** Whether a run that started at `startedAt` may answer a call at `calledAt` (after a clock that went back: not trusted). */
  const young = (r: Run, calledAt: number): boolean => maxAgeMs > 0 && calledAt >= r.startedAt && calledAt - r.startedAt <= maxAgeMs;

  /** The latest settled run when it may answer a call at `calledAt`; starts the background refresh when it is due. */
  const settledYoung = (calledAt: number): Run | undefined => {
    const last = settled;
    if (!last || !young(last, calledAt)) return undefined;
    // Older than refreshAfterMs: the next run starts now, in the background, so that callers
    // rarely find the latest one too old and wait.
    if (calledAt - last.startedAt > refreshAfterMs && !inFlight && !next) start().catch(() => undefined);
    return last;
  };

  const check = (): Promise<T> => {
    const calledAt = now();
    const last = settledYoung(calledAt);
    if (last) return last.promise;
    const running = inFlight;
    if (running && young(running, calledAt)) return running.promise;
    if (next) return next;
    if (!running) return start();
    // A run is in flight but too old for this caller: wait for the next one, shared.
    next = running.promise
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
  return Object.assign(check, { settled: () => settledYoung(now())?.outcome });
}
