/**
 * The pure Spark supervision decision of SPEC §4.2: one observation of the master (plus what
 * the loop remembers) in, one action out. No I/O, no clock: `now` is part of the observation.
 *
 * Definitions (SPARK_PROTOCOL §1–§3):
 *  - alive: listed in `activedrivers` with state SUBMITTED or RUNNING. Completed drivers never
 *    count, whatever their state (a RELAUNCHING record is the retired id of a driver the master
 *    has already replaced under a new id).
 *  - belongs to the tenant: its id is one the tenant submitted (persisted), or it is the
 *    tenant's last own submission, or its main class is the tenant's and no other tenant on
 *    this master has that main class (drivers started by hand; the replacement the master
 *    launches for a supervised driver after a worker loss).
 *
 * Decision order:
 *  (A run whose master read got no answer never gets here: it fails, and the loop backs off.)
 *  1. no alive driver of the tenant →
 *       master not ALIVE → `wait` (master-not-alive);
 *       our last submission is younger than `submitGraceMs` and not yet listed (active or
 *       completed) → `wait` (submit-grace);
 *       crash-loop backoff not over → `wait` (crash-loop-backoff);
 *       otherwise `submit`, whose purpose depends on the pending replay row:
 *         due and not yet submitted → `replay-start`: clean state, submit with the timestamp,
 *           set isSubmittedForOffsetsTimestamp (the submission that was needed anyway IS the
 *           replay submission: no second restart one poll later);
 *         submitted, not resumed, resume time reached → `replay-resume`: clean state, submit
 *           normally, set isResumedToSubscribePattern;
 *         submitted, not resumed, resume time not reached (the replay driver died) →
 *           `replay-continue`: submit with the replay timestamp and no cleaning, so the job
 *           continues from its checkpoint (as the reference does); no flag changes;
 *         otherwise → `keep-alive`: a plain submission, state kept.
 *     (Before 1 and 2: a due replay step whose create was begun less than `submitGraceMs` ago
 *     by a run whose outcome is unknown, its driver not listed yet → `wait` (submit-grace).)
 *  2. alive driver(s) →
 *       a due, not-yet-submitted replay → `submit` (replay-start) killing all of them first;
 *       else a due resume → `submit` (replay-resume) killing all of them first;
 *       else more than one → `kill-duplicates`, keeping the newest;
 *       else `none`.
 *     Anything in 3 that needs the master to act while it is not ALIVE → `wait` instead.
 *  Split brain (several listed masters ALIVE, `master.splitBrain`): drivers on any of them
 *  count, but only those on the master acted on are ever killed: a replay that would kill a
 *  driver on another → `wait` (split-brain); duplicates across masters → keep (the newest of)
 *  those on the other masters, kill the ones on this one, `wait` when none can be killed.
 * Every action lists the tenant's alive drivers and those to adopt (alive, belonging, but not
 * yet recorded as the tenant's: the stream records their ids).
 *
 * Executing a `submit` (the stream's job): kill `kill`, wait until they have left
 * `activedrivers` (bounded; on timeout report and let the next poll decide again), clean state
 * if `cleanState`, submit with `startingOffsetsTimestamp` when not null, then set `markReplay`.
 */
import type { MasterState, SparkDriver } from '../../src/spark/types.js';
import { currentBackoffMs, deathsInWindow, nextSubmitAllowedAt, type CrashLoopState } from './crash-loop.js';
import { masterIndex } from './master-index.js';
import { compareNewestFirst, driverBelongsToTenant, tenantAliveDrivers, type OwnSubmission } from './ownership.js';

/** The pending row of `spark_submit_status` (SPEC §4.3), if any. */
export interface PendingReplay {
  id: number;
  /** Epoch ms: replay Kafka from here. */
  startingOffsetsTimestamp: number;
  /** Epoch ms: go back to the subscribe pattern (normal operation) from here. */
  resumeToSubscribePatternTimestamp: number;
  isSubmittedForOffsetsTimestamp: boolean;
  isResumedToSubscribePattern: boolean;
  /**
   * Epoch ms at which a create for the step now due (start or resume) was begun by a run whose
   * outcome is not known (another replica, or this process before a restart, recorded it and
   * never set the flag), when the master lists no driver of it yet: the create may still be on
   * its way, so the step is not carried out again before `submitGraceMs` have passed.
   */
  stepBegunAt?: number | null;
}

