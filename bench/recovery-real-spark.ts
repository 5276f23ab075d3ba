/**
 * The recovery benchmark on a real Spark 3.5 standalone master and worker: a private cluster
 * of `test/services/spark.sh` (ports 30200–30203, state under .services/spark-bench-recovery),
 * stopped at the end. The built daemon supervises a few tenants running the test application's
 * `RunUntilKilled` driver (no SparkContext), crash-loop protection at its defaults.
 *
 * Two kinds of death:
 *  - killed from outside (`POST /v1/submissions/kill/<id>`, as an operator or the master's UI
 *    kills it): the worker SIGTERMs the driver's JVM, the master lists it KILLED, and the daemon
 *    must resubmit. The death is the JVM gone (read from /proc every 2 ms; from the kill request
 *    to there the worker and the JVM take a second or more, a figure of its own). Timed: death → the
 *    daemon has the master's acceptance of the resubmission (its `spark.submitted` log line),
 *    → the new driver RUNNING in the master's /json/ (read every 100 ms), → the new driver's
 *    JVM up (its first line in the worker's work dir);
 *  - the driver's JVM SIGKILLed: the daemon submits with `spark.driver.supervise=true`, so the
 *    worker relaunches it in place under the same id and the master keeps listing it RUNNING;
 *    nothing for the daemon to do. Timed: SIGKILL → the relaunched JVM up; counted: the
 *    daemon's submissions for that tenant stay at one.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidAlive } from '../test/support/processes.js';
import { killDriverJvms, realSparkTenant, startPrivateSpark, type PrivateSpark, type RealMaster } from '../test/support/real-spark.js';
import { ROOT, freePort, startDaemon, waitFor, type Daemon } from './daemon.js';
import { progress } from './harness.js';
import { runDeaths, runningSeenAlive, settleAfter, sparkStatus, SubmittedLog, tenantAccounts, type Death, type DeathTarget } from './recovery-deaths.js';

const BASE_PORT = 30200;
const CLUSTER_NAME = 'spark-bench-recovery';
/** What the test application prints first: its JVM is up and in main(). */
const UP_MARK = 'RunUntilKilled';
const SIGKILL_TENANT = 'kill9';

export interface RealPhaseOptions {
  tenants: number;
  deathsPerTenant: number;
  /** SIGKILLs of the driver JVM of one more tenant. */
  jvmKills: number;
  pollMs: number;
}

export interface RealPhaseResult {
  deaths: Death[];
  /** SIGKILL → the relaunched JVM up, ms. */
  inPlaceMs: number[];
  /** Submissions the daemon made for the SIGKILLed tenant after its first. */
  jvmKillResubmissions: number;
  /** Drivers the master learnt of beyond one per tenant plus one per death, and missing ones. */
  extraCreates: number;
  /** Reads of /json/ that listed two alive drivers of one tenant. */
  duplicateReads: number;
  miscounted: number;
  miscountedTenants: { tenant: string; deaths: number; restarts: number; submissions: number }[];
  looping: number;
  threshold: number;
  windowMs: number;
  /** The JVM gone → the master listing the driver no longer alive (KILLED), ms (its /json/ read every 100 ms). */
  goneMs: number[];
  clusterStartMs: number;
  workerCores: number;
}

