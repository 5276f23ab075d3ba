/**
 * The Spark stream (SPEC §4.2, §4.3) as a reconcile loop: every `loop.sparkPollSeconds` (and on
 * `monitor`) one run reads, observes (pure), decides (pure) and acts. `replay` records a
 * timestamp-based reprocessing in the same lane, so it never races a run.
 *
 * One run:
 *  1. read the master (every configured master; the ALIVE one wins). No answer →
 *     `spark.master-unreachable` and the run fails, so the loop backs off;
 *  2. write what earlier runs owe (submission records, replay flags), then read what the tenant
 *     owns and its replay row — in that order: a row read before would show a step done
 *     meanwhile as still to do;
 *  3. observe: creates and replay steps of unknown outcome and relaunches matched to their
 *     drivers, deaths and the crash-loop state (`observe.ts`); write and report the facts;
 *  4. decide (`decision.ts`); act (`act.ts`): kill (and wait, bounded, until the killed drivers
 *     have left `activedrivers`), clean state, submit, record, set the replay flag; adopt.
 *
 * A create is never retried inside a run. A create whose outcome is unknown (connection
 * dropped after sending, timeout, HTTP 5xx) is remembered with its time: the decision's grace
 * period keeps the next runs from submitting again until the master lists the driver (it is
 * then recognised and recorded) or the grace period is over.
 *
 * Secrets never leave this stream: events and the status view carry ids, states and reasons,
 * never the submission request.
 */
import { defer, Observable } from 'rxjs';
import type { TenantConfig } from '../../src/config/schema.js';
import type { ObjectStore } from '../../src/objectstore/object-store.js';
import type { ReplayRow } from '../../src/db/spark-submit-status.js';
import type { MasterState } from '../../src/spark/types.js';
import type { MonitorArgs, ReplayArgs, SparkRunResult } from '../commands.js';
import { errorMessage } from '../events.js';
import type { StreamContext, StreamDefinition } from '../tenant-loop.js';
import { SparkEffects, type KillWaitOptions } from './act.js';
import type { CrashLoopParams } from './crash-loop.js';
import { decideSparkAction } from './decision.js';
import { DriverOwners } from './driver-owners.js';
import { observe } from './observe.js';
import { isQuietPoll, type SettledRun } from './quiet-poll.js';
import { ownDriverGone, ownedIdsOf, ownedReadNeeded, ownersToAsk, stepToLookUp } from './read-plan.js';
import type { ReplayStore, SparkMaster, SubmissionStore } from './ports.js';
import { initialSparkState, inTerm, ownSubmission, toPending, type SparkState, type SparkTenantFacts } from './state.js';
import { PollRecord, sparkStatusView, type SparkStatusView } from './status-view.js';

export interface SparkStreamDeps {
  tenant: TenantConfig;
  master: SparkMaster;
  store: ObjectStore;
  replays: ReplayStore;
  submissions: SubmissionStore;
  /** Main classes of the other tenants configured on the same master(s). */
  otherTenantMainClasses: readonly string[];
  /**
   * No other process records this tenant's submissions (SQLite: one process acts for every
   * tenant): they are read at the first run only. With many replicas (MySQL) they are read at
   * the first run of each lease term and whenever the master shows more than the steady state
   * (`ownedReadNeeded`).
   */
  soleWriter: boolean;
  intervalMs: number;
  submitGraceMs: number;
  crashLoop?: Partial<CrashLoopParams>;
  killWait?: KillWaitOptions;
  /** Aborts a kill wait (on shutdown); HTTP calls in flight are let finish. */
  signal?: AbortSignal;
}

/** Submissions read back per run: far more than a tenant keeps on a master's retained list. */
const OWNED_LOOKBACK = 500;

export interface SparkStream {
  definition: StreamDefinition;
  /** What the stream knows of the tenant's Spark job, now. */
  status(): SparkStatusView;
}

