/**
 * The Spark poll stream (SPEC §4.2, §4.3): every `loop.sparkPollSeconds` (and on `monitor`),
 * read the master, decide with the pure `decideSparkAction`, and carry the decision out.
 * `replay` records a timestamp-based reprocessing in the same lane, so it never races a poll.
 *
 * One run:
 *  1. read the master state (every configured master; the ALIVE one wins). No answer →
 *     `spark.master-unreachable` and the run fails, so the loop backs off;
 *  2. read what the tenant owns (persisted submissions) and the replay row;
 *  3. settle an ambiguous create of an earlier run (the driver it may have started);
 *  4. detect deaths of the drivers the previous run saw alive, feed the crash-loop state;
 *  5. decide; carry out: kill (and wait, bounded, until the killed drivers have left
 *     `activedrivers`), clean state, submit, persist the submission, set the replay flag;
 *     record adopted drivers.
 *
 * A create is never retried inside a run. A create whose outcome is unknown (connection
 * dropped after sending, timeout, HTTP 5xx) is remembered with its time: the decision's grace
 * period keeps the next polls from submitting again until the master lists the driver (it is
 * then recognised and recorded) or the grace period is over.
 *
 * Secrets never leave this module: events and the status view carry ids, states and reasons,
 * never the submission request.
 */
import { defer } from 'rxjs';
import type { TenantConfig } from '../src/config/schema.js';
import type { ReplayRow, ReplayStepAttempt } from '../src/db/spark-submit-status.js';
import type { SubmissionRecord } from '../src/db/spark-submissions.js';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import { buildSubmissionRequest, type SubmissionOverrides } from '../src/spark/submission-request.js';
import type { CreateSubmissionRequest, MasterState, SparkDriver, SubmissionResult } from '../src/spark/types.js';
import {
  createCrashLoopState,
  currentBackoffMs,
  deathsInWindow,
  detectDeaths,
  isCrashLooping,
  nextSubmitAllowedAt,
  recordAlive,
  recordDeath,
  type CrashLoopParams,
  type CrashLoopState,
} from './crash-loop.js';
import { errorMessage } from './events.js';
import { masterIndex } from './master-index.js';
import {
  compareNewestFirst,
  decideSparkAction,
  driverBelongsToTenant,
  tenantAliveDrivers,
  type OwnSubmission,
  type PendingReplay,
  type ReplayMark,
  type SparkAction,
  type SparkObservation,
  type SubmitAction,
  type SubmitPurpose,
} from './spark-decision.js';
import type { StreamContext, StreamDefinition } from './tenant-loop.js';

// ---------------------------------------------------------------- dependencies

/** What the stream needs of a Spark master client (`SparkMasterClient` fits). */
export interface SparkMaster {
  readonly hosts: readonly string[];
  /** The host that answered ALIVE most recently. */
  readonly aliveHost: string | undefined;
  masterState(): Promise<MasterState>;
  createSubmission(req: CreateSubmissionRequest): Promise<SubmissionResult>;
  killSubmission(id: string): Promise<{ accepted: boolean; message: string }>;
}

export interface ReplayStore {
  insert(tenant: string, startingOffsetsTimestamp: number, resumeToSubscribePatternTimestamp: number): Promise<ReplayRow>;
  latest(tenant: string): Promise<ReplayRow | undefined>;
  markSubmitted(id: number): Promise<boolean>;
  markResumed(id: number): Promise<boolean>;
  /**
   * The write-ahead of a replay step (SPEC §4.3): recorded right before its create is sent, and
   * read back by whoever acts next while the step's flag is not set, to recognise the driver
   * that create started instead of carrying the step out again. Without them a step is
   * recognised only by the process that sent the create, while it runs.
   */
  beginStep?(attempt: ReplayStepAttempt): Promise<void>;
  lastStep?(tenant: string, replayId: number, flag: ReplayMark['flag']): Promise<ReplayStepAttempt | undefined>;
}

export interface SubmissionStore {
  record(s: SubmissionRecord): Promise<void>;
  recent(tenant: string, limit?: number): Promise<SubmissionRecord[]>;
  /** Which tenant recorded each id (absent: nobody); without it, drivers of others cannot be told apart. */
  ownersOf?(ids: readonly string[]): Promise<Map<string, string>>;
}

export interface KillWaitOptions {
  /** Longest wait for killed drivers to leave `activedrivers` (default 30 s). */
  timeoutMs?: number;
  /** Pause between two reads of the master while waiting (default 500 ms). */
  pollMs?: number;
}

export interface SparkPollDeps {
  tenant: TenantConfig;
  master: SparkMaster;
  store: ObjectStore;
  replays: ReplayStore;
  submissions: SubmissionStore;
  /** Main classes of the other tenants configured on the same master(s). */
  otherTenantMainClasses: readonly string[];
  /**
   * No other process records this tenant's submissions (SQLite: one process acts for every
   * tenant). They are then read at the first poll only, not at every poll; with many replicas
   * (MySQL) another one may have submitted while it held the lease, so every poll reads them.
   */
  soleWriter?: boolean;
  intervalMs: number;
  submitGraceMs: number;
  crashLoop?: Partial<CrashLoopParams>;
  killWait?: KillWaitOptions;
  /** Where the stream publishes its status getter (`GET /api/v1/spark/status`). */
  registry?: SparkStatusRegistry;
  /** Aborts a kill wait (on shutdown); HTTP calls in flight are let finish. */
  signal?: AbortSignal;
  /** Real-time pause (tests may shorten it). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface MonitorArgs extends SubmissionOverrides {}

export interface ReplayArgs {
  startingOffsetsTimestamp: number;
  resumeToSubscribePatternTimestamp: number;
}

export interface SparkPollResult {
  action: SparkAction['kind'];
  reason: string;
  /** The driver this run submitted, if it did. */
  submissionId?: string;
}

