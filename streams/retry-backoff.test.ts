import { describe, expect, it } from 'vitest';
import { backoffDelay } from './retry-backoff.js';

describe('backoffDelay', () => {
  it('doubles from the minimum and stops at the maximum', () => {
    const opts = { minMs: 100, maxMs: 1000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, opts))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('keeps jittered delays between (1 - jitter) and 1 times the exponential delay', () => {
    const low = backoffDelay(3, { minMs: 100, maxMs: 10_000, jitter: 0.5, random: () => 0 });
    const high = backoffDelay(3, { minMs: 100, maxMs: 10_000, jitter: 0.5, random: () => 0.999999 });
    expect(low).toBe(200);
    expect(high).toBe(400);
  });
});