export interface SparkObservation {
  /** Epoch ms. */
  now: number;
  tenant: string;
  /** The tenant's `spark.mainClass`. */
  mainClass: string;
  /** The ALIVE master's state (or the best one read). */
  master: MasterState;
  /** Every driver id this tenant submitted or adopted (persisted). */
  submittedDriverIds: ReadonlySet<string>;
  /** Main classes of the other tenants configured on the same master. */
  otherTenantMainClasses: readonly string[];
  lastSubmission?: OwnSubmission | null;
  pendingReplay?: PendingReplay | null;
  crashLoop: CrashLoopState;
  submitGraceMs: number;
}

export type WaitReason = 'master-not-alive' | 'submit-grace' | 'crash-loop-backoff' | 'split-brain';
export type SubmitPurpose = 'keep-alive' | 'replay-start' | 'replay-continue' | 'replay-resume';
export type ReplayFlag = 'isSubmittedForOffsetsTimestamp' | 'isResumedToSubscribePattern';

/** Set this flag of this `spark_submit_status` row once the submission succeeded. */
export interface ReplayMark {
  replayId: number;
  flag: ReplayFlag;
}

interface SparkActionBase {
  tenant: string;
  /** One sentence for a log line: what was seen and what is done about it. */
  reason: string;
  /** The tenant's alive drivers in this observation, newest first (feed `detectDeaths` next time). */
  aliveDriverIds: string[];
  /** Alive drivers that belong to the tenant but are not recorded as its own yet: record them. */
  adopt: string[];
}

export interface NoAction extends SparkActionBase {
  kind: 'none';
}

export interface WaitAction extends SparkActionBase {
  kind: 'wait';
  waitFor: WaitReason;
  /** When the obstacle ends by itself (grace or backoff over); null when it depends on the master. */
  retryAt: number | null;
}

export interface KillDuplicatesAction extends SparkActionBase {
  kind: 'kill-duplicates';
  /** The newest alive driver, kept. */
  keep: string;
  kill: string[];
}

export interface SubmitAction extends SparkActionBase {
  kind: 'submit';
  purpose: SubmitPurpose;
  /** Drivers to kill, and to wait for until they have left `activedrivers`, before anything else. */
  kill: string[];
  /** Delete `checkPointDir/` and `logsDir/_spark_metadata/` before submitting. */
  cleanState: boolean;
  /** Pass as `kafka.startingOffsetsTimestamp=…`; null for a normal submission. */
  startingOffsetsTimestamp: number | null;
  /** Flag to set once the submission succeeded. */
  markReplay: ReplayMark | null;
}

export type SparkAction = NoAction | WaitAction | KillDuplicatesAction | SubmitAction;

