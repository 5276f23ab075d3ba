import { describe, expect, it } from 'vitest';
import { delayMinutes, hourFoldersToWalk, newestMinute, sampleDelay } from './delay-decision.js';

const at = (iso: string) => Date.parse(iso);

/** A listing function over an in-memory set of minute partitions (full UTC instants). */
function listingOf(partitions: string[]) {
  const calls: string[] = [];
  const list = async (hourPath: string) => {
    calls.push(hourPath);
    return partitions
      .map((iso) => new Date(iso))
      .filter((d) => hourPath === hourFoldersToWalk(d.getTime(), 1)[0]!.path)
      .map((d) => `logs/env=prod/service_name=s/component_name=c/${hourPath}minute=${String(d.getUTCMinutes()).padStart(2, '0')}/`);
  };
  return { list, calls };
}

describe('delay computation', () => {
  it('latest minute 7 minutes ago → 7', async () => {
    const { list } = listingOf(['2026-11-27T10:13:00Z', '2026-11-27T10:05:00Z']);
    expect((await sampleDelay(at('2026-11-27T10:20:30Z'), list)).minutes).toBe(7);
  });

  it('23:55 yesterday at 00:05 → 10, across midnight', async () => {
    const { list, calls } = listingOf(['2026-11-26T23:55:00Z']);
    expect((await sampleDelay(at('2026-11-27T00:05:00Z'), list)).minutes).toBe(10);
    expect(calls).toEqual(['year=2026/month=11/day=27/hour=00/', 'year=2026/month=11/day=26/hour=23/']);
  });

  it('23:58 on 31 December at 00:03 on 1 January → 5, across the year end', async () => {
    const { list, calls } = listingOf(['2026-12-31T23:58:00Z']);
    expect((await sampleDelay(at('2027-01-01T00:03:00Z'), list)).minutes).toBe(5);
    expect(calls[1]).toBe('year=2026/month=12/day=31/hour=23/');
  });

  it('walks month ends with full dates', () => {
    expect(hourFoldersToWalk(at('2026-03-01T01:10:00Z')).map((h) => h.path)).toEqual([
      'year=2026/month=03/day=01/hour=01/',
      'year=2026/month=03/day=01/hour=00/',
      'year=2026/month=02/day=28/hour=23/',
      'year=2026/month=02/day=28/hour=22/',
    ]);
  });

  it('a partition from the future (clock skew) → 1', async () => {
    const { list } = listingOf(['2026-11-27T10:25:00Z']);
    expect((await sampleDelay(at('2026-11-27T10:20:00Z'), list)).minutes).toBe(1);
    expect(delayMinutes(at('2026-11-27T10:20:00Z'), at('2026-11-27T10:20:59Z'))).toBe(1);
  });

  it('nothing in the window → 180, after looking in four hour folders', async () => {
    const { list, calls } = listingOf(['2026-11-27T05:00:00Z']);
    const result = await sampleDelay(at('2026-11-27T10:20:00Z'), list);
    expect(result).toEqual({ minutes: 180, newest: null, listings: 4 });
    expect(calls).toHaveLength(4);
  });

  it('takes the newest minute of the newest hour that has any, not the largest minute number', async () => {
    // 10:02 is newer than 09:59, though 59 > 2: the walk stops at hour 10.
    const { list, calls } = listingOf(['2026-11-27T09:59:00Z', '2026-11-27T10:02:00Z']);
    expect((await sampleDelay(at('2026-11-27T10:12:00Z'), list)).minutes).toBe(10);
    expect(calls).toHaveLength(1);
  });

  it('finds an older hour when the current one is still empty', async () => {
    const { list } = listingOf(['2026-11-27T08:30:00Z']);
    expect((await sampleDelay(at('2026-11-27T10:00:30Z'), list)).minutes).toBe(90);
  });

  it('ignores folders that are not minute partitions', () => {
    const hour = hourFoldersToWalk(at('2026-11-27T10:00:00Z'), 1)[0]!;
    expect(newestMinute(hour, [`x/${hour.path}minute=07/`, `x/${hour.path}_temporary/`, `x/${hour.path}minute=75/`, `x/${hour.path}minute=ab/`])).toBe(
      at('2026-11-27T10:07:00Z'),
    );
  });
});