/** Per-tenant status getters, filled as the tenants' Spark streams are built. */
export type SparkStatusRegistry = Map<string, () => SparkStatusView>;

// ---------------------------------------------------------------- status view

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

// ---------------------------------------------------------------- constants and errors

const DEFAULT_KILL_WAIT_TIMEOUT_MS = 30_000;
const DEFAULT_KILL_WAIT_POLL_MS = 500;
/** Submissions read back per poll: far more than a tenant keeps on a master's retained list. */
const OWNED_LOOKBACK = 500;
const ADOPTED = 'adopted';
const KILLED_MEMORY = 200;
const COMPLETED_IN_STATUS = 10;

/** The killed drivers were still in `activedrivers` when the bounded wait ended. */
export class KillWaitTimeoutError extends Error {
  constructor(readonly ids: string[], waitedMs: number) {
    super(`killed driver(s) ${ids.join(', ')} still listed in activedrivers after ${Math.round(waitedMs)} ms; nothing cleaned or submitted, the next poll decides again`);
    this.name = 'KillWaitTimeoutError';
  }
}

/** State cleanup could not delete every object: nothing is submitted over a half-cleaned checkpoint. */
export class StateCleanupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateCleanupError';
  }
}

/**
 * Whether a failed create may still have started a driver: no answer after the request was
 * sent (`maybeProcessed`), or a 5xx (Jetty's error page for an uncaught exception, e.g. an RPC
 * timeout after the master scheduled the driver). A 4xx or `success:false` started nothing.
 */
export function createMayHaveSucceeded(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { maybeProcessed?: unknown; kind?: unknown; status?: unknown };
  if (e.maybeProcessed === true) return true;
  if (e.kind === 'protocol') return typeof e.status !== 'number' || e.status >= 500;
  return false;
}

/** The main classes of the tenants (other than `tenant`) whose `sparkMasterHost` lists share a master with it. */
export function otherTenantMainClasses(tenants: readonly TenantConfig[], tenant: string): string[] {
  const self = tenants.find((t) => t.name === tenant);
  if (!self) return [];
  const mine = new Set(self.spark.sparkMasterHost.map(normalizeHost));
  const classes = new Set<string>();
  for (const t of tenants) {
    if (t.name === tenant) continue;
    if (t.spark.sparkMasterHost.some((h) => mine.has(normalizeHost(h)))) classes.add(t.spark.mainClass);
  }
  return [...classes];
}

function normalizeHost(host: string): string {
  return host.trim().toLowerCase();
}

// ---------------------------------------------------------------- the stream