/** Reads the master's /json/ every 100 ms: when each driver was first listed RUNNING and first listed not alive, and whether a tenant ever had two alive. */
class MasterWatch {
  readonly runningAt = new Map<string, number>();
  readonly goneAt = new Map<string, number>();
  readonly upAt = new Map<string, number>();
  readonly allIds = new Set<string>();
  duplicateReads = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly master: RealMaster,
    private readonly tenantOf: (id: string) => string | undefined,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const at = Date.now();
      try {
        const s = await this.master.state();
        // Times are the answer's: the state changed at the latest then.
        const readAt = Date.now();
        const perTenant = new Map<string, number>();
        for (const d of [...s.activedrivers, ...s.completeddrivers]) {
          this.allIds.add(d.id);
          const alive = s.activedrivers.includes(d) && (d.state === 'RUNNING' || d.state === 'SUBMITTED');
          if (d.state === 'RUNNING' && !this.runningAt.has(d.id)) this.runningAt.set(d.id, readAt);
          if (!alive && this.runningAt.has(d.id) && !this.goneAt.has(d.id)) this.goneAt.set(d.id, readAt);
          const tenant = alive ? this.tenantOf(d.id) : undefined;
          if (tenant) perTenant.set(tenant, (perTenant.get(tenant) ?? 0) + 1);
          if (d.state === 'RUNNING' && !this.upAt.has(d.id) && this.master.driverStdout(d.id).includes(UP_MARK)) this.upAt.set(d.id, Date.now());
        }
        if ([...perTenant.values()].some((n) => n > 1)) this.duplicateReads++;
      } catch {
        // an unanswered read says nothing
      }
      await sleep(Math.max(0, 100 - (Date.now() - at)));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Pids of the DriverWrapper JVMs of driver `id` of this cluster. */
function driverPids(master: RealMaster, id: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.includes('org.apache.spark.deploy.worker.DriverWrapper') && cmd.includes(`${master.workDir}/${id}/`)) pids.push(Number(name));
  }
  return pids;
}

/** How many times the driver's program started (its first line, once per launch). */
const launches = (master: RealMaster, id: string) => master.driverStdout(id).split(UP_MARK).length - 1;

