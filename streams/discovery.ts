import { setMaxListeners } from 'node:events';
import { defer } from 'rxjs';
import type { TenantConfig } from '../src/config/schema.js';
import type { ServiceDetailsRepository, ServicePartition } from '../src/db/service-details.js';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import { lastFolder, partitionId, partitionValue, planSync, toPartition, type SyncPlan } from './discovery-decision.js';
import { errorMessage } from './events.js';
import { PartitionLayout } from './partition-layout.js';
import type { StreamContext, StreamDefinition } from './tenant-loop.js';
import type { SyncArgs, SyncResult } from './commands.js';
import { limiter } from '../src/common/concurrency.js';
import { trimSlashes } from '../src/common/text.js';

/**
 * Prefix listings in flight at once, over the whole walk: enough to hide S3 latency, few
 * enough to stay polite. (On the 2-core test Ceph RGW, 32 was no faster than 16 and spent
 * more time in GC: the client's and the server's CPU are the limit there, not latency.)
 */
const LIST_CONCURRENCY = 16;
/** Service names an event lists before it only counts. */
const EVENT_SAMPLE = 20;

export interface DiscoveryDeps {
  tenant: TenantConfig;
  store: ObjectStore;
  services: ServiceDetailsRepository;
  intervalMs: number;
  /** The tenant's partition layout, shared with its delay streams (default: one of its own). */
  layout?: PartitionLayout;
}

/**
 * The discovery stream: every interval (and on `sync`), list the partition folders, diff
 * them with the tenant's rows and apply the difference. A listing error throws before any
 * row is touched, so an outage never deletes anything.
 */
export function discoveryStream(ctx: StreamContext, deps: DiscoveryDeps): StreamDefinition {
  const withLayout = { ...deps, layout: deps.layout ?? new PartitionLayout(deps.tenant, deps.store) };
  const sync = (args: SyncArgs) => defer(() => runSync(ctx, withLayout, args.force));
  return {
    name: 'discovery',
    intervalMs: deps.intervalMs,
    tick: { command: 'sync', args: { force: false } },
    commands: { sync },
  };
}

