/**
 * Recovery (issue 17, target 4): a tenant's driver dies → the master accepts the daemon's
 * resubmission, as a ratio of the poll interval (target p95 ≤ 1.0), on the built daemon as
 * operators run it (`node dist/src/main.js --config FILE`, bench/daemon.ts) with crash-loop
 * protection at its defaults, on two masters:
 *
 *  1. the Spark master simulator over real HTTP (bench/recovery-sim.ts), poll 2 s;
 *  2. a real Spark 3.5 standalone master and worker, a private cluster of test/services/spark.sh
 *     (bench/recovery-real-spark.ts), at the default 15 s poll an operator runs; there also
 *     death → the new driver RUNNING in the master's /json/ (target p95 ≤ 1.0) and → its JVM up.
 *
 * A death is the driver killed from outside (KILLED), at a random point of the tenant's poll
 * interval, timed from when its process ended (on real Spark the JVM gone, a second or more
 * after the kill request: the worker's SIGTERM and the JVM's exit; that part is a figure of its
 * own, and so is the ratio measured from the kill request). One
 * tenant's deaths come one after the other, the tenants side by side. Crash-loop
 * protection starts spacing submissions at 5 deaths within 600 s, so no tenant dies more than
 * 4 times in a run: the deaths are spread over several tenants. On real Spark one more tenant's
 * driver JVM is SIGKILLed instead: supervised, it is relaunched in place by its worker and the
 * daemon must not submit (counted).
 *
 *   node --import tsx bench/recovery.bench.ts [--quick]
 *
 * --quick  simulator 4 tenants × 2 deaths, real Spark 2 tenants × 1 death and 1 JVM SIGKILL
 *          (about 2 minutes with the cluster's start); full: 6 × 4 on each, 3 SIGKILLs.
 */
import os from 'node:os';
import { buildDaemon } from './daemon.js';
import { hasFlag, progress, reportResult, type BenchResult, type TargetFigure } from './harness.js';
import { percentile, ratios, round } from './recovery-deaths.js';
import { realSparkPhase } from './recovery-real-spark.js';
import { simPhase } from './recovery-sim.js';

const quick = hasFlag('--quick');
const SIM = quick ? { tenants: 4, deathsPerTenant: 2, pollMs: 2_000 } : { tenants: 6, deathsPerTenant: 4, pollMs: 2_000 };
const REAL = quick ? { tenants: 2, deathsPerTenant: 1, jvmKills: 1, pollMs: 15_000 } : { tenants: 6, deathsPerTenant: 4, jvmKills: 3, pollMs: 15_000 };