export function decideSparkAction(obs: SparkObservation): SparkAction {
  const { tenant, now, master } = obs;
  const alive = tenantAliveDrivers(obs);
  const base = {
    tenant,
    aliveDriverIds: alive.map((d) => d.id),
    adopt: alive.filter((d) => !obs.submittedDriverIds.has(d.id)).map((d) => d.id),
  };
  const masterAlive = master.status === 'ALIVE';
  const masterNotAlive = `the master ${master.url || master.webUiUrl} is ${master.status || 'in an unknown state'} (only an ALIVE master accepts submissions and kills)`;
  const replay = obs.pendingReplay ?? null;
  const replayDue = replay !== null && !replay.isSubmittedForOffsetsTimestamp && replay.startingOffsetsTimestamp <= now;
  const replayStarted = replay !== null && replay.isSubmittedForOffsetsTimestamp && !replay.isResumedToSubscribePattern;
  const resumeDue = replayStarted && replay.resumeToSubscribePatternTimestamp <= now;
  const stepBegunAt = replay?.stepBegunAt ?? null;

  if ((replayDue || resumeDue) && stepBegunAt !== null && now - stepBegunAt < obs.submitGraceMs) {
    const step = replayDue ? 'start' : 'resume';
    return {
      kind: 'wait',
      waitFor: 'submit-grace',
      retryAt: stepBegunAt + obs.submitGraceMs,
      ...base,
      reason: `replay #${replay?.id} is due to ${step}, but a create for that step was begun ${duration(now - stepBegunAt)} ago and its outcome is not known (the master does not list its driver yet), so the step is not carried out again before ${duration(obs.submitGraceMs)} have passed (${duration(stepBegunAt + obs.submitGraceMs - now)} left)`,
    };
  }

  if (alive.length === 0) {
    const none = `tenant ${tenant} has no alive driver${lastEndedNote(obs, master)}`;
    if (!masterAlive) {
      return { kind: 'wait', waitFor: 'master-not-alive', retryAt: null, ...base, reason: `${none}, but ${masterNotAlive}; waiting` };
    }

    const last = obs.lastSubmission ?? null;
    if (last && now - last.at < obs.submitGraceMs && !listedOnMaster(master, last.submissionId)) {
      return {
        kind: 'wait',
        waitFor: 'submit-grace',
        retryAt: last.at + obs.submitGraceMs,
        ...base,
        reason: `${none}; our submission ${last.submissionId} made ${duration(now - last.at)} ago is not listed by the master yet, so no new submission before ${duration(obs.submitGraceMs)} have passed (${duration(last.at + obs.submitGraceMs - now)} left)`,
      };
    }

    const allowedAt = nextSubmitAllowedAt(obs.crashLoop);
    if (allowedAt !== null && now < allowedAt) {
      const deaths = deathsInWindow(obs.crashLoop, now);
      return {
        kind: 'wait',
        waitFor: 'crash-loop-backoff',
        retryAt: allowedAt,
        ...base,
        reason: `${none}; its driver is crash-looping (${deaths} death${deaths === 1 ? '' : 's'} in the last ${duration(obs.crashLoop.params.windowMs)}), so the next submission waits ${duration(allowedAt - now)} more (backoff ${duration(currentBackoffMs(obs.crashLoop))})`,
      };
    }

    if (replayDue) {
      return submit(
        base,
        'replay-start',
        [],
        true,
        replay.startingOffsetsTimestamp,
        { replayId: replay.id, flag: 'isSubmittedForOffsetsTimestamp' },
        `${none} and replay #${replay.id} is due (from ${instant(replay.startingOffsetsTimestamp)}): cleaning state and submitting from that timestamp`,
      );
    }
    if (resumeDue) {
      return submit(
        base,
        'replay-resume',
        [],
        true,
        null,
        { replayId: replay.id, flag: 'isResumedToSubscribePattern' },
        `${none} and replay #${replay.id} is due to resume the subscribe pattern (at ${instant(replay.resumeToSubscribePatternTimestamp)}): cleaning state and submitting normally`,
      );
    }
    if (replayStarted) {
      return submit(
        base,
        'replay-continue',
        [],
        false,
        replay.startingOffsetsTimestamp,
        null,
        `${none} while replay #${replay.id} is in progress (resume at ${instant(replay.resumeToSubscribePatternTimestamp)}): submitting again from ${instant(replay.startingOffsetsTimestamp)} without cleaning, so it continues from its checkpoint`,
      );
    }
    return submit(base, 'keep-alive', [], false, null, null, `${none}: submitting`);
  }

  const aliveList = describeDrivers(alive);
  const allIds = alive.map((d) => d.id);

  if (replayDue || resumeDue || alive.length > 1) {
    if (!masterAlive) {
      const wanted = replayDue
        ? `replay #${replay?.id} is due`
        : resumeDue
          ? `replay #${replay?.id} is due to resume`
          : `tenant ${tenant} has ${alive.length} alive drivers (${aliveList})`;
      return { kind: 'wait', waitFor: 'master-not-alive', retryAt: null, ...base, reason: `${wanted}, but ${masterNotAlive}; waiting` };
    }
  }

  // Split brain: drivers on another ALIVE master count, but only the one acted on is acted on.
  const elsewhere = master.splitBrain?.elsewhere;
  const unreachable = elsewhere ? alive.filter((d) => elsewhere.has(d.id)) : [];
  const splitNote = (ds: readonly SparkDriver[]) =>
    `${ds.map((d) => `${d.id} runs on ${elsewhere?.get(d.id)}`).join(', ')}, another ALIVE master than the one acted on (${master.splitBrain?.actingOn}; split brain): it is never killed from here`;
  if ((replayDue || resumeDue) && unreachable.length > 0) {
    const wanted = replayDue ? `replay #${replay?.id} is due` : `replay #${replay?.id} is due to resume`;
    return { kind: 'wait', waitFor: 'split-brain', retryAt: null, ...base, reason: `${wanted}, but ${splitNote(unreachable)}; waiting` };
  }

  if (replayDue) {
    return submit(
      base,
      'replay-start',
      allIds,
      true,
      replay.startingOffsetsTimestamp,
      { replayId: replay.id, flag: 'isSubmittedForOffsetsTimestamp' },
      `replay #${replay.id} is due (from ${instant(replay.startingOffsetsTimestamp)}): killing ${aliveList}, cleaning state and submitting from that timestamp`,
    );
  }
  if (resumeDue) {
    return submit(
      base,
      'replay-resume',
      allIds,
      true,
      null,
      { replayId: replay.id, flag: 'isResumedToSubscribePattern' },
      `replay #${replay.id} is due to resume the subscribe pattern (at ${instant(replay.resumeToSubscribePatternTimestamp)}): killing ${aliveList}, cleaning state and submitting normally`,
    );
  }
  if (unreachable.length > 0 && alive.length > 1) {
    // Keep one that cannot be killed from here (the newest of them); kill the others that can.
    const keep = unreachable[0]!;
    const kill = alive.filter((d) => d !== keep && !elsewhere!.has(d.id));
    const left = unreachable.slice(1);
    if (kill.length === 0) {
      return {
        kind: 'wait',
        waitFor: 'split-brain',
        retryAt: null,
        ...base,
        reason: `tenant ${tenant} has ${alive.length} alive drivers (${aliveList}), but ${splitNote(left)}; waiting`,
      };
    }
    return {
      kind: 'kill-duplicates',
      keep: keep.id,
      kill: kill.map((d) => d.id),
      ...base,
      reason: `tenant ${tenant} has ${alive.length} alive drivers (${aliveList}): keeping ${keep.id} (on ${elsewhere!.get(keep.id)}, another ALIVE master: split brain), killing ${kill.map((d) => d.id).join(', ')}${left.length > 0 ? `; ${splitNote(left)}` : ''}`,
    };
  }
  const [newest, ...older] = alive;
  if (newest && older.length > 0) {
    return {
      kind: 'kill-duplicates',
      keep: newest.id,
      kill: older.map((d) => d.id),
      ...base,
      reason: `tenant ${tenant} has ${alive.length} alive drivers (${aliveList}): keeping the newest ${newest.id}, killing ${older.map((d) => d.id).join(', ')}`,
    };
  }
  return {
    kind: 'none',
    ...base,
    reason: `tenant ${tenant}'s driver ${aliveList} is alive${base.adopt.length > 0 ? " (adopting it as the tenant's)" : ''}; nothing to do`,
  };
}

function submit(
  base: Pick<SparkActionBase, 'tenant' | 'aliveDriverIds' | 'adopt'>,
  purpose: SubmitPurpose,
  kill: string[],
  cleanState: boolean,
  startingOffsetsTimestamp: number | null,
  markReplay: ReplayMark | null,
  reason: string,
): SubmitAction {
  return { kind: 'submit', purpose, kill, cleanState, startingOffsetsTimestamp, markReplay, ...base, reason };
}

function listedOnMaster(master: MasterState, id: string): boolean {
  return masterIndex(master).listedIds.has(id);
}

/** ", its last driver driver-… ended FAILED" when the master still lists one. */
function lastEndedNote(obs: SparkObservation, master: MasterState): string {
  const ended = master.completedDrivers.filter((d) => driverBelongsToTenant(d, obs)).sort(compareNewestFirst)[0];
  return ended ? ` (its last driver ${ended.id} ended ${ended.state})` : '';
}

function describeDrivers(drivers: readonly SparkDriver[]): string {
  return drivers.map((d) => `${d.id} ${d.state}`).join(', ');
}

function instant(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/** 45s, 2m 30s, 1h 5m. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s > 0 ? `${m}m ${s}s` : `${m}m`;
  return `${s}s`;
}
