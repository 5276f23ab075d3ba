import { DEFAULT_PARTITION_KEYS, type TenantConfig } from '../src/config/schema.js';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import { lastFolder } from './discovery-decision.js';
import type { Emit } from './events.js';
import { trimSlashes } from '../src/common/text.js';

/** What the first level under logsDir holds. */
export type FirstLevel = 'service_name' | 'env' | 'both' | 'neither';

/** The single-level layout of the newer Logwise Spark job: `logs/service_name=…/`. */
export const SINGLE_LEVEL_KEYS: readonly string[] = ['service_name'];

/**
 * The layout a bucket's first level shows (pure): `service_name=` folders only → the
 * single-level layout; `env=` folders only → `env/service_name/component_name`; both or
 * neither → the default (`env/…`), with `firstLevel` saying which. Other folders
 * (`_spark_metadata/`) do not count.
 */
export function layoutOf(firstLevelPrefixes: readonly string[]): { partitionKeys: readonly string[]; firstLevel: FirstLevel } {
  let service = false;
  let env = false;
  for (const prefix of firstLevelPrefixes) {
    const name = lastFolder(prefix);
    if (name.startsWith('service_name=')) service = true;
    else if (name.startsWith('env=')) env = true;
    if (service && env) break;
  }
  const firstLevel: FirstLevel = service && env ? 'both' : service ? 'service_name' : env ? 'env' : 'neither';
  return { partitionKeys: firstLevel === 'service_name' ? SINGLE_LEVEL_KEYS : DEFAULT_PARTITION_KEYS, firstLevel };
}

/**
 * One tenant's partition layout (SPEC §2, §4.1, §4.4), shared by its discovery, delay-sample
 * and per-service delay streams and by `/pipeline/health`: the configured `partitionKeys`, or,
 * when they are not configured, what the bucket shows. Discovery re-reads it on every sync
 * from the first-level listing it makes anyway (`fromListing`, no extra call); the delay
 * samplers use the latest reading, or list the first level once when there is none yet.
 * Events: `layout.detected` when the layout is first known and when it changes;
 * `layout.ambiguous` (a warning) once when the bucket shows both layouts or neither, again
 * only after it showed one.
 */
export class PartitionLayout {
  private detected: readonly string[] | undefined;
  private lastFirstLevel: FirstLevel | undefined;
  private detecting: Promise<readonly string[]> | undefined;

  constructor(
    private readonly tenant: Pick<TenantConfig, 'partitionKeys' | 'spark'>,
    private readonly store: Pick<ObjectStore, 'listPrefixes'>,
  ) {}

  /** Whether `partitionKeys` is configured (then the bucket is never read for it). */
  get configured(): boolean {
    return this.tenant.partitionKeys !== undefined;
  }

  /** The folder under which the first level is listed: `logs/`. */
  get root(): string {
    return `${trimSlashes(this.tenant.spark.logsDir)}/`;
  }

  /** The keys known now, without I/O: configured, or the latest reading; undefined before the first reading. */
  current(): readonly string[] | undefined {
    return this.tenant.partitionKeys ?? this.detected;
  }

  /** The keys: configured, or the latest reading, or (none yet) one listing of the first level. */
  async keys(emit?: Emit, signal?: AbortSignal): Promise<readonly string[]> {
    const known = this.current();
    if (known) return known;
    // Concurrent first readings (delay and per-service delays) share one listing.
    this.detecting ??= this.store
      .listPrefixes(this.root, signal)
      .then((prefixes) => this.fromListing(prefixes, emit))
      .finally(() => {
        this.detecting = undefined;
      });
    return this.detecting;
  }

  /** Records the layout that the first-level listing `prefixes` shows (discovery's own listing) and returns its keys. */
  fromListing(prefixes: readonly string[], emit?: Emit): readonly string[] {
    if (this.tenant.partitionKeys) return this.tenant.partitionKeys;
    const { partitionKeys, firstLevel } = layoutOf(prefixes);
    this.detected = partitionKeys;
    // Without `emit` (a read for /pipeline/health) the change is left for the next reader that reports it.
    if (emit && firstLevel !== this.lastFirstLevel) {
      this.lastFirstLevel = firstLevel;
      if (firstLevel === 'both' || firstLevel === 'neither') {
        emit({
          type: 'layout.ambiguous',
          partitionKeys: [...partitionKeys],
          firstLevel,
          reason:
            firstLevel === 'both'
              ? `${this.root} holds both service_name= and env= folders; using the default layout [${partitionKeys.join(', ')}] (set partitionKeys to choose)`
              : `${this.root} holds neither service_name= nor env= folders (an empty bucket or a wrong logsDir); using the default layout [${partitionKeys.join(', ')}] until it does (set partitionKeys to choose)`,
        });
      } else {
        emit({ type: 'layout.detected', partitionKeys: [...partitionKeys], firstLevel });
      }
    }
    return partitionKeys;
  }
}
