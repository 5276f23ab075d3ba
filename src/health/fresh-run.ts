/**
 * Shares one run of a check among the callers that wait for it, without ever answering a caller
 * with a run that started before it called.
 *
 * A call while no run is in flight starts one. Calls that arrive while a run is in flight all
 * wait for the next run, which starts as soon as the current one settles, and share it. So
 * every caller gets the outcome of a run that began after its call (never a remembered one),
 * while at most one run is in flight, whatever the number of callers: `GET /healthcheck` polled
 * by many clients pings the database once per round trip instead of once per request, and
 * still answers 500 for every request that arrived after the database stopped answering.
 */
export function freshSharedRun<T>(run: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  let next: Promise<T> | undefined;

  const start = (): Promise<T> => {
    let started: Promise<T>;
    try {
      started = run();
    } catch (error) {
      started = Promise.reject(error);
    }
    const current: Promise<T> = started.finally(() => {
      if (inFlight === current) inFlight = undefined;
    });
    inFlight = current;
    return current;
  };

  return () => {
    if (!inFlight) return start();
    // Settles after `inFlight` has cleared itself (its finally ran first), so `start` runs the next one.
    next ??= inFlight.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      next = undefined;
      return start();
    });
    return next;
  };
}
