import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackgroundCheck, CheckOverdueError } from '../../src/health/fresh-run.js';

/** A check whose runs the test settles by hand; time is vitest's fake clock. */
function manualCheck() {
  const runs: { resolve(v: string): void; reject(e: unknown): void; startedAt: number }[] = [];
  const run = () =>
    new Promise<string>((resolve, reject) => {
      runs.push({ resolve, reject, startedAt: Date.now() });
    });
  return { runs, run };
}

const INTERVAL = 500;
const BUDGET = 2_000;

describe('BackgroundCheck: a check run in the background, read without waiting', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs at start and then every interval, whatever the number of readers', async () => {
    const c = manualCheck();
    const check = new BackgroundCheck(c.run, { intervalMs: INTERVAL, budgetMs: BUDGET });
    check.start();
    expect(c.runs).toHaveLength(1);
    expect(check.current()).toBeUndefined(); // no verdict before the first run settles
    c.runs[0]!.resolve('up');
    await vi.advanceTimersByTimeAsync(1);
    for (let i = 0; i < 1_000; i++) expect(check.current()).toEqual({ ok: true, value: 'up' });
    expect(c.runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(c.runs).toHaveLength(2);
    expect(c.runs[1]!.startedAt - c.runs[0]!.startedAt).toBe(INTERVAL);
    c.runs[1]!.reject(new Error('refused'));
    await vi.advanceTimersByTimeAsync(1);
    expect(check.current()).toEqual({ ok: false, error: new Error('refused') });
    check.stop();
  });

  it('answers from the latest settled run while the one in flight is within its budget, and fails once it is over', async () => {
    const c = manualCheck();
    const check = new BackgroundCheck(c.run, { intervalMs: INTERVAL, budgetMs: BUDGET });
    check.start();
    c.runs[0]!.resolve('up');
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(c.runs).toHaveLength(2); // in flight, never answered (a hung database)
    await vi.advanceTimersByTimeAsync(BUDGET);
    expect(check.current()).toEqual({ ok: true, value: 'up' }); // exactly at the budget: still the last answer
    await vi.advanceTimersByTimeAsync(1);
    const verdict = check.current();
    expect(verdict?.ok).toBe(false);
    expect((verdict as { error: unknown }).error).toBeInstanceOf(CheckOverdueError);
    expect((verdict as { error: CheckOverdueError }).error.runningMs).toBe(BUDGET + 1);
    // At most one run in flight: the hung one holds the next back.
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(c.runs).toHaveLength(2);
    // It answers at last: the verdict is its outcome, and the next run starts at once (it is overdue).
    c.runs[1]!.resolve('up again');
    await vi.advanceTimersByTimeAsync(0);
    expect(check.current()).toEqual({ ok: true, value: 'up again' });
    expect(c.runs).toHaveLength(3);
    check.stop();
  });

  it('verdict() waits for the first run, at most for its budget', async () => {
    const c = manualCheck();
    const check = new BackgroundCheck(c.run, { intervalMs: INTERVAL, budgetMs: BUDGET });
    check.start();
    const first = check.verdict();
    await vi.advanceTimersByTimeAsync(10);
    c.runs[0]!.resolve('up');
    expect(await first).toEqual({ ok: true, value: 'up' });
    expect(await check.verdict()).toEqual({ ok: true, value: 'up' });
    check.stop();

    const hung = manualCheck();
    const never = new BackgroundCheck(hung.run, { intervalMs: INTERVAL, budgetMs: BUDGET });
    never.start();
    let answered: unknown;
    void never.verdict().then((v) => (answered = v));
    await vi.advanceTimersByTimeAsync(BUDGET - 10);
    expect(answered).toBeUndefined();
    await vi.advanceTimersByTimeAsync(20);
    expect((answered as { ok: boolean; error: unknown }).ok).toBe(false);
    expect((answered as { error: unknown }).error).toBeInstanceOf(CheckOverdueError);
    never.stop();
  });

  it('turns a synchronous throw into a failed run; not started, a verdict runs it once', async () => {
    let calls = 0;
    const check = new BackgroundCheck(
      () => {
        calls += 1;
        if (calls === 1) throw new Error('no pool');
        return Promise.resolve('ok');
      },
      { intervalMs: INTERVAL, budgetMs: BUDGET },
    );
    expect(await check.verdict()).toEqual({ ok: false, error: new Error('no pool') });
    expect(await check.verdict()).toEqual({ ok: false, error: new Error('no pool') }); // a verdict, not a new run
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(calls).toBe(1); // not started: no background runs
    check.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(2);
    expect(check.current()).toEqual({ ok: true, value: 'ok' });
    check.stop();
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(calls).toBe(2);
  });

  it('a success observed elsewhere stands for a run: no run while they come, a run an interval after the last, a hung run still fails', async () => {
    const c = manualCheck();
    const check = new BackgroundCheck(c.run, { intervalMs: INTERVAL, budgetMs: BUDGET });
    check.start();
    c.runs[0]!.reject(new Error('refused'));
    await vi.advanceTimersByTimeAsync(INTERVAL / 2);
    expect(check.current()).toEqual({ ok: false, error: new Error('refused') });
    // The database answers the daemon's statements every 100 ms: the verdict is up, and no run is made.
    for (let i = 0; i < 30; i++) {
      check.observe('answered');
      expect(check.current()).toEqual({ ok: true, value: 'answered' });
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(c.runs).toHaveLength(1);
    // Quiet since the last one: the next run starts an interval after it, not before.
    await vi.advanceTimersByTimeAsync(INTERVAL - 100 - 1);
    expect(c.runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(c.runs).toHaveLength(2);
    // That run hangs: over its budget the verdict fails, even though successes were seen before it.
    await vi.advanceTimersByTimeAsync(BUDGET + 1);
    expect((check.current() as { error: unknown }).error).toBeInstanceOf(CheckOverdueError);
    check.stop();
  });
});
