import { describe, expect, it } from 'vitest';
import { DelaySampleMemory } from './delay-sample.js';

describe('DelaySampleMemory', () => {
  const clock = (start: number) => {
    const c = { now: start };
    return { c, now: () => c.now };
  };

  it('recalls nothing before the first sample', () => {
    const { now } = clock(1_000);
    expect(new DelaySampleMemory(now, 10_000).recall(60_000)).toBeUndefined();
  });

  it('recalls a sample younger than maxAgeMs, and nothing once it is that old', () => {
    const { c, now } = clock(1_000);
    const m = new DelaySampleMemory(now, 10_000);
    m.record(7, 1_000);
    expect(m.recall(60_000)).toEqual({ minutes: 7 });
    c.now = 60_999;
    expect(m.recall(60_000)).toEqual({ minutes: 7 });
    c.now = 61_000;
    expect(m.recall(60_000)).toBeUndefined();
    // maxAgeMs 0 (a tick) never takes the remembered sample.
    c.now = 1_000;
    expect(m.recall(0)).toBeUndefined();
  });

  it('recalls a failure (null) only within the failure memory', () => {
    const { c, now } = clock(0);
    const m = new DelaySampleMemory(now, 10_000);
    m.record(null, 0);
    c.now = 9_999;
    expect(m.recall(60_000)).toEqual({ minutes: null });
    c.now = 10_000;
    expect(m.recall(60_000)).toBeUndefined();
    // and never longer than the caller allows
    c.now = 5_000;
    expect(m.recall(2_000)).toBeUndefined();
  });

  it('does not trust a sample from the future (the clock went back)', () => {
    const { c, now } = clock(100_000);
    const m = new DelaySampleMemory(now, 10_000);
    m.record(3, 100_000);
    c.now = 99_000;
    expect(m.recall(60_000)).toBeUndefined();
  });
});
