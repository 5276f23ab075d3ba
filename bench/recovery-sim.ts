/**
 * The recovery benchmark on the Spark master simulator (over real HTTP, in this process): the
 * built daemon supervises a few tenants on it, crash-loop protection at its defaults, and
 * their drivers die (killed from outside through the REST server, as an operator or the
 * master's UI kills one: KILLED) at
 * random points of the poll interval. The master's acceptance is the simulator's record of
 * the create request.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { SparkMasterSimulator } from '../test/spark-sim/master-simulator.js';
import { freePort, startDaemon, waitFor, type Daemon } from './daemon.js';
import { progress } from './harness.js';
import { runDeaths, runningSeenAlive, settleAfter, tenantAccounts, type Death, type DeathTarget, type Submission } from './recovery-deaths.js';

const MAIN_CLASS = 'com.logwise.spark.MainApplication';

export interface SimPhaseOptions {
  tenants: number;
  deathsPerTenant: number;
  pollMs: number;
}

export interface SimPhaseResult {
  deaths: Death[];
  /** Accepted creates per death beyond the one each needs, summed over tenants (duplicates), and missing ones. */
  extraCreates: number;
  /** Tenants whose death and submission counts in the daemon's status differ from the deaths caused. */
  miscounted: number;
  miscountedTenants: { tenant: string; deaths: number; restarts: number; submissions: number }[];
  looping: number;
  threshold: number;
  windowMs: number;
}

const tenantName = (i: number) => `sim${i}`;

function tenantOfCreate(body: unknown): string | undefined {
  const args = (body as { appArgs?: unknown } | undefined)?.appArgs;
  if (!Array.isArray(args)) return undefined;
  for (const a of args) {
    const m = typeof a === 'string' ? /^kafka\.cluster\.dns=(sim\d+)\.kafka$/.exec(a) : null;
    if (m) return m[1];
  }
  return undefined;
}

function configText(port: number, dir: string, sim: SparkMasterSimulator, opts: SimPhaseOptions): string {
  const tenants = Array.from({ length: opts.tenants }, (_, i) => {
    const name = tenantName(i);
    mkdirSync(join(dir, 'stores', name), { recursive: true });
    return `{
    name = "${name}"
    objectStore.local.path = "${dir}/stores/${name}"
    kafka { kafkaBrokersHost = "${name}.kafka" }
    spark {
      sparkMasterHost = "${sim.host}"
      sparkMasterWebUiPort = ${sim.uiPort}
      sparkMasterRestPort = ${sim.restPort}
      sparkJarPath = "s3a://jars/logwise-spark.jar"
      mainClass = "${MAIN_CLASS}"
    }
  }`;
  });
  // Only the poll interval differs from the defaults: no loop.crashLoop block, so its defaults hold.
  return `http { port = ${port}, host = "127.0.0.1" }
database { client = sqlite, filename = "${dir}/orchestrator.sqlite" }
loop { sparkPollSeconds = ${opts.pollMs / 1000} }
tenants = [
  ${tenants.join(',\n  ')}
]
`;
}

function simTarget(sim: SparkMasterSimulator): DeathTarget {
  const runningAt = new Map<string, number>();
  return {
    submissions: (tenant) =>
      sim.createRequests
        .filter((r) => r.status === 200 && r.submissionId !== undefined && tenantOfCreate(r.body) === tenant)
        .map((r): Submission => ({ id: r.submissionId!, at: r.at })),
    runningAt: (id) => {
      if (!runningAt.has(id) && sim.getDriver(id)?.state === 'RUNNING') runningAt.set(id, Date.now());
      return runningAt.get(id);
    },
    // Through the REST server, as on real Spark: the driver ends KILLED.
    kill: async (id) => {
      const res = await fetch(`${sim.restUrl}/v1/submissions/kill/${id}`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      const body = (await res.json()) as { success?: boolean };
      if (body.success !== true) throw new Error(`the simulator refused to kill ${id}: ${JSON.stringify(body)}`);
      // The simulated process ends when the simulator moves the driver to KILLED.
      return waitFor(`${id} KILLED`, 10_000, () => (sim.getDriver(id)?.state === 'RUNNING' ? undefined : Date.now()), 1);
    },
  };
}

export async function simPhase(opts: SimPhaseOptions): Promise<SimPhaseResult> {
  const dir = mkdtempSync(join(os.tmpdir(), 'lw-bench-recovery-sim-'));
  const sim = new SparkMasterSimulator({ workers: [{ cores: 64, memoryMb: 262_144 }] });
  await sim.start();
  let daemon: Daemon | undefined;
  try {
    const port = await freePort();
    daemon = await startDaemon({ dir, port, config: configText(port, dir, sim, opts) });
    const tenants = Array.from({ length: opts.tenants }, (_, i) => tenantName(i));
    const target = simTarget(sim);
    const timeoutMs = 4 * opts.pollMs + 30_000;
    progress('recovery', `simulator: ${tenants.length} tenants, poll ${opts.pollMs / 1000} s; waiting for their drivers ...`);
    for (const t of tenants) await runningSeenAlive(daemon, target, t, timeoutMs);
    const deaths = await runDeaths({
      daemon,
      target,
      tenants,
      deathsPerTenant: opts.deathsPerTenant,
      pollMs: opts.pollMs,
      timeoutMs,
      onDeath: (d, n, total) =>
        progress('recovery', `simulator death ${n}/${total} (${d.tenant}): accepted after ${(d.acceptedMs / opts.pollMs).toFixed(2)} × poll`),
    });
    await settleAfter(deaths, opts.pollMs);
    const deathsOf = (t: string) => deaths.filter((d) => d.tenant === t).length;
    const extraCreates = tenants.reduce((sum, t) => sum + Math.abs(target.submissions(t).length - (1 + deathsOf(t))), 0);
    const accounts = await tenantAccounts(daemon, tenants, deathsOf);
    return { deaths, extraCreates, ...accounts };
  } finally {
    if (daemon) await daemon.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
