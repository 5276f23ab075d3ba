/**
 * Act, the executor of the Spark stream's effects: kill, wait until killed drivers are gone,
 * clean state, submit, write records and replay flags, report. It keeps the stream's state in a
 * box, replacing it as each effect is done, so a failure midway leaves what already happened
 * remembered (a kill sent, a create begun).
 *
 * Leadership: `guard()` (the loop's `assertActing`) runs right before every effect that acts —
 * each kill, each delete, each create and the replay writes — so a run that began as the lease
 * holder stops at the first effect after the lease is lost. Submission records are written
 * whoever holds the lease: they record what the master already did.
 */
import type { TenantConfig } from '../../src/config/schema.js';
import type { ObjectStore } from '../../src/objectstore/object-store.js';
import { sleep } from '../../src/common/sleep.js';
import { trimSlashes } from '../../src/common/text.js';
import { hostOfWebUiUrl } from '../../src/spark/hosts.js';
import { buildSubmissionRequest, type SubmissionOverrides } from '../../src/spark/submission-request.js';
import type { MasterState, SubmissionResult } from '../../src/spark/types.js';
import { errorMessage, type EventInput } from '../events.js';
import type { SubmitAction } from './decision.js';
import { requestedSize } from './driver-size.js';
import { masterIndex } from './master-index.js';
import { accept, adopt, type SparkFact } from './facts.js';
import type { ReplayStore, SparkMaster, SubmissionStore } from './ports.js';
import { remember, stepKey, type SparkState } from './state.js';

export interface KillWaitOptions {
  /** Longest wait for killed drivers to leave `activedrivers` (default 30 s). */
  timeoutMs?: number;
  /** Pause between two reads of the master while waiting (default 500 ms). */
  pollMs?: number;
}

export interface SparkEffectsEnv {
  tenant: TenantConfig;
  master: SparkMaster;
  store: ObjectStore;
  replays: ReplayStore;
  submissions: SubmissionStore;
  submitGraceMs: number;
  killWait?: KillWaitOptions;
  /** Aborts a kill wait (on shutdown); HTTP calls in flight are let finish. */
  signal?: AbortSignal;
  now(): number;
  emit(event: EventInput): void;
  /** Throws `NotLeaderError` unless this process acts for the tenant now. */
  guard(): void;
}

const DEFAULT_KILL_WAIT_TIMEOUT_MS = 30_000;
const DEFAULT_KILL_WAIT_POLL_MS = 500;

/** The killed drivers were still in `activedrivers` when the bounded wait ended. */
export class KillWaitTimeoutError extends Error {
  constructor(
    readonly ids: string[],
    waitedMs: number,
  ) {
    super(
      `killed driver(s) ${ids.join(', ')} still listed in activedrivers after ${Math.round(waitedMs)} ms; nothing cleaned or submitted, the next poll decides again`,
    );
    this.name = 'KillWaitTimeoutError';
  }
}

/**
 * A driver being killed was relaunched by the master under a new id instead (its worker was lost
 * while the kill was pending: SPARK_PROTOCOL §3.1). Its replacement runs, so nothing is cleaned
 * or submitted: the next poll adopts the replacement and decides again.
 */
