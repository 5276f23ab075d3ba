import { describe, expect, it } from 'vitest';
import { sharedRecentRun } from '../../src/health/fresh-run.js';

/** A check whose runs the test settles by hand, on a clock the test moves. */
function manualCheck() {
  const clock = { now: 1_000 };
  const runs: { resolve(v: string): void; reject(e: unknown): void; startedAt: number }[] = [];
  const run = () =>
    new Promise<string>((resolve, reject) => {
      runs.push({ resolve, reject, startedAt: clock.now });
    });
  return { runs, run, clock, now: () => clock.now };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('sharedRecentRun with maxAgeMs 0: every caller gets a run that began after it called', () => {
  it('starts one run for a caller when none is in flight, and a new one for the next caller', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 0, now: c.now });
    const a = check();
    expect(c.runs).toHaveLength(1);
    c.runs[0]!.resolve('one');
    expect(await a).toBe('one');
    const b = check();
    expect(c.runs).toHaveLength(2);
    c.runs[1]!.resolve('two');
    expect(await b).toBe('two');
  });

  it('answers the callers that arrive during a run with the next run, shared, never with the one in flight', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 0, now: c.now });
    const first = check();
    const late = [check(), check(), check()];
    // One run in flight at a time: the next starts only when the first settles.
    expect(c.runs).toHaveLength(1);
    c.runs[0]!.resolve('before they asked');
    expect(await first).toBe('before they asked');
    await tick();
    expect(c.runs).toHaveLength(2);
    const later = check(); // arrives during the second run: waits for a third
    c.runs[1]!.resolve('after they asked');
    expect(await Promise.all(late)).toEqual(['after they asked', 'after they asked', 'after they asked']);
    await tick();
    expect(c.runs).toHaveLength(3);
    c.runs[2]!.resolve('third');
    expect(await later).toBe('third');
  });

  it('fails the callers of a failed run; the next caller gets a new run', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 0, now: c.now });
    const first = check();
    const queued = check();
    c.runs[0]!.reject(new Error('timeout'));
    await expect(first).rejects.toThrow('timeout');
    await tick();
    c.runs[1]!.reject(new Error('database down'));
    await expect(queued).rejects.toThrow('database down');
    const after = check();
    expect(c.runs).toHaveLength(3);
    c.runs[2]!.resolve('up again');
    expect(await after).toBe('up again');
  });

  it('turns a synchronous throw into a rejection and recovers', async () => {
    let calls = 0;
    const check = sharedRecentRun(
      () => {
        calls += 1;
        if (calls === 1) throw new Error('no pool');
        return Promise.resolve('ok');
      },
      { maxAgeMs: 0 },
    );
    await expect(check()).rejects.toThrow('no pool');
    expect(await check()).toBe('ok');
  });
});

describe('sharedRecentRun with a window: a run that started at most maxAgeMs before the call answers it', () => {
  it('answers from the latest run while it is young enough, then runs again', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 1_000, now: c.now });
    const first = check();
    c.clock.now += 400;
    const joined = check(); // in flight, started 400 ms ago: shared
    expect(c.runs).toHaveLength(1);
    c.runs[0]!.resolve('up');
    expect(await Promise.all([first, joined])).toEqual(['up', 'up']);
    c.clock.now = 2_000; // exactly 1 s after the run started
    expect(await check()).toBe('up');
    expect(c.runs).toHaveLength(1);
    c.clock.now = 2_001;
    const fresh = check();
    expect(c.runs).toHaveLength(2);
    c.runs[1]!.resolve('up later');
    expect(await fresh).toBe('up later');
  });

  it('remembers a failure as long as a success, and never longer', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 1_000, now: c.now });
    const first = check();
    c.runs[0]!.reject(new Error('database down'));
    await expect(first).rejects.toThrow('database down');
    c.clock.now += 999;
    await expect(check()).rejects.toThrow('database down');
    expect(c.runs).toHaveLength(1);
    c.clock.now += 2;
    const next = check();
    c.runs[1]!.resolve('up');
    expect(await next).toBe('up');
  });

  it('does not answer with a run in flight that is too old: the callers share the next one', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 1_000, now: c.now });
    const slow = check();
    c.clock.now += 1_500; // the run hangs past the window
    const waiting = [check(), check()];
    expect(c.runs).toHaveLength(1);
    c.runs[0]!.reject(new Error('no answer within 2000 ms'));
    await expect(slow).rejects.toThrow('no answer');
    await tick();
    expect(c.runs).toHaveLength(2);
    c.runs[1]!.resolve('up');
    expect(await Promise.all(waiting)).toEqual(['up', 'up']);
  });

  it('does not trust a run from the future (the clock went back)', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 1_000, now: c.now });
    const first = check();
    c.runs[0]!.resolve('up');
    await first;
    c.clock.now -= 10;
    const again = check();
    expect(c.runs).toHaveLength(2);
    c.runs[1]!.resolve('up again');
    expect(await again).toBe('up again');
  });

  it('refreshes in the background after refreshAfterMs, answering from the latest settled run meanwhile', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 1_000, refreshAfterMs: 500, now: c.now });
    const first = check();
    c.runs[0]!.resolve('up');
    expect(await first).toBe('up');
    c.clock.now += 500;
    expect(await check()).toBe('up');
    expect(c.runs).toHaveLength(1); // not older than refreshAfterMs yet
    c.clock.now += 1;
    expect(await check()).toBe('up'); // answered at once by the settled run …
    expect(c.runs).toHaveLength(2); // … which started the next one
    expect(await check()).toBe('up'); // one background run at a time
    expect(c.runs).toHaveLength(2);
    c.runs[1]!.reject(new Error('database down'));
    await tick();
    // The newer outcome answers from now on.
    await expect(check()).rejects.toThrow('database down');
  });

  it('waits for the background run once the settled one is too old', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 1_000, refreshAfterMs: 500, now: c.now });
    const first = check();
    c.runs[0]!.resolve('up');
    await first;
    c.clock.now += 600;
    await check(); // starts the refresh at 1,600, which hangs
    expect(c.runs).toHaveLength(2);
    c.clock.now += 500; // the settled run is 1,100 ms old; the one in flight 500 ms
    const waiting = check();
    let answered = false;
    void waiting.then(() => (answered = true));
    await tick();
    expect(answered).toBe(false);
    c.runs[1]!.resolve('up, slowly');
    expect(await waiting).toBe('up, slowly');
  });

  it('settled() gives the outcome a call would get at once, and undefined when a call would wait', async () => {
    const c = manualCheck();
    const check = sharedRecentRun(c.run, { maxAgeMs: 1_000, refreshAfterMs: 500, now: c.now });
    expect(check.settled()).toBeUndefined();
    const first = check();
    expect(check.settled()).toBeUndefined(); // in flight: a call would wait
    c.runs[0]!.resolve('up');
    await first;
    expect(check.settled()).toEqual({ ok: true, value: 'up' });
    c.clock.now += 600;
    expect(check.settled()).toEqual({ ok: true, value: 'up' });
    expect(c.runs).toHaveLength(2); // and it started the refresh
    c.runs[1]!.reject(new Error('database down'));
    await tick();
    expect(check.settled()).toEqual({ ok: false, error: new Error('database down') });
    c.clock.now += 1_001;
    expect(check.settled()).toBeUndefined();
  });
});

