/**
 * `isQuietPoll`: when a poll may be recorded without running, from the tenant's state, the last
 * settled run and what the poll would read. Every condition is checked by the case that breaks it.
 */
import { describe, expect, it } from 'vitest';
import type { ReplayRow } from '../../src/db/spark-submit-status.js';
import { frozenMaster, MAIN_CLASS, runningDriver } from '../../test/support/master-states.js';
import { recordDeath } from './crash-loop.js';
import { isQuietPoll, type QuietReading, type SettledRun } from './quiet-poll.js';
import { initialSparkState, type SparkState, type SparkTenantFacts } from './state.js';

const MIN = 60_000;
const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
const TENANT: SparkTenantFacts = { tenant: 'ABC', mainClass: MAIN_CLASS, otherTenantMainClasses: [], soleWriter: false, submitGraceMs: MIN };

const driver = (id: string) => runningDriver(id, { startTime: NOW - 10 * MIN });

const replayRow = (patch: Partial<ReplayRow> = {}): ReplayRow => ({
  id: 7,
  tenant: 'ABC',
  startingOffsetsTimestamp: NOW - 60 * MIN,
  resumeToSubscribePatternTimestamp: NOW - 30 * MIN,
  isSubmittedForOffsetsTimestamp: true,
  isResumedToSubscribePattern: true,
  createdAt: new Date(NOW - 60 * MIN),
  ...patch,
});

const M = frozenMaster([driver('d1')]);

/** The state after a run that saw its own driver d1 alive, submitted 10 minutes ago, and decided `none`. */
function settledState(patch: Partial<SparkState> = {}): SparkState {
  const base = initialSparkState();
  return {
    ...base,
    term: 1,
    crash: { ...base.crash, aliveSince: NOW - 10 * MIN },
    prevAliveIds: ['d1'],
    prevActiveIds: new Set(['d1']),
    ownIds: new Set(['d1']),
    ownedRead: true,
    lastSubmission: { submissionId: 'd1', at: NOW - 10 * MIN, reason: 'keep-alive', startingOffsetsTimestamp: null },
    master: M,
    masterReachable: true,
    ...patch,
  };
}

const SETTLED: SettledRun = { master: M, term: 1, aliveDrivers: 1, reason: 'driver d1 running' };
const NO_OTHERS = { byOwner: new Map([['ABC', ['d1']]]), unknown: [] };
const reading = (patch: Partial<QuietReading> = {}): QuietReading => ({ now: NOW, master: M, replay: null, term: 1, owners: () => NO_OTHERS, ...patch });

