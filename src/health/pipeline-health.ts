/**
 * `GET /pipeline/health` (SPEC §3): one tenant's pipeline, component by component, one check
 * per file under checks/:
 *
 *   vector  checks/vector.ts       Vector's API answers GET /health with {"ok":true}.
 *   kafka   checks/kafka.ts        a broker answers and a topic matches `spark.subscribePattern`.
 *   spark   checks/spark.ts        the master is ALIVE and the tenant has an alive driver.
 *   s3      checks/recent-logs.ts  the sample service's newest logs are recent enough.
 *
 * The four run in parallel, each with its own timeout (an AbortSignal cancels its I/O), so a
 * hung dependency never hangs the endpoint. Overall UP only if every check is UP. Every socket
 * and timer a check opens is released before `checkPipeline` resolves (after a timeout, the
 * check gets `cleanupGraceMs` to release them once aborted).
 */
import type { TenantConfig } from '../config/schema.js';
import { describeError, type CheckContext, type CheckOutcome, type CheckStatus } from './checks/check.js';
import { checkKafka, loadKafkaClient } from './checks/kafka.js';
import { checkRecentLogs, type RecentLogsDeps } from './checks/recent-logs.js';
import { checkSpark, type SparkCheckDeps } from './checks/spark.js';
import { checkVector } from './checks/vector.js';

// ---------------------------------------------------------------- public types

export type ComponentName = 'vector' | 'kafka' | 'spark' | 's3';
export type HealthStatus = 'UP' | 'DOWN';

/** Type aliases (not interfaces) so that they are assignable to `Record<string, unknown>`. */
export type ComponentCheck = {
  name: ComponentName;
  status: CheckStatus;
  /** Why it is DOWN, or a short note on what was seen. */
  message?: string;
  /** Wall time the check took (≈ the timeout when it timed out). */
  durationMs: number;
  details?: Record<string, unknown>;
};

export type PipelineHealth = {
  status: HealthStatus;
  checks: ComponentCheck[];
};

/** What the checks read: the tenant's Spark master client and ownership (spark), its object store and clock (s3). */
export interface PipelineHealthDeps extends SparkCheckDeps, RecentLogsDeps {}

export interface PipelineHealthOptions {
  /** Per check. Default 3000 ms. */
  timeoutMs?: number;
  /** s3 is DOWN when the sample service's newest partition is older than this. Default 15. */
  maxDelayMinutes?: number;
  /** After a timeout, how long the aborted check may take to release its sockets and timers. Default 250 ms. */
  cleanupGraceMs?: number;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 3_000;
export const DEFAULT_MAX_DELAY_MINUTES = 15;
const DEFAULT_CLEANUP_GRACE_MS = 250;

// ---------------------------------------------------------------- entry point

export async function checkPipeline(tenant: TenantConfig, deps: PipelineHealthDeps, opts: PipelineHealthOptions = {}): Promise<PipelineHealth> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new RangeError('checkPipeline: timeoutMs must be positive');
  const graceMs = opts.cleanupGraceMs ?? DEFAULT_CLEANUP_GRACE_MS;
  const maxDelayMinutes = opts.maxDelayMinutes ?? DEFAULT_MAX_DELAY_MINUTES;
  // The Kafka client takes about a second to load: once, before any check's clock starts.
  // (A failure to load is reported by the kafka check itself.)
  if (tenant.kafka) await loadKafkaClient().catch(() => undefined);

  const checks = await Promise.all([
    runCheck('vector', timeoutMs, graceMs, (ctx) => checkVector(tenant, ctx, timeoutMs)),
    runCheck('kafka', timeoutMs, graceMs, (ctx) => checkKafka(tenant, ctx, timeoutMs)),
    runCheck('spark', timeoutMs, graceMs, (ctx) => checkSpark(tenant, deps, ctx)),
    runCheck('s3', timeoutMs, graceMs, (ctx) => checkRecentLogs(tenant, deps, ctx, maxDelayMinutes)),
  ]);
  return { status: checks.every((c) => c.status !== 'DOWN') ? 'UP' : 'DOWN', checks };
}

/** Loads the Kafka client module ahead of the first check (e.g. at start-up); later calls are free. */
export function preloadKafkaClient(): Promise<void> {
  return loadKafkaClient().then(() => undefined);
}

// ---------------------------------------------------------------- runner

async function runCheck(name: ComponentName, timeoutMs: number, graceMs: number, fn: (ctx: CheckContext) => Promise<CheckOutcome>): Promise<ComponentCheck> {
  const started = performance.now();
  const controller = new AbortController();
  let phase = 'starting';
  const ctx: CheckContext = { signal: controller.signal, phase: (what) => void (phase = what), details: {} };
  const work = Promise.resolve()
    .then(() => fn(ctx))
    .catch((error: unknown): CheckOutcome => ({ status: 'DOWN', message: describeError(error) }));

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const first = await Promise.race([work, timedOut]);
  clearTimeout(timer);
  if (first !== 'timeout') return result(name, first, ctx.details, started);

  const durationMs = Math.round(performance.now() - started);
  controller.abort(new Error(`${name} check timed out after ${timeoutMs} ms`));
  // Let the aborted check close what it opened, but never wait on it for long.
  let grace: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (grace = setTimeout(resolve, graceMs)))]);
  clearTimeout(grace);
  return {
    name,
    status: 'DOWN',
    message: `no answer within ${timeoutMs} ms (${phase})`,
    durationMs,
    ...(Object.keys(ctx.details).length > 0 ? { details: ctx.details } : {}),
  };
}

function result(name: ComponentName, outcome: CheckOutcome, details: Record<string, unknown>, started: number): ComponentCheck {
  return {
    name,
    status: outcome.status,
    ...(outcome.message !== undefined ? { message: outcome.message } : {}),
    durationMs: Math.round(performance.now() - started),
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}
