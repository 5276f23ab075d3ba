import type { TenantConfig } from '../src/config/schema.js';
import type { ServicePartition, ServicePartitionId } from '../src/db/service-details.js';
import { freeNow, PartitionKeyTable } from './partition-key-table.js';

/** Spark's ExternalCatalogUtils.unescapePathName: `%XX` with two hex digits becomes that byte's character. */
export function unescapePathName(value: string): string {
  return value.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * The value of the last folder `key=value/` of a prefix for the expected key (`keyEquals` is
 * `${key}=`), or null when the folder does not belong to the layout. Spark escapes special
 * characters in partition values as `%XX` (Hive style); they are unescaped so the row holds the
 * service's real name. One string is made (the value): a sync reads a hundred thousand folder names.
 */
export function folderValue(prefix: string, keyEquals: string): string | null {
  const end = prefix.endsWith('/') ? prefix.length - 1 : prefix.length;
  const start = prefix.lastIndexOf('/', end - 1) + 1;
  if (end - start <= keyEquals.length || !prefix.startsWith(keyEquals, start)) return null;
  const value = prefix.slice(start + keyEquals.length, end);
  return value.includes('%') ? unescapePathName(value) : value;
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
export type PartitionNames = (values: readonly string[], to: (env: string, serviceName: string, componentName: string) => void) => void;

/** Reads a partition's env, service and component from its folder values, in the layout's key order, without an object per partition. */
export function partitionNames(keys: readonly string[]): PartitionNames {
  const [env, service, component] = ['env', 'service_name', 'component_name'].map((k) => keys.indexOf(k)) as [number, number, number];
  const at = (values: readonly string[], i: number) => (i >= 0 ? (values[i] ?? '') : '');
  return (values, to) => to(at(values, env), at(values, service), at(values, component));
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
  /** Gives the diff's memory back once `insert` has been written (it is not read after). */
  release(): void;
}

/** The table value of a partition listed but not among the rows (to insert once). */
const NEW = -1;

/**
 * Diff of what the store holds against the tenant's rows, fed as the listing comes in, and
 * compact at 100,000 partitions: the partitions in a key table outside V8's heap
 * (`partition-key-table.ts`) valued by row index, the row ids in a Float64Array, a byte per row
 * for "listed", and the partitions to insert as table entries (their names decoded when
 * written). The rows are all given (`known`) before the first `listed`; the plan is made once
 * the listing is complete, so nothing is written for a listing that fails.
 *
 * The deletion guard (SPEC §4.1): a sync that would remove more than half of the known
 * services removes none, unless forced; an empty or wrong bucket must not wipe the catalogue.
 */
export class PartitionDiff {
  /** Partition → index of its (first) row, or NEW for a partition listed that has no row. */
  private readonly table = new PartitionKeyTable();
  private ids = new Float64Array(64);
  private rows = 0;
  /** Rows beyond the first of the same partition (possible only without the unique index): first → others. */
  private readonly sameKey = new Map<number, number[]>();
  private listedRows: Uint8Array | undefined;
  /** Ids of the rows listed (a JS array would leave a copy in V8's large-object space at each growth). */
  private present = new Float64Array(64);
  private presentCount = 0;
  /** Table entries of the partitions to insert, in the order listed. */
  private inserts = new Int32Array(64);
  private insertCount = 0;

  /** A row of the tenant's. */
  known(row: ServicePartitionId): void {
    if (this.listedRows) throw new Error('PartitionDiff: every row must be known before the first listed partition');
    const index = this.rows++;
    if (index === this.ids.length) this.ids = grown(this.ids);
    this.ids[index] = row.id;
    const entry = this.table.find(row.env, row.serviceName, row.componentName);
    if (entry === -1) this.table.add(row.env, row.serviceName, row.componentName, index);
    else {
      const first = this.table.value(entry);
      this.sameKey.set(first, [...(this.sameKey.get(first) ?? []), index]);
    }
  }

  /** A partition found in the store (the same one may be listed twice: `a%20b` and `a b`). */
  listed(p: ServicePartition): void {
    this.listedNames(p.env, p.serviceName, p.componentName);
  }

  /** `listed`, without an object per partition. */
  listedNames(env: string, serviceName: string, componentName: string): void {
    const listedRows = (this.listedRows ??= new Uint8Array(this.rows));
    const entry = this.table.find(env, serviceName, componentName);
    if (entry === -1) {
      if (this.insertCount === this.inserts.length) this.inserts = grown(this.inserts);
      this.inserts[this.insertCount++] = this.table.add(env, serviceName, componentName, NEW);
      return;
    }
    const index = this.table.value(entry);
    if (index === NEW || listedRows[index] !== 0) return;
    listedRows[index] = 1;
    this.addPresent(this.ids[index]!);
    const others = this.sameKey.get(index);
    if (others) {
      for (const i of others) {
        listedRows[i] = 1;
        this.addPresent(this.ids[i]!);
      }
    }
  }

  private addPresent(id: number): void {
    if (this.presentCount === this.present.length) this.present = grown(this.present);
    this.present[this.presentCount++] = id;
  }

  plan(tenant: Pick<TenantConfig, 'envLogsRetentionDays' | 'defaultLogsRetentionDays'>, force: boolean, sampleSize: number): SyncPlan {
    const listedRows = this.listedRows ?? new Uint8Array(this.rows);
    const vanished: number[] = [];
    for (let i = 0; i < this.rows; i++) if (listedRows[i] === 0) vanished.push(this.ids[i]!);
    const known = this.rows;
    const guard = !force && vanished.length * 2 > known;
    const { table, inserts, insertCount } = this;
    const retention = new Map<string, number>();
    const retentionOf = (env: string) => retention.get(env) ?? retention.set(env, retentionDaysFor(env, tenant)).get(env)!;
    const insert: Iterable<NewPartition> = {
      *[Symbol.iterator]() {
        for (let i = 0; i < insertCount; i++) {
          const p = table.keyOf(inserts[i]!);
          // A literal, not a spread of `p`: V8 promoted the spread copies to its old generation (~20 MB of garbage per 100,000 rows).
          yield { env: p.env, serviceName: p.serviceName, componentName: p.componentName, retentionDays: retentionOf(p.env) };
        }
      },
    };
    const described: string[] = [];
    for (let i = 0; i < insertCount && i < sampleSize; i++) described.push(describe(table.keyOf(inserts[i]!)));
    const removedNames: string[] = [];
    if (!guard && vanished.length) {
      // The rows' first partitions in the order they were known.
      for (let entry = 0; entry < table.size && removedNames.length < sampleSize; entry++) {
        const index = table.value(entry);
        if (index !== NEW && listedRows[index] === 0) removedNames.push(describe(table.keyOf(entry)));
      }
    }
    return {
      insert,
      insertCount,
      removeIds: guard ? [] : vanished,
      presentIds: Array.from(this.present.subarray(0, this.presentCount)),
      guarded: guard ? { wouldRemove: vanished.length, known } : null,
      insertSample: withMore(described, insertCount),
      removeSample: guard ? [] : withMore(removedNames, vanished.length),
      release: () => this.release(),
    };
  }

  /** The memory of the table, ids and entries to insert, given back now (see PartitionKeyTable.release). */
  private release(): void {
    this.table.release();
    for (const array of [this.ids, this.inserts, this.present]) freeNow(array.buffer as ArrayBuffer);
    this.ids = new Float64Array(0);
    this.inserts = new Int32Array(0);
    this.present = new Float64Array(0);
    this.rows = 0;
    this.insertCount = 0;
    this.presentCount = 0;
  }
}

/** A typed array twice as long, holding the same values (the shorter one's memory is given back at once). */
function grown<T extends Float64Array | Int32Array>(values: T): T {
  const bigger = new (values.constructor as new (length: number) => T)(Math.max(64, values.length * 2));
  bigger.set(values);
  freeNow(values.buffer as ArrayBuffer);
  return bigger;
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