async function main(): Promise<void> {
  const loadAtStart = os.loadavg();
  buildDaemon();
  const sim = await simPhase(SIM);
  const simR = ratios(
    sim.deaths.map((d) => d.acceptedMs),
    SIM.pollMs,
  );
  progress('recovery', `simulator: accepted p50 ${simR.p50}, p95 ${simR.p95}, max ${simR.max} × poll over ${simR.all.length} deaths`);
  const loadAfterSim = os.loadavg();
  const real = await realSparkPhase(REAL);
  const accepted = ratios(
    real.deaths.map((d) => d.acceptedMs),
    REAL.pollMs,
  );
  const running = ratios(
    real.deaths.map((d) => d.runningMs),
    REAL.pollMs,
  );
  const up = real.deaths.map((d) => (d.upMs ?? Number.NaN) - d.runningMs);
  const killMs = real.deaths.map((d) => d.killMs);
  const fromRequest = ratios(
    real.deaths.map((d) => d.acceptedMs + d.killMs),
    REAL.pollMs,
  );
  progress('recovery', `real Spark: accepted p95 ${accepted.p95}, RUNNING p95 ${running.p95} × poll over ${accepted.all.length} deaths`);

  const targets: TargetFigure[] = [
    { name: 'recovery.sim.acceptedP95', value: simR.p95, unit: '× poll interval', op: '<=', limit: 1, kind: 'timing' },
    { name: 'recovery.realSpark.acceptedP95', value: accepted.p95, unit: '× poll interval', op: '<=', limit: 1, kind: 'timing' },
    {
      name: 'recovery.realSpark.runningP95',
      value: running.p95,
      unit: '× poll interval',
      op: '<=',
      limit: 1,
      limitNote: 'death → the new driver RUNNING in /json/',
      kind: 'timing',
    },
    {
      name: 'recovery.sim.createsOffByOne',
      value: sim.extraCreates,
      unit: 'creates',
      op: '=',
      limit: 0,
      limitNote: 'accepted creates per tenant ≠ 1 + its deaths',
      kind: 'deterministic',
    },
    {
      name: 'recovery.realSpark.driversOffByOne',
      value: real.extraCreates,
      unit: 'drivers',
      op: '=',
      limit: 0,
      limitNote: 'drivers the master learnt of ≠ 1 per tenant + 1 per death (none for a JVM SIGKILL)',
      kind: 'deterministic',
    },
    {
      name: 'recovery.realSpark.twoAliveReads',
      value: real.duplicateReads,
      unit: 'reads of /json/',
      op: '=',
      limit: 0,
      limitNote: 'listing two alive drivers of one tenant',
      kind: 'deterministic',
    },
    {
      name: 'recovery.deathsMiscounted',
      value: sim.miscounted + real.miscounted,
      unit: 'tenants',
      op: '=',
      limit: 0,
      limitNote: "the daemon's restarts ≠ deaths caused, or its submissions ≠ deaths + 1",
      kind: 'deterministic',
    },
  ];
  const result: BenchResult = {
    name: 'recovery',
    quick,
    scale: `simulator ${SIM.tenants} tenants × ${SIM.deathsPerTenant} deaths at a ${SIM.pollMs / 1000} s poll; real Spark ${REAL.tenants} tenants × ${REAL.deathsPerTenant} deaths at a ${REAL.pollMs / 1000} s poll + ${REAL.jvmKills} JVM SIGKILLs; crash-loop protection on (defaults) = ${sim.deaths.length} simulator + ${real.deaths.length} real Spark deaths`,
    targets,
    figures: {
      'recovery.sim.pollSeconds': SIM.pollMs / 1000,
      'recovery.sim.deaths': sim.deaths.length,
      'recovery.sim.acceptedP50': simR.p50,
      'recovery.sim.acceptedMax': simR.max,
      'recovery.realSpark.pollSeconds': REAL.pollMs / 1000,
      'recovery.realSpark.deaths': real.deaths.length,
      'recovery.realSpark.acceptedP50': accepted.p50,
      'recovery.realSpark.acceptedMax': accepted.max,
      'recovery.realSpark.runningP50': running.p50,
      'recovery.realSpark.runningMax': running.max,
      // RUNNING → the driver's main() started: the JVM's start-up on the worker.
      'recovery.realSpark.jvmStartP50Seconds': round(percentile(up, 50) / 1000, 2),
      'recovery.realSpark.jvmStartP95Seconds': round(percentile(up, 95) / 1000, 2),
      // The kill request → the JVM gone: the worker's and the JVM's part, before the death.
      'recovery.realSpark.killRequestToDeathP50Ms': Math.round(percentile(killMs, 50)),
      'recovery.realSpark.killRequestToDeathMaxMs': Math.round(Math.max(...killMs)),
      'recovery.realSpark.deathToListedKilledP50Ms': Math.round(percentile(real.goneMs, 50)),
      'recovery.realSpark.deathToListedKilledMaxMs': Math.round(Math.max(...real.goneMs)),
      // Measured from the kill request instead of the death.
      'recovery.realSpark.fromKillRequestAcceptedP95': fromRequest.p95,
      'recovery.realSpark.jvmKills': real.inPlaceMs.length,
      'recovery.realSpark.jvmKillResubmissions': real.jvmKillResubmissions,
      'recovery.realSpark.jvmKillRelaunchP50Seconds': round(percentile(real.inPlaceMs, 50) / 1000, 2),
      'recovery.realSpark.jvmKillRelaunchMaxSeconds': round(Math.max(...real.inPlaceMs) / 1000, 2),
      'recovery.realSpark.clusterStartSeconds': round(real.clusterStartMs / 1000, 1),
      'recovery.realSpark.workerCores': real.workerCores,
      'recovery.crashLoopThreshold': real.threshold,
      'recovery.crashLoopWindowSeconds': real.windowMs / 1000,
      'recovery.tenantsCrashLooping': sim.looping + real.looping,
    },
    info: {
      loadAverage: { start: loadAtStart, afterSimulator: loadAfterSim, end: os.loadavg() },
      simAcceptedRatios: simR.all,
      realAcceptedRatios: accepted.all,
      realRunningRatios: running.all,
      miscountedTenants: [...sim.miscountedTenants, ...real.miscountedTenants],
      realKillRequestToDeathMs: killMs,
      realJvmUpSeconds: real.deaths.map((d) => round((d.upMs ?? Number.NaN) / 1000, 2)),
      realJvmKillRelaunchSeconds: real.inPlaceMs.map((ms) => round(ms / 1000, 2)),
    },
  };
  reportResult(result);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`recovery benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
