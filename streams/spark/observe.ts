/**
 * Observe, the pure first half of a Spark run (SPEC §4.2, §4.3): the previous state and what was
 * just read (the master, the tenant's recorded submissions, its replay row, the owners of the
 * drivers in question) in; the new state and the facts out. Facts are what the executor must
 * write (submission records) and report (events); the decision then reads the new state.
 *
 * In order:
 *  1. what the tenant owns: recorded submissions, and its last submission;
 *  2. an earlier create whose outcome was unknown, found on the master (`settleAmbiguous`);
 *  3. a due replay step begun by a run whose outcome is unknown (`settleBegunStep`);
 *  4. replacements of the tenant's relaunched drivers (`adoptReplacements`);
 *  5. deaths of the drivers alive at the previous read, and the crash-loop state;
 *  6. a split brain begun or ended.
 */
import type { ReplayRow, ReplayStepAttempt } from '../../src/db/spark-submit-status.js';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { MasterState, SparkDriver } from '../../src/spark/types.js';
import { isAliveDriver } from '../../src/spark/types.js';
import type { EventInput } from '../events.js';
import { currentBackoffMs, deathsInWindow, detectDeaths, isCrashLooping, nextSubmitAllowedAt, recordAlive, recordDeath } from './crash-loop.js';
import type { ReplayMark, SubmitPurpose } from './decision.js';
import { compareNewestFirst, tenantAliveDrivers } from './ownership.js';
import { sameSize, type DriverSize } from './driver-size.js';
import { masterIndex } from './master-index.js';
import { ownedIdsOf } from './read-plan.js';
import {
  ADOPTED,
  afterAccepted,
  dueStep,
  MEMORY_LIMIT,
  ownSubmission,
  remember,
  stepKey,
  toPending,
  withMarks,
  type SparkState,
  type SparkTenantFacts,
} from './state.js';

/** What one run read before observing. */
export interface SparkReading {
  now: number;
  master: MasterState;
  /** The tenant's recorded submissions, newest first; null when not read (a sole writer read them once). */
  owned: readonly SubmissionRecord[] | null;
  /** The tenant's latest replay row. */
  replay: ReplayRow | null;
  /** The last recorded attempt of the replay step due now (`ownersToAsk`/`stepToLookUp` say when it is read). */
  stepAttempt: ReplayStepAttempt | undefined;
  /** Which tenant recorded each driver id asked about (`ownersToAsk`); absent: nobody. */
  owners: ReadonlyMap<string, string>;
}

/** Something the executor writes or reports, in order. */
export type SparkFact =
  /** A submission record to write; `required`: a failed write fails the run (an accepted submission), else it is kept for later (an adoption). */
  { kind: 'record'; record: SubmissionRecord; required: boolean } | { kind: 'event'; event: EventInput };

export interface Observation {
  state: SparkState;
  facts: SparkFact[];
  /** Every id the tenant owns, as the decision reads it. */
  ownedIds: ReadonlySet<string>;
  /** A due replay step's create begun by a run whose outcome is unknown, less than the grace period ago: when. */
  stepBegunAt: number | null;
}

