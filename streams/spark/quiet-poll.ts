/**
 * A quiet poll (pure): one that would find what the last run found. The master state is the same
 * object (the master client hands out an unchanged state again), the replay row is the same, the
 * acting term is the same, and the tenant's state has nothing to settle and no clock running
 * (grace period, crash-loop calm-down). Such a run would observe nothing new, decide `none` again
 * and act on nothing: the stream records the poll without running it.
 *
 * Nearly every poll of a healthy pipeline is quiet. The master is still read at least once per
 * shared-read max age by the polls that find no fresh state, and any change in what they read
 * makes the next poll of each tenant a full run.
 */
import type { ReplayRow } from '../../src/db/spark-submit-status.js';
import type { MasterState } from '../../src/spark/types.js';
import { recordAlive } from './crash-loop.js';
import type { AliveByOwner } from './driver-owners.js';
import { ownedReadNeeded } from './read-plan.js';
import { toPending, type SparkState, type SparkTenantFacts } from './state.js';

/** The last run, when it decided `none`: what it read, and what a quiet poll reports again. */
export interface SettledRun {
  master: MasterState;
  term: number | null;
  aliveDrivers: number;
  reason: string;
}

export interface QuietReading {
  now: number;
  master: MasterState;
  /** The tenant's latest replay row (null: none). */
  replay: ReplayRow | null;
  term: number | null;
  /** The alive drivers of the tenant's main class by recorded owner: asked only when others of the class are alive (tenants sharing it). */
  owners: () => AliveByOwner;
}

export function isQuietPoll(state: SparkState, settled: SettledRun | null, reading: QuietReading, tenant: SparkTenantFacts): boolean {
  if (!settled || reading.master !== settled.master || reading.term !== settled.term) return false;
  if (!sameReplayRow(reading.replay, state.replay)) return false;
  return nothingToSettle(state, tenant, reading);
}

/** Nothing of the tenant's state that a run would write, match, or see change with time alone. */
function nothingToSettle(state: SparkState, tenant: SparkTenantFacts, { master, now, owners }: QuietReading): boolean {
  const readRecords = ownedReadNeeded(state, tenant, master);
  return (
    state.lastError === null &&
    state.ambiguous === null &&
    state.unrecorded.length === 0 &&
    state.pendingMarks.length === 0 &&
    state.relaunches.size === 0 &&
    toPending(state.replay) === null &&
    !state.crash.looping &&
    recordAlive(state.crash, now) === state.crash &&
    (state.lastSubmission === null || now - state.lastSubmission.at >= tenant.submitGraceMs) &&
    (readRecords === false || (readRecords === 'owners' && ownersSettled(owners(), tenant.tenant, state.ownIds)))
  );
}

/** The other alive drivers of the main class are known to be other tenants', and the tenant's own are all in `ownIds`. */
function ownersSettled({ byOwner, unknown }: AliveByOwner, tenant: string, ownIds: ReadonlySet<string>): boolean {
  return unknown.length === 0 && (byOwner.get(tenant) ?? []).every((id) => ownIds.has(id));
}

function sameReplayRow(a: ReplayRow | null, b: ReplayRow | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.id === b.id &&
    a.startingOffsetsTimestamp === b.startingOffsetsTimestamp &&
    a.resumeToSubscribePatternTimestamp === b.resumeToSubscribePatternTimestamp &&
    a.isSubmittedForOffsetsTimestamp === b.isSubmittedForOffsetsTimestamp &&
    a.isResumedToSubscribePattern === b.isResumedToSubscribePattern
  );
}