/** SIGKILLs the driver JVM of the tenant `SIGKILL_TENANT` `times` times, each at a random point of the interval; the ms until the relaunched JVM was up. */
async function jvmKills(master: RealMaster, daemon: Daemon, target: DeathTarget, times: number, pollMs: number, timeoutMs: number): Promise<number[]> {
  const out: number[] = [];
  const id = await runningSeenAlive(daemon, target, SIGKILL_TENANT, timeoutMs);
  for (let k = 0; k < times; k++) {
    await sleep(Math.random() * pollMs);
    const before = launches(master, id);
    const pids = driverPids(master, id);
    if (pids.length === 0) throw new Error(`no JVM of ${id} to SIGKILL`);
    const killedAt = Date.now();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await waitFor(`${id} relaunched in place`, timeoutMs, () => launches(master, id) > before, 20);
    out.push(Date.now() - killedAt);
    progress('recovery', `real Spark: ${id} SIGKILLed, relaunched in place by its worker after ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
  }
  return out;
}

export async function realSparkPhase(opts: RealPhaseOptions): Promise<RealPhaseResult> {
  // One core and 512 MB per driver (logical: what the worker offers), and room for the replacements.
  const workerCores = opts.tenants + 3;
  const t0 = Date.now();
  progress('recovery', `real Spark: starting a private cluster on ports ${BASE_PORT}–${BASE_PORT + 3} (worker ${workerCores} cores) ...`);
  let spark: PrivateSpark | undefined;
  // Interrupted (Ctrl-C): the cluster and its drivers go too.
  const stopCluster = () => {
    if (spark) {
      spawnSync('bash', [join(ROOT, 'test', 'services', 'spark.sh'), 'down'], { env: { ...process.env, ...spark.scriptEnv }, stdio: 'ignore' });
      killDriverJvms(spark.master);
    }
    process.exit(130);
  };
  process.once('SIGTERM', stopCluster);
  process.once('SIGINT', stopCluster);
  const dir = mkdtempSync(join(os.tmpdir(), 'lw-bench-recovery-spark-'));
  let daemon: Daemon | undefined;
  let watch: MasterWatch | undefined;
  try {
    spark = await startPrivateSpark({ basePort: BASE_PORT, name: CLUSTER_NAME, workerCores, workerMemory: `${workerCores}g` });
    const master = spark.master;
    await master.killAll(); // a driver left by an earlier run would be adopted
    const clusterStartMs = Date.now() - t0;
    const known = new Set((await master.drivers()).map((d) => d.id));

    const tenants = Array.from({ length: opts.tenants }, (_, i) => `real${i}`);
    const all = [...tenants, ...(opts.jvmKills > 0 ? [SIGKILL_TENANT] : [])];
    const blocks = all.map((name) => {
      mkdirSync(join(dir, 'stores', name), { recursive: true });
      return realSparkTenant(master, { name, store: `objectStore.local.path = "${dir}/stores/${name}"` });
    });
    const port = await freePort();
    // Only the poll interval is set: crash-loop protection, backoff and grace at their defaults.
    daemon = await startDaemon({
      dir,
      port,
      config: `http { port = ${port}, host = "127.0.0.1" }
database { client = sqlite, filename = "${dir}/orchestrator.sqlite" }
loop { sparkPollSeconds = ${opts.pollMs / 1000} }
tenants = [
  ${blocks.join(',\n  ')}
]
`,
    });
    const log = new SubmittedLog(daemon.logFile);
    const tenantOf = (id: string) => all.find((t) => log.submissions(t).some((s) => s.id === id));
    watch = new MasterWatch(master, tenantOf);
    const w = watch;
    const target: DeathTarget = {
      submissions: (t) => log.submissions(t),
      runningAt: (id) => w.runningAt.get(id),
      upAt: (id) => w.upAt.get(id),
      // The worker SIGTERMs the driver's JVM: the death is when that JVM is gone (the master lists it KILLED a moment later).
      kill: async (id) => {
        const pids = driverPids(master, id);
        const res = await master.kill(id);
        if (res.body.success !== true) throw new Error(`the master refused to kill ${id}: ${res.text}`);
        if (pids.length === 0) return waitFor(`${id} listed KILLED`, 60_000, () => w.goneAt.get(id), 5);
        return waitFor(`the JVM of ${id} gone`, 60_000, () => (pids.some(pidAlive) ? undefined : Date.now()), 2);
      },
    };
    const timeoutMs = 4 * opts.pollMs + 60_000;
    progress(
      'recovery',
      `real Spark: cluster up in ${(clusterStartMs / 1000).toFixed(1)} s; ${all.length} tenants, poll ${opts.pollMs / 1000} s; waiting for their drivers ...`,
    );
    for (const t of all) await runningSeenAlive(daemon, target, t, timeoutMs);
    const d = daemon;
    const [deaths, inPlaceMs] = await Promise.all([
      runDeaths({
        daemon: d,
        target,
        tenants,
        deathsPerTenant: opts.deathsPerTenant,
        pollMs: opts.pollMs,
        timeoutMs,
        onDeath: (x, n, total) =>
          progress(
            'recovery',
            `real Spark death ${n}/${total} (${x.tenant}): accepted after ${(x.acceptedMs / opts.pollMs).toFixed(2)} × poll, RUNNING ${(x.runningMs / opts.pollMs).toFixed(2)}, JVM up ${((x.upMs ?? NaN) / 1000).toFixed(1)} s`,
          ),
      }),
      opts.jvmKills > 0 ? jvmKills(master, d, target, opts.jvmKills, opts.pollMs, timeoutMs) : Promise.resolve([]),
    ]);
    await settleAfter(deaths, opts.pollMs);
    await watch.stop();
    const deathsOf = (t: string) => deaths.filter((x) => x.tenant === t).length;
    const expected = all.reduce((sum, t) => sum + 1 + deathsOf(t), 0);
    const learnt = [...w.allIds].filter((id) => !known.has(id)).length;
    const accounts = await tenantAccounts(d, all, deathsOf);
    const status = await sparkStatus(d, tenants[0]!);
    progress('recovery', `real Spark: crash loop threshold ${status.crashLoop.threshold} deaths in ${status.crashLoop.windowMs / 1000} s`);
    return {
      deaths,
      inPlaceMs,
      jvmKillResubmissions: opts.jvmKills > 0 ? log.submissions(SIGKILL_TENANT).length - 1 : 0,
      extraCreates: Math.abs(learnt - expected),
      duplicateReads: w.duplicateReads,
      ...accounts,
      goneMs: deaths.map((x) => (w.goneAt.get(x.died) ?? Number.NaN) - x.at),
      clusterStartMs,
      workerCores,
    };
  } finally {
    await watch?.stop();
    if (daemon) await daemon.stop();
    if (spark) {
      await spark.master.killAll().catch(() => undefined);
      await spark.down().catch((err: Error) => progress('recovery', `stopping the private cluster: ${err.message}`));
      killDriverJvms(spark.master);
    }
    process.off('SIGTERM', stopCluster);
    process.off('SIGINT', stopCluster);
    rmSync(dir, { recursive: true, force: true });
  }
}