interface AmbiguousCreate {
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

interface LastSubmission {
  submissionId: string | null;
  at: number;
  reason: string;
  startingOffsetsTimestamp: number | null;
}

interface State {
  crash: CrashLoopState;
  /** The tenant's alive drivers at the last read (null before the first one). */
  prevAliveIds: string[] | null;
  /** Every id in `activedrivers` at the last read (null before the first one). */
  prevActiveIds: ReadonlySet<string> | null;
  /**
   * Own drivers the master relaunched (RELAUNCHING), with the new drivers that may be their
   * replacement, until the replacement is known; and those already settled.
   */
  relaunches: Map<string, Set<string>>;
  relaunchesSettled: Set<string>;
  killedByUs: string[];
  /** Ids this process submitted or adopted (also persisted; kept here if the database write failed). */
  ownIds: Set<string>;
  /** `soleWriter`: the tenant's recorded submissions have been read (into `ownIds`). */
  ownedRead: boolean;
  unrecorded: SubmissionRecord[];
  /** Replay flags to set after an accepted submission (kept until the write succeeds). */
  pendingMarks: (ReplayMark & { startingOffsetsTimestamp: number | null })[];
  ambiguous: AmbiguousCreate | null;
  /** Replay steps this process began (`replayId:flag:at`): their outcome is known here, never settled from the master. */
  begunSteps: string[];
  lastSubmission: LastSubmission | null;
  restarts: number;
  submissions: number;
  master: MasterState | null;
  masterReachable: boolean | null;
  masterReadAt: number | null;
  replay: ReplayRow | null;
  lastPoll: { at: number; durationMs: number; outcome: string; reason: string } | null;
  lastError: { at: number; message: string } | null;
  /** The ALIVE masters of the split brain last reported (null: none). */
  splitBrain: string | null;
}

export interface SparkPollStream extends StreamDefinition {
  /** One run, as the `monitor` command does it (outside the lane: for tests that drive the stream directly). */
  poll(args?: MonitorArgs): Promise<SparkPollResult>;
  status(): SparkStatusView;
}

export function sparkPollStream(ctx: StreamContext, deps: SparkPollDeps): SparkPollStream {
  const tenant = deps.tenant;
  const mainClass = tenant.spark.mainClass;
  const killTimeoutMs = deps.killWait?.timeoutMs ?? DEFAULT_KILL_WAIT_TIMEOUT_MS;
  const killPollMs = deps.killWait?.pollMs ?? DEFAULT_KILL_WAIT_POLL_MS;
  const sleep = deps.sleep ?? defaultSleep;
  const state: State = {
    crash: createCrashLoopState(deps.crashLoop),
    prevAliveIds: null,
    prevActiveIds: null,
    relaunches: new Map(),
    relaunchesSettled: new Set(),
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
    masterReadAt: null,
    replay: null,
    lastPoll: null,
    lastError: null,
    splitBrain: null,
  };

  // ------------------------------------------------------------ one run

  const poll = async (args: MonitorArgs = {}): Promise<SparkPollResult> => {
    const started = ctx.now();
    const startedReal = performance.now();
    let outcome = 'failed';
    let reason = '';
    let aliveCount = 0;
    let masterStatus = '';
    try {
      // 1. the master
      let master: MasterState;
      try {
        master = await deps.master.masterState();
      } catch (err) {
        state.masterReachable = false;
        outcome = 'master-unreachable';
        reason = errorMessage(err);
        ctx.emit({ type: 'spark.master-unreachable', error: reason });
        throw err;
      }
      const now = ctx.now();
      state.master = master;
      state.masterReachable = true;
      state.masterReadAt = now;
      masterStatus = master.status;

      // 2. what the tenant owns, and the replay row (read after the flags still to set are set:
      // a row read before would show a step done meanwhile as still to do)
      await flushUnrecorded();
      await flushMarks();
      const readOwned = !(deps.soleWriter && state.ownedRead);
      const [owned, latestReplay] = await Promise.all([readOwned ? deps.submissions.recent(ctx.tenant, OWNED_LOOKBACK) : [], deps.replays.latest(ctx.tenant)]);
      let ownedIds: Set<string>;
      if (deps.soleWriter) {
        // Nobody else records this tenant's submissions: what was read once and what this
        // process recorded since is all there is (every id recorded here is in ownIds too).
        for (const r of owned) state.ownIds.add(r.submissionId);
        state.ownedRead = true;
        ownedIds = state.ownIds;
      } else {
        ownedIds = new Set<string>(state.ownIds);
        for (const r of owned) ownedIds.add(r.submissionId);
      }
      const lastRecorded = owned.find((r) => r.reason !== ADOPTED);
      if (lastRecorded && (!state.lastSubmission || lastRecorded.submittedAt.getTime() > state.lastSubmission.at)) {
        state.lastSubmission = {
          submissionId: lastRecorded.submissionId,
          at: lastRecorded.submittedAt.getTime(),
          reason: lastRecorded.reason,
          startingOffsetsTimestamp: lastRecorded.startingOffsetsTimestamp,
        };
      }
      state.replay = latestReplay ? withMarks(latestReplay) : null;

      // 3. an earlier create whose outcome was unknown (this process's, or a replay step begun
      // by another run); replacements of our relaunched drivers
      await settleAmbiguous(master, ownedIds, now);
      const stepBegunAt = await settleBegunStep(master, ownedIds, now);
      await adoptReplacements(master, ownedIds);

      // 4. deaths and the crash-loop state
      const ownership = {
        mainClass,
        submittedDriverIds: ownedIds,
        otherTenantMainClasses: deps.otherTenantMainClasses,
        lastSubmission: ownSubmission(),
        master,
      };
      const index = masterIndex(master);
      const aliveNow = tenantAliveDrivers(ownership);
      if (state.prevAliveIds !== null) {
        const deaths = detectDeaths(state.prevAliveIds, { master }, state.killedByUs);
        if (deaths.length > 0) {
          const before = { looping: isCrashLooping(state.crash), backoffMs: currentBackoffMs(state.crash) };
          state.crash = recordDeath(state.crash, now);
          state.restarts += 1;
          // Reported when the loop starts and whenever its backoff grows (not again at the cap).
          if (isCrashLooping(state.crash) && (!before.looping || currentBackoffMs(state.crash) > before.backoffMs)) {
            const allowedAt = nextSubmitAllowedAt(state.crash) ?? now;
            ctx.emit({
              type: 'spark.crashloop',
              deaths: deathsInWindow(state.crash, now),
              nextSubmitAt: allowedAt,
              backoffMs: currentBackoffMs(state.crash),
            });
          }
        }
      }
      if (aliveNow.length > 0) {
        const wasLooping = isCrashLooping(state.crash);
        state.crash = recordAlive(state.crash, now);
        if (wasLooping && !isCrashLooping(state.crash)) ctx.emit({ type: 'spark.crashloop-ended', restarts: state.restarts });
      }
      state.prevAliveIds = aliveNow.map((d) => d.id);
      state.prevActiveIds = index.activeIds;
      reportSplitBrain(master, aliveNow);

      // 5. decide and act
      const obs: SparkObservation = {
        now,
        tenant: ctx.tenant,
        mainClass,
        master,
        submittedDriverIds: ownedIds,
        otherTenantMainClasses: deps.otherTenantMainClasses,
        lastSubmission: ownSubmission(),
        pendingReplay: withStepBegunAt(toPending(state.replay), stepBegunAt),
        crashLoop: state.crash,
        submitGraceMs: deps.submitGraceMs,
      };
      const action = decideSparkAction(obs);
      aliveCount = action.aliveDriverIds.length;
      outcome = action.kind;
      reason = action.reason;
      await adopt(action.adopt, master, ownedIds);

      const result: SparkPollResult = { action: action.kind, reason: action.reason };
      switch (action.kind) {
        case 'master-unreachable':
          // Not reached (a failed read throws above); kept for exhaustiveness.
          throw new Error(action.reason);
        case 'none':
          break;
        case 'wait':
          ctx.emit({ type: 'spark.waiting', reason: action.reason });
          break;
        case 'kill-duplicates':
          await kill(action.kill, 'duplicate');
          break;
        case 'submit':
          result.submissionId = await submit(action, master, args);
          break;
      }
      state.lastError = null;
      return result;
    } catch (err) {
      state.lastError = { at: ctx.now(), message: errorMessage(err) };
      if (outcome !== 'master-unreachable') {
        reason = reason ? `${reason}; failed: ${errorMessage(err)}` : errorMessage(err);
        outcome = outcome === 'failed' ? 'failed' : `${outcome} (failed)`;
      }
      throw err;
    } finally {
      const durationMs = Math.round(performance.now() - startedReal);
      state.lastPoll = { at: started, durationMs, outcome, reason };
      // One event per run: `spark.master-unreachable` when no master answered, else this one.
      if (outcome !== 'master-unreachable') ctx.emit({ type: 'spark.polled', masterStatus, aliveDrivers: aliveCount, action: outcome, durationMs });
    }
  };

  // ------------------------------------------------------------ execution

  const submit = async (action: SubmitAction, master: MasterState, args: MonitorArgs): Promise<string> => {
    // Built first: a request that cannot be built (bad override, missing kafka host) must not
    // cost the tenant its running driver.
    const host = deps.master.aliveHost ?? hostOf(master.webUiUrl, deps.master.hosts);
    const request = buildSubmissionRequest({
      tenant,
      masterHost: host,
      overrides: overridesOf(args),
      ...(action.startingOffsetsTimestamp !== null ? { startingOffsetsTimestamp: action.startingOffsetsTimestamp } : {}),
    });

    let current = master;
    if (action.kill.length > 0) {
      await kill(action.kill, action.purpose);
      current = await waitUntilGone(action.kill);
    }
    if (action.cleanState) await cleanState();

    const { listedIds: before, activeIds: beforeActive } = masterIndex(current);
    const masterUrl = current.url || current.webUiUrl;
    const at = ctx.now();
    let res: SubmissionResult;
    // Many replicas: only while this process holds the tenant's lease (it may have lapsed during the kill wait or the cleanup).
    ctx.assertActing?.();
    if (action.markReplay && deps.replays.beginStep) {
      // A replay step is recorded as begun before its create is sent: whoever acts next
      // recognises the driver it starts even when this process never gets to set the flag.
      const size = requestedSize(request);
      await deps.replays.beginStep({
        tenant: ctx.tenant,
        replayId: action.markReplay.replayId,
        flag: action.markReplay.flag,
        at,
        masterUrl,
        mainClass,
        driverCores: size.cores ?? null,
        driverMemoryMb: size.memoryMb ?? null,
        knownDriverIds: [...current.activeDrivers, ...current.completedDrivers].filter((d) => d.mainClass === mainClass).map((d) => d.id),
      });
      state.begunSteps.push(stepKey(action.markReplay.replayId, action.markReplay.flag, at));
      if (state.begunSteps.length > KILLED_MEMORY) state.begunSteps.splice(0, state.begunSteps.length - KILLED_MEMORY);
      ctx.assertActing?.();
    }
    try {
      res = await deps.master.createSubmission(request);
    } catch (err) {
      if (createMayHaveSucceeded(err)) {
        state.ambiguous = { at, before, beforeActive, size: requestedSize(request), purpose: action.purpose, markReplay: action.markReplay, startingOffsetsTimestamp: action.startingOffsetsTimestamp, masterUrl };
        state.lastSubmission = { submissionId: null, at, reason: action.purpose, startingOffsetsTimestamp: action.startingOffsetsTimestamp };
        ctx.emit({
          type: 'spark.submit-failed',
          reason: action.purpose,
          error: `${errorMessage(err)} (the master may have started the driver: no new submission before it is listed or ${Math.round(deps.submitGraceMs / 1000)} s have passed)`,
        });
      } else {
        ctx.emit({ type: 'spark.submit-failed', reason: action.purpose, error: errorMessage(err) });
      }
      throw err;
    }
    state.ambiguous = null;
    await accepted(res.submissionId, at, action.purpose, action.startingOffsetsTimestamp, action.markReplay, masterUrl, action.reason);
    return res.submissionId;
  };

  /** Bookkeeping of a driver the master accepted (now, or found after an ambiguous create). */
  const accepted = async (
    id: string,
    at: number,
    purpose: SubmitPurpose,
    startingOffsetsTimestamp: number | null,
    mark: ReplayMark | null,
    masterUrl: string,
    reason: string,
  ): Promise<void> => {
    state.ownIds.add(id);
    state.submissions += 1;
    state.lastSubmission = { submissionId: id, at, reason: purpose, startingOffsetsTimestamp };
    // Alive right after the create (SUBMITTED or RUNNING): a death before the next read still counts.
    if (state.prevAliveIds !== null && !state.prevAliveIds.includes(id)) state.prevAliveIds = [...state.prevAliveIds, id];
    else if (state.prevAliveIds === null) state.prevAliveIds = [id];
    const record: SubmissionRecord = { tenant: ctx.tenant, submissionId: id, masterUrl, reason: purpose, startingOffsetsTimestamp, submittedAt: new Date(at) };
    let recordError: unknown;
    try {
      await deps.submissions.record(record);
    } catch (err) {
      state.unrecorded.push(record);
      recordError = err;
    }
    ctx.emit({
      type: 'spark.submitted',
      submissionId: id,
      purpose,
      reason,
      ...(startingOffsetsTimestamp !== null ? { startingOffsetsTimestamp } : {}),
    });
    if (mark) {
      state.pendingMarks.push({ ...mark, startingOffsetsTimestamp });
      await flushMarks();
    }
    if (recordError !== undefined) throw recordError;
  };

  const kill = async (ids: readonly string[], why: string): Promise<void> => {
    // Remembered before the request: a kill whose answer is lost is not a death either.
    for (const id of ids) rememberKilled(id);
    // `accepted:false` means the driver already finished: nothing left to kill.
    for (const id of ids) {
      ctx.assertActing?.();
      await deps.master.killSubmission(id);
    }
    if (state.prevAliveIds) state.prevAliveIds = state.prevAliveIds.filter((id) => !ids.includes(id));
    ctx.emit({ type: 'spark.killed', submissionIds: [...ids], reason: why });
  };

  /** Reads the master until none of `ids` is in `activedrivers` (bounded in real time). */
  const waitUntilGone = async (ids: readonly string[]): Promise<MasterState> => {
    const pending = new Set(ids);
    const t0 = performance.now();
    let lastError: unknown;
    for (;;) {
      try {
        const s = await deps.master.masterState();
        const still = s.activeDrivers.filter((d) => pending.has(d.id)).map((d) => d.id);
        if (still.length === 0) return s;
        lastError = new KillWaitTimeoutError(still, performance.now() - t0);
      } catch (err) {
        lastError = err;
      }
      const waited = performance.now() - t0;
      if (waited >= killTimeoutMs || deps.signal?.aborted) {
        const error = lastError instanceof KillWaitTimeoutError ? new KillWaitTimeoutError(lastError.ids, waited) : new KillWaitTimeoutError([...pending], waited);
        ctx.emit({ type: 'spark.waiting', reason: `${error.message}${lastError instanceof KillWaitTimeoutError ? '' : ` (last read: ${errorMessage(lastError)})`}` });
        throw error;
      }
      await sleep(Math.min(killPollMs, Math.max(1, killTimeoutMs - waited)), deps.signal);
    }
  };

  const cleanState = async (): Promise<void> => {
    const prefixes = [folder(tenant.spark.checkPointDir, 'checkPointDir'), `${folder(tenant.spark.logsDir, 'logsDir')}_spark_metadata/`];
    let deleted = 0;
    for (const prefix of prefixes) {
      const keys = await deps.store.listKeys(prefix, deps.signal);
      if (keys.length === 0) continue;
      ctx.assertActing?.();
      const res = await deps.store.deleteKeys(keys, deps.signal);
      if (res.errors.length > 0) {
        const first = res.errors[0]!;
        throw new StateCleanupError(
          `state cleanup of ${deps.store.describe()} ${prefix}: ${res.errors.length} of ${keys.length} objects not deleted (first ${first.key}: ${first.code} ${first.message}); nothing submitted`,
        );
      }
      deleted += res.deleted;
    }
    ctx.emit({ type: 'spark.state-cleaned', deleted, prefixes });
  };

  const adopt = async (ids: readonly string[], master: MasterState, ownedIds: Set<string>): Promise<void> => {
    const fresh = ids.filter((id) => !ownedIds.has(id));
    if (fresh.length === 0) return;
    const at = ctx.now();
    for (const id of fresh) {
      state.ownIds.add(id);
      ownedIds.add(id);
      const record: SubmissionRecord = {
        tenant: ctx.tenant,
        submissionId: id,
        masterUrl: master.url || master.webUiUrl,
        reason: ADOPTED,
        startingOffsetsTimestamp: null,
        submittedAt: new Date(at),
      };
      try {
        await deps.submissions.record(record);
      } catch {
        state.unrecorded.push(record);
      }
    }
    ctx.emit({ type: 'spark.adopted', submissionIds: fresh });
  };

  /**
   * A create of an earlier run got no usable answer. The drivers of the tenant's main class
   * that appeared on the master since (active or completed), that nobody owns, are that create's
   * lineage: the driver it started and, if its worker was lost, the master's replacements (the
   * retired ids RELAUNCHING). When they form exactly one lineage (one driver that is not a
   * RELAUNCHING record), it is recorded: the oldest as the submission (its replay flag set),
   * the rest adopted. A lineage mixed with another tenant's relaunch is not settled. After the
   * grace period, stop looking.
   */
  const settleAmbiguous = async (master: MasterState, ownedIds: Set<string>, now: number): Promise<void> => {
    const a = state.ambiguous;
    if (!a) return;
    const ofOurs = (d: SparkDriver) => d.mainClass === mainClass && sameSize(d, a.size);
    const candidates = await notOwnedByOthers(
      [...master.activeDrivers, ...master.completedDrivers].filter((d) => !a.before.has(d.id) && ofOurs(d) && !ownedIds.has(d.id)),
    );
    const current = candidates.filter((d) => d.state !== 'RELAUNCHING');
    // Another driver of the same class and size relaunched meanwhile: its replacement is
    // indistinguishable from ours, so nothing is claimed (the grace period runs out instead).
    const foreignRelaunch = master.completedDrivers.some((d) => d.state === 'RELAUNCHING' && ofOurs(d) && a.beforeActive.has(d.id) && !ownedIds.has(d.id));
    if (current.length === 1 && !foreignRelaunch) {
      const lineage = [...candidates].sort(compareNewestFirst).reverse();
      const original = lineage[0]!;
      state.ambiguous = null;
      ownedIds.add(original.id);
      for (const d of lineage) if (d.state === 'RELAUNCHING') state.relaunchesSettled.add(d.id);
      await accepted(original.id, a.at, a.purpose, a.startingOffsetsTimestamp, a.markReplay, a.masterUrl, `found on the master after a create that got no usable answer (${a.purpose})`);
      const rest = lineage.slice(1).filter((d) => d.state !== 'RELAUNCHING');
      if (rest.length > 0) await adopt(rest.map((d) => d.id), master, ownedIds);
      // A driver of the lineage is a death only if it is seen alive from now on.
      const aliveIds = new Set(master.activeDrivers.filter(isAlive).map((d) => d.id));
      if (state.prevAliveIds) state.prevAliveIds = state.prevAliveIds.filter((x) => aliveIds.has(x) || !lineage.some((d) => d.id === x));
      if (state.replay) state.replay = withMarks(state.replay);
      return;
    }
    if (now - a.at >= deps.submitGraceMs) state.ambiguous = null;
  };

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
  const settleBegunStep = async (master: MasterState, ownedIds: Set<string>, now: number): Promise<number | null> => {
    const replay = toPending(state.replay);
    const step = replay ? dueStep(replay, now) : null;
    if (!replay || !step || !deps.replays.lastStep) return null;
    // A create of this process for the step: settled here (its flag waits in pendingMarks, or settleAmbiguous looks for it).
    if (state.pendingMarks.some((m) => m.replayId === replay.id && m.flag === step.flag)) return null;
    if (state.ambiguous?.markReplay?.replayId === replay.id && state.ambiguous.markReplay.flag === step.flag) return null;
    const attempt = await deps.replays.lastStep(ctx.tenant, replay.id, step.flag);
    if (!attempt || state.begunSteps.includes(stepKey(attempt.replayId, attempt.flag, attempt.at))) return null;
    const known = new Set(attempt.knownDriverIds);
    const size: DriverSize = {};
    if (attempt.driverCores !== null) size.cores = attempt.driverCores;
    if (attempt.driverMemoryMb !== null) size.memoryMb = attempt.driverMemoryMb;
    const lineage = (
      await notOwnedByOthers([...master.activeDrivers, ...master.completedDrivers].filter((d) => !known.has(d.id) && d.mainClass === attempt.mainClass && sameSize(d, size)))
    )
      .sort(compareNewestFirst)
      .reverse();
    if (lineage.length === 0) return now - attempt.at < deps.submitGraceMs ? attempt.at : null;

    const mark: ReplayMark = { replayId: replay.id, flag: step.flag };
    const recorded = lineage.find((d) => ownedIds.has(d.id));
    if (recorded) {
      // Its create was recorded; only the flag is missing.
      state.pendingMarks.push({ ...mark, startingOffsetsTimestamp: step.startingOffsetsTimestamp });
      await flushMarks();
    } else {
      const original = lineage.find((d) => d.state !== 'RELAUNCHING') ?? lineage[0]!;
      ownedIds.add(original.id);
      for (const d of lineage) if (d.state === 'RELAUNCHING') state.relaunchesSettled.add(d.id);
      await accepted(
        original.id,
        attempt.at,
        step.purpose,
        step.startingOffsetsTimestamp,
        mark,
        attempt.masterUrl,
        `found on the master: the driver of replay #${replay.id}'s ${step.purpose} step, whose create was begun at ${new Date(attempt.at).toISOString()} by a run that did not set its flag`,
      );
      const rest = lineage.filter((d) => d !== original && d.state !== 'RELAUNCHING');
      if (rest.length > 0) await adopt(rest.map((d) => d.id), master, ownedIds);
      // A driver of the lineage is a death only if it is seen alive from now on.
      const aliveIds = new Set(master.activeDrivers.filter(isAlive).map((d) => d.id));
      if (state.prevAliveIds) state.prevAliveIds = state.prevAliveIds.filter((x) => aliveIds.has(x) || !lineage.some((d) => d.id === x));
    }
    if (state.replay) state.replay = withMarks(state.replay);
    return null;
  };

  /**
   * After a worker loss the master retires a supervised driver as RELAUNCHING and starts a
   * replacement under a new id (SPARK_PROTOCOL §3.1). The decision claims a replacement only by
   * main class, which fails where other tenants share the class; here the replacement of an
   * own driver is found by lineage: when an own driver is first seen RELAUNCHING, the alive
   * drivers of the class that are new since the previous read and owned by nobody are its
   * possible replacements. Once exactly one is left that no other tenant has claimed, it is
   * adopted (own drivers relaunched at the same moment share their candidates).
   */
  const adoptReplacements = async (master: MasterState, ownedIds: Set<string>): Promise<void> => {
    const prevActive = state.prevActiveIds;
    const prevAlive = state.prevAliveIds ?? [];
    for (const d of masterIndex(master).relaunched) {
      if (d.mainClass !== mainClass) continue;
      if (state.relaunchesSettled.has(d.id) || state.relaunches.has(d.id)) continue;
      if (!ownedIds.has(d.id) && !prevAlive.includes(d.id)) continue;
      // The replacement keeps the description: same main class, cores and memory.
      const fresh = master.activeDrivers.filter(
        (x) => isAlive(x) && x.mainClass === mainClass && x.cores === d.cores && x.memoryMb === d.memoryMb && !ownedIds.has(x.id) && !(prevActive?.has(x.id) ?? false),
      );
      state.relaunches.set(d.id, new Set(fresh.map((x) => x.id)));
    }
    if (state.relaunches.size === 0) return;
    const alive = new Map(master.activeDrivers.filter(isAlive).map((x) => [x.id, x]));
    // Own relaunches with the same candidates are settled together.
    const groups = new Map<string, string[]>();
    for (const [relaunched, candidates] of state.relaunches) {
      const key = [...candidates].sort().join(',');
      groups.set(key, [...(groups.get(key) ?? []), relaunched]);
    }
    for (const [key, relaunched] of groups) {
      const ids = key === '' ? [] : key.split(',');
      const left = await notOwnedByOthers(ids.flatMap((id) => (alive.has(id) && !ownedIds.has(id) ? [alive.get(id)!] : [])));
      if (left.length > relaunched.length) continue; // others may still claim theirs
      for (const r of relaunched) {
        state.relaunches.delete(r);
        state.relaunchesSettled.add(r);
      }
      if (left.length > 0 && left.length === relaunched.length) await adopt(left.map((x) => x.id), master, ownedIds);
    }
    if (state.relaunchesSettled.size > KILLED_MEMORY) {
      const keep = [...state.relaunchesSettled].slice(-KILLED_MEMORY);
      state.relaunchesSettled = new Set(keep);
    }
  };

  /** Drops the drivers another tenant has recorded as its own. */
  const notOwnedByOthers = async (drivers: SparkDriver[]): Promise<SparkDriver[]> => {
    if (drivers.length === 0 || !deps.submissions.ownersOf) return drivers;
    const owners = await deps.submissions.ownersOf(drivers.map((d) => d.id));
    return drivers.filter((d) => {
      const owner = owners.get(d.id);
      return owner === undefined || owner === ctx.tenant;
    });
  };

  // ------------------------------------------------------------ small helpers

  const ownSubmission = (): OwnSubmission | null => {
    const last = state.lastSubmission;
    if (!last) return null;
    // An unsettled create has no id: a placeholder that the master never lists keeps the grace period.
    return { submissionId: last.submissionId ?? `unconfirmed-create-${last.at}`, at: last.at };
  };

  const flushUnrecorded = async (): Promise<void> => {
    while (state.unrecorded.length > 0) {
      await deps.submissions.record(state.unrecorded[0]!);
      state.unrecorded.shift();
    }
  };

  /** Sets the replay flags of accepted submissions; each step is reported once, by the writer that set its flag. */
  const flushMarks = async (): Promise<void> => {
    while (state.pendingMarks.length > 0) {
      const mark = state.pendingMarks[0]!;
      // Kept in `pendingMarks` when this process no longer acts; the holder decides from the row.
      ctx.assertActing?.();
      const set = mark.flag === 'isSubmittedForOffsetsTimestamp' ? await deps.replays.markSubmitted(mark.replayId) : await deps.replays.markResumed(mark.replayId);
      state.pendingMarks.shift();
      if (state.replay?.id === mark.replayId) state.replay = { ...state.replay, [mark.flag]: true };
      if (!set) continue;
      if (mark.flag === 'isSubmittedForOffsetsTimestamp') {
        ctx.emit({ type: 'spark.replay-started', replayId: mark.replayId, startingOffsetsTimestamp: mark.startingOffsetsTimestamp ?? 0 });
      } else {
        ctx.emit({ type: 'spark.resumed', replayId: mark.replayId });
      }
    }
  };

  const withMarks = (row: ReplayRow): ReplayRow => {
    let out = row;
    for (const m of state.pendingMarks) if (m.replayId === row.id) out = { ...out, [m.flag]: true };
    return out;
  };

  /** `spark.split-brain` when several masters are ALIVE (again, or others than before); `spark.split-brain-ended` when one is left. */
  const reportSplitBrain = (master: MasterState, aliveNow: readonly SparkDriver[]): void => {
    const split = master.splitBrain;
    const key = split ? split.aliveMasters.join(',') : null;
    if (key === state.splitBrain) return;
    if (split) {
      ctx.emit({ type: 'spark.split-brain', masters: [...split.aliveMasters], actingOn: split.actingOn, driversElsewhere: aliveNow.filter((d) => split.elsewhere.has(d.id)).map((d) => d.id) });
    } else {
      ctx.emit({ type: 'spark.split-brain-ended', actingOn: master.webUiUrl });
    }
    state.splitBrain = key;
  };

  const rememberKilled = (id: string): void => {
    if (!state.killedByUs.includes(id)) state.killedByUs.push(id);
    if (state.killedByUs.length > KILLED_MEMORY) state.killedByUs.splice(0, state.killedByUs.length - KILLED_MEMORY);
  };

  // ------------------------------------------------------------ status

  const status = (): SparkStatusView => {
    const master = state.master;
    const ownership = {
      mainClass,
      submittedDriverIds: state.ownIds,
      otherTenantMainClasses: deps.otherTenantMainClasses,
      lastSubmission: ownSubmission(),
    };
    const belongs = (d: SparkDriver) => driverBelongsToTenant(d, ownership) || (state.prevAliveIds ?? []).includes(d.id);
    const alive = master ? master.activeDrivers.filter((d) => isAlive(d) && belongs(d)).sort(compareNewestFirst) : [];
    const completed = master ? master.completedDrivers.filter(belongs).sort(compareNewestFirst).slice(0, COMPLETED_IN_STATUS) : [];
    const now = ctx.now();
    const allowedAt = nextSubmitAllowedAt(state.crash);
    const port = tenant.spark.sparkMasterWebUiPort;
    return {
      tenant: ctx.tenant,
      master: {
        configured: tenant.spark.sparkMasterHost.map((h) => `http://${h}:${port}`),
        webUiUrl: master?.webUiUrl ?? null,
        url: master?.url || null,
        status: state.masterReachable === false ? 'UNREACHABLE' : (master?.status ?? null),
        aliveWorkers: master?.aliveWorkers ?? null,
        readAt: iso(state.masterReadAt),
        splitBrain: master?.splitBrain ? { aliveMasters: [...master.splitBrain.aliveMasters], actingOn: master.splitBrain.actingOn } : null,
      },
      drivers: { alive: alive.map(driverView), recentCompleted: completed.map(driverView) },
      lastSubmission: state.lastSubmission
        ? {
            submissionId: state.lastSubmission.submissionId,
            at: iso(state.lastSubmission.at)!,
            reason: state.lastSubmission.reason,
            startingOffsetsTimestamp: state.lastSubmission.startingOffsetsTimestamp,
          }
        : null,
      restarts: state.restarts,
      submissions: state.submissions,
      crashLoop: {
        looping: isCrashLooping(state.crash),
        deathsInWindow: deathsInWindow(state.crash, now),
        threshold: state.crash.params.threshold,
        windowMs: state.crash.params.windowMs,
        backoffMs: currentBackoffMs(state.crash),
        nextSubmitAllowedAt: iso(allowedAt),
      },
      replay: state.replay
        ? {
            id: state.replay.id,
            startingOffsetsTimestamp: state.replay.startingOffsetsTimestamp,
            resumeToSubscribePatternTimestamp: state.replay.resumeToSubscribePatternTimestamp,
            isSubmittedForOffsetsTimestamp: state.replay.isSubmittedForOffsetsTimestamp,
            isResumedToSubscribePattern: state.replay.isResumedToSubscribePattern,
          }
        : null,
      lastPoll: state.lastPoll ? { ...state.lastPoll, at: iso(state.lastPoll.at)! } : null,
      lastError: state.lastError ? { at: iso(state.lastError.at)!, message: state.lastError.message } : null,
    };
  };

  deps.registry?.set(ctx.tenant, status);

  const replay = async (args: ReplayArgs): Promise<ReplayRow> => {
    const row = await deps.replays.insert(ctx.tenant, args.startingOffsetsTimestamp, args.resumeToSubscribePatternTimestamp);
    state.replay = row;
    return row;
  };

  return {
    name: 'spark',
    intervalMs: deps.intervalMs,
    tick: { command: 'monitor', args: {} },
    commands: {
      monitor: (args: MonitorArgs) => defer(() => poll(args ?? {})),
      replay: (args: ReplayArgs) => defer(() => replay(args)),
    },
    poll,
    status,
  };
}

// ---------------------------------------------------------------- helpers

interface DriverSize {
  cores?: number;
  memoryMb?: number;
}

/** The driver cores and memory a create request asks for (Spark's defaults when absent: 1 core, 1024 MB). */
export function requestedSize(req: CreateSubmissionRequest): DriverSize {
  const size: DriverSize = {};
  const cores = req.sparkProperties['spark.driver.cores'];
  const memory = req.sparkProperties['spark.driver.memory'];
  const c = cores === undefined ? 1 : Number(cores);
  if (Number.isInteger(c)) size.cores = c;
  const m = memory === undefined ? 1024 : memoryStringToMb(memory);
  if (m !== undefined) size.memoryMb = m;
  return size;
}

/** Spark's memory strings (`512m`, `2g`, `1G`; no suffix means bytes) in MB, as the master reports them. */
export function memoryStringToMb(value: string): number | undefined {
  const m = /^([0-9]+)\s*([a-z]*)$/i.exec(value.trim());
  if (!m) return undefined;
  const units: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };
  const mult = units[(m[2] ?? '').toLowerCase()];
  if (mult === undefined) return undefined;
  return Math.floor((Number(m[1]) * mult) / 1024 / 1024);
}

