import { describe, expect, it } from 'vitest';
import { DELAY_BUCKETS, DELAY_BUCKET_MS, DelayRing, RECENT_EVENTS, TenantActivity } from './tenant-activity.js';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
const MIN = 60_000;

describe('DelayRing', () => {
  it('keeps the last good sample of each 2-minute bucket, oldest first, ending at now', () => {
    const ring = new DelayRing();
    ring.add(T0, 40);
    ring.add(T0 + 1 * MIN, 30); // same bucket: the later one wins
    ring.add(T0 + 2 * MIN, 20);
    ring.add(T0 + 3 * MIN, null); // a failed sample leaves the bucket's good one
    const history = ring.history(T0 + 3 * MIN);
    expect(history).toHaveLength(DELAY_BUCKETS);
    expect(history.slice(-2)).toEqual([30, 20]);
    expect(history.slice(0, -2).every((v) => v === null)).toBe(true);
    expect(ring.latest).toEqual({ at: T0 + 3 * MIN, minutes: null });
  });

  it('shifts with time: buckets without a sample are null, older than 3 hours drop out', () => {
    const ring = new DelayRing();
    ring.add(T0, 7);
    expect(ring.history(T0 + 10 * MIN).slice(-6)).toEqual([7, null, null, null, null, null]);
    expect(ring.history(T0 + DELAY_BUCKETS * DELAY_BUCKET_MS).every((v) => v === null)).toBe(true);
    // A sample after a long gap clears the slots it skipped (they are a lap of the ring old).
    ring.add(T0 + 100 * DELAY_BUCKET_MS, 3);
    const later = ring.history(T0 + 100 * DELAY_BUCKET_MS);
    expect(later.at(-1)).toBe(3);
    expect(later.filter((v) => v !== null)).toEqual([3]);
  });

  it('ignores, for the history, a sample from before its newest bucket (the clock stepped back)', () => {
    const ring = new DelayRing();
    ring.add(T0 + 10 * MIN, 5);
    ring.add(T0, 50);
    expect(ring.history(T0 + 10 * MIN).filter((v) => v !== null)).toEqual([5]);
    expect(ring.latest?.minutes).toBe(50);
  });
});

describe('TenantActivity', () => {
  it('records per tenant the last discovery sync and failure, delay samples and the last retry', () => {
    const activity = new TenantActivity();
    activity.record({
      type: 'discovery.synced',
      tenant: 'A',
      at: T0,
      onboarded: 2,
      removed: 1,
      present: 9,
      ignoredFolders: 0,
      listCalls: 3,
      retries: 0,
      durationMs: 12,
    });
    activity.record({ type: 'discovery.failed', tenant: 'A', at: T0 + 1, error: 'bucket gone' });
    activity.record({ type: 'delay.sampled', tenant: 'A', at: T0 + 2, appLogsDelayMinutes: 4, newestPartition: null, listCalls: 1 });
    activity.record({ type: 'stream.retrying', tenant: 'B', at: T0 + 3, stream: 'spark', attempt: 2, delayMs: 400, error: 'boom' });
    const a = activity.view('A');
    expect(a.discovery.lastSync).toEqual({ at: T0, onboarded: 2, removed: 1, present: 9, durationMs: 12 });
    expect(a.discovery.lastFailure).toEqual({ at: T0 + 1, error: 'bucket gone' });
    expect(a.delay.latest).toEqual({ at: T0 + 2, minutes: 4 });
    expect(a.lastEventAt).toBe(T0 + 2);
    expect(activity.view('B').lastRetry).toEqual({ at: T0 + 3, stream: 'spark', attempt: 2, error: 'boom' });
    expect(activity.view('C').delay.latest).toBeUndefined();
  });

  it('keeps the last notable events of each tenant, oldest first, leaving out polls and delay samples, a repeated one once', () => {
    const activity = new TenantActivity();
    for (let i = 0; i < RECENT_EVENTS + 5; i++) {
      activity.record({ type: 'spark.polled', tenant: 'A', at: T0 + i, masterStatus: 'ALIVE', aliveDrivers: 1, action: 'none' });
      activity.record({ type: 'delay.sampled', tenant: 'A', at: T0 + i, appLogsDelayMinutes: 1, newestPartition: null, listCalls: 1 });
      activity.record({ type: 'spark.submitted', tenant: 'A', at: T0 + i, submissionId: `driver-${i}`, purpose: 'keep-alive', reason: 'none alive' });
    }
    activity.record({ type: 'spark.polled', tenant: 'A', at: T0 + 100, masterStatus: 'ALIVE', aliveDrivers: 0, action: 'submit' });
    activity.record({ type: 'spark.waiting', tenant: 'A', at: T0 + 101, reason: 'crash-looping' });
    activity.record({ type: 'spark.waiting', tenant: 'A', at: T0 + 102, reason: 'crash-looping' });
    const recent = activity.view('A').recent;
    expect(recent).toHaveLength(RECENT_EVENTS);
    expect(recent.at(-1)).toEqual({ type: 'spark.waiting', tenant: 'A', at: T0 + 102, reason: 'crash-looping' });
    expect(recent.slice(0, -1).map((e) => e.type === 'spark.submitted' && e.submissionId)).toEqual(
      Array.from({ length: RECENT_EVENTS - 1 }, (_, i) => `driver-${i + 6}`),
    );
  });
});
