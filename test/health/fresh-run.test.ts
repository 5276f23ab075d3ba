import { describe, expect, it } from 'vitest';
import { freshSharedRun } from '../../src/health/fresh-run.js';

/** A check whose runs the test settles by hand. */
function manualCheck() {
  const runs: { resolve(v: string): void; reject(e: unknown): void }[] = [];
  const run = () =>
    new Promise<string>((resolve, reject) => {
      runs.push({ resolve, reject });
    });
  return { runs, run };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('freshSharedRun', () => {
  it('starts one run for a caller when none is in flight', async () => {
    const c = manualCheck();
    const check = freshSharedRun(c.run);
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
    const check = freshSharedRun(c.run);
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

  it('fails the callers of a failed run, and the next caller gets a new run', async () => {
    const c = manualCheck();
    const check = freshSharedRun(c.run);
    const first = check();
    const waiting = check();
    c.runs[0]!.resolve('up');
    await first;
    await tick();
    c.runs[1]!.reject(new Error('database down'));
    await expect(waiting).rejects.toThrow('database down');
    const after = check();
    expect(c.runs).toHaveLength(3);
    c.runs[2]!.resolve('up again');
    expect(await after).toBe('up again');
  });

  it('a queued caller still gets a run when the run in flight failed', async () => {
    const c = manualCheck();
    const check = freshSharedRun(c.run);
    const first = check();
    const queued = check();
    c.runs[0]!.reject(new Error('timeout'));
    await expect(first).rejects.toThrow('timeout');
    await tick();
    c.runs[1]!.resolve('up');
    expect(await queued).toBe('up');
  });

  it('turns a synchronous throw into a rejection and recovers', async () => {
    let calls = 0;
    const check = freshSharedRun(() => {
      calls += 1;
      if (calls === 1) throw new Error('no pool');
      return Promise.resolve('ok');
    });
    await expect(check()).rejects.toThrow('no pool');
    expect(await check()).toBe('ok');
  });
});