export class KillRelaunchedError extends Error {
  constructor(readonly ids: string[]) {
    super(
      `killed driver(s) ${ids.join(', ')} were relaunched by the master under a new id (their worker was lost) before they stopped; nothing cleaned or submitted, the next poll decides again`,
    );
    this.name = 'KillRelaunchedError';
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

export class SparkEffects {
  constructor(
    private readonly env: SparkEffectsEnv,
    /** The stream's state; every effect replaces it. */
    public state: SparkState,
  ) {}

  /** Writes records that failed earlier; an error leaves the rest for the next run. */
  async flushUnrecorded(): Promise<void> {
    while (this.state.unrecorded.length > 0) {
      await this.env.submissions.record(this.state.unrecorded[0]!);
      this.state = { ...this.state, unrecorded: this.state.unrecorded.slice(1) };
    }
  }

  /** Sets the replay flags of accepted submissions; each step is reported once, by the writer that set its flag. */
  async flushMarks(): Promise<void> {
    while (this.state.pendingMarks.length > 0) {
      const mark = this.state.pendingMarks[0]!;
      // Kept in `pendingMarks` when this process no longer acts; the holder decides from the row.
      this.env.guard();
      const set =
        mark.flag === 'isSubmittedForOffsetsTimestamp'
          ? await this.env.replays.markSubmitted(mark.replayId)
          : await this.env.replays.markResumed(mark.replayId);
      const replay = this.state.replay?.id === mark.replayId ? { ...this.state.replay, [mark.flag]: true } : this.state.replay;
      this.state = { ...this.state, pendingMarks: this.state.pendingMarks.slice(1), replay };
      if (!set) continue;
      this.env.emit(
        mark.flag === 'isSubmittedForOffsetsTimestamp'
          ? { type: 'spark.replay-started', replayId: mark.replayId, startingOffsetsTimestamp: mark.startingOffsetsTimestamp ?? 0 }
          : { type: 'spark.resumed', replayId: mark.replayId },
      );
    }
  }

  /**
   * Writes and reports the facts of an observation, then the replay flags they owe. A failed
   * adoption record is kept for the next run; a failed record of an accepted submission fails
   * the run after everything else was done.
   */
  async apply(facts: readonly SparkFact[]): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (const fact of facts) {
      if (fact.kind === 'event') {
        this.env.emit(fact.event);
        continue;
      }
      try {
        await this.env.submissions.record(fact.record);
      } catch (error) {
        this.state = { ...this.state, unrecorded: [...this.state.unrecorded, fact.record] };
        if (fact.required) failure ??= { error };
      }
    }
    await this.flushMarks();
    if (failure) throw failure.error;
  }

  /** Records alive drivers of the tenant that were not recorded as its own yet. */
  async adopt(ids: readonly string[], master: MasterState, ownedIds: Set<string>): Promise<void> {
    const facts: SparkFact[] = [];
    this.state = adopt(this.state, ids, ownedIds, master, this.env.now(), this.env.tenant.name, facts);
    await this.apply(facts);
  }

  async kill(ids: readonly string[], why: string): Promise<void> {
    // Remembered before the request: a kill whose answer is lost is not a death either.
    this.state = { ...this.state, killedByUs: remember(this.state.killedByUs, ...ids) };
    // `accepted:false` means the driver already finished: nothing left to kill.
    for (const id of ids) {
      this.env.guard();
      await this.env.master.killSubmission(id);
    }
    if (this.state.prevAliveIds) this.state = { ...this.state, prevAliveIds: this.state.prevAliveIds.filter((id) => !ids.includes(id)) };
    this.env.emit({ type: 'spark.killed', submissionIds: [...ids], reason: why });
  }

  /** Reads the master until none of `ids` is in `activedrivers` (bounded in real time). */
  async waitUntilGone(ids: readonly string[]): Promise<MasterState> {
    const timeoutMs = this.env.killWait?.timeoutMs ?? DEFAULT_KILL_WAIT_TIMEOUT_MS;
    const pollMs = this.env.killWait?.pollMs ?? DEFAULT_KILL_WAIT_POLL_MS;
    const pending = new Set(ids);
    const t0 = performance.now();
    let lastError: unknown;
    for (let look = 0; ; look++) {
      let s: MasterState | undefined;
      // Every look after the first reads anew: the shared read, answered again while it is
      // young enough, would go on listing a driver whose kill lands after it was read.
      if (look > 0) this.env.master.invalidateState?.();
      try {
        s = await this.env.master.masterState();
      } catch (err) {
        lastError = err;
      }
      if (s) {
        const relaunched = s.completedDrivers.filter((d) => pending.has(d.id) && d.state === 'RELAUNCHING').map((d) => d.id);
        if (relaunched.length > 0) {
          const error = new KillRelaunchedError(relaunched);
          this.env.emit({ type: 'spark.waiting', reason: error.message });
          throw error;
        }
        const still = s.activeDrivers.filter((d) => pending.has(d.id)).map((d) => d.id);
        if (still.length === 0) return s;
        lastError = new KillWaitTimeoutError(still, performance.now() - t0);
      }
      const waited = performance.now() - t0;
      if (waited >= timeoutMs || this.env.signal?.aborted) {
        const error =
          lastError instanceof KillWaitTimeoutError ? new KillWaitTimeoutError(lastError.ids, waited) : new KillWaitTimeoutError([...pending], waited);
        this.env.emit({
          type: 'spark.waiting',
          reason: `${error.message}${lastError instanceof KillWaitTimeoutError ? '' : ` (last read: ${errorMessage(lastError)})`}`,
        });
        throw error;
      }
      await sleep(Math.min(pollMs, Math.max(1, timeoutMs - waited)), this.env.signal);
    }
  }

  /** Deletes the checkpoint and the sink's `_spark_metadata` (a replay starts from fresh state). */
  async cleanState(): Promise<void> {
    const { tenant, store, signal } = this.env;
    const prefixes = [folder(tenant.spark.checkPointDir, 'checkPointDir'), `${folder(tenant.spark.logsDir, 'logsDir')}_spark_metadata/`];
    let deleted = 0;
    for (const prefix of prefixes) {
      const keys = await store.listKeys(prefix, signal);
      if (keys.length === 0) continue;
      this.env.guard();
      const res = await store.deleteKeys(keys, signal);
      if (res.errors.length > 0) {
        const first = res.errors[0]!;
        throw new StateCleanupError(
          `state cleanup of ${store.describe()} ${prefix}: ${res.errors.length} of ${keys.length} objects not deleted (first ${first.key}: ${first.code} ${first.message}); nothing submitted`,
        );
      }
      deleted += res.deleted;
    }
    this.env.emit({ type: 'spark.state-cleaned', deleted, prefixes });
  }

  /** Carries out a `submit` decision: kill and wait, clean, record a replay step as begun, create, record. */
  async submit(action: SubmitAction, master: MasterState, overrides: SubmissionOverrides): Promise<string> {
    const { env } = this;
    const { tenant } = env;
    // Built first: a request that cannot be built (bad override, missing kafka host) must not cost the tenant its running driver.
    const host = env.master.aliveHost ?? hostOfWebUiUrl(master.webUiUrl, env.master.hosts);
    const request = buildSubmissionRequest({
      tenant,
      masterHost: host,
      overrides,
      ...(action.startingOffsetsTimestamp !== null ? { startingOffsetsTimestamp: action.startingOffsetsTimestamp } : {}),
    });

    let current = master;
    if (action.kill.length > 0) {
      await this.kill(action.kill, action.purpose);
      current = await this.waitUntilGone(action.kill);
    }
    if (action.cleanState) await this.cleanState();

    const { listedIds: before, activeIds: beforeActive } = masterIndex(current);
    const masterUrl = current.url || current.webUiUrl;
    const size = requestedSize(request);
    const at = env.now();
    env.guard();
    if (action.markReplay) {
      // A replay step is recorded as begun before its create is sent: whoever acts next
      // recognises the driver it starts even when this process never gets to set the flag.
      const mainClass = tenant.spark.mainClass;
      await env.replays.beginStep({
        tenant: tenant.name,
        replayId: action.markReplay.replayId,
        flag: action.markReplay.flag,
        at,
        masterUrl,
        mainClass,
        driverCores: size.cores ?? null,
        driverMemoryMb: size.memoryMb ?? null,
        knownDriverIds: [...current.activeDrivers, ...current.completedDrivers].filter((d) => d.mainClass === mainClass).map((d) => d.id),
      });
      this.state = { ...this.state, begunSteps: remember(this.state.begunSteps, stepKey(action.markReplay.replayId, action.markReplay.flag, at)) };
      env.guard();
    }
    let res: SubmissionResult;
    try {
      res = await env.master.createSubmission(request);
    } catch (err) {
      if (createMayHaveSucceeded(err)) {
        this.state = {
          ...this.state,
          ambiguous: {
            at,
            before,
            beforeActive,
            size,
            purpose: action.purpose,
            markReplay: action.markReplay,
            startingOffsetsTimestamp: action.startingOffsetsTimestamp,
            masterUrl,
          },
          lastSubmission: { submissionId: null, at, reason: action.purpose, startingOffsetsTimestamp: action.startingOffsetsTimestamp },
        };
        env.emit({
          type: 'spark.submit-failed',
          reason: action.purpose,
          error: `${errorMessage(err)} (the master may have started the driver: no new submission before it is listed or ${Math.round(env.submitGraceMs / 1000)} s have passed)`,
        });
      } else {
        env.emit({ type: 'spark.submit-failed', reason: action.purpose, error: errorMessage(err) });
      }
      throw err;
    }
    const facts: SparkFact[] = [];
    this.state = accept(
      { ...this.state, ambiguous: null },
      {
        id: res.submissionId,
        at,
        purpose: action.purpose,
        startingOffsetsTimestamp: action.startingOffsetsTimestamp,
        mark: action.markReplay,
        masterUrl,
        reason: action.reason,
      },
      tenant.name,
      facts,
    );
    await this.apply(facts);
    return res.submissionId;
  }
}

/** `checkpoint` → `checkpoint/`; refuses a folder that would mean the whole bucket. */
function folder(path: string, key: string): string {
  const trimmed = trimSlashes(path);
  if (trimmed === '' || trimmed === '.') throw new StateCleanupError(`spark.${key} ${JSON.stringify(path)} names the root of the store; refusing to clean it`);
  return `${trimmed}/`;
}
