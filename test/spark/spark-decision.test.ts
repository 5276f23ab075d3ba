import { describe, expect, it } from 'vitest';
import { createCrashLoopState, recordDeath, type CrashLoopState } from '../../streams/spark/crash-loop.js';
import { decideSparkAction, duration, type PendingReplay, type SparkAction, type SparkObservation, type SubmitAction } from '../../streams/spark/decision.js';
import { compareNewestFirst, tenantAliveDrivers } from '../../streams/spark/ownership.js';
import type { MasterState, SparkDriver } from '../../src/spark/types.js';

const SEC = 1000;
const MIN = 60 * SEC;
const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
const MAIN = 'com.logwise.spark.MainApplication';
const OTHER_MAIN = 'com.other.StreamingJob';

const D1 = 'driver-20240101114000-0001';
const D2 = 'driver-20240101115000-0002';
const D3 = 'driver-20240101115500-0003';

function driver(id: string, state: string, opts: { mainClass?: string; startTime?: number } = {}): SparkDriver {
  return {
    id,
    state,
    startTime: opts.startTime ?? NOW - 10 * MIN,
    worker: state === 'SUBMITTED' ? null : 'worker-20240101110000-10.0.0.5-35123',
    mainClass: opts.mainClass ?? MAIN,
    cores: 1,
    memoryMb: 1024,
    submitDate: 'Mon Jan 01 11:50:00 UTC 2024',
  };
}

function master(active: SparkDriver[] = [], completed: SparkDriver[] = [], status = 'ALIVE'): MasterState {
  return {
    webUiUrl: 'http://spark-master:8080',
    url: 'spark://spark-master:7077',
    status,
    aliveWorkers: 2,
    cores: 8,
    coresUsed: 1,
    memoryMb: 16384,
    memoryUsedMb: 1024,
    activeDrivers: active,
    completedDrivers: completed,
  };
}

function obs(patch: Partial<SparkObservation> = {}): SparkObservation {
  return {
    now: NOW,
    tenant: 'ABC',
    mainClass: MAIN,
    master: master(),
    submittedDriverIds: new Set<string>(),
    otherTenantMainClasses: [],
    lastSubmission: null,
    pendingReplay: null,
    crashLoop: createCrashLoopState(),
    submitGraceMs: 60 * SEC,
    ...patch,
  };
}

function replay(patch: Partial<PendingReplay> = {}): PendingReplay {
  return {
    id: 7,
    startingOffsetsTimestamp: NOW - 30 * MIN,
    resumeToSubscribePatternTimestamp: NOW + 60 * MIN,
    isSubmittedForOffsetsTimestamp: false,
    isResumedToSubscribePattern: false,
    ...patch,
  };
}

function expectSubmit(action: SparkAction): SubmitAction {
  expect(action.kind).toBe('submit');
  if (action.kind !== 'submit') throw new Error(`expected a submission, got ${action.kind}: ${action.reason}`);
  return action;
}

function crashLooping(lastDeathAt: number): CrashLoopState {
  return [4, 3, 2, 1, 0].reduce((s, i) => recordDeath(s, lastDeathAt - i * MIN), createCrashLoopState());
}