async function runSync(ctx: StreamContext, deps: DiscoveryDeps & { layout: PartitionLayout }, force: boolean): Promise<SyncResult> {
  const started = ctx.now();
  const listCallsBefore = deps.store.stats.listCalls;
  const retriesBefore = deps.store.stats.retries;
  const work = await planWork(ctx, deps, force);
  const at = new Date(ctx.now());

  await deps.services.insertMany(ctx.tenant, work.insert, at);
  const removed = await deps.services.deleteByIds(ctx.tenant, work.removeIds);
  await deps.services.touch(ctx.tenant, work.presentIds, at);

  if (work.insert.length) ctx.emit({ type: 'discovery.onboarded', count: work.insert.length, services: work.insertSample });
  if (removed) ctx.emit({ type: 'discovery.removed', count: removed, services: work.removeSample });
  if (work.guarded) {
    ctx.emit({
      type: 'discovery.guarded',
      ...work.guarded,
      reason: `the listing would remove ${work.guarded.wouldRemove} of ${work.guarded.known} services (more than half); nothing removed, sync with force=true to remove them`,
    });
  }
  const result: SyncResult = {
    onboarded: work.insert.length,
    removed,
    present: work.presentIds.length,
    ignoredFolders: work.ignored,
    ...(work.guarded ? { guarded: work.guarded } : {}),
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

/** What a sync writes and reports, once planned. */
interface SyncWork {
  insert: SyncPlan['insert'];
  removeIds: number[];
  presentIds: number[];
  insertSample: string[];
  removeSample: string[];
  guarded: SyncPlan['guarded'];
  ignored: number;
}

/**
 * Lists the store, reads the tenant's rows and plans the sync. Only what the writes and the
 * events need leaves this function: the listing, the rows and the plan (most of the live heap
 * of a large sync) can be collected before the first write, which keeps V8's next collection
 * limit, and so the peak memory, lower. A listing error throws before any row is read.
 */
async function planWork(ctx: StreamContext, deps: DiscoveryDeps & { layout: PartitionLayout }, force: boolean): Promise<SyncWork> {
  let listing: { partitions: ServicePartition[]; ignored: number };
  const root = `${trimSlashes(deps.tenant.spark.logsDir)}/`;
  try {
    // Without configured partitionKeys, the first level's listing (the walk's first listing
    // anyway) says the layout, every sync.
    let keys = deps.tenant.partitionKeys;
    let firstLevel: string[] | undefined;
    if (!keys) {
      firstLevel = await deps.store.listPrefixes(root);
      keys = [...deps.layout.fromListing(firstLevel, ctx.emit)];
    }
    listing = await listPartitions(deps.store, root, keys, LIST_CONCURRENCY, firstLevel);
  } catch (err) {
    ctx.emit({ type: 'discovery.failed', error: errorMessage(err) });
    throw err;
  }
  const known = await deps.services.listByTenant(ctx.tenant);
  const plan = planSync(known, listing.partitions, deps.tenant, force);
  return {
    // planSync's rows are spread copies (a few hundred bytes each in V8); plain literals are a
    // quarter of that, and at 100,000 new partitions the difference is ~20 MB of live heap.
    insert: plan.insert.map((p) => ({ env: p.env, serviceName: p.serviceName, componentName: p.componentName, retentionDays: p.retentionDays })),
    removeIds: plan.remove.map((r) => r.id),
    presentIds: plan.present.map((r) => r.id),
    insertSample: sample(plan.insert, describe),
    removeSample: sample(plan.remove, describe),
    guarded: plan.guarded,
    ignored: listing.ignored,
  };
}

/**
 * Walks the partition levels: one delimiter listing per folder (every page of it), at most
 * `concurrency` at once over the whole walk. A folder's sub-folders are listed as soon as its
 * own listing is in, whatever its level (no wait for the rest of the level, so the listings
 * stay `concurrency` deep until the last one). Folders that are not `key=value` for the
 * level's key (such as `_spark_metadata/`) are skipped and counted. The first failure fails
 * the walk, and the listings not yet done are aborted.
 */
export async function listPartitions(
  store: ObjectStore,
  root: string,
  keys: readonly string[],
  concurrency: number = LIST_CONCURRENCY,
  /** The listing of `root` when the caller has it already (it is not listed again). */
  rootListing?: readonly string[],
): Promise<{ partitions: ServicePartition[]; ignored: number }> {
  if (keys.length === 0) return { partitions: [toPartition(keys, [])], ignored: 0 };
  const found: ServicePartition[] = [];
  let ignored = 0;
  let escapes = false;
  const abort = new AbortController();
  // Every listing in flight listens on the one signal (the SDK adds a listener per request).
  setMaxListeners(Math.max(10, 4 * concurrency), abort.signal);
  const limit = limiter(Math.max(1, concurrency));
  /** Lists one folder, then (below the last level) its sub-folders. */
  const visit = async (prefix: string, values: string[]): Promise<void> => {
    const key = keys[values.length]!;
    const leaf = values.length === keys.length - 1;
    const children: Promise<void>[] = [];
    const listed = values.length === 0 && rootListing ? rootListing : await limit(() => store.listPrefixes(prefix, abort.signal));
    for (const child of listed) {
      const name = lastFolder(child);
      const value = partitionValue(name, key);
      if (value === null) {
        ignored += 1;
        continue;
      }
      if (name.includes('%')) escapes = true;
      if (leaf) found.push(toPartition(keys, [...values, value]));
      else children.push(visit(child, [...values, value]));
    }
    await Promise.all(children);
  };
  try {
    await visit(root, []);
  } finally {
    // After a failure, the listings still queued fail at once instead of being sent.
    abort.abort();
  }
  return { partitions: unique(found, escapes), ignored };
}

/**
 * Drops repeated partitions. Distinct folder names give distinct values, except when Spark's
 * `%XX` escapes make two names unescape to the same value (`a%20b` and `a b`): only a walk
 * that met an escape pays for the map.
 */
function unique(partitions: ServicePartition[], escapes: boolean): ServicePartition[] {
  if (!escapes) return partitions;
  const byId = new Map<string, ServicePartition>();
  for (const p of partitions) byId.set(partitionId(p), p);
  return [...byId.values()];
}

function describe(p: ServicePartition): string {
  return [p.env, p.serviceName, p.componentName].filter(Boolean).join('/');
}

/** The names of the first EVENT_SAMPLE items, then how many more there are (only the sampled items are described). */
function sample<T>(items: readonly T[], name: (item: T) => string): string[] {
  return items.length > EVENT_SAMPLE ? [...items.slice(0, EVENT_SAMPLE).map(name), `… and ${items.length - EVENT_SAMPLE} more`] : items.map(name);
}
