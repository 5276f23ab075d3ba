/**
 * `observe`, the pure half of a Spark run, without a master or a database: previous state and
 * what a run read in, new state and facts out.
 */
import { describe, expect, it } from 'vitest';
import type { ReplayRow, ReplayStepAttempt } from '../../src/db/spark-submit-status.js';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { MasterState, SparkDriver } from '../../src/spark/types.js';
import type { SparkFact } from './facts.js';
import { observe } from './observe.js';
import type { SparkReading } from './read-plan.js';
import { ownDriverGone, ownedReadNeeded, ownersToAsk, stepToLookUp } from './read-plan.js';
import { initialSparkState, inTerm, type SparkState, type SparkTenantFacts } from './state.js';

const MIN = 60_000;
const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
const MAIN = 'com.logwise.spark.MainApplication';
const TENANT: SparkTenantFacts = { tenant: 'ABC', mainClass: MAIN, otherTenantMainClasses: [], soleWriter: false, submitGraceMs: MIN };

function driver(id: string, state: string, opts: { mainClass?: string; memoryMb?: number; startTime?: number } = {}): SparkDriver {
  return {
    id,
    state,
    startTime: opts.startTime ?? NOW - MIN,
    worker: 'worker-1',
    mainClass: opts.mainClass ?? MAIN,
    cores: 1,
    memoryMb: opts.memoryMb ?? 1024,
    submitDate: '',
  };
}

function master(active: SparkDriver[], completed: SparkDriver[] = []): MasterState {
  return {
    webUiUrl: 'http://m:8080',
    url: 'spark://m:7077',
    status: 'ALIVE',
    aliveWorkers: 1,
    cores: 4,
    coresUsed: 1,
    memoryMb: 8192,
    memoryUsedMb: 1024,
    activeDrivers: active,
    completedDrivers: completed,
  };
}

function reading(m: MasterState, patch: Partial<SparkReading> = {}): SparkReading {
  return { now: NOW, master: m, owned: [], replay: null, stepAttempt: undefined, owners: new Map(), ...patch };
}

function record(id: string, reason = 'keep-alive', at = NOW - 5 * MIN, tenant = 'ABC'): SubmissionRecord {
  return { tenant, submissionId: id, masterUrl: 'spark://m:7077', reason, startingOffsetsTimestamp: null, submittedAt: new Date(at) };
}

const events = (facts: SparkFact[]) => facts.flatMap((f) => (f.kind === 'event' ? [f.event] : []));
const records = (facts: SparkFact[]) => facts.flatMap((f) => (f.kind === 'record' ? [f] : []));

/** A state whose previous read saw `alive` alive. */
function seen(alive: string[], patch: Partial<SparkState> = {}): SparkState {
  return { ...initialSparkState(), prevAliveIds: alive, prevActiveIds: new Set(alive), ...patch };
}

