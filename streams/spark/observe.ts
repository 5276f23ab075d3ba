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
 *  4. replacements of the tenant's relaunched drivers (`adoptReplacements`; 2–4 in recognise.ts);
 *  5. deaths of the drivers alive at the previous read, and the crash-loop state;
 *  6. a split brain begun or ended.
 */
import type { MasterState, SparkDriver } from '../../src/spark/types.js';
import { currentBackoffMs, deathsInWindow, detectDeaths, isCrashLooping, nextSubmitAllowedAt, recordAlive, recordDeath } from './crash-loop.js';
import type { SparkFact } from './facts.js';
import { masterIndex } from './master-index.js';
import { tenantAliveDrivers } from './ownership.js';
import { ownedIdsOf, type SparkReading } from './read-plan.js';
import { adoptReplacements, settleAmbiguous, settleBegunStep, type Ctx } from './recognise.js';
import { ADOPTED, ownSubmission, withMarks, type SparkState, type SparkTenantFacts } from './state.js';

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
  // The tenants of a master share its reads: one begun before the tenant's last create may not list that driver yet.
  const notListedYet = unlistedNewDriver(state, master, reading.now, tenant.submitGraceMs);
  state = deathsAndCrashLoop(state, aliveNow, ctx, notListedYet);
  state = { ...state, prevAliveIds: [...aliveNow.map((d) => d.id), ...(notListedYet ? [notListedYet] : [])], prevActiveIds: masterIndex(master).activeIds };

  // 6. split brain
  state = reportSplitBrain(state, master, aliveNow, facts);
  if (state.replay) state = { ...state, replay: withMarks(state.replay, state.pendingMarks) };
  return { state, facts, ownedIds, stepBegunAt: settled.stepBegunAt };
}

/**
 * The tenant's last accepted create, within its grace period, when this state lists it nowhere
 * (neither active nor completed): not a death, the read may have begun before the create.
 */
function unlistedNewDriver(state: SparkState, master: MasterState, now: number, graceMs: number): string | undefined {
  const last = state.lastSubmission;
  const id = last?.submissionId;
  if (!last || !id || now - last.at >= graceMs || !state.prevAliveIds?.includes(id)) return undefined;
  return masterIndex(master).listedIds.has(id) ? undefined : id;
}

/** A death of a driver alive at the previous read feeds the crash-loop state; an alive driver calms it. */
function deathsAndCrashLoop(state: SparkState, aliveNow: readonly SparkDriver[], ctx: Ctx, notListedYet: string | undefined): SparkState {
  const { master, now } = ctx.reading;
  let crash = state.crash;
  let restarts = state.restarts;
  if (state.prevAliveIds !== null) {
    const expected = notListedYet ? state.prevAliveIds.filter((id) => id !== notListedYet) : state.prevAliveIds;
    const deaths = detectDeaths(expected, { master }, state.killedByUs);
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