export function observe(prev: SparkState, reading: SparkReading, tenant: SparkTenantFacts): Observation {
  const { master } = reading;
  const facts: SparkFact[] = [];
  const ownedIds = ownedIdsOf(prev, reading.owned);
  let state: SparkState = prev;

  // 1. what the tenant owns
  // What was read, and what this process recorded since, is what the tenant owns (records are never removed).
  if (reading.owned) state = { ...state, ownIds: ownedIds, ownedRead: true };
  const lastRecorded = reading.owned?.find((r) => r.reason !== ADOPTED);
  if (lastRecorded && (!state.lastSubmission || lastRecorded.submittedAt.getTime() > state.lastSubmission.at)) {
    state = {
      ...state,
      lastSubmission: {
        submissionId: lastRecorded.submissionId,
        at: lastRecorded.submittedAt.getTime(),
        reason: lastRecorded.reason,
        startingOffsetsTimestamp: lastRecorded.startingOffsetsTimestamp,
      },
    };
  }
  state = { ...state, replay: reading.replay ? withMarks(reading.replay, state.pendingMarks) : null };

  const ctx: Ctx = { tenant, reading, facts, ownedIds };
  // 2–4. creates, steps and relaunches matched to their drivers
  state = settleAmbiguous(state, ctx);
  if (state.replay) state = { ...state, replay: withMarks(state.replay, state.pendingMarks) };
  const settled = settleBegunStep(state, ctx);
  state = adoptReplacements(settled.state, ctx);

  // 5. deaths and the crash-loop state
  const aliveNow = tenantAliveDrivers({
    mainClass: tenant.mainClass,
    submittedDriverIds: ownedIds,
    otherTenantMainClasses: tenant.otherTenantMainClasses,
    lastSubmission: ownSubmission(state),
    master,
  });
  state = deathsAndCrashLoop(state, aliveNow, ctx);
  state = { ...state, prevAliveIds: aliveNow.map((d) => d.id), prevActiveIds: masterIndex(master).activeIds };

  // 6. split brain
  state = reportSplitBrain(state, master, aliveNow, facts);
  if (state.replay) state = { ...state, replay: withMarks(state.replay, state.pendingMarks) };
  return { state, facts, ownedIds, stepBegunAt: settled.stepBegunAt };
}

/** Records alive drivers of the tenant not recorded yet as its own (`ownedIds` grows). */
export function adopt(
  state: SparkState,
  ids: readonly string[],
  ownedIds: Set<string>,
  master: MasterState,
  at: number,
  tenant: string,
  facts: SparkFact[],
): SparkState {
  const fresh = ids.filter((id) => !ownedIds.has(id));
  if (fresh.length === 0) return state;
  for (const id of fresh) {
    ownedIds.add(id);
    facts.push({
      kind: 'record',
      required: false,
      record: {
        tenant,
        submissionId: id,
        masterUrl: master.url || master.webUiUrl,
        reason: ADOPTED,
        startingOffsetsTimestamp: null,
        submittedAt: new Date(at),
      },
    });
  }
  facts.push({ kind: 'event', event: { type: 'spark.adopted', submissionIds: fresh } });
  return { ...state, ownIds: new Set([...state.ownIds, ...fresh]) };
}

/** What a submission the master accepted (found now on the master) writes and reports. */
export function accept(
  state: SparkState,
  a: { id: string; at: number; purpose: SubmitPurpose; startingOffsetsTimestamp: number | null; mark: ReplayMark | null; masterUrl: string; reason: string },
  tenant: string,
  facts: SparkFact[],
): SparkState {
  let next = afterAccepted(state, a.id, { submissionId: a.id, at: a.at, reason: a.purpose, startingOffsetsTimestamp: a.startingOffsetsTimestamp });
  facts.push({
    kind: 'record',
    required: true,
    record: {
      tenant,
      submissionId: a.id,
      masterUrl: a.masterUrl,
      reason: a.purpose,
      startingOffsetsTimestamp: a.startingOffsetsTimestamp,
      submittedAt: new Date(a.at),
    },
  });
  facts.push({
    kind: 'event',
    event: {
      type: 'spark.submitted',
      submissionId: a.id,
      purpose: a.purpose,
      reason: a.reason,
      ...(a.startingOffsetsTimestamp !== null ? { startingOffsetsTimestamp: a.startingOffsetsTimestamp } : {}),
    },
  });
  if (a.mark) next = { ...next, pendingMarks: [...next.pendingMarks, { ...a.mark, startingOffsetsTimestamp: a.startingOffsetsTimestamp }] };
  return next;
}

interface Ctx {
  tenant: SparkTenantFacts;
  reading: SparkReading;
  facts: SparkFact[];
  /** Grows as drivers are recognised. */
  ownedIds: Set<string>;
}

/** Drops the drivers another tenant has recorded as its own. */
function notOwnedByOthers(drivers: SparkDriver[], ctx: Ctx): SparkDriver[] {
  return drivers.filter((d) => {
    const owner = ctx.reading.owners.get(d.id);
    return owner === undefined || owner === ctx.tenant.tenant;
  });
}

