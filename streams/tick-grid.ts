import { Observable, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';

/**
 * A stream's ticks: the first `firstDelayMs` after subscribing, then on a fixed grid,
 * `phaseMs + k × periodMs` after subscribing, from the first grid point at least half a period
 * after the first tick.
 *
 * Unlike `timer(first, period)` (a setInterval, re-armed from the moment it fired), a late tick
 * does not move the later ones. With setInterval, every interval timer that is due while the
 * event loop is busy fires in the same loop turn and is re-armed from the same instant, so the
 * ticks of many tenants, spread over the interval at start, merge into fewer and fewer bunches
 * the longer the daemon runs. On the grid they stay where they were put. A tick late by more
 * than a period is skipped, not made up.
 *
 * `phaseMs` places the grid: with `phaseMs = firstDelayMs` the ticks are simply every period
 * after the first; a phase of its own lets the first tick come early (a sync soon after start)
 * while the later ones fall anywhere in the interval.
 */
export function tickGrid(firstDelayMs: number, phaseMs: number, periodMs: number, scheduler: SchedulerLike): Observable<number> {
  checkPeriod(periodMs);
  return new Observable<number>((subscriber) => scheduleGrid(firstDelayMs, phaseMs, periodMs, scheduler, (n) => subscriber.next(n)));
}

/** `tickGrid` without an Observable: calls `onTick` with the tick's number until the returned subscription is unsubscribed. */
export function scheduleGrid(firstDelayMs: number, phaseMs: number, periodMs: number, scheduler: SchedulerLike, onTick: (n: number) => void): Subscription {
  checkPeriod(periodMs);
  const start = scheduler.now();
  const anchor = start + phaseMs;
  const first = start + Math.max(0, firstDelayMs);
  // The grid point to tick at next: first the one at least half a period after the first tick,
  // then always the one after the last (a timer may run a little before its time on the
  // scheduler's clock: it must not tick twice), past those already gone by.
  let k = Math.ceil((first + periodMs / 2 - anchor) / periodMs);
  let n = 0;
  return scheduler.schedule(
    function (this: SchedulerAction<unknown>) {
      onTick(n++);
      const now = scheduler.now();
      while (anchor + k * periodMs <= now) k++;
      this.schedule(undefined, anchor + k * periodMs - now);
      k++;
    },
    Math.max(0, firstDelayMs),
  );
}

function checkPeriod(periodMs: number): void {
  if (!(periodMs > 0) || !Number.isFinite(periodMs)) throw new RangeError(`tickGrid: period must be a positive number (got ${periodMs})`);
}
