/**
 * Helpers for tests that run the Spark poll stream against the master simulator: tenant HOCON
 * pointing at a simulator, an orchestrator with only the Spark stream, conditions to wait for,
 * and an observer that counts a main class's alive drivers at every request the master serves.
 */
import type { DatabaseConfig } from '../../src/config/schema.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import type { TenantStreamsFactory } from '../../streams/ports.js';
import type { KillWaitOptions } from '../../streams/spark/act.js';
import type { CrashLoopParams } from '../../streams/spark/crash-loop.js';
import { sparkStream } from '../../streams/spark/stream.js';
import { sparkStreamDeps, tenantStreams } from '../../streams/tenant-streams.js';
import { SparkMasterSimulator, type MasterSimulatorOptions } from '../spark-sim/master-simulator.js';
import { tenantHocon } from './daemon-config.js';
import { startDaemon } from './daemon.js';
import type { TestOrchestrator } from './orchestrator.js';

export const MAIN_CLASS = 'com.logwise.spark.MainApplication';
export const JAR = 's3a://jars/logwise-spark.jar';

/** One tenant's HOCON block on the given masters (all simulators share ports; see `haSimulators`). */
export function sparkTenant(
  sims: SparkMasterSimulator | SparkMasterSimulator[],
  opts: { name?: string; mainClass?: string; store?: string; extra?: string } = {},
): string {
  return tenantHocon({
    name: opts.name ?? 'ABC',
    store: opts.store ?? 'objectStore.local.path = "{{dir}}/store"',
    kafka: 'kafka { kafkaBrokersHost = "kafka-1.internal" }',
    masters: Array.isArray(sims) ? sims : [sims],
    jar: JAR,
    mainClass: opts.mainClass ?? MAIN_CLASS,
    ...(opts.extra !== undefined ? { extra: opts.extra } : {}),
  });
}

export interface SparkHarnessOptions {
  tenants: string[];
  pollSeconds?: number;
  graceSeconds?: number;
  backoff?: { minSeconds: number; maxSeconds: number };
  crashLoop?: Partial<CrashLoopParams>;
  killWait?: KillWaitOptions;
  database?: DatabaseConfig;
  quietTicks?: boolean;
  /** The daemon's own streams (Spark, discovery, delay) instead of the Spark stream alone. */
  allStreams?: boolean;
}

export interface SparkHarness {
  t: TestOrchestrator;
  events: OrchestratorEvent[];
  eventsOf<K extends OrchestratorEvent['type']>(type: K, tenant?: string): Extract<OrchestratorEvent, { type: K }>[];
  status(tenant?: string): Promise<Record<string, any>>;
  monitor(body?: unknown, tenant?: string): Promise<{ status: number; body: Record<string, any> }>;
  post(path: string, body: unknown, tenant?: string): Promise<{ status: number; body: Record<string, any> }>;
  stop(): Promise<void>;
}

/** An orchestrator running only the tenants' Spark streams (unless `allStreams`). */
export async function startSparkOrchestrator(opts: SparkHarnessOptions): Promise<SparkHarness> {
  const sparkOnly: TenantStreamsFactory = (tenant, ctx, deps) => {
    const spark = sparkStream(
      ctx,
      sparkStreamDeps(tenant, deps, { ...(opts.crashLoop ? { crashLoop: opts.crashLoop } : {}), ...(opts.killWait ? { killWait: opts.killWait } : {}) }),
    );
    return { definitions: [spark.definition], views: { spark: spark.status } };
  };
  const d = await startDaemon({
    tenants: opts.tenants,
    loop: {
      sparkPollSeconds: opts.pollSeconds ?? 0.2,
      submitGraceSeconds: opts.graceSeconds ?? 1,
      backoff: opts.backoff ?? { minSeconds: 0.2, maxSeconds: 1 },
    },
    streams: opts.allStreams ? tenantStreams : sparkOnly,
    ...(opts.quietTicks ? { quietTicks: true } : {}),
    ...(opts.database ? { database: opts.database } : {}),
  });
  return {
    t: d.t,
    events: d.events,
    eventsOf: d.eventsOf,
    status: async (tenant = 'ABC') => {
      const res = await d.get('/api/v1/spark/status', tenant);
      if (res.status !== 200) throw new Error(`GET /api/v1/spark/status answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.data as Record<string, any>;
    },
    monitor: (body, tenant = 'ABC') =>
      d.request(
        '/monitor-spark-job',
        { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) },
        tenant,
      ),
    post: (path, body, tenant = 'ABC') => d.post(path, body, tenant),
    stop: d.stop,
  };
}

/** Polls `condition` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 15_000, intervalMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A simulator that records, at every request it serves, the most alive drivers of `mainClass` it held. */
export async function observedSimulator(
  opts: MasterSimulatorOptions & { mainClass?: string } = {},
): Promise<{ sim: SparkMasterSimulator; maxAlive(): number; resetMax(): void }> {
  const mainClass = opts.mainClass ?? MAIN_CLASS;
  let max = 0;
  let sim: SparkMasterSimulator | undefined;
  const observe = () => {
    if (!sim) return;
    max = Math.max(max, aliveOf(sim, mainClass).length);
  };
  sim = new SparkMasterSimulator({ ...opts, log: () => observe() });
  await sim.start();
  return { sim, maxAlive: () => (observe(), max), resetMax: () => (max = 0) };
}

/** The simulator's alive (SUBMITTED or RUNNING) drivers of a main class. */
export function aliveOf(sim: SparkMasterSimulator, mainClass = MAIN_CLASS) {
  return sim.activeDrivers().filter((d) => d.mainClass === mainClass && (d.state === 'SUBMITTED' || d.state === 'RUNNING'));
}

/** Accepted creates (the master started a driver), whatever the client saw of the answer. */
export function acceptedCreates(sim: SparkMasterSimulator) {
  return sim.createRequests.filter((r) => r.submissionId !== undefined);
}