/** A lineage is a death only if seen alive from now on: its drivers leave the previous alive list unless alive now. */
function forgetLineage(state: SparkState, lineage: readonly SparkDriver[], master: MasterState): SparkState {
  if (!state.prevAliveIds) return state;
  const aliveIds = new Set(master.activeDrivers.filter(isAliveDriver).map((d) => d.id));
  return { ...state, prevAliveIds: state.prevAliveIds.filter((x) => aliveIds.has(x) || !lineage.some((d) => d.id === x)) };
}

/**
 * A create of an earlier run got no usable answer. The drivers of the tenant's main class
 * that appeared on the master since (active or completed), that nobody owns, are that create's
 * lineage: the driver it started and, if its worker was lost, the master's replacements (the
 * retired ids RELAUNCHING). When they form exactly one lineage (one driver that is not a
 * RELAUNCHING record), it is recorded: the oldest as the submission (its replay flag set),
 * the rest adopted. A lineage mixed with another tenant's relaunch is not settled. After the
 * grace period, stop looking.
 */
function settleAmbiguous(state: SparkState, ctx: Ctx): SparkState {
  const a = state.ambiguous;
  if (!a) return state;
  const { master, now } = ctx.reading;
  const mainClass = ctx.tenant.mainClass;
  const ofOurs = (d: SparkDriver) => d.mainClass === mainClass && sameSize(d, a.size);
  const candidates = notOwnedByOthers(
    [...master.activeDrivers, ...master.completedDrivers].filter((d) => !a.before.has(d.id) && ofOurs(d) && !ctx.ownedIds.has(d.id)),
    ctx,
  );
  const current = candidates.filter((d) => d.state !== 'RELAUNCHING');
  // Another driver of the same class and size relaunched meanwhile: its replacement is
  // indistinguishable from ours, so nothing is claimed (the grace period runs out instead).
  const foreignRelaunch = master.completedDrivers.some((d) => d.state === 'RELAUNCHING' && ofOurs(d) && a.beforeActive.has(d.id) && !ctx.ownedIds.has(d.id));
  if (current.length !== 1 || foreignRelaunch) return now - a.at >= ctx.tenant.submitGraceMs ? { ...state, ambiguous: null } : state;

  const lineage = [...candidates].sort(compareNewestFirst).reverse();
  const original = lineage[0]!;
  ctx.ownedIds.add(original.id);
  let next: SparkState = {
    ...state,
    ambiguous: null,
    relaunchesSettled: remember(state.relaunchesSettled, ...lineage.filter((d) => d.state === 'RELAUNCHING').map((d) => d.id)),
  };
  next = accept(
    next,
    {
      id: original.id,
      at: a.at,
      purpose: a.purpose,
      startingOffsetsTimestamp: a.startingOffsetsTimestamp,
      mark: a.markReplay,
      masterUrl: a.masterUrl,
      reason: `found on the master after a create that got no usable answer (${a.purpose})`,
    },
    ctx.tenant.tenant,
    ctx.facts,
  );
  const rest = lineage.slice(1).filter((d) => d.state !== 'RELAUNCHING');
  if (rest.length > 0)
    next = adopt(
      next,
      rest.map((d) => d.id),
      ctx.ownedIds,
      master,
      now,
      ctx.tenant.tenant,
      ctx.facts,
    );
  return forgetLineage(next, lineage, master);
}

/**
 * A due replay step whose flag is not set, begun (`beginStep`) by a create this process knows
 * nothing of: another replica's, or this process's before a restart, which then could not set
 * the flag (a database stall that outlived its lease, a crash). The drivers of the recorded
 * main class and size that the master lists and did not list before that create are the
 * step's: when there are any, the step happened, so its driver is recorded (as the step's
 * submission, unless it already is) and the flag set, instead of killing it and doing the step
 * again. None yet: the create may still be on its way; while it was begun less than the grace
 * period ago, its time is returned (the decision waits), after that it started nothing and the
 * step is carried out.
 */
