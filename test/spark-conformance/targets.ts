/**
 * The two masters the conformance scenario runs against: the simulator (in process, with a
 * `driverProgram` that behaves like the test application's classes) and a private real Spark
 * cluster. Both get the same single worker, so /json/ sums and driver placement agree.
 */
import { existsSync } from 'node:fs';
import { SparkMasterSimulator, type SimDriverLaunch, type SimDriverRun } from '../spark-sim/master-simulator.js';
import { startPrivateSpark, type PrivateSpark } from '../support/real-spark.js';
import { TEST_APP, type ScenarioTarget } from './scenario.js';

/** The worker of both masters: room for the scenario's four concurrent drivers (512 MB, 1 core each). */
export const WORKER = { cores: 4, memoryMb: 3072 } as const;
export const SPARK_VERSION = '3.5.7';
export const FIXTURE = new URL('../fixtures/spark-3.5/transcript.json', import.meta.url);

/**
 * logwise.testapp.* as a simulator program: FinishAfter / FailAfter exit 0 / 1 after the
 * seconds ending `spark.app.name` (each second `msPerSecond` here), RunUntilKilled never ends;
 * a jar that does not exist cannot be fetched by the worker (ERROR, as Spark's DriverRunner).
 */
export function testAppProgram(msPerSecond: number): (launch: SimDriverLaunch) => SimDriverRun | undefined {
  return (launch) => {
    if (!existsSync(launch.appResource)) return { error: `java.nio.file.NoSuchFileException: ${launch.appResource}` };
    const seconds = Number(/(\d+)$/.exec(launch.sparkProperties['spark.app.name'] ?? '')?.[1] ?? 10);
    if (launch.mainClass === TEST_APP.finishAfter) return { exitAfterMs: seconds * msPerSecond, exitCode: 0 };
    if (launch.mainClass === TEST_APP.failAfter) return { exitAfterMs: seconds * msPerSecond, exitCode: 1 };
    return undefined;
  };
}

export interface SimTarget {
  sim: SparkMasterSimulator;
  target: ScenarioTarget;
}

/** A started simulator shaped like the private real cluster, and the scenario's view of it. */
export async function startSimTarget(): Promise<SimTarget> {
  const sim = await new SparkMasterSimulator({
    sparkVersion: SPARK_VERSION,
    workers: [{ cores: WORKER.cores, memoryMb: WORKER.memoryMb, host: '127.0.0.1' }],
    // slower than needed, so that a loaded machine still polls RUNNING before the end
    driverProgram: testAppProgram(1000),
    superviseBackoffMs: 100,
    killDelayMs: 300,
  }).start();
  const target: ScenarioTarget = {
    host: sim.host,
    uiPort: sim.uiPort,
    restPort: sim.restPort,
    masterUrl: sim.masterUrl,
    // any file that exists stands for the test jar (only the missing one matters to the simulator)
    jar: new URL(import.meta.url).pathname,
    clientSparkVersion: SPARK_VERSION,
    launches: (id) => sim.getDriver(id)?.launches ?? 0,
    timeoutMs: 10_000,
  };
  return { sim, target };
}

/**
 * A private real cluster (ports basePort..basePort+7) with the conformance worker. Its worker
 * must heartbeat within the master's `spark.worker.timeout` (test/services/spark.sh gives both
 * 10 s): otherwise the master drops it now and then and its drivers turn ERROR / RELAUNCHING.
 */
export function startRealCluster(basePort: number): Promise<PrivateSpark> {
  return startPrivateSpark({ basePort, name: `spark-conformance-${basePort}`, workerCores: WORKER.cores, workerMemory: `${WORKER.memoryMb}m` });
}

/** The scenario's view of a real cluster: launches counted from the worker's driver logs. */
export function realTarget(cluster: PrivateSpark): ScenarioTarget {
  const m = cluster.master;
  return {
    host: m.host,
    uiPort: m.uiPort,
    restPort: m.restPort,
    masterUrl: `spark://${m.host}:${m.port}`,
    jar: m.jar,
    clientSparkVersion: m.env.SPARK_TEST_VERSION!,
    launches: (id) =>
      m
        .driverStderr(id)
        .split('\n')
        .filter((l) => l.startsWith('Launch Command: ')).length,
    timeoutMs: 60_000,
  };
}
