import { defer, from, lastValueFrom, mergeMap, toArray } from 'rxjs';
import type { TenantConfig } from '../src/config/schema.js';
import type { ServiceDetailsRepository, ServicePartition } from '../src/db/service-details.js';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import { lastFolder, partitionId, partitionValue, planSync, toPartition } from './discovery-decision.js';
import { errorMessage } from './events.js';
import type { StreamContext, StreamDefinition } from './tenant-loop.js';

/** Prefix listings in flight at once: enough to hide S3 latency, few enough to stay polite. */
const LIST_CONCURRENCY = 16;
/** Service names an event lists before it only counts. */
const EVENT_SAMPLE = 20;

export interface SyncArgs {
  force: boolean;
}

export interface SyncResult {
  onboarded: number;
  removed: number;
  present: number;
  ignoredFolders: number;
  guarded?: { wouldRemove: number; known: number };
}

export interface DiscoveryDeps {
  tenant: TenantConfig;
  store: ObjectStore;
  services: ServiceDetailsRepository;
  intervalMs: number;
}

/**
 * The discovery stream: every interval (and on `sync`), list the partition folders, diff
 * them with the tenant's rows and apply the difference. A listing error throws before any
 * row is touched, so an outage never deletes anything.
 */
export function discoveryStream(ctx: StreamContext, deps: DiscoveryDeps): StreamDefinition {
  const sync = (args: SyncArgs) => defer(() => runSync(ctx, deps, args.force));
  return {
    name: 'discovery',
    intervalMs: deps.intervalMs,
    tick: { command: 'sync', args: { force: false } },
    commands: { sync },
  };
}

async function runSync(ctx: StreamContext, deps: DiscoveryDeps, force: boolean): Promise<SyncResult> {
  const started = ctx.now();
  const listCallsBefore = deps.store.stats.listCalls;
  const retriesBefore = deps.store.stats.retries;
  let listing: { partitions: ServicePartition[]; ignored: number };
  try {
    listing = await listPartitions(deps.store, `${trimSlashes(deps.tenant.spark.logsDir)}/`, deps.tenant.partitionKeys);
  } catch (err) {
    ctx.emit({ type: 'discovery.failed', error: errorMessage(err) });
    throw err;
  }
  const known = await deps.services.listByTenant(ctx.tenant);
  const plan = planSync(known, listing.partitions, deps.tenant, force);
  const at = new Date(ctx.now());

  await deps.services.insertMany(ctx.tenant, plan.insert, at);
  const removed = await deps.services.deleteByIds(ctx.tenant, plan.remove.map((r) => r.id));
  await deps.services.touch(ctx.tenant, plan.present.map((r) => r.id), at);

  if (plan.insert.length) ctx.emit({ type: 'discovery.onboarded', count: plan.insert.length, services: sample(plan.insert.map(describe)) });
  if (removed) ctx.emit({ type: 'discovery.removed', count: removed, services: sample(plan.remove.map(describe)) });
  if (plan.guarded) {
    ctx.emit({
      type: 'discovery.guarded',
      ...plan.guarded,
      reason: `the listing would remove ${plan.guarded.wouldRemove} of ${plan.guarded.known} services (more than half); nothing removed, sync with force=true to remove them`,
    });
  }
  const result: SyncResult = {
    onboarded: plan.insert.length,
    removed,
    present: plan.present.length,
    ignoredFolders: listing.ignored,
    ...(plan.guarded ? { guarded: plan.guarded } : {}),
  };
  ctx.emit({
    type: 'discovery.synced',
    onboarded: result.onboarded,
    removed: result.removed,
    present: result.present,
    ignoredFolders: result.ignoredFolders,
    listCalls: deps.store.stats.listCalls - listCallsBefore,
    retries: deps.store.stats.retries - retriesBefore,
    durationMs: ctx.now() - started,
  });
  return result;
}

/**
 * Walks the partition levels breadth first: one delimiter listing per folder of each level
 * (every page of it), at most LIST_CONCURRENCY at once. Folders that are not `key=value` for
 * the level's key (such as `_spark_metadata/`) are skipped and counted.
 */
export async function listPartitions(
  store: ObjectStore,
  root: string,
  keys: readonly string[],
): Promise<{ partitions: ServicePartition[]; ignored: number }> {
  let level: { prefix: string; values: string[] }[] = [{ prefix: root, values: [] }];
  let ignored = 0;
  for (const key of keys) {
    const children = await lastValueFrom(
      from(level).pipe(
        mergeMap(async (parent) => ({ parent, prefixes: await store.listPrefixes(parent.prefix) }), LIST_CONCURRENCY),
        toArray(),
      ),
    );
    level = [];
    for (const { parent, prefixes } of children) {
      for (const prefix of prefixes) {
        const value = partitionValue(lastFolder(prefix), key);
        if (value === null) ignored += 1;
        else level.push({ prefix, values: [...parent.values, value] });
      }
    }
  }
  const unique = new Map<string, ServicePartition>();
  for (const { values } of level) {
    const p = toPartition(keys, values);
    unique.set(partitionId(p), p);
  }
  return { partitions: [...unique.values()], ignored };
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

function describe(p: ServicePartition): string {
  return [p.env, p.serviceName, p.componentName].filter(Boolean).join('/');
}

function sample(names: string[]): string[] {
  return names.length > EVENT_SAMPLE ? [...names.slice(0, EVENT_SAMPLE), `… and ${names.length - EVENT_SAMPLE} more`] : names;
}
