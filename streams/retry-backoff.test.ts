import { defer, of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { backoffDelay, retryWithBackoff, type RetryInfo } from './retry-backoff.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

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

describe('retryWithBackoff', () => {
  it('resubscribes after growing delays and resets the count after a success', () => {
    const retries: RetryInfo[] = [];
    newScheduler().run(({ expectObservable }) => {
      let subscriptions = 0;
      // Fails on the 1st, 2nd, 3rd and 5th subscription; succeeds on the 4th and 6th.
      const source = defer(() => {
        subscriptions += 1;
        return [1, 2, 3, 5].includes(subscriptions) ? throwError(() => new Error(`boom ${subscriptions}`)) : of(subscriptions);
      });
      const result = source.pipe(retryWithBackoff({ minMs: 10, maxMs: 25, jitter: 0, onRetry: (info) => retries.push(info) }));
      // 10 + 20 + 25 (capped) = 55 ms to the first success.
      expectObservable(result).toBe('55ms (a|)', { a: 4 });
    });
    expect(retries.map((r) => [r.attempt, r.delayMs])).toEqual([
      [1, 10],
      [2, 20],
      [3, 25],
    ]);
  });

  it('starts again from the minimum delay once the source has emitted', () => {
    const delays: number[] = [];
    newScheduler().run(({ cold, expectObservable }) => {
      let subscriptions = 0;
      // Each subscription emits once, then fails: a source that recovers between failures.
      const source = defer(() => {
        subscriptions += 1;
        return subscriptions > 3 ? of('done') : cold('a#', { a: subscriptions });
      });
      const result = source.pipe(retryWithBackoff({ minMs: 10, maxMs: 1000, jitter: 0, onRetry: (i) => delays.push(i.delayMs) }));
      expectObservable(result).toBe('a 10ms b 10ms c 10ms (d|)', { a: 1, b: 2, c: 3, d: 'done' });
    });
    expect(delays).toEqual([10, 10, 10]);
  });
});
