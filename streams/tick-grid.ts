import { Observable, Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { tickSlotsOf, type SlotEntry } from './tick-slots.js';

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
 *
 * `quantumMs` (0: off) sets the timer of each grid tick after the first for the next multiple of
 * the quantum on the scheduler's clock: never before its grid point, less than a quantum after
 * it. The ticks of many streams due within one quantum then fire from one timer and one wakeup
 * of the process instead of one each (the scheduler's TickSlots, tick-slots.ts); the spread over
 * the period stays (see effectiveQuantumMs).
 */
export function tickGrid(firstDelayMs: number, phaseMs: number, periodMs: number, scheduler: SchedulerLike, quantumMs = 0): Observable<number> {
  checkPeriod(periodMs);
  return new Observable<number>((subscriber) => scheduleGrid(firstDelayMs, phaseMs, periodMs, scheduler, (n) => subscriber.next(n), quantumMs));
}

/**
 * The daemon's tick quantum: with 1,000 tenants about 90 ticks a second share about 10 wakeups
 * instead of one each (BENCHMARKS.md §2).
 */
export const TICK_QUANTUM_MS = 100;

/**
 * The quantum used for a period: at most a twentieth of it, so a short interval (a test's,
 * an operator's 100 ms) keeps every grid point.
 */
export function effectiveQuantumMs(quantumMs: number, periodMs: number): number {
  return quantumMs > 0 ? Math.min(quantumMs, periodMs / 20) : 0;
}

/** `tickGrid` without an Observable: calls `onTick` with the tick's number until the returned subscription is unsubscribed. */
export function scheduleGrid(
  firstDelayMs: number,
  phaseMs: number,
  periodMs: number,
  scheduler: SchedulerLike,
  onTick: (n: number) => void,
  quantumMs = 0,
): Subscription {
  checkPeriod(periodMs);
  const quantum = effectiveQuantumMs(quantumMs, periodMs);
  const start = scheduler.now();
  const anchor = start + phaseMs;
  const first = start + Math.max(0, firstDelayMs);
  // The grid point to tick at next: first the one at least half a period after the first tick,
  // then always the one after the last (a timer may run a little before its time on the
  // scheduler's clock: it must not tick twice), past those already gone by.
  let k = Math.ceil((first + periodMs / 2 - anchor) / periodMs);
  let n = 0;
  const nextPoint = (now: number): number => {
    while (anchor + k * periodMs <= now) k++;
    return anchor + k++ * periodMs;
  };
  if (quantum === 0) {
    return scheduler.schedule(
      function (this: SchedulerAction<unknown>) {
        onTick(n++);
        const now = scheduler.now();
        this.schedule(undefined, Math.max(0, nextPoint(now) - now));
      },
      Math.max(0, firstDelayMs),
    );
  }
  // On a quantum the later ticks wait in the scheduler's shared slots, one timer per instant.
  const slots = tickSlotsOf(scheduler);
  let closed = false;
  const tick = (): void => {
    onTick(n++);
    if (closed) return;
    entry.at = Math.ceil(nextPoint(scheduler.now()) / quantum) * quantum;
    slots.add(entry);
  };
  const entry: SlotEntry = { at: Number.NaN, fire: tick };
  const firstTick = scheduler.schedule(tick, Math.max(0, firstDelayMs));
  return new Subscription(() => {
    closed = true;
    entry.at = Number.NaN;
    firstTick.unsubscribe();
  });
}

function checkPeriod(periodMs: number): void {
  if (!(periodMs > 0) || !Number.isFinite(periodMs)) throw new RangeError(`tickGrid: period must be a positive number (got ${periodMs})`);
}