function sameSize(d: SparkDriver, size: DriverSize): boolean {
  return (size.cores === undefined || d.cores === size.cores) && (size.memoryMb === undefined || d.memoryMb === size.memoryMb);
}

function isAlive(d: SparkDriver): boolean {
  return d.state === 'SUBMITTED' || d.state === 'RUNNING';
}

/** The replay step due now (start, then resume), if any. */
function dueStep(replay: PendingReplay, now: number): { flag: ReplayMark['flag']; purpose: SubmitPurpose; startingOffsetsTimestamp: number | null } | null {
  if (!replay.isSubmittedForOffsetsTimestamp) {
    return replay.startingOffsetsTimestamp <= now ? { flag: 'isSubmittedForOffsetsTimestamp', purpose: 'replay-start', startingOffsetsTimestamp: replay.startingOffsetsTimestamp } : null;
  }
  if (!replay.isResumedToSubscribePattern && replay.resumeToSubscribePatternTimestamp <= now) {
    return { flag: 'isResumedToSubscribePattern', purpose: 'replay-resume', startingOffsetsTimestamp: null };
  }
  return null;
}

function stepKey(replayId: number, flag: string, at: number): string {
  return `${replayId}:${flag}:${at}`;
}

function withStepBegunAt(pending: PendingReplay | null, at: number | null): PendingReplay | null {
  return pending && at !== null ? { ...pending, stepBegunAt: at } : pending;
}

