/**
 * What the Spark stream remembers of a tenant between runs, and the small pure functions over it
 * that `observe`, the executor and the status view share. A new state replaces the old one after
 * each step; nothing here does I/O.
 */
import type { ReplayRow } from '../../src/db/spark-submit-status.js';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { MasterState } from '../../src/spark/types.js';
import { createCrashLoopState, type CrashLoopParams, type CrashLoopState } from './crash-loop.js';
import type { PendingReplay, ReplayMark, SubmitPurpose } from './decision.js';
import type { OwnSubmission } from './ownership.js';
import type { DriverSize } from './driver-size.js';

/** Ids remembered at most (kills, settled relaunches, begun steps): far more than a tenant ever has in flight. */
export const MEMORY_LIMIT = 200;
/** The `reason` of a submission record for a driver adopted, not submitted, by the tenant. */
export const ADOPTED = 'adopted';

/** Who the tenant is, for ownership. */
export interface SparkTenantFacts {
  tenant: string;
  mainClass: string;
  /** Main classes of the other tenants configured on the same master(s). */
  otherTenantMainClasses: readonly string[];
  /** No other process records this tenant's submissions (SQLite): they are read once. */
  soleWriter: boolean;
  submitGraceMs: number;
}

/** A create whose outcome is unknown (no answer after it was sent, or a 5xx): its driver may exist. */
export interface AmbiguousCreate {
  at: number;
  /** Every driver id the master listed just before the create (active or completed). */
  before: ReadonlySet<string>;
  /** The ids in `activedrivers` just before the create. */
  beforeActive: ReadonlySet<string>;
  /** The driver size requested (the master reports it for every driver): tells our driver from others of the class. */
  size: DriverSize;
  purpose: SubmitPurpose;
  markReplay: ReplayMark | null;
  startingOffsetsTimestamp: number | null;
  masterUrl: string;
}

export interface LastSubmission {
  submissionId: string | null;
  at: number;
  reason: string;
  startingOffsetsTimestamp: number | null;
}

/** A replay flag to set (after an accepted submission), kept until the write succeeds. */
export type PendingMark = ReplayMark & { startingOffsetsTimestamp: number | null };

export interface SparkState {
  readonly crash: CrashLoopState;
  /** The tenant's alive drivers at the last read (null before the first one). */
  readonly prevAliveIds: readonly string[] | null;
  /** Every id in `activedrivers` at the last read (null before the first one). */
  readonly prevActiveIds: ReadonlySet<string> | null;
  /**
   * Own drivers the master relaunched (RELAUNCHING), with the new drivers that may be their
   * replacement, until the replacement is known; and those already settled.
   */
  readonly relaunches: ReadonlyMap<string, ReadonlySet<string>>;
  readonly relaunchesSettled: readonly string[];
  readonly killedByUs: readonly string[];
  /** Ids this process submitted or adopted (also persisted; kept here if the database write failed). */
  readonly ownIds: ReadonlySet<string>;
  /** The tenant's recorded submissions have been read (into `ownIds`) in this acting term. */
  readonly ownedRead: boolean;
  readonly unrecorded: readonly SubmissionRecord[];
  readonly pendingMarks: readonly PendingMark[];
  readonly ambiguous: AmbiguousCreate | null;
  /** Replay steps this process began (`replayId:flag:at`): their outcome is known here, never settled from the master. */
  readonly begunSteps: readonly string[];
  readonly lastSubmission: LastSubmission | null;
  /** Deaths of the tenant's driver seen since the daemon started. */
  readonly restarts: number;
  /** Submissions accepted since the daemon started. */
  readonly submissions: number;
  readonly master: MasterState | null;
  readonly masterReachable: boolean | null;
  readonly replay: ReplayRow | null;
  readonly lastError: { at: number; message: string } | null;
  /** The ALIVE masters of the split brain last reported (null: none). */
  readonly splitBrain: string | null;
  /** The acting term (`StreamContext.actingTerm`) of the last run; undefined before the first. */
  readonly term?: number | null;
}

