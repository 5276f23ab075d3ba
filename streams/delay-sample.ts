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
  let latest: { minutes: number; at: number } | null = null;

  const sample = async ({ maxAgeMs }: SampleDelayArgs): Promise<number> => {
    if (latest && ctx.now() - latest.at < maxAgeMs) return latest.minutes;
    if (!prefix) throw new Error('delayMetrics.app is not configured for this tenant (sampleEnv, sampleServiceName, sampleComponentName)');
    const now = ctx.now();
    const before = deps.store.stats.listCalls;
    try {
      const result = await sampleDelay(now, (hourPath) => deps.store.listPrefixes(prefix + hourPath));
      latest = { minutes: result.minutes, at: now };
      ctx.emit({
        type: 'delay.sampled',
        appLogsDelayMinutes: result.minutes,
        newestPartition: result.newest === null ? null : new Date(result.newest).toISOString(),
        listCalls: deps.store.stats.listCalls - before,
      });
      return result.minutes;
    } catch (err) {
      latest = null;
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
