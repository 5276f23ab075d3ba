import type { TenantConfig } from '../src/config/schema.js';
import type { ServicePartition, ServicePartitionId } from '../src/db/service-details.js';

/**
 * The value of a partition folder `key=value/` for the expected key, or null when the folder
 * does not belong to the layout. Spark escapes special characters in partition values as
 * `%XX` (Hive style); they are unescaped so the row holds the service's real name.
 */
export function partitionValue(folder: string, key: string): string | null {
  const name = folder.endsWith('/') ? folder.slice(0, -1) : folder;
  if (!name.startsWith(`${key}=`)) return null;
  const value = unescapePathName(name.slice(key.length + 1));
  return value === '' ? null : value;
}

/** Spark's ExternalCatalogUtils.unescapePathName: `%XX` with two hex digits becomes that byte's character. */
export function unescapePathName(value: string): string {
  return value.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The last folder name of a prefix: `logs/env=prod/` → `env=prod`. */
export function lastFolder(prefix: string): string {
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/**
 * A discovered partition: the values of the tenant's partition keys. With the single-level
 * layout `["service_name"]`, env and component are empty strings (they are not in the path).
 */
export function toPartition(keys: readonly string[], values: readonly string[]): ServicePartition {
  const get = (k: string) => {
    const i = keys.indexOf(k);
    return i >= 0 ? (values[i] ?? '') : '';
  };
  return { env: get('env'), serviceName: get('service_name'), componentName: get('component_name') };
}

export function partitionId(p: ServicePartition): string {
  return JSON.stringify([p.env, p.serviceName, p.componentName]);
}

/** SPEC §4.1: the first envLogsRetentionDays entry whose envs hold the env, else the default. */
export function retentionDaysFor(env: string, tenant: Pick<TenantConfig, 'envLogsRetentionDays' | 'defaultLogsRetentionDays'>): number {
  return tenant.envLogsRetentionDays.find((e) => e.envs.includes(env))?.retentionDays ?? tenant.defaultLogsRetentionDays;
}

/** A new partition to insert, with its retention days. */
export type NewPartition = ServicePartition & { retentionDays: number };

/** What a sync writes and reports, planned from a whole listing. */
export interface SyncPlan {
  /** New partitions (read from compact arrays as they are iterated). */
  insert: Iterable<NewPartition>;
  insertCount: number;
  /** Ids of the rows whose partition vanished; empty when the guard holds them back. */
  removeIds: number[];
  /** Ids of the rows still present (their lastCheckedAt is touched). */
  presentIds: number[];
  /** Set when the deletion guard kept rows that would have been removed. */
  guarded: { wouldRemove: number; known: number } | null;
  /** The first `sampleSize` partitions inserted and removed, `env/service/component`, then how many more. */
  insertSample: string[];
  removeSample: string[];
}

/** A partition's key in the diff's map: exact (lengths delimit the names, whatever they hold). */
function keyOf(env: string, serviceName: string, componentName: string): string {
  return `${env.length}:${env}${serviceName.length}:${serviceName}${componentName}`;
}

function fromKey(key: string): ServicePartition {
  const parts: string[] = [];
  let at = 0;
  for (let i = 0; i < 2; i++) {
    const colon = key.indexOf(':', at);
    const length = Number(key.slice(at, colon));
    parts.push(key.slice(colon + 1, colon + 1 + length));
    at = colon + 1 + length;
  }
  return { env: parts[0]!, serviceName: parts[1]!, componentName: key.slice(at) };
}

/** The map value of a partition listed but not among the rows (to insert once). */
const NEW = -1;

/**
 * Diff of what the store holds against the tenant's rows, fed as the listing comes in, and
 * compact at 100,000 partitions: one map from partition key to row index, the row ids in an
 * array of numbers, a byte per row for "listed", and the partitions to insert as three arrays
 * of shared strings (no object per partition). The rows are all given (`known`) before the
 * first `listed`; the plan is made once the listing is complete, so nothing is written for a
 * listing that fails.
 *
 * The deletion guard (SPEC §4.1): a sync that would remove more than half of the known
 * services removes none, unless forced; an empty or wrong bucket must not wipe the catalogue.
 */
export class PartitionDiff {
  /** Partition key → index of its (first) row, or NEW for a partition listed that has no row. */
  private readonly rowOf = new Map<string, number>();
  private readonly ids: number[] = [];
  /** Rows beyond the first of the same partition (possible only without the unique index): first → others. */
  private readonly sameKey = new Map<number, number[]>();
  private listedRows: Uint8Array | undefined;
  private readonly presentIds: number[] = [];
  private readonly insertEnv: string[] = [];
  private readonly insertService: string[] = [];
  private readonly insertComponent: string[] = [];
  /** One copy of each name inserted (the listing's strings may be slices of a whole response body). */
  private readonly names = new Map<string, string>();

  /** A row of the tenant's. */
  known(row: ServicePartitionId): void {
    if (this.listedRows) throw new Error('PartitionDiff: every row must be known before the first listed partition');
    const index = this.ids.length;
    this.ids.push(row.id);
    const key = keyOf(row.env, row.serviceName, row.componentName);
    const first = this.rowOf.get(key);
    if (first === undefined) this.rowOf.set(key, index);
    else this.sameKey.set(first, [...(this.sameKey.get(first) ?? []), index]);
  }

  /** A partition found in the store (the same one may be listed twice: `a%20b` and `a b`). */
  listed(p: ServicePartition): void {
    const listedRows = (this.listedRows ??= new Uint8Array(this.ids.length));
    const key = keyOf(p.env, p.serviceName, p.componentName);
    const index = this.rowOf.get(key);
    if (index === undefined) {
      this.rowOf.set(key, NEW);
      this.insertEnv.push(this.name(p.env));
      this.insertService.push(this.name(p.serviceName));
      this.insertComponent.push(this.name(p.componentName));
    } else if (index !== NEW && listedRows[index] === 0) {
      for (const i of [index, ...(this.sameKey.get(index) ?? [])]) {
        listedRows[i] = 1;
        this.presentIds.push(this.ids[i]!);
      }
    }
  }

  plan(tenant: Pick<TenantConfig, 'envLogsRetentionDays' | 'defaultLogsRetentionDays'>, force: boolean, sampleSize: number): SyncPlan {
    const listedRows = this.listedRows ?? new Uint8Array(this.ids.length);
    const vanished: number[] = [];
    for (let i = 0; i < this.ids.length; i++) if (listedRows[i] === 0) vanished.push(this.ids[i]!);
    const known = this.ids.length;
    const guard = !force && vanished.length * 2 > known;
    const { insertEnv, insertService, insertComponent } = this;
    const retention = new Map<string, number>();
    const retentionOf = (env: string) => retention.get(env) ?? retention.set(env, retentionDaysFor(env, tenant)).get(env)!;
    const insert: Iterable<NewPartition> = {
      *[Symbol.iterator]() {
        for (let i = 0; i < insertEnv.length; i++) {
          const env = insertEnv[i]!;
          yield { env, serviceName: insertService[i]!, componentName: insertComponent[i]!, retentionDays: retentionOf(env) };
        }
      },
    };
    const described: string[] = [];
    for (let i = 0; i < insertEnv.length && i < sampleSize; i++)
      described.push(describe({ env: insertEnv[i]!, serviceName: insertService[i]!, componentName: insertComponent[i]! }));
    const removedNames: string[] = [];
    if (!guard && vanished.length) {
      for (const [key, index] of this.rowOf) {
        if (removedNames.length >= sampleSize) break;
        if (index !== NEW && listedRows[index] === 0) removedNames.push(describe(fromKey(key)));
      }
    }
    return {
      insert,
      insertCount: insertEnv.length,
      removeIds: guard ? [] : vanished,
      presentIds: this.presentIds,
      guarded: guard ? { wouldRemove: vanished.length, known } : null,
      insertSample: withMore(described, insertEnv.length),
      removeSample: guard ? [] : withMore(removedNames, vanished.length),
    };
  }

  private name(value: string): string {
    const known = this.names.get(value);
    if (known !== undefined) return known;
    // A fresh flat copy, so that the name does not keep the listing's response alive.
    const copy = Buffer.from(value, 'utf8').toString('utf8');
    this.names.set(copy, copy);
    return copy;
  }
}

function describe(p: ServicePartition): string {
  return [p.env, p.serviceName, p.componentName].filter(Boolean).join('/');
}

/** The names sampled, then how many more there are. */
function withMore(sampled: string[], total: number): string[] {
  return total > sampled.length ? [...sampled, `… and ${total - sampled.length} more`] : sampled;
}

/** The diff of a whole listing against the rows, at once (tests, small callers). */
export function planSync(
  known: readonly ServicePartitionId[],
  discovered: readonly ServicePartition[],
  tenant: Pick<TenantConfig, 'envLogsRetentionDays' | 'defaultLogsRetentionDays'>,
  force: boolean,
  sampleSize = 20,
): SyncPlan {
  const diff = new PartitionDiff();
  for (const row of known) diff.known(row);
  for (const p of discovered) diff.listed(p);
  return diff.plan(tenant, force, sampleSize);
}

/** Spark's ExternalCatalogUtils.escapePathName: the characters a partition folder cannot hold, as `%XX`. */
export function escapePathName(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are among those Spark escapes
  return value.replace(/[\u0000-\u001f"#%'*/:=?\\\u007f{[\]^]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}