function settleBegunStep(state: SparkState, ctx: Ctx): { state: SparkState; stepBegunAt: number | null } {
  const { master, now, stepAttempt: attempt } = ctx.reading;
  const replay = toPending(state.replay);
  const step = replay ? dueStep(replay, now) : null;
  const none = { state, stepBegunAt: null };
  if (!replay || !step || !attempt || attempt.replayId !== replay.id || attempt.flag !== step.flag) return none;
  // A create of this process for the step: settled here (its flag waits in pendingMarks, or settleAmbiguous looks for it).
  if (state.pendingMarks.some((m) => m.replayId === replay.id && m.flag === step.flag)) return none;
  if (state.ambiguous?.markReplay?.replayId === replay.id && state.ambiguous.markReplay.flag === step.flag) return none;
  if (state.begunSteps.includes(stepKey(attempt.replayId, attempt.flag, attempt.at))) return none;
  const known = new Set(attempt.knownDriverIds);
  const size: DriverSize = {};
  if (attempt.driverCores !== null) size.cores = attempt.driverCores;
  if (attempt.driverMemoryMb !== null) size.memoryMb = attempt.driverMemoryMb;
  const lineage = notOwnedByOthers(
    [...master.activeDrivers, ...master.completedDrivers].filter((d) => !known.has(d.id) && d.mainClass === attempt.mainClass && sameSize(d, size)),
    ctx,
  )
    .sort(compareNewestFirst)
    .reverse();
  if (lineage.length === 0) return { state, stepBegunAt: now - attempt.at < ctx.tenant.submitGraceMs ? attempt.at : null };

  const mark: ReplayMark = { replayId: replay.id, flag: step.flag };
  if (lineage.some((d) => ctx.ownedIds.has(d.id))) {
    // Its create was recorded; only the flag is missing.
    return {
      state: { ...state, pendingMarks: [...state.pendingMarks, { ...mark, startingOffsetsTimestamp: step.startingOffsetsTimestamp }] },
      stepBegunAt: null,
    };
  }
  const original = lineage.find((d) => d.state !== 'RELAUNCHING') ?? lineage[0]!;
  ctx.ownedIds.add(original.id);
  let next: SparkState = {
    ...state,
    relaunchesSettled: remember(state.relaunchesSettled, ...lineage.filter((d) => d.state === 'RELAUNCHING').map((d) => d.id)),
  };
  next = accept(
    next,
    {
      id: original.id,
      at: attempt.at,
      purpose: step.purpose,
      startingOffsetsTimestamp: step.startingOffsetsTimestamp,
      mark,
      masterUrl: attempt.masterUrl,
      reason: `found on the master: the driver of replay #${replay.id}'s ${step.purpose} step, whose create was begun at ${new Date(attempt.at).toISOString()} by a run that did not set its flag`,
    },
    ctx.tenant.tenant,
    ctx.facts,
  );
  const rest = lineage.filter((d) => d !== original && d.state !== 'RELAUNCHING');
  if (rest.length > 0)
    next = adopt(
      next,
      rest.map((d) => d.id),
      ctx.ownedIds,
      master,
      now,
      ctx.tenant.tenant,
      ctx.facts,
    );
  return { state: forgetLineage(next, lineage, master), stepBegunAt: null };
}

/**
 * After a worker loss the master retires a supervised driver as RELAUNCHING and starts a
 * replacement under a new id (SPARK_PROTOCOL §3.1). The decision claims a replacement only by
 * main class, which fails where other tenants share the class; here the replacement of an
 * own driver is found by lineage: when an own driver is first seen RELAUNCHING, the alive
 * drivers of the class that are new since the previous read and owned by nobody are its
 * possible replacements. Once exactly one is left that no other tenant has claimed, it is
 * adopted (own drivers relaunched at the same moment share their candidates).
 */
