/**
 * What a Spark run must read before observing (pure): the tenant's records only when they may
 * have changed, the attempt of a replay step begun by another run, and the owners of the drivers
 * being matched to a create, a step or a relaunch. The usual run reads none of them.
 */
import type { ReplayRow, ReplayStepAttempt } from '../../src/db/spark-submit-status.js';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { MasterState } from '../../src/spark/types.js';
import type { ReplayMark } from './decision.js';
import { masterIndex } from './master-index.js';
import { dueStep, toPending, withMarks, type SparkState, type SparkTenantFacts } from './state.js';

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

/** The ids the tenant owns after merging what was read. */
export function ownedIdsOf(state: SparkState, owned: readonly SubmissionRecord[] | null): Set<string> {
  const ids = new Set(state.ownIds);
  for (const r of owned ?? []) ids.add(r.submissionId);
  return ids;
}

/**
 * The replay step whose begun attempt must be read before observing: due now, not this
 * process's own (a flag waiting to be written, or its ambiguous create). Null: nothing to read.
 */
export function stepToLookUp(state: SparkState, replay: ReplayRow | null, now: number): { replayId: number; flag: ReplayMark['flag'] } | null {
  const pending = toPending(replay ? withMarks(replay, state.pendingMarks) : null);
  const step = pending ? dueStep(pending, now) : null;
  if (!pending || !step) return null;
  if (state.pendingMarks.some((m) => m.replayId === pending.id && m.flag === step.flag)) return null;
  if (state.ambiguous?.markReplay?.replayId === pending.id && state.ambiguous.markReplay.flag === step.flag) return null;
  return { replayId: pending.id, flag: step.flag };
}

/**
 * Whether a run must read the tenant's recorded submissions again. A sole writer (SQLite) read
 * them once. With replicas, another holder may have recorded submissions before this term (the
 * first run of a term reads them), and a late record can still land in it (a create of a holder
 * whose lease lapsed mid-way): the records are read again whenever the master shows anything
 * but the steady state, and while a create, a replay step or a flag is being settled. The
 * steady state is one alive driver that the tenant owns and no other of its main class, or
 * others that are not recorded as its own: `'owners'` says that their recorded owners decide
 * (tenants sharing a main class see each other's drivers on every poll).
 */
export function ownedReadNeeded(state: SparkState, tenant: SparkTenantFacts, master: MasterState): boolean | 'owners' {
  if (!state.ownedRead) return true;
  if (tenant.soleWriter) return false;
  if (state.ambiguous || state.pendingMarks.length > 0 || toPending(state.replay) !== null) return true;
  const index = masterIndex(master);
  let owned = 0;
  for (const id of state.ownIds) if (index.aliveById.has(id)) owned += 1;
  if (owned !== 1) return true;
  return (index.aliveByMainClass.get(tenant.mainClass) ?? []).length > 1 ? 'owners' : false;
}

/**
 * The driver ids whose owners must be read before observing: the unowned drivers of the
 * tenant's main class (and of a begun step's) while a create, a step or a relaunch is being
 * matched to its driver; none otherwise (the usual run asks nothing).
 */
export function ownersToAsk(
  state: SparkState,
  facts: SparkTenantFacts,
  master: MasterState,
  ownedIds: ReadonlySet<string>,
  stepAttempt: ReplayStepAttempt | undefined,
): string[] {
  const prevAlive = state.prevAliveIds ?? [];
  const relaunchWork =
    state.relaunches.size > 0 ||
    masterIndex(master).relaunched.some(
      (d) => d.mainClass === facts.mainClass && !state.relaunchesSettled.includes(d.id) && (ownedIds.has(d.id) || prevAlive.includes(d.id)),
    );
  if (!state.ambiguous && !stepAttempt && !relaunchWork) return [];
  const classes = new Set([facts.mainClass, ...(stepAttempt ? [stepAttempt.mainClass] : [])]);
  return [...master.activeDrivers, ...master.completedDrivers].filter((d) => classes.has(d.mainClass) && !ownedIds.has(d.id)).map((d) => d.id);
}

/**
 * Whether a master state read since the last run lists a driver of the tenant that was alive
 * then and is not now (its death, or its kill): a run now resubmits without waiting for the next
 * tick. A driver the state does not list at all wakes nothing: the read may have begun before
 * its create (the tick looks again).
 */
export function ownDriverGone(state: SparkState, next: MasterState): boolean {
  if (!state.prevAliveIds || state.prevAliveIds.length === 0 || next === state.master) return false;
  const { aliveById, listedIds } = masterIndex(next);
  return state.prevAliveIds.some((id) => listedIds.has(id) && !aliveById.has(id));
}