/** The replay row as the decision reads it: pending while a step remains, else none. */
function toPending(row: ReplayRow | null): PendingReplay | null {
  if (!row || (row.isSubmittedForOffsetsTimestamp && row.isResumedToSubscribePattern)) return null;
  return {
    id: row.id,
    startingOffsetsTimestamp: row.startingOffsetsTimestamp,
    resumeToSubscribePatternTimestamp: row.resumeToSubscribePatternTimestamp,
    isSubmittedForOffsetsTimestamp: row.isSubmittedForOffsetsTimestamp,
    isResumedToSubscribePattern: row.isResumedToSubscribePattern,
  };
}

function overridesOf(args: MonitorArgs): SubmissionOverrides {
  const out: SubmissionOverrides = {};
  if (args.driverCores !== undefined) out.driverCores = args.driverCores;
  if (args.driverMemoryInGb !== undefined) out.driverMemoryInGb = args.driverMemoryInGb;
  return out;
}

/** `checkpoint` → `checkpoint/`; refuses a folder that would mean the whole bucket. */
function folder(path: string, key: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  if (trimmed === '' || trimmed === '.') throw new StateCleanupError(`spark.${key} ${JSON.stringify(path)} names the root of the store; refusing to clean it`);
  return `${trimmed}/`;
}

function hostOf(webUiUrl: string, hosts: readonly string[]): string {
  return hosts.find((h) => webUiUrl.startsWith(`http://${h}:`) || webUiUrl.startsWith(`http://[${h}]:`)) ?? hosts[0] ?? '';
}

function driverView(d: SparkDriver): DriverView {
  return { id: d.id, state: d.state, mainClass: d.mainClass, worker: d.worker, startedAt: d.startTime > 0 ? iso(d.startTime) : null, submitDate: d.submitDate };
}

function iso(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