describe('observe', () => {
  it('takes the last recorded submission that is not an adoption, and the ids the tenant owns', () => {
    const o = observe(
      initialSparkState(),
      reading(master([driver('d1', 'RUNNING')]), { owned: [record('d1', 'adopted', NOW - MIN), record('d0', 'keep-alive', NOW - 2 * MIN)] }),
      TENANT,
    );
    expect(o.state.lastSubmission).toEqual({ submissionId: 'd0', at: NOW - 2 * MIN, reason: 'keep-alive', startingOffsetsTimestamp: null });
    expect([...o.ownedIds].sort()).toEqual(['d0', 'd1']);
    expect(o.state.prevAliveIds).toEqual(['d1']);
    expect(o.facts).toEqual([]);
  });

  it('keeps what it read; a sole writer never reads again, a replica only when the master shows more than the steady state', () => {
    const owned = [record('d1')];
    const read = observe(initialSparkState(), reading(master([driver('d1', 'RUNNING')]), { owned }), TENANT).state;
    expect([...read.ownIds]).toEqual(['d1']);
    const steady = master([driver('d1', 'RUNNING')]);
    expect(ownedReadNeeded(initialSparkState(), TENANT, steady)).toBe(true);
    expect(ownedReadNeeded(read, { ...TENANT, soleWriter: true }, master([]))).toBe(false);
    expect(ownedReadNeeded(read, TENANT, steady)).toBe(false);
    // No alive driver of its own (a submission may be due), or one of its class it does not know (another holder's late record): read.
    expect(ownedReadNeeded(read, TENANT, master([], [driver('d1', 'FAILED')]))).toBe(true);
    // Beside its own, other drivers of its class: whose they are decides (another tenant's, or its own recorded late).
    expect(ownedReadNeeded(read, TENANT, master([driver('d1', 'RUNNING'), driver('d2', 'RUNNING')]))).toBe('owners');
    // A new lease term reads again.
    expect(ownedReadNeeded(inTerm(inTerm(read, 3), 5), TENANT, steady)).toBe(true);
  });

  it('does not count the last create as dead in a read that does not list it yet, within the grace period', () => {
    const last = { submissionId: 'd2', at: NOW - 2_000, reason: 'keep-alive', startingOffsetsTimestamp: null };
    const state = seen(['d2'], { ownIds: new Set(['d2']), lastSubmission: last });
    // A shared read begun before the create: d2 is nowhere in it.
    const stale = master([], [driver('d1', 'FAILED')]);
    const early = observe(state, reading(stale), TENANT);
    expect(early.state.restarts).toBe(0);
    expect(early.state.prevAliveIds).toEqual(['d2']);
    // Still not listed after the grace period: gone, a death.
    const late = observe(state, reading(stale, { now: last.at + TENANT.submitGraceMs }), TENANT);
    expect(late.state.restarts).toBe(1);
    // Listed as failed: a death at once.
    expect(observe(state, reading(master([], [driver('d2', 'FAILED')])), TENANT).state.restarts).toBe(1);
  });

  it('wakes a run for a driver the master lists as no longer alive, not for one it does not list', () => {
    const state = seen(['d1'], { master: master([driver('d1', 'RUNNING')]) });
    expect(ownDriverGone(state, master([], [driver('d1', 'FAILED')]))).toBe(true);
    expect(ownDriverGone(state, master([driver('d1', 'KILLED')]))).toBe(true);
    expect(ownDriverGone(state, master([driver('d1', 'RUNNING')]))).toBe(false);
    expect(ownDriverGone(state, master([]))).toBe(false);
    expect(ownDriverGone(state, state.master!)).toBe(false);
  });

  it('counts a death of a driver alive at the previous read, but not of one this process killed', () => {
    const died = observe(seen(['d1']), reading(master([], [driver('d1', 'FAILED')])), TENANT);
    expect(died.state.restarts).toBe(1);
    const killed = observe(seen(['d1'], { killedByUs: ['d1'] }), reading(master([], [driver('d1', 'KILLED')])), TENANT);
    expect(killed.state.restarts).toBe(0);
  });

  it('reports a crash loop when the deaths in the window reach the threshold', () => {
    let state = seen(['d0'], { crash: initialSparkState({ threshold: 2 }).crash });
    const facts: SparkFact[] = [];
    for (const [i, id] of ['d0', 'd1'].entries()) {
      const o = observe({ ...state, prevAliveIds: [id] }, reading(master([], [driver(id, 'FAILED')]), { now: NOW + i * 1000 }), TENANT);
      state = o.state;
      facts.push(...o.facts);
    }
    expect(events(facts).map((e) => e.type)).toEqual(['spark.crashloop']);
    expect(state.restarts).toBe(2);
  });

  it('recognises the driver of an ambiguous create, records it as the submission and owes its replay flag', () => {
    const state = seen([], {
      ambiguous: {
        at: NOW - 10_000,
        before: new Set(['old']),
        beforeActive: new Set(),
        size: { cores: 1, memoryMb: 1024 },
        purpose: 'replay-start',
        markReplay: { replayId: 7, flag: 'isSubmittedForOffsetsTimestamp' },
        startingOffsetsTimestamp: NOW - 30 * MIN,
        masterUrl: 'spark://m:7077',
      },
    });
    const o = observe(state, reading(master([driver('new', 'RUNNING')], [driver('old', 'FINISHED')])), TENANT);
    expect(o.state.ambiguous).toBeNull();
    expect(o.ownedIds.has('new')).toBe(true);
    expect(records(o.facts)).toEqual([
      {
        kind: 'record',
        required: true,
        record: expect.objectContaining({ submissionId: 'new', reason: 'replay-start', startingOffsetsTimestamp: NOW - 30 * MIN }),
      },
    ]);
    expect(events(o.facts)).toEqual([expect.objectContaining({ type: 'spark.submitted', submissionId: 'new', purpose: 'replay-start' })]);
    expect(o.state.pendingMarks).toEqual([{ replayId: 7, flag: 'isSubmittedForOffsetsTimestamp', startingOffsetsTimestamp: NOW - 30 * MIN }]);
  });

  it('claims nothing for an ambiguous create when another tenant owns the new driver, and stops looking after the grace period', () => {
    const ambiguous = {
      at: NOW - 10_000,
      before: new Set<string>(),
      beforeActive: new Set<string>(),
      size: {},
      purpose: 'keep-alive' as const,
      markReplay: null,
      startingOffsetsTimestamp: null,
      masterUrl: 'm',
    };
    const m = master([driver('theirs', 'RUNNING')]);
    const kept = observe(seen([], { ambiguous }), reading(m, { owners: new Map([['theirs', 'OTHER']]) }), TENANT);
    expect(kept.state.ambiguous).not.toBeNull();
    expect(kept.facts).toEqual([]);
    const over = observe(seen([], { ambiguous }), reading(m, { owners: new Map([['theirs', 'OTHER']]), now: NOW + MIN }), TENANT);
    expect(over.state.ambiguous).toBeNull();
  });

  it('settles a replay step begun by another run from the driver it started, instead of doing it again', () => {
    const replay: ReplayRow = {
      id: 7,
      tenant: 'ABC',
      startingOffsetsTimestamp: NOW - 30 * MIN,
      resumeToSubscribePatternTimestamp: NOW + 60 * MIN,
      isSubmittedForOffsetsTimestamp: false,
      isResumedToSubscribePattern: false,
      createdAt: new Date(NOW),
    };
    const attempt: ReplayStepAttempt = {
      tenant: 'ABC',
      replayId: 7,
      flag: 'isSubmittedForOffsetsTimestamp',
      at: NOW - 20_000,
      masterUrl: 'm',
      mainClass: MAIN,
      driverCores: 1,
      driverMemoryMb: 1024,
      knownDriverIds: ['old'],
    };
    const state = initialSparkState();
    expect(stepToLookUp(state, replay, NOW)).toEqual({ replayId: 7, flag: 'isSubmittedForOffsetsTimestamp' });
    const m = master([driver('stepped', 'RUNNING'), driver('old', 'RUNNING')]);
    const o = observe(state, reading(m, { replay, stepAttempt: attempt }), TENANT);
    expect(records(o.facts).map((r) => r.record.submissionId)).toEqual(['stepped']);
    expect(o.state.pendingMarks).toEqual([{ replayId: 7, flag: 'isSubmittedForOffsetsTimestamp', startingOffsetsTimestamp: NOW - 30 * MIN }]);
    expect(o.state.replay?.isSubmittedForOffsetsTimestamp).toBe(true);
    // No driver of it yet, within the grace period: the decision waits from the attempt's time.
    expect(observe(state, reading(master([driver('old', 'RUNNING')]), { replay, stepAttempt: attempt }), TENANT).stepBegunAt).toBe(NOW - 20_000);
  });

  it('adopts the replacement the master started for an own relaunched driver, found by lineage', () => {
    // Another tenant shares the main class: the replacement can only be told by lineage.
    const shared = { ...TENANT, otherTenantMainClasses: [MAIN] };
    const state = seen(['mine'], { ownIds: new Set(['mine']) });
    const m = master([driver('replacement', 'RUNNING'), driver('theirs', 'RUNNING', { memoryMb: 2048 })], [driver('mine', 'RELAUNCHING')]);
    expect(ownersToAsk(state, shared, m, new Set(['mine']), undefined)).toEqual(['replacement', 'theirs']);
    const o = observe(state, reading(m, { owners: new Map([['theirs', 'OTHER']]) }), shared);
    expect(events(o.facts)).toContainEqual({ type: 'spark.adopted', submissionIds: ['replacement'] });
    expect(records(o.facts)).toEqual([
      { kind: 'record', required: false, record: expect.objectContaining({ submissionId: 'replacement', reason: 'adopted' }) },
    ]);
    expect(o.state.relaunchesSettled).toContain('mine');
    expect(o.state.restarts).toBe(0);
  });

  it('asks for no owners on an ordinary run', () => {
    const state = seen(['d1'], { ownIds: new Set(['d1']) });
    expect(ownersToAsk(state, TENANT, master([driver('d1', 'RUNNING')]), new Set(['d1']), undefined)).toEqual([]);
  });

  it('reports a split brain once, and its end', () => {
    const split = {
      ...master([driver('d1', 'RUNNING')]),
      splitBrain: { aliveMasters: ['http://a:8080', 'http://b:8080'], actingOn: 'http://a:8080', elsewhere: new Map([['d1', 'http://b:8080']]) },
    };
    const first = observe(seen(['d1']), reading(split), TENANT);
    expect(events(first.facts)).toEqual([
      { type: 'spark.split-brain', masters: ['http://a:8080', 'http://b:8080'], actingOn: 'http://a:8080', driversElsewhere: ['d1'] },
    ]);
    expect(observe(first.state, reading(split), TENANT).facts).toEqual([]);
    expect(events(observe(first.state, reading(master([driver('d1', 'RUNNING')])), TENANT).facts)).toEqual([
      { type: 'spark.split-brain-ended', actingOn: 'http://m:8080' },
    ]);
  });

  it('in a new acting term, a driver that died while another replica acted is not counted as a death', () => {
    const last = inTerm(seen(['d1']), 4);
    const sameTerm = observe(inTerm(last, 4), reading(master([], [driver('d1', 'FAILED')])), TENANT);
    expect(sameTerm.state.restarts).toBe(1);
    const newTerm = observe(inTerm(last, 6), reading(master([driver('d2', 'RUNNING')], [driver('d1', 'FAILED')])), TENANT);
    expect(newTerm.state.restarts).toBe(0);
    expect(newTerm.state.prevAliveIds).toEqual(['d2']);
  });

  it('never changes the state it was given', () => {
    const state = Object.freeze(seen(['d1']));
    expect(() => observe(state, reading(master([], [driver('d1', 'FAILED')])), TENANT)).not.toThrow();
    expect(state.restarts).toBe(0);
  });
});
