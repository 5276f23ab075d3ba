import { defer } from 'rxjs';
import type { TenantConfig } from '../src/config/schema.js';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import { sampleDelay } from './delay-decision.js';
import { escapePathName } from './discovery-decision.js';
import { errorMessage } from './events.js';
import type { StreamContext, StreamDefinition } from './tenant-loop.js';

export interface SampleDelayArgs {
  /** A sample younger than this is answered from memory; 0 always takes a new one. */
  maxAgeMs: number;
}

export interface DelayDeps {
  tenant: TenantConfig;
  store: ObjectStore;
  intervalMs: number;
}

/** The sample service's folder: `logs/env=…/service_name=…/component_name=…/`, by the tenant's partition keys. */
export function sampleServicePrefix(tenant: TenantConfig): string | null {
  const app = tenant.delayMetrics?.app;
  if (!app) return null;
  const values: Record<string, string | undefined> = {
    env: app.sampleEnv,
    service_name: app.sampleServiceName,
    component_name: app.sampleComponentName ?? app.sampleComponentType,
  };
  const levels = tenant.partitionKeys.map((key) => {
    const value = values[key];
    return value === undefined ? null : `${key}=${escapePathName(value)}/`;
  });
  if (levels.includes(null)) return null;
  return `${tenant.spark.logsDir.replace(/^\/+|\/+$/g, '')}/${levels.join('')}`;
}

/**
 * The delay-sample stream: every interval (and on `sample-delay`), minutes between now and
 * the newest minute partition of the sample service. A failed sample emits `delay.failed`
 * and fails the run (the caller answers null; the tick is retried with backoff).
 */
export function delaySampleStream(ctx: StreamContext, deps: DelayDeps): StreamDefinition {
  const prefix = sampleServicePrefix(deps.tenant);
  let latest: { minutes: number | null; at: number } | null = null;
  // A failed sample is remembered briefly, so dashboards polling during an outage do not
  // each pay a full listing with retries.
  const failureMemoryMs = Math.min(deps.intervalMs, 10_000);

  const sample = async ({ maxAgeMs }: SampleDelayArgs): Promise<number | null> => {
    // Without a sample service there is nothing to measure; the API answers null, as on failure.
    if (!prefix) return null;
    const now = ctx.now();
    if (latest) {
      const age = now - latest.at;
      // A negative age means the clock went back: the sample is not trusted.
      const memory = latest.minutes === null ? Math.min(maxAgeMs, failureMemoryMs) : maxAgeMs;
      if (age >= 0 && age < memory) return latest.minutes;
    }
    try {
      const result = await sampleDelay(now, (hourPath) => deps.store.listPrefixes(prefix + hourPath));
      latest = { minutes: result.minutes, at: now };
      ctx.emit({
        type: 'delay.sampled',
        appLogsDelayMinutes: result.minutes,
        newestPartition: result.newest === null ? null : new Date(result.newest).toISOString(),
        listCalls: result.listings,
      });
      return result.minutes;
    } catch (err) {
      latest = { minutes: null, at: now };
      ctx.emit({ type: 'delay.failed', error: errorMessage(err) });
      throw err;
    }
  };

  return {
    name: 'delay',
    intervalMs: deps.intervalMs,
    tick: { command: 'sample-delay', args: { maxAgeMs: 0 } },
    commands: { 'sample-delay': (args: SampleDelayArgs) => defer(() => sample(args)) },
  };
}
