import { defer } from 'rxjs';
import { DEFAULT_PARTITION_KEYS, type TenantConfig } from '../src/config/schema.js';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import { sampleDelay } from './delay-decision.js';
import { escapePathName } from './discovery-decision.js';
import { errorMessage } from './events.js';
import { PartitionLayout } from './partition-layout.js';
import type { StreamContext, StreamDefinition } from './tenant-loop.js';
import type { SampleDelayArgs } from './commands.js';
import { trimSlashes } from '../src/common/text.js';

export interface DelayDeps {
  tenant: TenantConfig;
  store: ObjectStore;
  intervalMs: number;
  /** Where the stream publishes its memory of the latest sample, so reads can be answered without a round through the loop. */
  /** The tenant's partition layout, shared with its discovery (default: one of its own). */
  layout?: PartitionLayout;
}

/**
 * The stream's memory of its latest sample. `recall` answers what `sample-delay` would answer
 * from memory, without taking a sample: an HTTP read that finds a young enough sample here is
 * served at once, and only one that does not pushes `sample-delay` into the loop (which may
 * then list the store). Only the stream records into it.
 */
export class DelaySampleMemory {
  private latest: { minutes: number | null; at: number } | null = null;

  constructor(
    private readonly now: () => number,
    /** How long a failed sample is remembered (capped by the caller's maxAgeMs). */
    private readonly failureMemoryMs: number,
  ) {}

  /**
   * The remembered minutes (null: the remembered sample failed) when the latest sample is
   * younger than `maxAgeMs` (a failure: than min(maxAgeMs, failureMemoryMs)); undefined when a
   * new sample is needed. A sample from the future (the clock went back) is not trusted.
   */
  recall(maxAgeMs: number): { minutes: number | null } | undefined {
    const latest = this.latest;
    if (!latest) return undefined;
    const age = this.now() - latest.at;
    const memory = latest.minutes === null ? Math.min(maxAgeMs, this.failureMemoryMs) : maxAgeMs;
    return age >= 0 && age < memory ? { minutes: latest.minutes } : undefined;
  }

  /** @internal The stream's outcome of a sample taken at `at` (null: it failed). */
  record(minutes: number | null, at: number): void {
    this.latest = { minutes, at };
  }
}

/** Each tenant's delay-sample memory, by tenant name. */

/**
 * The sample service's folder: `logs/env=…/service_name=…/component_name=…/`, by the
 * partition keys (default: the tenant's, else the default layout's).
 */
export function sampleServicePrefix(tenant: TenantConfig, partitionKeys: readonly string[] = tenant.partitionKeys ?? DEFAULT_PARTITION_KEYS): string | null {
  const app = tenant.delayMetrics?.app;
  if (!app) return null;
  const values: Record<string, string | undefined> = {
    env: app.sampleEnv,
    service_name: app.sampleServiceName,
    component_name: app.sampleComponentName ?? app.sampleComponentType,
  };
  const levels = partitionKeys.map((key) => {
    const value = values[key];
    return value === undefined ? null : `${key}=${escapePathName(value)}/`;
  });
  if (levels.includes(null)) return null;
  return `${trimSlashes(tenant.spark.logsDir)}/${levels.join('')}`;
}

/**
 * The delay-sample stream: every interval (and on `sample-delay`), minutes between now and
 * the newest minute partition of the sample service. A failed sample emits `delay.failed`
 * and fails the run (the caller answers null; the tick is retried with backoff).
 */
export function delaySampleStream(ctx: StreamContext, deps: DelayDeps): { definition: StreamDefinition; memory: DelaySampleMemory | undefined } {
  const layout = deps.layout ?? new PartitionLayout(deps.tenant, deps.store);
  // Whether there is a sample service at all (its folder depends on the layout, which may be read from the bucket).
  const sampled = deps.tenant.delayMetrics?.app !== undefined;
  // A failed sample is remembered briefly, so dashboards polling during an outage do not
  // each pay a full listing with retries.
  const memory = new DelaySampleMemory(() => ctx.now(), Math.min(deps.intervalMs, 10_000));

  const sample = async ({ maxAgeMs }: SampleDelayArgs): Promise<number | null> => {
    // Without a sample service there is nothing to measure; the API answers null, as on failure.
    if (!sampled) return null;
    const recalled = memory.recall(maxAgeMs);
    if (recalled) return recalled.minutes;
    const now = ctx.now();
    try {
      // The layout (configured, or as discovery last read it from the bucket) says the sample service's folder.
      const prefix = sampleServicePrefix(deps.tenant, await layout.keys(ctx.emit));
      if (!prefix) return null;
      const result = await sampleDelay(now, (hourPath) => deps.store.listPrefixes(prefix + hourPath));
      memory.record(result.minutes, now);
      ctx.emit({
        type: 'delay.sampled',
        appLogsDelayMinutes: result.minutes,
        newestPartition: result.newest === null ? null : new Date(result.newest).toISOString(),
        listCalls: result.listings,
      });
      return result.minutes;
    } catch (err) {
      memory.record(null, now);
      ctx.emit({ type: 'delay.failed', error: errorMessage(err) });
      throw err;
    }
  };

  return {
    definition: {
      name: 'delay',
      intervalMs: deps.intervalMs,
      tick: { command: 'sample-delay', args: { maxAgeMs: 0 } },
      commands: { 'sample-delay': (args) => defer(() => sample(args)) },
    },
    // Without a sample service there is nothing to remember: every read goes through the loop (and answers null).
    memory: sampled ? memory : undefined,
  };
}
