/**
 * Recognising drivers (pure): the driver an earlier create of unknown outcome started, the driver
 * of a replay step begun by a run whose outcome is unknown, and the replacement the master
 * started for a relaunched driver of the tenant — each recorded as the tenant's, with the facts
 * the executor writes, instead of being submitted again.
 */
import type { MasterState, SparkDriver } from '../../src/spark/types.js';
import { isAliveDriver } from '../../src/spark/types.js';
import type { ReplayMark } from './decision.js';
import { sameSize, type DriverSize } from './driver-size.js';
import { accept, adopt, type SparkFact } from './facts.js';
import { masterIndex } from './master-index.js';
import type { SparkReading } from './read-plan.js';
import { compareNewestFirst } from './ownership.js';
import { dueStep, MEMORY_LIMIT, remember, stepKey, toPending, type SparkState, type SparkTenantFacts } from './state.js';

export interface Ctx {
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
 * Records a lineage found on the master: `original` as the accepted submission, the other
 * drivers of the lineage adopted, its RELAUNCHING records settled; a driver of it is a death only
 * if seen alive from now on.
 */
function recordLineage(
  state: SparkState,
  ctx: Ctx,
  lineage: readonly SparkDriver[],
  original: SparkDriver,
  accepted: Parameters<typeof accept>[1],
): SparkState {
  const { master, now } = ctx.reading;
  ctx.ownedIds.add(original.id);
  let next: SparkState = {
    ...state,
    relaunchesSettled: remember(state.relaunchesSettled, ...lineage.filter((d) => d.state === 'RELAUNCHING').map((d) => d.id)),
  };
  next = accept(next, accepted, ctx.tenant.tenant, ctx.facts);
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
  return forgetLineage(next, lineage, master);
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
export function settleAmbiguous(state: SparkState, ctx: Ctx): SparkState {
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
  return recordLineage({ ...state, ambiguous: null }, ctx, lineage, lineage[0]!, {
    id: lineage[0]!.id,
    at: a.at,
    purpose: a.purpose,
    startingOffsetsTimestamp: a.startingOffsetsTimestamp,
    mark: a.markReplay,
    masterUrl: a.masterUrl,
    reason: `found on the master after a create that got no usable answer (${a.purpose})`,
  });
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
export function settleBegunStep(state: SparkState, ctx: Ctx): { state: SparkState; stepBegunAt: number | null } {
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
  return {
    state: recordLineage(state, ctx, lineage, original, {
      id: original.id,
      at: attempt.at,
      purpose: step.purpose,
      startingOffsetsTimestamp: step.startingOffsetsTimestamp,
      mark,
      masterUrl: attempt.masterUrl,
      reason: `found on the master: the driver of replay #${replay.id}'s ${step.purpose} step, whose create was begun at ${new Date(attempt.at).toISOString()} by a run that did not set its flag`,
    }),
    stepBegunAt: null,
  };
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
export function adoptReplacements(state: SparkState, ctx: Ctx): SparkState {
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
