import { Subscription, timer, type Observable, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { effectiveQuantumMs, tickGrid } from './tick-grid.js';

/**
 * A scheduler driven by hand that can be "busy": every action due before `busyUntil` runs at
 * `busyUntil`, all in one turn, as timers do in Node when the event loop was blocked.
 */
class BusyScheduler implements SchedulerLike {
  private t = 0;
  /** Timers set so far: each schedule and each reschedule of an action. */
  timersSet = 0;
  private readonly tasks: { due: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.t;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    let current: { due: number; fn: () => void; live: boolean } | undefined;
    const subscription = new Subscription(() => {
      if (current) current.live = false;
    });
    const action = Object.assign(subscription, {
      schedule: (next?: T, d = 0) => {
        plan(next, d);
        return action;
      },
    }) as unknown as SchedulerAction<T>;
    const plan = (st: T | undefined, d: number) => {
      if (current) current.live = false;
      current = { due: this.t + d, fn: () => work.call(action, st), live: true };
      this.timersSet++;
      this.tasks.push(current);
    };
    plan(state, delay);
    return subscription;
  }

  /** `early`: actions run that long before they are due (a timer firing before its time on the scheduler's clock). */
  run(until: number, busyUntil = Number.NEGATIVE_INFINITY, early = 0): void {
    for (;;) {
      const next = this.tasks.filter((x) => x.live).sort((a, b) => a.due - b.due)[0];
      if (!next || next.due > until) break;
      next.live = false;
      this.t = Math.max(this.t, next.due - early, busyUntil);
      next.fn();
    }
    this.t = Math.max(this.t, until);
  }
}

function record(ticks$: Observable<unknown>, scheduler: SchedulerLike): number[] {
  const at: number[] = [];
  ticks$.subscribe(() => at.push(scheduler.now()));
  return at;
}

describe('tickGrid', () => {
  it('ticks after the first delay, then every period (phase = first delay)', () => {
    const virtual = new TestScheduler((a, b) => expect(a).toEqual(b));
    virtual.run(({ expectObservable }) => {
      expectObservable(tickGrid(30, 30, 100, virtual), '^ 350ms !').toBe('30ms a 99ms b 99ms c 99ms d', { a: 0, b: 1, c: 2, d: 3 });
    });
    const s = new BusyScheduler();
    const at = record(tickGrid(30, 30, 100, s), s);
    s.run(350);
    expect(at).toEqual([30, 130, 230, 330]);
  });

  it('with a phase of its own: the first tick early, the later ones on the phase, at least half a period after the first', () => {
    const s = new BusyScheduler();
    const early = record(tickGrid(3, 70, 100, s), s);
    const late = record(tickGrid(40, 70, 100, s), s);
    s.run(300);
    expect(early).toEqual([3, 70, 170, 270]);
    expect(late).toEqual([40, 170, 270]);
  });

  it('a late tick does not move the later ones; ticks late together stay apart afterwards (setInterval merges them)', () => {
    const s = new BusyScheduler();
    const a = record(tickGrid(10, 10, 100, s), s);
    const b = record(tickGrid(30, 30, 100, s), s);
    const aTimer = record(timer(10, 100, s), s);
    const bTimer = record(timer(30, 100, s), s);
    s.run(100);
    s.run(200, 150); // the loop is busy from 100 to 150: the ticks due at 110 and 130 both run at 150
    s.run(400);
    expect(a).toEqual([10, 150, 210, 310]);
    expect(b).toEqual([30, 150, 230, 330]);
    // rxjs' timer re-arms from when it ran: the two are in step from then on.
    expect(aTimer).toEqual([10, 150, 250, 350]);
    expect(bTimer).toEqual([30, 150, 250, 350]);
  });

  it('ticks once per grid point when the timer runs a little early on the scheduler clock', () => {
    const s = new BusyScheduler();
    const at = record(tickGrid(10, 10, 100, s), s);
    s.run(320, Number.NEGATIVE_INFINITY, 1);
    expect(at).toEqual([9, 109, 209, 309]);
  });

  it('skips the ticks missed by more than a period instead of making them up', () => {
    const s = new BusyScheduler();
    const at = record(tickGrid(10, 10, 100, s), s);
    s.run(100);
    s.run(400, 350);
    s.run(500);
    expect(at).toEqual([10, 350, 410]);
  });

  it('with a quantum: the first tick exact, each later one at the next multiple of the quantum at or after its grid point', () => {
    const s = new BusyScheduler();
    const at = record(tickGrid(123, 123, 1000, s, 50), s);
    const onPoint = record(tickGrid(200, 200, 1000, s, 50), s);
    s.run(3500);
    expect(at).toEqual([123, 1150, 2150, 3150]);
    expect(onPoint).toEqual([200, 1200, 2200, 3200]);
  });

  it('with a quantum, many streams at random phases tick as often as without, within a quantum of their points, on few distinct instants', () => {
    const s = new BusyScheduler();
    const period = 1_000;
    const phases = Array.from({ length: 300 }, (_, i) => (i * 7919) % period);
    const exact = phases.map((p) => record(tickGrid(p, p, period, s), s));
    const quantized = phases.map((p) => record(tickGrid(p, p, period, s, 50), s));
    s.run(4 * period);
    const instants = new Set<number>();
    phases.forEach((p, i) => {
      expect(quantized[i]!.length).toBe(exact[i]!.length);
      quantized[i]!.slice(1).forEach((t, k) => {
        const point = p + (k + 1) * period;
        expect(t).toBeGreaterThanOrEqual(point);
        expect(t).toBeLessThan(point + 50);
        expect(t % 50).toBe(0);
        instants.add(t);
      });
    });
    // At least 900 later ticks: each at an instant of its own without the quantum, at most 20 instants a period with it.
    expect(new Set(exact.flatMap((ticks) => ticks.slice(1))).size).toBeGreaterThanOrEqual(900);
    expect(instants.size).toBeLessThanOrEqual(3 * (period / 50) + 1);
  });

  it('with a quantum, the grids of a scheduler share one timer per instant', () => {
    const s = new BusyScheduler();
    const phases = Array.from({ length: 200 }, (_, i) => (i * 7919) % 1000);
    const ticks = phases.map((p) => record(tickGrid(p, p, 1000, s, 50), s));
    s.run(3000);
    // Each tick at the next multiple of the quantum at or after its grid point, as with timers of their own.
    phases.forEach((p, i) => {
      const points = [1000, 2000, 3000].map((k) => Math.ceil((p + k) / 50) * 50).filter((t) => t <= 3000);
      expect(ticks[i]).toEqual([p, ...points]);
    });
    // Each grid's first tick has a timer of its own; the later ones fall on at most 20 instants a period.
    expect(s.timersSet).toBeLessThanOrEqual(200 + 3 * 20 + 1);
  });

  it('with a quantum, a grid unsubscribed in its own tick, or before its instant, ticks no more', () => {
    const s = new BusyScheduler();
    const inTick: number[] = [];
    const sub: Subscription = tickGrid(0, 0, 1000, s, 50).subscribe(() => {
      inTick.push(s.now());
      if (inTick.length === 2) sub.unsubscribe();
    });
    const before = record(tickGrid(10, 10, 1000, s, 50), s);
    const other = tickGrid(10, 10, 1000, s, 50).subscribe(() => undefined);
    s.run(1500);
    other.unsubscribe();
    s.run(5000);
    expect(inTick).toEqual([0, 1000]);
    expect(before).toEqual([10, 1050, 2050, 3050, 4050]);
  });

  it('a quantum is at most a twentieth of the period, so a short interval keeps every grid point', () => {
    expect(effectiveQuantumMs(50, 15_000)).toBe(50);
    expect(effectiveQuantumMs(50, 100)).toBe(5);
    expect(effectiveQuantumMs(0, 100)).toBe(0);
    const s = new BusyScheduler();
    const at = record(tickGrid(12, 12, 100, s, 50), s);
    s.run(350);
    expect(at).toEqual([12, 115, 215, 315]);
  });

  it('stops when unsubscribed; refuses a period that is not positive', () => {
    const s = new BusyScheduler();
    const at: number[] = [];
    const sub = tickGrid(0, 0, 100, s).subscribe(() => at.push(s.now()));
    s.run(150);
    sub.unsubscribe();
    s.run(1000);
    expect(at).toEqual([0, 100]);
    expect(() => tickGrid(0, 0, 0, s)).toThrow(RangeError);
  });
});