describe('isQuietPoll', () => {
  it('is quiet when the poll reads the settled run’s master state and replay row, in the same term, with nothing to settle', () => {
    expect(isQuietPoll(settledState(), SETTLED, reading(), TENANT)).toBe(true);
    const done = replayRow();
    expect(isQuietPoll(settledState({ replay: done }), SETTLED, reading({ replay: { ...done } }), TENANT)).toBe(true);
  });

  it('runs without a settled run (the last run decided something else, failed, or none ran yet)', () => {
    expect(isQuietPoll(settledState(), null, reading(), TENANT)).toBe(false);
  });

  it('runs when the master state is another one, even with the same content (an unchanged master hands out the same object)', () => {
    expect(isQuietPoll(settledState(), SETTLED, reading({ master: frozenMaster([driver('d1')]) }), TENANT)).toBe(false);
  });

  it('runs in another acting term', () => {
    expect(isQuietPoll(settledState(), SETTLED, reading({ term: 2 }), TENANT)).toBe(false);
    expect(isQuietPoll(settledState(), SETTLED, reading({ term: null }), TENANT)).toBe(false);
  });

  it('runs when the replay row changed: a new row, or a flag set elsewhere', () => {
    expect(isQuietPoll(settledState(), SETTLED, reading({ replay: replayRow() }), TENANT)).toBe(false);
    const started = replayRow({ isResumedToSubscribePattern: false, resumeToSubscribePatternTimestamp: NOW + MIN });
    expect(isQuietPoll(settledState({ replay: started }), SETTLED, reading({ replay: replayRow() }), TENANT)).toBe(false);
  });

  it('runs while a replay is pending, even when the row is unchanged (its step falls due with time)', () => {
    const pending = replayRow({ isResumedToSubscribePattern: false, resumeToSubscribePatternTimestamp: NOW + MIN });
    expect(isQuietPoll(settledState({ replay: pending }), SETTLED, reading({ replay: { ...pending } }), TENANT)).toBe(false);
  });

  it('runs while something is owed or being matched: an unknown create, an unwritten record or flag, a relaunch', () => {
    const ambiguous = {
      at: NOW - 2 * MIN,
      before: new Set<string>(),
      beforeActive: new Set<string>(),
      size: { cores: 1, memoryMb: 1024 },
      purpose: 'keep-alive' as const,
      markReplay: null,
      startingOffsetsTimestamp: null,
      masterUrl: 'spark://m:7077',
    };
    expect(isQuietPoll(settledState({ ambiguous }), SETTLED, reading(), TENANT)).toBe(false);
    const record = {
      tenant: 'ABC',
      submissionId: 'd1',
      masterUrl: 'spark://m:7077',
      reason: 'adopted',
      startingOffsetsTimestamp: null,
      submittedAt: new Date(NOW),
    };
    expect(isQuietPoll(settledState({ unrecorded: [record] }), SETTLED, reading(), TENANT)).toBe(false);
    const mark = { replayId: 7, flag: 'isResumedToSubscribePattern' as const, startingOffsetsTimestamp: null };
    expect(isQuietPoll(settledState({ pendingMarks: [mark] }), SETTLED, reading(), TENANT)).toBe(false);
    expect(isQuietPoll(settledState({ relaunches: new Map([['d0', new Set(['d1'])]]) }), SETTLED, reading(), TENANT)).toBe(false);
  });

  it('runs after an error, and before the records were read in this term', () => {
    expect(isQuietPoll(settledState({ lastError: { at: NOW - 1000, message: 'boom' } }), SETTLED, reading(), TENANT)).toBe(false);
    expect(isQuietPoll(settledState({ ownedRead: false }), SETTLED, reading(), TENANT)).toBe(false);
  });

  it('runs while a clock of the tenant runs: the grace period of its last create, the crash-loop calm-down', () => {
    const recent = { submissionId: 'd1', at: NOW - MIN / 2, reason: 'keep-alive', startingOffsetsTimestamp: null };
    expect(isQuietPoll(settledState({ lastSubmission: recent }), SETTLED, reading(), TENANT)).toBe(false);
    // A death 5 minutes ago, alive since: the crash-loop state forgets it once the driver has been stable long enough.
    const base = settledState();
    const died = { ...recordDeath(base.crash, NOW - 5 * MIN), aliveSince: NOW - 5 * MIN };
    expect(isQuietPoll({ ...base, crash: died }, SETTLED, reading(), TENANT)).toBe(false);
    const looping = { ...base.crash, looping: true };
    expect(isQuietPoll({ ...base, crash: looping }, SETTLED, reading(), TENANT)).toBe(false);
  });

  it('with other drivers of the main class (tenants sharing it), is quiet only while their recorded owners are known to be others', () => {
    const two = frozenMaster([driver('d1'), driver('d2')]);
    const quiet = (owners: ReturnType<QuietReading['owners']>, patch: Partial<SparkState> = {}) =>
      isQuietPoll(settledState({ master: two, ...patch }), { ...SETTLED, master: two }, reading({ master: two, owners: () => owners }), TENANT);
    const ownersKnown = {
      byOwner: new Map([
        ['ABC', ['d1']],
        ['XYZ', ['d2']],
      ]),
      unknown: [],
    };
    expect(quiet(ownersKnown)).toBe(true);
    // Nobody known to have recorded d2: a late record may land, the run asks.
    expect(quiet({ byOwner: new Map([['ABC', ['d1']]]), unknown: ['d2'] })).toBe(false);
    // d2 is recorded as this tenant's but not among its ids: the run reads its records.
    expect(quiet({ byOwner: new Map([['ABC', ['d1', 'd2']]]), unknown: [] })).toBe(false);
    // Two of its own alive: the run reads the records (and kills the duplicate).
    expect(quiet(ownersKnown, { ownIds: new Set(['d1', 'd2']) })).toBe(false);
  });
});
