import { leaseMsOf, type TenantConfig } from '../src/config/schema.js';
import { delaySampleStream } from './delay-sample.js';
import { discoveryStream } from './discovery.js';
import type { SharedDeps, TenantStreamsFactory, TenantViews } from './ports.js';
import { serviceDelaysStream } from './service-delays.js';
import { DEFAULT_CRASH_LOOP_PARAMS, type CrashLoopParams } from './spark/crash-loop.js';
import { otherTenantMainClasses } from './spark/ownership.js';
import { sparkStream, type SparkStreamDeps } from './spark/stream.js';
import type { StreamDefinition } from './tenant-loop.js';

/** Every stream a tenant runs, and the views readers get of them. */
export const tenantStreams: TenantStreamsFactory = (tenant, ctx, deps) => {
  const { loop } = deps.config;
  const store = deps.store(tenant.name);
  // One layout per tenant: discovery reads it from the bucket (without partitionKeys), the delay streams follow it.
  const layout = deps.layout(tenant.name);
  const spark = sparkStream(ctx, sparkStreamDeps(tenant, deps));
  const delay = delaySampleStream(ctx, { tenant, store, intervalMs: loop.delaySampleSeconds * 1000, layout });
  const definitions: StreamDefinition[] = [
    spark.definition,
    discoveryStream(ctx, { tenant, store, services: deps.services, intervalMs: loop.discoverySeconds * 1000, layout }),
    delay.definition,
  ];
  const views: TenantViews = { spark: spark.status, ...(delay.memory ? { delaySample: delay.memory } : {}) };
  if (tenant.delayMetrics?.allServices) {
    const serviceDelays = serviceDelaysStream(ctx, {
      tenant,
      store,
      services: deps.services,
      intervalMs: loop.delaySampleSeconds * 1000,
      signal: deps.shutdown,
      layout,
    });
    views.serviceDelays = serviceDelays.state;
    definitions.push(serviceDelays.definition);
  }
  return { definitions, views };
};

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

/** The Spark stream's dependencies from the shared ones (tests add crash-loop or kill-wait settings). */
export function sparkStreamDeps(tenant: TenantConfig, deps: SharedDeps, extra: Partial<SparkStreamDeps> = {}): SparkStreamDeps {
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
    signal: deps.shutdown,
    ...extra,
  };
}
