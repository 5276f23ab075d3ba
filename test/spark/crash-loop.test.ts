import { describe, expect, it } from 'vitest';
import {
  createCrashLoopState,
  currentBackoffMs,
  DEFAULT_CRASH_LOOP_PARAMS,
  deathsInWindow,
  detectDeaths,
  isCrashLooping,
  nextSubmitAllowedAt,
  recordAlive,
  recordDeath,
  type CrashLoopState,
} from '../../streams/spark/crash-loop.js';
import type { MasterState, SparkDriver } from '../../src/spark/types.js';

const SEC = 1000;
const MIN = 60 * SEC;
const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);

function deathsAt(state: CrashLoopState, times: number[]): CrashLoopState {
  return times.reduce((s, t) => recordDeath(s, t), state);
}

describe('crash-loop backoff', () => {
  it('has the SPEC defaults: 5 deaths in 10 minutes, backoff up to 10 minutes, stable after 5 minutes', () => {
    expect(DEFAULT_CRASH_LOOP_PARAMS).toEqual({ threshold: 5, windowMs: 10 * MIN, baseBackoffMs: 30 * SEC, maxBackoffMs: 10 * MIN, stableMs: 5 * MIN });
    const s = createCrashLoopState();
    expect(isCrashLooping(s)).toBe(false);
    expect(nextSubmitAllowedAt(s)).toBeNull();
    expect(currentBackoffMs(s)).toBe(0);
  });

  it('four deaths in ten minutes are not a crash loop', () => {
    const s = deathsAt(createCrashLoopState(), [T0, T0 + 1 * MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
    expect(isCrashLooping(s)).toBe(false);
    expect(nextSubmitAllowedAt(s)).toBeNull();
    expect(deathsInWindow(s, T0 + 3 * MIN)).toBe(4);
  });

  it('five deaths in ten minutes start the loop; the backoff then doubles per death, capped at 10 minutes', () => {
    let s = deathsAt(createCrashLoopState(), [T0, T0 + 2 * MIN, T0 + 4 * MIN, T0 + 6 * MIN]);
    let t = T0 + 8 * MIN;
    s = recordDeath(s, t);
    expect(isCrashLooping(s)).toBe(true);
    expect(currentBackoffMs(s)).toBe(30 * SEC);
    expect(nextSubmitAllowedAt(s)).toBe(t + 30 * SEC);

    const expected = [1 * MIN, 2 * MIN, 4 * MIN, 8 * MIN, 10 * MIN, 10 * MIN, 10 * MIN];
    for (const backoff of expected) {
      t += (nextSubmitAllowedAt(s) ?? t) - t + 20 * SEC; // resubmitted when allowed; dies 20 s later
      s = recordDeath(s, t);
      expect(isCrashLooping(s)).toBe(true);
      expect(currentBackoffMs(s)).toBe(backoff);
      expect(nextSubmitAllowedAt(s)).toBe(t + backoff);
    }
  });

  it('stays looping while deaths are spaced wider than the window (no oscillation)', () => {
    let s = deathsAt(
      createCrashLoopState(),
      [0, 1, 2, 3, 4].map((i) => T0 + i * MIN),
    );
    s = recordDeath(s, T0 + 30 * MIN);
    expect(deathsInWindow(s, T0 + 30 * MIN)).toBe(1);
    expect(isCrashLooping(s)).toBe(true);
    expect(currentBackoffMs(s)).toBe(1 * MIN);
  });

  it('deaths outside the window do not count', () => {
    // 0, 3, 6, 9 min, then 11 min: the first is 11 minutes old, so only four are in the window.
    const s = deathsAt(
      createCrashLoopState(),
      [0, 3, 6, 9, 11].map((m) => T0 + m * MIN),
    );
    expect(isCrashLooping(s)).toBe(false);
    expect(s.deaths).toHaveLength(4);
    // A death exactly one window old is out as well.
    const edge = deathsAt(
      createCrashLoopState(),
      [0, 2, 4, 6, 10].map((m) => T0 + m * MIN),
    );
    expect(isCrashLooping(edge)).toBe(false);
    // Inside the window (just under ten minutes): a loop.
    const inside = deathsAt(createCrashLoopState(), [T0, T0 + 2 * MIN, T0 + 4 * MIN, T0 + 6 * MIN, T0 + 10 * MIN - 1]);
    expect(isCrashLooping(inside)).toBe(true);
  });

  it('resets after the driver stays alive for the stable period', () => {
    let s = deathsAt(
      createCrashLoopState(),
      [0, 1, 2, 3, 4].map((i) => T0 + i * MIN),
    );
    expect(isCrashLooping(s)).toBe(true);
    const up = T0 + 6 * MIN;
    s = recordAlive(s, up);
    s = recordAlive(s, up + 4 * MIN);
    s = recordAlive(s, up + 5 * MIN - 1);
    expect(isCrashLooping(s)).toBe(true);
    s = recordAlive(s, up + 5 * MIN);
    expect(isCrashLooping(s)).toBe(false);
    expect(s.deaths).toEqual([]);
    expect(nextSubmitAllowedAt(s)).toBeNull();
    // A single death afterwards starts counting from zero again.
    s = recordDeath(s, up + 6 * MIN);
    expect(isCrashLooping(s)).toBe(false);
    expect(s.deaths).toEqual([up + 6 * MIN]);
  });

  it('a death restarts the stable period', () => {
    let s = deathsAt(
      createCrashLoopState(),
      [0, 1, 2, 3, 4].map((i) => T0 + i * MIN),
    );
    s = recordAlive(s, T0 + 5 * MIN);
    s = recordDeath(s, T0 + 8 * MIN);
    s = recordAlive(s, T0 + 9 * MIN);
    s = recordAlive(s, T0 + 13 * MIN);
    expect(isCrashLooping(s)).toBe(true);
    s = recordAlive(s, T0 + 14 * MIN);
    expect(isCrashLooping(s)).toBe(false);
  });

  it('clears the death count after a stable period even without a loop', () => {
    let s = deathsAt(createCrashLoopState(), [T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
    s = recordAlive(s, T0 + 4 * MIN);
    s = recordAlive(s, T0 + 9 * MIN);
    expect(s.deaths).toEqual([]);
    s = recordDeath(s, T0 + 9 * MIN + 1);
    expect(isCrashLooping(s)).toBe(false);
  });

  it('parameters can be overridden', () => {
    let s = createCrashLoopState({ threshold: 2, windowMs: MIN, baseBackoffMs: SEC, maxBackoffMs: 4 * SEC, stableMs: 10 * SEC });
    s = deathsAt(s, [T0, T0 + 30 * SEC]);
    expect(isCrashLooping(s)).toBe(true);
    expect(currentBackoffMs(s)).toBe(SEC);
    s = deathsAt(s, [T0 + 40 * SEC, T0 + 50 * SEC, T0 + 60 * SEC]);
    expect(currentBackoffMs(s)).toBe(4 * SEC);
    s = recordAlive(recordAlive(s, T0 + 70 * SEC), T0 + 80 * SEC);
    expect(isCrashLooping(s)).toBe(false);
    expect(createCrashLoopState({ threshold: undefined }).params.threshold).toBe(5);
  });

  it('rejects nonsensical parameters', () => {
    expect(() => createCrashLoopState({ threshold: 0 })).toThrow(RangeError);
    expect(() => createCrashLoopState({ windowMs: -1 })).toThrow(RangeError);
    expect(() => createCrashLoopState({ baseBackoffMs: 20 * MIN })).toThrow(/maxBackoffMs/);
  });

  it('never mutates the state it is given', () => {
    const s0 = createCrashLoopState();
    const s1 = recordDeath(s0, T0);
    expect(s0.deaths).toEqual([]);
    expect(s1).not.toBe(s0);
    const s2 = recordAlive(s1, T0 + MIN);
    expect(s1.aliveSince).toBeNull();
    expect(s2.aliveSince).toBe(T0 + MIN);
    expect(recordAlive(s2, T0 + 2 * MIN)).toBe(s2);
  });
});

function driver(id: string, state: string): SparkDriver {
  return { id, state, startTime: T0, worker: null, mainClass: 'com.logwise.spark.MainApplication', cores: 1, memoryMb: 1024, submitDate: '' };
}

function master(active: SparkDriver[], completed: SparkDriver[] = []): MasterState {
  return {
    webUiUrl: 'http://m:8080',
    url: 'spark://m:7077',
    status: 'ALIVE',
    aliveWorkers: 1,
    cores: 4,
    coresUsed: 1,
    memoryMb: 4096,
    memoryUsedMb: 1024,
    activeDrivers: active,
    completedDrivers: completed,
  };
}

describe('detectDeaths', () => {
  const A = 'driver-20240101120000-0000';
  const B = 'driver-20240101120100-0001';

  it('a driver seen alive before and gone now is a death', () => {
    const obs = { master: master([driver(A, 'RUNNING')], [driver(B, 'FAILED')]) };
    expect(detectDeaths([A, B], obs, [])).toEqual([B]);
  });

  it('a driver we killed ourselves is not a death', () => {
    const obs = { master: master([], [driver(A, 'KILLED')]) };
    expect(detectDeaths([A], obs, new Set([A]))).toEqual([]);
    expect(detectDeaths([A], obs)).toEqual([A]);
  });

  it('still alive (RUNNING or SUBMITTED) is no death', () => {
    const obs = { master: master([driver(A, 'SUBMITTED'), driver(B, 'RUNNING')]) };
    expect(detectDeaths([A, B], obs, [])).toEqual([]);
  });

  it('an unreachable master reveals nothing', () => {
    expect(detectDeaths([A, B], { master: null }, [])).toEqual([]);
  });

  it('a RELAUNCHING record (worker lost, replaced by the master) is not a crash', () => {
    const obs = { master: master([driver(B, 'SUBMITTED')], [driver(A, 'RELAUNCHING')]) };
    expect(detectDeaths([A], obs, [])).toEqual([]);
  });

  it('a driver that vanished from both lists counts; duplicates in the input count once', () => {
    expect(detectDeaths([A, A], { master: master([]) }, [])).toEqual([A]);
  });

  it('a killed-then-finished driver with exit 0 (FINISHED) that we killed is not a death', () => {
    expect(detectDeaths([A], { master: master([], [driver(A, 'FINISHED')]) }, [A])).toEqual([]);
  });
});
