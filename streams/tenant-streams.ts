import { leaseMsOf, type TenantConfig } from '../src/config/schema.js';
import type { SharedDeps, TenantStreamsFactory } from '../src/orchestrator.js';
import { delaySampleStream } from './delay-sample.js';
import { discoveryStream } from './discovery.js';
import { PartitionLayout } from './partition-layout.js';
import { serviceDelaysStream } from './service-delays.js';
import { otherTenantMainClasses, sparkPollStream, type SparkPollDeps } from './spark-poll.js';
import { DEFAULT_CRASH_LOOP_PARAMS, type CrashLoopParams } from './crash-loop.js';

/** Every stream a tenant runs. */
export const tenantStreams: TenantStreamsFactory = (tenant, ctx, deps) => {
  const { loop } = deps.config;
  const store = deps.store(tenant.name);
  // One layout per tenant: discovery reads it from the bucket (without partitionKeys), the delay streams follow it.
  const layout = deps.layout?.(tenant.name) ?? new PartitionLayout(tenant, store);
  const streams = [
    sparkPollStream(ctx, sparkPollDeps(tenant, deps)),
    discoveryStream(ctx, { tenant, store, services: deps.services, intervalMs: loop.discoverySeconds * 1000, layout }),
    delaySampleStream(ctx, { tenant, store, intervalMs: loop.delaySampleSeconds * 1000, registry: deps.delaySamples, layout }),
  ];
  if (tenant.delayMetrics?.allServices) {
    const serviceDelays = serviceDelaysStream(ctx, {
      tenant,
      store,
      services: deps.services,
      intervalMs: loop.delaySampleSeconds * 1000,
      signal: deps.shutdown,
      layout,
    });
    deps.serviceDelays.set(tenant.name, serviceDelays.state);
    streams.push(serviceDelays.definition);
  }
  return streams;
};

/** The Spark poll stream's dependencies from the shared ones (tests add crash-loop or kill-wait settings). */
/** `loop.crashLoop` (seconds, as configured) → the crash-loop parameters it sets (ms). */
export function crashLoopParams(c: NonNullable<SharedDeps['config']['loop']['crashLoop']>): Partial<CrashLoopParams> {
  return {
    ...(c.threshold !== undefined ? { threshold: c.threshold } : {}),
    ...(c.windowSeconds !== undefined ? { windowMs: c.windowSeconds * 1000 } : {}),
    ...(c.maxBackoffSeconds !== undefined
      ? // a cap below the first wait lowers the first wait too
        { maxBackoffMs: c.maxBackoffSeconds * 1000, baseBackoffMs: Math.min(DEFAULT_CRASH_LOOP_PARAMS.baseBackoffMs, c.maxBackoffSeconds * 1000) }
      : {}),
  };
}

export function sparkPollDeps(tenant: TenantConfig, deps: SharedDeps, extra: Partial<SparkPollDeps> = {}): SparkPollDeps {
  const { loop } = deps.config;
  return {
    tenant,
    master: deps.sparkMaster(tenant.name),
    store: deps.store(tenant.name),
    replays: deps.replays,
    submissions: deps.submissions,
    otherTenantMainClasses: otherTenantMainClasses(deps.config.tenants, tenant.name),
    // Without leases (SQLite) this process is the only one that records submissions.
    soleWriter: leaseMsOf(deps.config) === null,
    intervalMs: loop.sparkPollSeconds * 1000,
    submitGraceMs: loop.submitGraceSeconds * 1000,
    ...(loop.crashLoop ? { crashLoop: crashLoopParams(loop.crashLoop) } : {}),
    registry: deps.sparkStatus,
    signal: deps.shutdown,
    ...extra,
  };
}
