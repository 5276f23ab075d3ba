/** `GET /api/v1/spark/status`: the Spark stream's state as operators read it (a projection, no I/O). */
import type { TenantConfig } from '../../src/config/schema.js';
import { isAliveDriver, type SparkDriver } from '../../src/spark/types.js';
import { currentBackoffMs, deathsInWindow, isCrashLooping, nextSubmitAllowedAt } from './crash-loop.js';
import { compareNewestFirst, driverBelongsToTenant } from './ownership.js';
import { ownSubmission, type SparkState } from './state.js';

const COMPLETED_IN_STATUS = 10;

export interface DriverView {
  id: string;
  state: string;
  mainClass: string;
  worker: string | null;
  startedAt: string | null;
  submitDate: string;
}

export interface SparkStatusView {
  tenant: string;
  master: {
    /** The masters configured for the tenant (web UI addresses). */
    configured: string[];
    /** The master last read (the ALIVE one when there is one). */
    webUiUrl: string | null;
    url: string | null;
    /** Its recovery state, or UNREACHABLE when the last read got no answer; null before the first poll. */
    status: string | null;
    aliveWorkers: number | null;
    readAt: string | null;
    /** Several listed masters ALIVE at the last read (SPEC §4.2): all of them, and the one acted on; null otherwise. */
    splitBrain: { aliveMasters: string[]; actingOn: string } | null;
  };
  drivers: { alive: DriverView[]; recentCompleted: DriverView[] };
  lastSubmission: {
    /** null while an ambiguous create is not settled. */
    submissionId: string | null;
    at: string;
    reason: string;
    startingOffsetsTimestamp: number | null;
  } | null;
  /** Deaths of the tenant's driver seen since the daemon started. */
  restarts: number;
  /** Submissions accepted since the daemon started. */
  submissions: number;
  crashLoop: {
    looping: boolean;
    deathsInWindow: number;
    threshold: number;
    windowMs: number;
    backoffMs: number;
    nextSubmitAllowedAt: string | null;
  };
  replay: {
    id: number;
    startingOffsetsTimestamp: number;
    resumeToSubscribePatternTimestamp: number;
    isSubmittedForOffsetsTimestamp: boolean;
    isResumedToSubscribePattern: boolean;
  } | null;
  lastPoll: { at: string; durationMs: number; outcome: string; reason: string } | null;
  lastError: { at: string; message: string } | null;
}

/**
 * The last poll and the last master read, as the status shows them. Kept apart from the state
 * and changed in place: nearly every poll is quiet and changes nothing else, and a new state per
 * poll would live until the next one, long enough to be promoted and left to a full collection.
 */
export class PollRecord {
  masterReadAt: number | null = null;
  private last: { at: number; durationMs: number; outcome: string; reason: string } | null = null;

  record(at: number, durationMs: number, outcome: string, reason: string): void {
    const last = this.last;
    if (!last) {
      this.last = { at, durationMs, outcome, reason };
      return;
    }
    last.at = at;
    last.durationMs = durationMs;
    last.outcome = outcome;
    last.reason = reason;
  }

  view(): SparkStatusView['lastPoll'] {
    return this.last ? { ...this.last, at: iso(this.last.at)! } : null;
  }
}

export function sparkStatusView(
  state: SparkState,
  polls: PollRecord,
  tenant: TenantConfig,
  otherTenantMainClasses: readonly string[],
  now: number,
): SparkStatusView {
  const master = state.master;
  const ownership = { mainClass: tenant.spark.mainClass, submittedDriverIds: state.ownIds, otherTenantMainClasses, lastSubmission: ownSubmission(state) };
  const belongs = (d: SparkDriver) => driverBelongsToTenant(d, ownership) || (state.prevAliveIds ?? []).includes(d.id);
  const alive = master ? master.activeDrivers.filter((d) => isAliveDriver(d) && belongs(d)).sort(compareNewestFirst) : [];
  const completed = master ? master.completedDrivers.filter(belongs).sort(compareNewestFirst).slice(0, COMPLETED_IN_STATUS) : [];
  const port = tenant.spark.sparkMasterWebUiPort;
  const last = state.lastSubmission;
  const replay = state.replay;
  return {
    tenant: tenant.name,
    master: {
      configured: tenant.spark.sparkMasterHost.map((h) => `http://${h}:${port}`),
      webUiUrl: master?.webUiUrl ?? null,
      url: master?.url || null,
      status: state.masterReachable === false ? 'UNREACHABLE' : (master?.status ?? null),
      aliveWorkers: master?.aliveWorkers ?? null,
      readAt: iso(polls.masterReadAt),
      splitBrain: master?.splitBrain ? { aliveMasters: [...master.splitBrain.aliveMasters], actingOn: master.splitBrain.actingOn } : null,
    },
    drivers: { alive: alive.map(driverView), recentCompleted: completed.map(driverView) },
    lastSubmission: last
      ? { submissionId: last.submissionId, at: iso(last.at)!, reason: last.reason, startingOffsetsTimestamp: last.startingOffsetsTimestamp }
      : null,
    restarts: state.restarts,
    submissions: state.submissions,
    crashLoop: {
      looping: isCrashLooping(state.crash),
      deathsInWindow: deathsInWindow(state.crash, now),
      threshold: state.crash.params.threshold,
      windowMs: state.crash.params.windowMs,
      backoffMs: currentBackoffMs(state.crash),
      nextSubmitAllowedAt: iso(nextSubmitAllowedAt(state.crash)),
    },
    replay: replay
      ? {
          id: replay.id,
          startingOffsetsTimestamp: replay.startingOffsetsTimestamp,
          resumeToSubscribePatternTimestamp: replay.resumeToSubscribePatternTimestamp,
          isSubmittedForOffsetsTimestamp: replay.isSubmittedForOffsetsTimestamp,
          isResumedToSubscribePattern: replay.isResumedToSubscribePattern,
        }
      : null,
    lastPoll: polls.view(),
    lastError: state.lastError ? { at: iso(state.lastError.at)!, message: state.lastError.message } : null,
  };
}

function driverView(d: SparkDriver): DriverView {
  return { id: d.id, state: d.state, mainClass: d.mainClass, worker: d.worker, startedAt: d.startTime > 0 ? iso(d.startTime) : null, submitDate: d.submitDate };
}

function iso(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
