import { setMaxListeners } from 'node:events';
import { defer } from 'rxjs';
import type { TenantConfig } from '../src/config/schema.js';
import type { ServiceDetailsRepository } from '../src/db/service-details.js';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import { folderValue, PartitionDiff, partitionNames, type SyncPlan } from './discovery-decision.js';
import { errorMessage } from './events.js';
import { PartitionLayout } from './partition-layout.js';
import type { StreamContext, StreamDefinition } from './tenant-loop.js';
import type { SyncArgs, SyncResult } from './commands.js';
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
  const { plan, ignored } = await planWork(ctx, deps, force);
  const at = new Date(ctx.now());

  try {
    await deps.services.insertMany(ctx.tenant, plan.insert, at);
  } finally {
    plan.release();
  }
  const removed = await deps.services.deleteByIds(ctx.tenant, plan.removeIds);
  await deps.services.touch(ctx.tenant, plan.presentIds, at);

  if (plan.insertCount) ctx.emit({ type: 'discovery.onboarded', count: plan.insertCount, services: plan.insertSample });
  if (removed) ctx.emit({ type: 'discovery.removed', count: removed, services: plan.removeSample });
  if (plan.guarded) {
    ctx.emit({
      type: 'discovery.guarded',
      ...plan.guarded,
      reason: `the listing would remove ${plan.guarded.wouldRemove} of ${plan.guarded.known} services (more than half); nothing removed, sync with force=true to remove them`,
    });
  }
  const result: SyncResult = {
    onboarded: plan.insertCount,
    removed,
    present: plan.presentIds.length,
    ignoredFolders: ignored,
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
 * Reads the tenant's rows into a compact diff, then lists the store into it folder by folder:
 * neither the rows nor the listing are held as objects, only ids and the new partitions' names.
 * Nothing is written here: a listing error throws before any row is touched.
 */
async function planWork(ctx: StreamContext, deps: DiscoveryDeps & { layout: PartitionLayout }, force: boolean): Promise<{ plan: SyncPlan; ignored: number }> {
  const diff = new PartitionDiff();
  for await (const page of deps.services.partitionPagesByTenant(ctx.tenant)) for (const row of page) diff.known(row);
  const root = `${trimSlashes(deps.tenant.spark.logsDir)}/`;
  let ignored: number;
  try {
    // Without configured partitionKeys, the first level's listing (the walk's first listing
    // anyway) says the layout, every sync.
    let keys = deps.tenant.partitionKeys;
    let firstLevel: string[] | undefined;
    if (!keys) {
      firstLevel = await deps.store.listPrefixes(root);
      keys = [...deps.layout.fromListing(firstLevel, ctx.emit)];
    }
    const names = partitionNames(keys);
    const listed = diff.listedNames.bind(diff);
    ({ ignored } = await walkPartitions(deps.store, root, keys, (values) => names(values, listed), LIST_CONCURRENCY, firstLevel));
  } catch (err) {
    ctx.emit({ type: 'discovery.failed', error: errorMessage(err) });
    throw err;
  }
  return { plan: diff.plan(deps.tenant, force, EVENT_SAMPLE), ignored };
}

/**
 * Walks the partition levels: one delimiter listing per folder (every page of it), at most
 * `concurrency` at once over the whole walk, and hands each partition (the values of its
 * folders, one per key, in an array reused from one call to the next: read it during the call)
 * to `onPartition` as its parent's listing comes in. The folders still to
 * list wait in one stack, deepest first, so it holds about one level's width (not the whole
 * tree) and the listings stay `concurrency` deep until the last one. Folders that are not
 * `key=value` for the level's key (such as `_spark_metadata/`) are skipped and counted. The
 * first failure fails the walk, and the listings in flight are aborted.
 */
export async function walkPartitions(
  store: ObjectStore,
  root: string,
  keys: readonly string[],
  onPartition: (values: readonly string[]) => void,
  concurrency: number = LIST_CONCURRENCY,
  /** The listing of `root` when the caller has it already (it is not listed again). */
  rootListing?: readonly string[],
): Promise<{ ignored: number }> {
  if (keys.length === 0) {
    onPartition([]);
    return { ignored: 0 };
  }
  const walk = new PartitionWalk(store, keys, onPartition, Math.max(1, concurrency));
  await walk.run(root, rootListing);
  return { ignored: walk.ignored };
}

/**
 * One walk of walkPartitions. Its steps are methods, not closures made for each walk: a closure
 * made per walk is a function V8 optimizes again and again (3 walks a second at 1,000 tenants).
 */
class PartitionWalk {
  ignored = 0;
  /** The folders still to list, deepest last. */
  private readonly toList: { prefix: string; values: string[] }[] = [];
  private readonly keyEquals: string[];
  /** A partition's values, handed to `onPartition` (one array for the whole walk). */
  private readonly partition: string[] = [];
  private readonly abort = new AbortController();
  private inFlight = 0;
  private failed = false;
  private settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: readonly string[],
    private readonly onPartition: (values: readonly string[]) => void,
    private readonly width: number,
  ) {
    this.keyEquals = keys.map((key) => `${key}=`);
    // Every listing in flight listens on the one signal.
    setMaxListeners(Math.max(10, 4 * width), this.abort.signal);
  }

  /** Lists from `root`, or from its listing when the caller has it already. */
  run(root: string, rootListing: readonly string[] | undefined): Promise<void> {
    if (rootListing) this.found([], rootListing);
    else this.toList.push({ prefix: root, values: [] });
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      this.next();
    });
  }

  /** Takes in the sub-folders of a folder listed with the values of its own path. */
  private found(values: string[], listed: readonly string[]): void {
    const { keys, toList, partition } = this;
    const level = values.length;
    const leaf = level === keys.length - 1;
    const depth = toList.length;
    if (leaf) for (let i = 0; i < level; i++) partition[i] = values[i]!;
    for (const child of listed) {
      const value = folderValue(child, this.keyEquals[level]!);
      if (value === null) this.ignored += 1;
      else if (leaf) {
        partition[level] = value;
        this.onPartition(partition);
      } else {
        // Copies: the listing's strings are slices of its whole answer, which the folder would keep alive until listed.
        toList.push({ prefix: copyOf(child), values: [...values, copyOf(value)] });
      }
    }
    // Taken from the end: reversed, the sub-folders are listed in the order they were found.
    reverseFrom(toList, depth);
  }

  private next(): void {
    while (!this.failed && this.inFlight < this.width && this.toList.length > 0) {
      const { prefix, values } = this.toList.pop()!;
      this.inFlight += 1;
      this.store.listPrefixes(prefix, this.abort.signal).then(
        (listed) => this.listed(values, listed),
        (err: unknown) => this.fail(err),
      );
    }
    if (!this.failed && this.inFlight === 0 && this.toList.length === 0) this.settle?.resolve();
  }

  private listed(values: string[], listed: readonly string[]): void {
    this.inFlight -= 1;
    if (this.failed) return;
    try {
      this.found(values, listed);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.next();
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    // The listings still in flight fail at once instead of being waited for.
    this.abort.abort();
    this.settle?.reject(err);
  }
}

/** A string of its own, exactly (UTF-16 holds any JS string): not a slice keeping a larger one alive. */
function copyOf(text: string): string {
  return Buffer.from(text, 'utf16le').toString('utf16le');
}

function reverseFrom<T>(items: T[], start: number): void {
  for (let i = start, j = items.length - 1; i < j; i++, j--) [items[i], items[j]] = [items[j]!, items[i]!];
}