describe('decideSparkAction', () => {
  describe('no alive driver', () => {
    it('submits when the master is ALIVE and nothing holds it back', () => {
      const a = expectSubmit(decideSparkAction(obs()));
      expect(a).toMatchObject({
        purpose: 'keep-alive',
        kill: [],
        cleanState: false,
        startingOffsetsTimestamp: null,
        markReplay: null,
        aliveDriverIds: [],
        adopt: [],
      });
      expect(a.reason).toBe('tenant ABC has no alive driver: submitting');
    });

    it('names the last driver that ended in the reason', () => {
      const m = master([], [driver(D1, 'KILLED', { startTime: NOW - 20 * MIN }), driver(D2, 'FAILED', { startTime: NOW - 5 * MIN })]);
      const a = expectSubmit(decideSparkAction(obs({ master: m, submittedDriverIds: new Set([D1, D2]) })));
      expect(a.reason).toBe(`tenant ABC has no alive driver (its last driver ${D2} ended FAILED): submitting`);
    });

    it('completed drivers never count, whatever their state', () => {
      const completed = ['FINISHED', 'KILLED', 'FAILED', 'ERROR', 'RELAUNCHING', 'UNKNOWN', 'RUNNING', 'SUBMITTED'].map((s, i) =>
        driver(`driver-20240101110000-00${10 + i}`, s),
      );
      const ids = new Set(completed.map((d) => d.id));
      expectSubmit(decideSparkAction(obs({ master: master([], completed), submittedDriverIds: ids })));
    });

    it('a RELAUNCHING record in completeddrivers is not alive', () => {
      const a = decideSparkAction(obs({ master: master([], [driver(D1, 'RELAUNCHING')]), submittedDriverIds: new Set([D1]) }));
      expect(expectSubmit(a).purpose).toBe('keep-alive');
    });

    it('an active entry in a state other than SUBMITTED or RUNNING is not alive', () => {
      const a = decideSparkAction(obs({ master: master([driver(D1, 'RELAUNCHING'), driver(D2, 'UNKNOWN')]), submittedDriverIds: new Set([D1, D2]) }));
      expectSubmit(a);
    });

    it("another tenant's driver on the same master does not count", () => {
      const theirs = driver(D1, 'RUNNING', { mainClass: OTHER_MAIN });
      const a = expectSubmit(decideSparkAction(obs({ master: master([theirs]), otherTenantMainClasses: [OTHER_MAIN] })));
      expect(a.kill).toEqual([]);
      expect(a.adopt).toEqual([]);
    });

    it('a driver with a main class shared by two tenants counts only by id', () => {
      const shared = driver(D1, 'RUNNING');
      // Not ours by id: it may be the other tenant's.
      const notOurs = decideSparkAction(obs({ master: master([shared]), otherTenantMainClasses: [MAIN] }));
      expect(expectSubmit(notOurs).adopt).toEqual([]);
      // Ours by id.
      const ours = decideSparkAction(obs({ master: master([shared]), otherTenantMainClasses: [MAIN], submittedDriverIds: new Set([D1]) }));
      expect(ours).toMatchObject({ kind: 'none', aliveDriverIds: [D1], adopt: [] });
    });

    it.each(['STANDBY', 'RECOVERING', 'COMPLETING_RECOVERY'])('the master in %s gets no submission', (status) => {
      const a = decideSparkAction(obs({ master: master([], [], status) }));
      expect(a).toMatchObject({ kind: 'wait', waitFor: 'master-not-alive', retryAt: null });
      expect(a.reason).toContain(status);
    });

    describe('submit grace', () => {
      it('waits while our own submission is younger than the grace period and not listed yet', () => {
        const a = decideSparkAction(obs({ lastSubmission: { submissionId: D3, at: NOW - 10 * SEC } }));
        expect(a).toMatchObject({ kind: 'wait', waitFor: 'submit-grace', retryAt: NOW + 50 * SEC });
        expect(a.reason).toContain(`our submission ${D3} made 10s ago is not listed by the master yet`);
      });

      it('submits again once the grace period is over', () => {
        expectSubmit(decideSparkAction(obs({ lastSubmission: { submissionId: D3, at: NOW - 60 * SEC } })));
        expectSubmit(decideSparkAction(obs({ lastSubmission: { submissionId: D3, at: NOW - 5 * MIN } })));
      });

      it('does not wait when our submission has shown up and already ended', () => {
        const m = master([], [driver(D3, 'ERROR')]);
        expectSubmit(decideSparkAction(obs({ master: m, lastSubmission: { submissionId: D3, at: NOW - 10 * SEC } })));
      });

      it('our last submission counts as ours even before it is recorded', () => {
        const m = master([driver(D3, 'SUBMITTED')]);
        const a = decideSparkAction(obs({ master: m, otherTenantMainClasses: [MAIN], lastSubmission: { submissionId: D3, at: NOW - 10 * SEC } }));
        expect(a).toMatchObject({ kind: 'none', aliveDriverIds: [D3], adopt: [D3] });
      });
    });

    describe('crash-loop backoff', () => {
      it('waits until the backoff is over', () => {
        const a = decideSparkAction(obs({ crashLoop: crashLooping(NOW - 10 * SEC) }));
        expect(a).toMatchObject({ kind: 'wait', waitFor: 'crash-loop-backoff', retryAt: NOW + 20 * SEC });
        expect(a.reason).toContain('crash-looping (5 deaths in the last 10m)');
        expect(a.reason).toContain('waits 20s more (backoff 30s)');
      });

      it('submits when the backoff is over', () => {
        expectSubmit(decideSparkAction(obs({ crashLoop: crashLooping(NOW - 30 * SEC) })));
      });

      it('holds back a replay submission too', () => {
        const a = decideSparkAction(obs({ crashLoop: crashLooping(NOW - 10 * SEC), pendingReplay: replay() }));
        expect(a).toMatchObject({ kind: 'wait', waitFor: 'crash-loop-backoff' });
      });
    });

    describe('with a replay row', () => {
      it('a due replay: the submission IS the replay submission (clean, timestamp, flag)', () => {
        const r = replay();
        const a = expectSubmit(decideSparkAction(obs({ pendingReplay: r })));
        expect(a).toMatchObject({
          purpose: 'replay-start',
          kill: [],
          cleanState: true,
          startingOffsetsTimestamp: r.startingOffsetsTimestamp,
          markReplay: { replayId: 7, flag: 'isSubmittedForOffsetsTimestamp' },
        });
        expect(a.reason).toContain('replay #7 is due (from 2024-01-01T11:30:00.000Z)');
      });

      it('a replay due exactly now is due', () => {
        expect(expectSubmit(decideSparkAction(obs({ pendingReplay: replay({ startingOffsetsTimestamp: NOW }) }))).purpose).toBe('replay-start');
      });

      it('a replay not due yet: a plain submission, the row untouched', () => {
        const a = expectSubmit(decideSparkAction(obs({ pendingReplay: replay({ startingOffsetsTimestamp: NOW + 1 }) })));
        expect(a).toMatchObject({ purpose: 'keep-alive', cleanState: false, startingOffsetsTimestamp: null, markReplay: null });
      });

      it('a replay in progress whose driver died: continue it from its checkpoint (timestamp, no cleaning, no flag)', () => {
        const r = replay({ isSubmittedForOffsetsTimestamp: true });
        const a = expectSubmit(decideSparkAction(obs({ pendingReplay: r })));
        expect(a).toMatchObject({ purpose: 'replay-continue', cleanState: false, startingOffsetsTimestamp: r.startingOffsetsTimestamp, markReplay: null });
      });

      it('a due resume: clean, submit normally, set isResumedToSubscribePattern', () => {
        const r = replay({ isSubmittedForOffsetsTimestamp: true, resumeToSubscribePatternTimestamp: NOW - 1 });
        const a = expectSubmit(decideSparkAction(obs({ pendingReplay: r })));
        expect(a).toMatchObject({
          purpose: 'replay-resume',
          kill: [],
          cleanState: true,
          startingOffsetsTimestamp: null,
          markReplay: { replayId: 7, flag: 'isResumedToSubscribePattern' },
        });
      });

      it('a finished replay row (both flags set) changes nothing', () => {
        const r = replay({ isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: true, resumeToSubscribePatternTimestamp: NOW - MIN });
        expect(expectSubmit(decideSparkAction(obs({ pendingReplay: r })))).toMatchObject({
          purpose: 'keep-alive',
          startingOffsetsTimestamp: null,
          markReplay: null,
        });
      });

      it('the master not ALIVE holds a due replay back', () => {
        const a = decideSparkAction(obs({ master: master([], [], 'STANDBY'), pendingReplay: replay() }));
        expect(a).toMatchObject({ kind: 'wait', waitFor: 'master-not-alive' });
      });

      it('the grace period holds a due replay back (no second submission before the first shows up)', () => {
        const a = decideSparkAction(obs({ pendingReplay: replay(), lastSubmission: { submissionId: D3, at: NOW - 5 * SEC } }));
        expect(a).toMatchObject({ kind: 'wait', waitFor: 'submit-grace' });
      });
    });
  });

  describe('one alive driver', () => {
    it.each(['RUNNING', 'SUBMITTED'])('a %s driver is alive: nothing to do', (state) => {
      const a = decideSparkAction(obs({ master: master([driver(D1, state)]), submittedDriverIds: new Set([D1]) }));
      expect(a).toEqual({ kind: 'none', tenant: 'ABC', aliveDriverIds: [D1], adopt: [], reason: `tenant ABC's driver ${D1} ${state} is alive; nothing to do` });
    });

    it('a driver SUBMITTED (waiting for a worker) for longer than a poll is not resubmitted', () => {
      const waiting = driver(D1, 'SUBMITTED', { startTime: NOW - 30 * MIN });
      const a = decideSparkAction(
        obs({ master: master([waiting]), submittedDriverIds: new Set([D1]), lastSubmission: { submissionId: D1, at: NOW - 30 * MIN } }),
      );
      expect(a.kind).toBe('none');
    });

    it('adopts an alive driver that is ours by main class but not recorded (started by hand)', () => {
      const a = decideSparkAction(obs({ master: master([driver(D2, 'RUNNING')]), otherTenantMainClasses: [OTHER_MAIN] }));
      expect(a).toMatchObject({ kind: 'none', aliveDriverIds: [D2], adopt: [D2] });
      expect(a.reason).toContain('adopting');
    });

    it("adopts the master's replacement after a worker loss (new id, old id RELAUNCHING)", () => {
      const m = master([driver(D2, 'SUBMITTED', { startTime: NOW - MIN })], [driver(D1, 'RELAUNCHING')]);
      const a = decideSparkAction(obs({ master: m, submittedDriverIds: new Set([D1]) }));
      expect(a).toMatchObject({ kind: 'none', aliveDriverIds: [D2], adopt: [D2] });
    });

    it("a driver of another tenant's main class on the same master is ignored", () => {
      const m = master([driver(D1, 'RUNNING'), driver(D2, 'RUNNING', { mainClass: OTHER_MAIN, startTime: NOW })]);
      const a = decideSparkAction(obs({ master: m, submittedDriverIds: new Set([D1]), otherTenantMainClasses: [OTHER_MAIN] }));
      expect(a).toMatchObject({ kind: 'none', aliveDriverIds: [D1], adopt: [] });
    });

    it('a due replay: kill the driver, clean state, submit with the timestamp, set isSubmittedForOffsetsTimestamp', () => {
      const r = replay();
      const a = expectSubmit(decideSparkAction(obs({ master: master([driver(D1, 'RUNNING')]), submittedDriverIds: new Set([D1]), pendingReplay: r })));
      expect(a).toMatchObject({
        purpose: 'replay-start',
        kill: [D1],
        cleanState: true,
        startingOffsetsTimestamp: r.startingOffsetsTimestamp,
        markReplay: { replayId: 7, flag: 'isSubmittedForOffsetsTimestamp' },
      });
      expect(a.reason).toBe(`replay #7 is due (from 2024-01-01T11:30:00.000Z): killing ${D1} RUNNING, cleaning state and submitting from that timestamp`);
    });

    it('a replay not due yet: nothing', () => {
      const a = decideSparkAction(
        obs({ master: master([driver(D1, 'RUNNING')]), submittedDriverIds: new Set([D1]), pendingReplay: replay({ startingOffsetsTimestamp: NOW + MIN }) }),
      );
      expect(a.kind).toBe('none');
    });

    it('a due resume: kill, clean state, submit normally, set isResumedToSubscribePattern', () => {
      const r = replay({ isSubmittedForOffsetsTimestamp: true, resumeToSubscribePatternTimestamp: NOW });
      const a = expectSubmit(decideSparkAction(obs({ master: master([driver(D1, 'RUNNING')]), submittedDriverIds: new Set([D1]), pendingReplay: r })));
      expect(a).toMatchObject({
        purpose: 'replay-resume',
        kill: [D1],
        cleanState: true,
        startingOffsetsTimestamp: null,
        markReplay: { replayId: 7, flag: 'isResumedToSubscribePattern' },
      });
      expect(a.reason).toContain('due to resume the subscribe pattern');
    });

    it('a resume not due yet: nothing (the replay driver keeps running)', () => {
      const r = replay({ isSubmittedForOffsetsTimestamp: true });
      const a = decideSparkAction(obs({ master: master([driver(D1, 'RUNNING')]), submittedDriverIds: new Set([D1]), pendingReplay: r }));
      expect(a.kind).toBe('none');
    });

    it('exactly once: a submitted replay is never started again, a resumed one never resumed again', () => {
      const alive = { master: master([driver(D1, 'RUNNING')]), submittedDriverIds: new Set([D1]) };
      const submitted = replay({ isSubmittedForOffsetsTimestamp: true, startingOffsetsTimestamp: NOW - 2 * MIN });
      expect(decideSparkAction(obs({ ...alive, pendingReplay: submitted })).kind).toBe('none');
      const done = replay({ isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: true, resumeToSubscribePatternTimestamp: NOW - MIN });
      expect(decideSparkAction(obs({ ...alive, pendingReplay: done })).kind).toBe('none');
    });

    it('a row due for both: the replay first, the resume on a later poll', () => {
      const alive = { master: master([driver(D1, 'RUNNING')]), submittedDriverIds: new Set([D1]) };
      const both = replay({ startingOffsetsTimestamp: NOW - 2 * MIN, resumeToSubscribePatternTimestamp: NOW - MIN });
      expect(expectSubmit(decideSparkAction(obs({ ...alive, pendingReplay: both }))).purpose).toBe('replay-start');
      const after = { ...both, isSubmittedForOffsetsTimestamp: true };
      expect(expectSubmit(decideSparkAction(obs({ ...alive, pendingReplay: after }))).purpose).toBe('replay-resume');
    });

    it('a due replay while the master is not ALIVE: wait', () => {
      const m = master([driver(D1, 'RUNNING')], [], 'RECOVERING');
      const a = decideSparkAction(obs({ master: m, submittedDriverIds: new Set([D1]), pendingReplay: replay() }));
      expect(a).toMatchObject({ kind: 'wait', waitFor: 'master-not-alive', aliveDriverIds: [D1] });
      expect(a.reason).toMatch(/^replay #7 is due, but the master spark:\/\/spark-master:7077 is RECOVERING/);
    });

    it('grace and crash loop do not apply while a driver is alive', () => {
      const a = decideSparkAction(
        obs({
          master: master([driver(D1, 'RUNNING')]),
          submittedDriverIds: new Set([D1]),
          lastSubmission: { submissionId: D3, at: NOW - SEC },
          crashLoop: crashLooping(NOW - SEC),
          pendingReplay: replay(),
        }),
      );
      expect(expectSubmit(a).purpose).toBe('replay-start');
    });
  });

  describe('duplicates', () => {
    it('kills all but the newest', () => {
      const m = master([
        driver(D1, 'RUNNING', { startTime: NOW - 20 * MIN }),
        driver(D3, 'SUBMITTED', { startTime: NOW - 1 * MIN }),
        driver(D2, 'RUNNING', { startTime: NOW - 10 * MIN }),
      ]);
      const a = decideSparkAction(obs({ master: m, submittedDriverIds: new Set([D1, D2, D3]) }));
      expect(a).toMatchObject({ kind: 'kill-duplicates', keep: D3, kill: [D2, D1], aliveDriverIds: [D3, D2, D1] });
      expect(a.reason).toBe(`tenant ABC has 3 alive drivers (${D3} SUBMITTED, ${D2} RUNNING, ${D1} RUNNING): keeping the newest ${D3}, killing ${D2}, ${D1}`);
    });

    it('a hand-started duplicate is adopted and the older one killed', () => {
      const m = master([driver(D1, 'RUNNING', { startTime: NOW - 20 * MIN }), driver(D2, 'RUNNING', { startTime: NOW - MIN })]);
      const a = decideSparkAction(obs({ master: m, submittedDriverIds: new Set([D1]) }));
      expect(a).toMatchObject({ kind: 'kill-duplicates', keep: D2, kill: [D1], adopt: [D2] });
    });

    it('equal start times: the later driver id is the newer (numeric counter past 9999)', () => {
      const a = driver('driver-20240101115000-9999', 'RUNNING', { startTime: NOW });
      const b = driver('driver-20240101115000-10000', 'RUNNING', { startTime: NOW });
      const action = decideSparkAction(obs({ master: master([a, b]), submittedDriverIds: new Set([a.id, b.id]) }));
      expect(action).toMatchObject({ kind: 'kill-duplicates', keep: b.id, kill: [a.id] });
    });

    it('a due replay kills them all instead', () => {
      const m = master([driver(D1, 'RUNNING', { startTime: NOW - 20 * MIN }), driver(D2, 'RUNNING', { startTime: NOW - MIN })]);
      const a = expectSubmit(decideSparkAction(obs({ master: m, submittedDriverIds: new Set([D1, D2]), pendingReplay: replay() })));
      expect(a.kill).toEqual([D2, D1]);
    });

    it('while the master is not ALIVE: wait', () => {
      const m = master([driver(D1, 'RUNNING'), driver(D2, 'RUNNING', { startTime: NOW })], [], 'STANDBY');
      const a = decideSparkAction(obs({ master: m, submittedDriverIds: new Set([D1, D2]) }));
      expect(a).toMatchObject({ kind: 'wait', waitFor: 'master-not-alive' });
      expect(a.reason).toContain('has 2 alive drivers');
    });

    it("another tenant's drivers are never duplicates of ours", () => {
      const m = master([driver(D1, 'RUNNING'), driver(D2, 'RUNNING', { startTime: NOW }), driver(D3, 'RUNNING', { mainClass: OTHER_MAIN })]);
      const a = decideSparkAction(obs({ master: m, submittedDriverIds: new Set([D1]), otherTenantMainClasses: [MAIN] }));
      // D2 has our main class but a second tenant shares it: not ours by class, and not ours by id.
      expect(a).toMatchObject({ kind: 'none', aliveDriverIds: [D1] });
    });
  });
});

describe('decideSparkAction: a replay step begun by a run whose outcome is unknown (SPEC §4.3)', () => {
  it('no new step within the grace period after the step was begun, whether or not a driver is alive', () => {
    const begun = NOW - 20 * SEC;
    const none = decideSparkAction(obs({ pendingReplay: replay({ stepBegunAt: begun }) }));
    expect(none).toMatchObject({ kind: 'wait', waitFor: 'submit-grace', retryAt: begun + 60 * SEC });
    expect(none.reason).toBe(
      'replay #7 is due to start, but a create for that step was begun 20s ago and its outcome is not known (the master does not list its driver yet), so the step is not carried out again before 1m have passed (40s left)',
    );
    const alive = decideSparkAction(
      obs({ master: master([driver(D1, 'RUNNING')]), submittedDriverIds: new Set([D1]), pendingReplay: replay({ stepBegunAt: begun }) }),
    );
    expect(alive).toMatchObject({ kind: 'wait', waitFor: 'submit-grace', aliveDriverIds: [D1] });
    const resume = decideSparkAction(
      obs({
        master: master([driver(D1, 'RUNNING')]),
        submittedDriverIds: new Set([D1]),
        pendingReplay: replay({ isSubmittedForOffsetsTimestamp: true, resumeToSubscribePatternTimestamp: NOW - SEC, stepBegunAt: begun }),
      }),
    );
    expect(resume).toMatchObject({ kind: 'wait', waitFor: 'submit-grace' });
    expect(resume.reason).toContain('is due to resume');
  });

  it('after the grace period, or when the step is not due, it changes nothing', () => {
    const late = expectSubmit(decideSparkAction(obs({ pendingReplay: replay({ stepBegunAt: NOW - 61 * SEC }) })));
    expect(late).toMatchObject({ purpose: 'replay-start', markReplay: { replayId: 7, flag: 'isSubmittedForOffsetsTimestamp' } });
    const notDue = decideSparkAction(
      obs({
        master: master([driver(D1, 'RUNNING')]),
        submittedDriverIds: new Set([D1]),
        pendingReplay: replay({ startingOffsetsTimestamp: NOW + MIN, stepBegunAt: NOW - SEC }),
      }),
    );
    expect(notDue.kind).toBe('none');
  });
});

describe('decideSparkAction: several masters ALIVE (split brain, SPEC §4.2)', () => {
  const ELSEWHERE = 'http://spark-master-b:8080';
  /** The acting master's state with drivers of another ALIVE master merged in, as the client hands it out. */
  function split(here: SparkDriver[], there: SparkDriver[]): MasterState {
    const m = master([...here, ...there]);
    return { ...m, splitBrain: { aliveMasters: [m.webUiUrl, ELSEWHERE], actingOn: m.webUiUrl, elsewhere: new Map(there.map((d) => [d.id, ELSEWHERE])) } };
  }

  it("the tenant's driver on the other master counts: nothing is submitted", () => {
    const a = decideSparkAction(obs({ master: split([], [driver(D1, 'RUNNING')]) }));
    expect(a).toMatchObject({ kind: 'none', aliveDriverIds: [D1], adopt: [D1] });
  });

  it('no driver on any: submit (to the master acted on)', () => {
    expectSubmit(decideSparkAction(obs({ master: split([], [driver(D1, 'RUNNING', { mainClass: OTHER_MAIN })]), otherTenantMainClasses: [] })));
  });

  it('duplicates across masters: keep the one on the other master, kill those on this one', () => {
    const here = driver(D2, 'RUNNING', { startTime: NOW - MIN });
    const there = driver(D1, 'RUNNING', { startTime: NOW - 20 * MIN });
    const a = decideSparkAction(obs({ master: split([here], [there]), submittedDriverIds: new Set([D1, D2]) }));
    expect(a).toMatchObject({ kind: 'kill-duplicates', keep: D1, kill: [D2] });
    expect(a.reason).toContain(`keeping ${D1} (on ${ELSEWHERE}, another ALIVE master: split brain)`);
  });

  it('duplicates only on the other master: wait, never act there', () => {
    const a = decideSparkAction(
      obs({ master: split([], [driver(D1, 'RUNNING'), driver(D2, 'RUNNING', { startTime: NOW })]), submittedDriverIds: new Set([D1, D2]) }),
    );
    expect(a).toMatchObject({ kind: 'wait', waitFor: 'split-brain', retryAt: null });
    expect(a.reason).toContain(`${D1} runs on ${ELSEWHERE}`);
  });

  it('duplicates on this master only: killed as usual', () => {
    const a = decideSparkAction(
      obs({ master: split([driver(D1, 'RUNNING'), driver(D2, 'RUNNING', { startTime: NOW })], []), submittedDriverIds: new Set([D1, D2]) }),
    );
    expect(a).toMatchObject({ kind: 'kill-duplicates', keep: D2, kill: [D1] });
  });

  it('a replay that would kill a driver on the other master waits; one whose drivers are all here goes on', () => {
    const waiting = decideSparkAction(obs({ master: split([], [driver(D1, 'RUNNING')]), submittedDriverIds: new Set([D1]), pendingReplay: replay() }));
    expect(waiting).toMatchObject({ kind: 'wait', waitFor: 'split-brain' });
    expect(waiting.reason).toMatch(
      /^replay #7 is due, but driver-20240101114000-0001 runs on http:\/\/spark-master-b:8080, another ALIVE master than the one acted on/,
    );
    const going = expectSubmit(
      decideSparkAction(obs({ master: split([driver(D1, 'RUNNING')], []), submittedDriverIds: new Set([D1]), pendingReplay: replay() })),
    );
    expect(going).toMatchObject({ purpose: 'replay-start', kill: [D1] });
  });
});

describe('helpers', () => {
  it('tenantAliveDrivers lists the alive ones newest first', () => {
    const m = master([driver(D1, 'RUNNING', { startTime: NOW - 9 * MIN }), driver(D2, 'SUBMITTED', { startTime: NOW - MIN }), driver(D3, 'FAILED')]);
    const ids = tenantAliveDrivers({ master: m, mainClass: MAIN, submittedDriverIds: new Set(), otherTenantMainClasses: [] }).map((d) => d.id);
    expect(ids).toEqual([D2, D1]);
    expect(tenantAliveDrivers({ master: null, mainClass: MAIN, submittedDriverIds: new Set(), otherTenantMainClasses: [] })).toEqual([]);
  });

  it('compareNewestFirst falls back to the id for unusable start times', () => {
    const a = driver(D1, 'RUNNING', { startTime: Number.NaN });
    const b = driver(D2, 'RUNNING', { startTime: Number.NaN });
    expect([a, b].sort(compareNewestFirst).map((d) => d.id)).toEqual([D2, D1]);
  });

  it('duration reads well', () => {
    expect(duration(0)).toBe('0s');
    expect(duration(45 * SEC)).toBe('45s');
    expect(duration(150 * SEC)).toBe('2m 30s');
    expect(duration(10 * MIN)).toBe('10m');
    expect(duration(65 * MIN)).toBe('1h 5m');
  });
});