export function sparkStream(ctx: StreamContext, deps: SparkStreamDeps): SparkStream {
  const tenant: SparkTenantFacts = {
    tenant: ctx.tenant,
    mainClass: deps.tenant.spark.mainClass,
    otherTenantMainClasses: deps.otherTenantMainClasses,
    soleWriter: deps.soleWriter,
    submitGraceMs: deps.submitGraceMs,
  };
  // Shared by the tenants of the process when the wiring passes one (else this tenant's own).
  const submissions = deps.submissions instanceof DriverOwners ? deps.submissions : new DriverOwners(deps.submissions);
  const effects = new SparkEffects(
    {
      tenant: deps.tenant,
      master: deps.master,
      store: deps.store,
      replays: deps.replays,
      submissions,
      submitGraceMs: deps.submitGraceMs,
      ...(deps.killWait ? { killWait: deps.killWait } : {}),
      ...(deps.signal ? { signal: deps.signal } : {}),
      now: () => ctx.now(),
      emit: (event) => ctx.emit(event),
      guard: () => ctx.assertActing(),
    },
    initialSparkState(deps.crashLoop),
  );
  const update = (change: Partial<SparkState>) => (effects.state = { ...effects.state, ...change });
  const polls = new PollRecord();
  /** The last run, while it decided `none` and nothing ran since: what a quiet poll repeats (quiet-poll.ts). */
  let settled: SettledRun | null = null;

  /** The settled run when a poll reading `master` and `replay` now is quiet; null: it must run. */
  const quietOver = (master: MasterState, replay: ReplayRow | null, now: number): SettledRun | null =>
    settled &&
    isQuietPoll(
      effects.state,
      settled,
      { now, master, replay, term: ctx.actingTerm(), owners: () => submissions.aliveByOwner(master, tenant.mainClass) },
      tenant,
    )
      ? settled
      : null;

  /**
   * A tick that needs no run: the shared master state and replay rows are fresh without a read
   * and the poll is quiet. It is recorded as a poll (status, `spark.polled`) at once,
   * without entering the lane.
   */
  const quietTick = (): boolean => {
    const master = deps.master.latestState?.();
    const replay = deps.replays.latestIfFresh?.(ctx.tenant);
    if (!master || replay === undefined) return false;
    const now = ctx.now();
    const quiet = quietOver(master, replay, now);
    if (!quiet) return false;
    // The master is the settled run's, which the state holds already: nearly always only the poll record changes.
    if (effects.state.master !== master) update({ master });
    polls.masterReadAt = now;
    recordPoll(now, 0, 'none', quiet.reason, { masterStatus: master.status, aliveDrivers: quiet.aliveDrivers });
    return true;
  };

  /** What every poll leaves: the last poll in the status, and one `spark.polled` when a master answered (else `spark.master-unreachable` was the event). */
  const recordPoll = (at: number, durationMs: number, outcome: string, reason: string, answered: { masterStatus: string; aliveDrivers: number } | null) => {
    polls.record(at, durationMs, outcome, reason);
    if (answered) ctx.emit({ type: 'spark.polled', ...answered, action: outcome, durationMs });
  };

  /** Reads the records when the plan says so, or when an alive driver of its class it does not know is recorded as the tenant's. */
  const readOwned = async (need: ReturnType<typeof ownedReadNeeded>, state: SparkState, master: MasterState): Promise<boolean> => {
    if (need !== 'owners') return need;
    const { byOwner, unknown } = submissions.aliveByOwner(master, tenant.mainClass);
    if ((byOwner.get(ctx.tenant) ?? []).some((id) => !state.ownIds.has(id))) return true;
    if (unknown.length === 0) return false;
    const owners = await submissions.ownersOf(unknown);
    return unknown.some((id) => owners.get(id) === ctx.tenant && !state.ownIds.has(id));
  };

  /** Steps 2–4 of a run, after the master answered. */
  const reconcile = async (master: MasterState, args: MonitorArgs, report: RunReport): Promise<SparkRunResult> => {
    const now = ctx.now();
    effects.state = inTerm(effects.state, ctx.actingTerm());
    await effects.flushUnrecorded();
    await effects.flushMarks();
    const before = effects.state;
    const [owned, replay] = await Promise.all([
      readOwned(ownedReadNeeded(before, tenant, master), before, master).then((read) => (read ? submissions.recent(ctx.tenant, OWNED_LOOKBACK) : null)),
      deps.replays.latest(ctx.tenant).then((row) => row ?? null),
    ]);
    const step = stepToLookUp(before, replay, now);
    const stepAttempt = step ? await deps.replays.lastStep(ctx.tenant, step.replayId, step.flag) : undefined;
    const ask = ownersToAsk(before, tenant, master, ownedIdsOf(before, owned), stepAttempt);
    const owners = ask.length > 0 ? await submissions.ownersOf(ask) : new Map<string, string>();

    const seen = observe(before, { now, master, owned, replay, stepAttempt, owners }, tenant);
    effects.state = seen.state;
    await effects.apply(seen.facts);

    const ownedIds = new Set(seen.ownedIds);
    const state = effects.state;
    const pending = toPending(state.replay);
    const action = decideSparkAction({
      now,
      tenant: ctx.tenant,
      mainClass: tenant.mainClass,
      master,
      submittedDriverIds: ownedIds,
      otherTenantMainClasses: deps.otherTenantMainClasses,
      lastSubmission: ownSubmission(state),
      pendingReplay: pending && seen.stepBegunAt !== null ? { ...pending, stepBegunAt: seen.stepBegunAt } : pending,
      crashLoop: state.crash,
      submitGraceMs: deps.submitGraceMs,
    });
    const result: SparkRunResult = { action: action.kind, reason: action.reason };
    report.decided = result;
    report.aliveDrivers = action.aliveDriverIds.length;
    await effects.adopt(action.adopt, master, ownedIds);
    switch (action.kind) {
      case 'none':
        break;
      case 'wait':
        ctx.emit({ type: 'spark.waiting', reason: action.reason });
        break;
      case 'kill-duplicates':
        await effects.kill(action.kill, 'duplicate');
        break;
      case 'submit':
        result.submissionId = await effects.submit(action, master, args);
        break;
    }
    return result;
  };

  const run = async (args: MonitorArgs = {}): Promise<SparkRunResult> => {
    const started = ctx.now();
    const startedReal = performance.now();
    const report: RunReport = { masterStatus: null, decided: null, aliveDrivers: 0 };
    let outcome = 'failed';
    let reason = '';
    try {
      let master: MasterState;
      try {
        master = await deps.master.masterState();
      } catch (err) {
        update({ masterReachable: false });
        throw err;
      }
      report.masterStatus = master.status;
      update({ master, masterReachable: true });
      polls.masterReadAt = ctx.now();
      // A poll that reads what the settled run read is quiet (the replay row is read only then).
      const quiet = settled?.master === master ? quietOver(master, (await deps.replays.latest(ctx.tenant)) ?? null, ctx.now()) : null;
      if (quiet) {
        report.aliveDrivers = quiet.aliveDrivers;
        outcome = 'none';
        reason = quiet.reason;
        return { action: 'none', reason };
      }
      settled = null;
      const result = await reconcile(master, overridesOf(args), report);
      outcome = result.action;
      reason = result.reason;
      update({ lastError: null });
      if (result.action === 'none') settled = { master, term: ctx.actingTerm(), aliveDrivers: report.aliveDrivers, reason };
      return result;
    } catch (err) {
      update({ lastError: { at: ctx.now(), message: errorMessage(err) } });
      if (report.masterStatus === null) {
        outcome = 'master-unreachable';
        reason = errorMessage(err);
        ctx.emit({ type: 'spark.master-unreachable', error: reason });
      } else {
        reason = report.decided ? `${report.decided.reason}; failed: ${errorMessage(err)}` : errorMessage(err);
        outcome = report.decided ? `${report.decided.action} (failed)` : 'failed';
      }
      throw err;
    } finally {
      const durationMs = Math.round(performance.now() - startedReal);
      recordPoll(
        started,
        durationMs,
        outcome,
        reason,
        report.masterStatus === null ? null : { masterStatus: report.masterStatus, aliveDrivers: report.aliveDrivers },
      );
    }
  };

  const replay = async (args: ReplayArgs) => {
    settled = null;
    const row = await deps.replays.insert(ctx.tenant, args.startingOffsetsTimestamp, args.resumeToSubscribePatternTimestamp);
    update({ replay: row });
    return row;
  };

  return {
    definition: {
      name: 'spark',
      intervalMs: deps.intervalMs,
      tick: { command: 'monitor', args: {} },
      quietTick,
      commands: {
        monitor: (args) => defer(() => run(args ?? {})),
        replay: (args) => defer(() => replay(args)),
      },
      // The tenants of a master read it in turn: whichever read shows this tenant's driver gone starts its run.
      ...(deps.master.onState ? { wakeups: masterWakeups(deps.master.onState.bind(deps.master), () => effects.state) } : {}),
    },
    status: () => sparkStatusView(effects.state, polls, deps.tenant, deps.otherTenantMainClasses, ctx.now()),
  };
}

/** Emits when a master state read by anyone shows a driver of the tenant that its last run saw alive gone. */
function masterWakeups(onState: NonNullable<SparkMaster['onState']>, state: () => SparkState): Observable<void> {
  return new Observable<void>((subscriber) =>
    onState((next) => {
      if (ownDriverGone(state(), next)) subscriber.next();
    }),
  );
}

/** What a run reports in its `spark.polled` event and status, filled as it goes. */
interface RunReport {
  /** The status of the master read; null while no master answered. */
  masterStatus: string | null;
  /** What the run decided (kept for the report when acting on it fails). */
  decided: SparkRunResult | null;
  aliveDrivers: number;
}

function overridesOf(args: MonitorArgs): MonitorArgs {
  const out: MonitorArgs = {};
  if (args.driverCores !== undefined) out.driverCores = args.driverCores;
  if (args.driverMemoryInGb !== undefined) out.driverMemoryInGb = args.driverMemoryInGb;
  return out;
}
