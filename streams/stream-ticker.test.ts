import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { RetryInfo } from './retry-backoff.js';
import { StreamTicker, type StreamTickerOptions } from './stream-ticker.js';

/** Runs `body` in virtual time (each test stops its ticker at a frame of its choosing, then flushes). */
function virtualTime(body: (scheduler: TestScheduler) => void): void {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run(() => body(scheduler));
}

interface Run {
  at: number;
  end: (error?: unknown) => void;
}

/** A ticker whose runs are recorded and ended by the test (or at once, by `outcome`). */
function ticker(scheduler: TestScheduler, opts: Partial<StreamTickerOptions> & { outcome?: (run: number) => 'ok' | 'fail' | 'open' | 'skip' } = {}) {
  const runs: Run[] = [];
  const retries: RetryInfo[] = [];
  const t = new StreamTicker({
    intervalMs: 100,
    firstDelayMs: 10,
    phaseMs: 10,
    scheduler,
    backoff: { minMs: 10, maxMs: 25, jitter: 0 },
    run: (done) => {
      const n = runs.length + 1;
      const outcome = opts.outcome?.(n) ?? 'ok';
      if (outcome === 'skip') return false;
      runs.push({ at: scheduler.now(), end: done });
      if (outcome === 'ok') done();
      if (outcome === 'fail') done(new Error(`run ${n} failed`));
      return true;
    },
    onRetry: (info) => retries.push(info),
    ...opts,
  });
  return { t, runs, retries };
}

describe('StreamTicker', () => {
  it('ticks first after its first delay, then on the grid of its interval', () => {
    virtualTime((scheduler) => {
      const { t, runs } = ticker(scheduler);
      t.start();
      scheduler.schedule(() => t.stop(), 350);
      scheduler.flush();
      expect(runs.map((r) => r.at)).toEqual([10, 110, 210, 310]);
    });
  });

  it('drops a tick that comes while a run is in flight instead of queueing it', () => {
    virtualTime((scheduler) => {
      const { t, runs } = ticker(scheduler, { outcome: (n) => (n === 1 ? 'open' : 'ok') });
      t.start();
      // The first run ends at 250: the ticks at 110 and 210 fall while it runs.
      scheduler.schedule(() => runs[0]!.end(), 250);
      scheduler.schedule(() => t.stop(), 350);
      scheduler.flush();
      expect(runs.map((r) => r.at)).toEqual([10, 310]);
    });
  });

  it('after a failure waits a growing delay, then ticks at once and every interval from there; a success resets the delay', () => {
    virtualTime((scheduler) => {
      // Runs 1–3 fail, 4 succeeds, 5 fails, 6 succeeds.
      const { t, runs, retries } = ticker(scheduler, { outcome: (n) => ([1, 2, 3, 5].includes(n) ? 'fail' : 'ok') });
      t.start();
      scheduler.schedule(() => t.stop(), 300);
      scheduler.flush();
      // 10 (first tick), +10, +20, +25 (capped) = 65: the success; its grid is anchored there: 165 fails, 175 succeeds, then 275.
      expect(runs.map((r) => r.at)).toEqual([10, 20, 40, 65, 165, 175, 275]);
      expect(retries.map((r) => [r.attempt, r.delayMs])).toEqual([
        [1, 10],
        [2, 20],
        [3, 25],
        [1, 10],
      ]);
    });
  });

  it('a run that starts nothing (not the process to act) neither fails nor blocks the next tick', () => {
    virtualTime((scheduler) => {
      let calls = 0;
      const { t, runs, retries } = ticker(scheduler, { outcome: () => (++calls <= 2 ? 'skip' : 'ok') });
      t.start();
      scheduler.schedule(() => t.stop(), 250);
      scheduler.flush();
      expect(calls).toBe(3);
      expect(runs.map((r) => r.at)).toEqual([210]);
      expect(retries).toEqual([]);
    });
  });

  it('ticks on a wakeup at once and on acquired$ through the scheduler, and on neither while a run is in flight', () => {
    virtualTime((scheduler) => {
      const wakeups = new Subject<void>();
      const acquired$ = new Subject<void>();
      const { t, runs } = ticker(scheduler, { wakeups, acquired$, outcome: (n) => (n === 3 ? 'open' : 'ok') });
      t.start();
      scheduler.schedule(() => wakeups.next(), 30);
      scheduler.schedule(() => acquired$.next(), 50);
      scheduler.schedule(() => wakeups.next(), 60); // run 3 is open from 50 on
      scheduler.schedule(() => runs[2]!.end(), 70);
      scheduler.schedule(() => t.stop(), 150);
      scheduler.flush();
      expect(runs.map((r) => r.at)).toEqual([10, 30, 50, 110]);
    });
  });

  it('after stop, neither timers nor the end of a run in flight do anything', () => {
    virtualTime((scheduler) => {
      const wakeups = new Subject<void>();
      const { t, runs, retries } = ticker(scheduler, { wakeups, outcome: (n) => (n === 1 ? 'open' : 'ok') });
      t.start();
      scheduler.schedule(() => t.stop(), 50);
      scheduler.schedule(() => runs[0]!.end(new Error('late')), 60);
      scheduler.schedule(() => wakeups.next(), 70);
      scheduler.flush();
      expect(runs.map((r) => r.at)).toEqual([10]);
      expect(retries).toEqual([]);
      expect(wakeups.observed).toBe(false);
    });
  });
});