export function initialSparkState(crashLoop?: Partial<CrashLoopParams>): SparkState {
  return {
    crash: createCrashLoopState(crashLoop),
    prevAliveIds: null,
    prevActiveIds: null,
    relaunches: new Map(),
    relaunchesSettled: [],
    killedByUs: [],
    ownIds: new Set(),
    ownedRead: false,
    unrecorded: [],
    pendingMarks: [],
    ambiguous: null,
    begunSteps: [],
    lastSubmission: null,
    restarts: 0,
    submissions: 0,
    master: null,
    masterReachable: null,
    replay: null,
    lastError: null,
    splitBrain: null,
  };
}

/**
 * The state for a run in acting term `term`. In a new term (this replica holds the tenant's
 * lease again after another did) the drivers seen alive and the relaunches followed are from
 * before the other's term: deaths and replacements are counted from this run's read on.
 */
export function inTerm(state: SparkState, term: number | null): SparkState {
  if (state.term === term) return state;
  const fresh = state.term !== undefined;
  return fresh ? { ...state, term, prevAliveIds: null, prevActiveIds: null, relaunches: new Map(), ownedRead: false } : { ...state, term };
}

/** The last submission as the decision reads it. An unsettled create has no id: a placeholder the master never lists keeps the grace period. */
export function ownSubmission(state: SparkState): OwnSubmission | null {
  const last = state.lastSubmission;
  if (!last) return null;
  return { submissionId: last.submissionId ?? `unconfirmed-create-${last.at}`, at: last.at };
}

/** The replay row with the flags still to be written shown as set. */
export function withMarks(row: ReplayRow, marks: readonly PendingMark[]): ReplayRow {
  let out = row;
  for (const m of marks) if (m.replayId === row.id) out = { ...out, [m.flag]: true };
  return out;
}

/** The replay row as the decision reads it: pending while a step remains, else none. */
export function toPending(row: ReplayRow | null): PendingReplay | null {
  if (!row || (row.isSubmittedForOffsetsTimestamp && row.isResumedToSubscribePattern)) return null;
  return {
    id: row.id,
    startingOffsetsTimestamp: row.startingOffsetsTimestamp,
    resumeToSubscribePatternTimestamp: row.resumeToSubscribePatternTimestamp,
    isSubmittedForOffsetsTimestamp: row.isSubmittedForOffsetsTimestamp,
    isResumedToSubscribePattern: row.isResumedToSubscribePattern,
  };
}

export interface DueStep {
  flag: ReplayMark['flag'];
  purpose: SubmitPurpose;
  startingOffsetsTimestamp: number | null;
}

/** The replay step due now (start, then resume), if any. */
export function dueStep(replay: PendingReplay, now: number): DueStep | null {
  if (!replay.isSubmittedForOffsetsTimestamp) {
    return replay.startingOffsetsTimestamp <= now
      ? { flag: 'isSubmittedForOffsetsTimestamp', purpose: 'replay-start', startingOffsetsTimestamp: replay.startingOffsetsTimestamp }
      : null;
  }
  if (!replay.isResumedToSubscribePattern && replay.resumeToSubscribePatternTimestamp <= now) {
    return { flag: 'isResumedToSubscribePattern', purpose: 'replay-resume', startingOffsetsTimestamp: null };
  }
  return null;
}

export function stepKey(replayId: number, flag: string, at: number): string {
  return `${replayId}:${flag}:${at}`;
}

/** `items` with `item` appended once, keeping the last `MEMORY_LIMIT`. */
export function remember<T>(items: readonly T[], ...added: T[]): T[] {
  const out = [...items];
  for (const item of added) if (!out.includes(item)) out.push(item);
  return out.length > MEMORY_LIMIT ? out.slice(out.length - MEMORY_LIMIT) : out;
}

/**
 * The state after the master accepted a driver (now, or found after an ambiguous create). It is
 * alive right after the create (SUBMITTED or RUNNING): a death before the next read still counts.
 */
export function afterAccepted(state: SparkState, id: string, last: LastSubmission): SparkState {
  const prev = state.prevAliveIds;
  return {
    ...state,
    ownIds: new Set([...state.ownIds, id]),
    submissions: state.submissions + 1,
    lastSubmission: last,
    prevAliveIds: prev === null ? [id] : prev.includes(id) ? prev : [...prev, id],
  };
}
