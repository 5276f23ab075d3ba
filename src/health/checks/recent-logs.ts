/**
 * The s3 check: the newest minute partition of the sample service (`delayMetrics.app`) is at
 * most `maxDelayMinutes` old; with no sample service, the store answers a ping.
 */
import type { TenantConfig } from '../../config/schema.js';
import type { ObjectStore } from '../../objectstore/object-store.js';
import { HOURS_WALKED, sampleDelay } from '../../../streams/delay-decision.js';
import { sampleServicePrefix } from '../../../streams/delay-sample.js';
import type { PartitionLayout } from '../../../streams/partition-layout.js';
import type { CheckContext, CheckOutcome } from './check.js';

export interface RecentLogsDeps {
  /** The tenant's object store. */
  store: ObjectStore;
  /** Epoch ms (the delay sample's clock). */
  now(): number;
  /** The tenant's partition layout (read from the bucket when not configured); default: the configured or default keys. */
  layout?: Pick<PartitionLayout, 'keys'>;
}

export async function checkRecentLogs(tenant: TenantConfig, deps: RecentLogsDeps, ctx: CheckContext, maxDelayMinutes: number): Promise<CheckOutcome> {
  const store = deps.store;
  ctx.details.store = store.describe();
  const prefix = tenant.delayMetrics?.app ? sampleServicePrefix(tenant, deps.layout ? await deps.layout.keys(undefined, ctx.signal) : undefined) : null;
  if (!prefix) {
    ctx.phase('waiting for the object store to answer a ping');
    await store.ping(ctx.signal);
    return { status: 'UP', message: 'no sample service configured (delayMetrics.app), so recent logs are not checked; the object store answered' };
  }
  ctx.details.sampleService = prefix;
  ctx.details.maxDelayMinutes = maxDelayMinutes;
  ctx.phase(`listing the minute partitions under ${prefix}`);
  const now = deps.now();
  const sample = await sampleDelay(now, (hourPath) => deps.store.listPrefixes(prefix + hourPath, ctx.signal));
  const newest = sample.newest === null ? null : new Date(sample.newest).toISOString();
  Object.assign(ctx.details, { delayMinutes: sample.newest === null ? null : sample.minutes, newestPartition: newest });
  if (sample.newest === null) return { status: 'DOWN', message: `no logs of the sample service in the last ${HOURS_WALKED} hours (${prefix})` };
  if (sample.minutes > maxDelayMinutes) {
    return { status: 'DOWN', message: `the newest logs of the sample service are ${sample.minutes} minutes old (${newest}), more than ${maxDelayMinutes}` };
  }
  return { status: 'UP', message: `the newest logs of the sample service are ${sample.minutes} minute${sample.minutes === 1 ? '' : 's'} old` };
}
