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
 * With `maxAgeMs` 0 every caller gets a run that began after it called. `GET /healthcheck`
 * uses a second: polled by many clients it pings the database about once a second instead of
 * once per request, and answers 500 at most a second (plus the ping's own timeout) after the
 * database stopped answering.
 */
export function sharedRecentRun<T>(run: () => Promise<T>, opts: { maxAgeMs: number; now?: () => number }): () => Promise<T> {
  const now = opts.now ?? Date.now;
  const maxAgeMs = Math.max(0, opts.maxAgeMs);
  /** The latest run: when it started and its promise (settled or not). */
  let latest: { startedAt: number; promise: Promise<T>; settled: boolean } | undefined;
  let next: Promise<T> | undefined;

  const start = (): Promise<T> => {
    let started: Promise<T>;
    try {
      started = run();
    } catch (error) {
      started = Promise.reject(error);
    }
    const entry = { startedAt: now(), promise: started, settled: false };
    latest = entry;
    started.then(
      () => (entry.settled = true),
      () => (entry.settled = true),
    );
    return started;
  };

  return () => {
    const calledAt = now();
    const current = latest;
    // The latest run, when it started within the window before this call (after a clock that went back: not trusted).
    if (current && maxAgeMs > 0 && calledAt >= current.startedAt && calledAt - current.startedAt <= maxAgeMs) return current.promise;
    if (next) return next;
    if (!current || current.settled) return start();
    // A run is in flight but too old for this caller: wait for the next one, shared.
    next ??= current.promise
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
}
