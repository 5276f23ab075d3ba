import type { TenantConfig } from '../src/config/schema.js';
import type { ServiceDetailsRow, ServicePartition } from '../src/db/service-details.js';

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

export interface SyncPlan {
  insert: (ServicePartition & { retentionDays: number })[];
  /** Rows whose partition vanished; empty when the guard holds them back. */
  remove: ServiceDetailsRow[];
  /** Rows still present (their lastCheckedAt is touched). */
  present: ServiceDetailsRow[];
  /** Set when the deletion guard kept rows that would have been removed. */
  guarded: { wouldRemove: number; known: number } | null;
}

/**
 * Diff of what the store holds against the tenant's rows. The deletion guard (SPEC §4.1):
 * a sync that would remove more than half of the known services removes none, unless forced;
 * an empty or wrong bucket must not wipe the catalogue.
 */
export function planSync(
  known: readonly ServiceDetailsRow[],
  discovered: readonly ServicePartition[],
  tenant: Pick<TenantConfig, 'envLogsRetentionDays' | 'defaultLogsRetentionDays'>,
  force: boolean,
): SyncPlan {
  const found = new Map(discovered.map((p) => [partitionId(p), p]));
  const knownIds = new Set<string>();
  const present: ServiceDetailsRow[] = [];
  const vanished: ServiceDetailsRow[] = [];
  for (const row of known) {
    const id = partitionId(row);
    knownIds.add(id);
    (found.has(id) ? present : vanished).push(row);
  }
  const insert = [...found.entries()].filter(([id]) => !knownIds.has(id)).map(([, p]) => ({ ...p, retentionDays: retentionDaysFor(p.env, tenant) }));
  const guard = !force && vanished.length * 2 > known.length;
  return {
    insert,
    remove: guard ? [] : vanished,
    present,
    guarded: guard ? { wouldRemove: vanished.length, known: known.length } : null,
  };
}

/** Spark's ExternalCatalogUtils.escapePathName: the characters a partition folder cannot hold, as `%XX`. */
export function escapePathName(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are among those Spark escapes
  return value.replace(/[\u0000-\u001f"#%'*/:=?\\\u007f{[\]^]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}