function adoptReplacements(state: SparkState, ctx: Ctx): SparkState {
  const { master, now } = ctx.reading;
  const mainClass = ctx.tenant.mainClass;
  const prevActive = state.prevActiveIds;
  const prevAlive = state.prevAliveIds ?? [];
  const relaunches = new Map(state.relaunches);
  for (const d of masterIndex(master).relaunched) {
    if (d.mainClass !== mainClass) continue;
    if (state.relaunchesSettled.includes(d.id) || relaunches.has(d.id)) continue;
    if (!ctx.ownedIds.has(d.id) && !prevAlive.includes(d.id)) continue;
    // The replacement keeps the description: same main class, cores and memory.
    const fresh = master.activeDrivers.filter(
      (x) =>
        isAliveDriver(x) &&
        x.mainClass === mainClass &&
        x.cores === d.cores &&
        x.memoryMb === d.memoryMb &&
        !ctx.ownedIds.has(x.id) &&
        !(prevActive?.has(x.id) ?? false),
    );
    relaunches.set(d.id, new Set(fresh.map((x) => x.id)));
  }
  if (relaunches.size === 0) return state.relaunches.size === 0 ? state : { ...state, relaunches };
  const alive = new Map(master.activeDrivers.filter(isAliveDriver).map((x) => [x.id, x]));
  // Own relaunches with the same candidates are settled together.
  const groups = new Map<string, string[]>();
  for (const [relaunched, candidates] of relaunches) {
    const key = [...candidates].sort().join(',');
    groups.set(key, [...(groups.get(key) ?? []), relaunched]);
  }
  let next: SparkState = state;
  let settled = [...state.relaunchesSettled];
  for (const [key, relaunched] of groups) {
    const ids = key === '' ? [] : key.split(',');
    const left = notOwnedByOthers(
      ids.flatMap((id) => (alive.has(id) && !ctx.ownedIds.has(id) ? [alive.get(id)!] : [])),
      ctx,
    );
    if (left.length > relaunched.length) continue; // others may still claim theirs
    for (const r of relaunched) {
      relaunches.delete(r);
      settled.push(r);
    }
    if (left.length > 0 && left.length === relaunched.length)
      next = adopt(
        next,
        left.map((x) => x.id),
        ctx.ownedIds,
        master,
        now,
        ctx.tenant.tenant,
        ctx.facts,
      );
  }
  if (settled.length > MEMORY_LIMIT) settled = settled.slice(-MEMORY_LIMIT);
  return { ...next, relaunches, relaunchesSettled: settled };
}

/** A death of a driver alive at the previous read feeds the crash-loop state; an alive driver calms it. */
function deathsAndCrashLoop(state: SparkState, aliveNow: readonly SparkDriver[], ctx: Ctx): SparkState {
  const { master, now } = ctx.reading;
  let crash = state.crash;
  let restarts = state.restarts;
  if (state.prevAliveIds !== null) {
    const deaths = detectDeaths(state.prevAliveIds, { master }, state.killedByUs);
    if (deaths.length > 0) {
      const before = { looping: isCrashLooping(crash), backoffMs: currentBackoffMs(crash) };
      crash = recordDeath(crash, now);
      restarts += 1;
      // Reported when the loop starts and whenever its backoff grows (not again at the cap).
      if (isCrashLooping(crash) && (!before.looping || currentBackoffMs(crash) > before.backoffMs)) {
        ctx.facts.push({
          kind: 'event',
          event: {
            type: 'spark.crashloop',
            deaths: deathsInWindow(crash, now),
            nextSubmitAt: nextSubmitAllowedAt(crash) ?? now,
            backoffMs: currentBackoffMs(crash),
          },
        });
      }
    }
  }
  if (aliveNow.length > 0) {
    const wasLooping = isCrashLooping(crash);
    crash = recordAlive(crash, now);
    if (wasLooping && !isCrashLooping(crash)) ctx.facts.push({ kind: 'event', event: { type: 'spark.crashloop-ended', restarts } });
  }
  return { ...state, crash, restarts };
}

/** `spark.split-brain` when several masters are ALIVE (again, or others than before); `spark.split-brain-ended` when one is left. */
function reportSplitBrain(state: SparkState, master: MasterState, aliveNow: readonly SparkDriver[], facts: SparkFact[]): SparkState {
  const split = master.splitBrain;
  const key = split ? split.aliveMasters.join(',') : null;
  if (key === state.splitBrain) return state;
  facts.push({
    kind: 'event',
    event: split
      ? {
          type: 'spark.split-brain',
          masters: [...split.aliveMasters],
          actingOn: split.actingOn,
          driversElsewhere: aliveNow.filter((d) => split.elsewhere.has(d.id)).map((d) => d.id),
        }
      : { type: 'spark.split-brain-ended', actingOn: master.webUiUrl },
  });
  return { ...state, splitBrain: key };
}
