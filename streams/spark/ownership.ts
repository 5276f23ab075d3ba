/**
 * Which drivers on a master are a tenant's (SPEC §4.2; SPARK_PROTOCOL §1–§3), and their order:
 *  - alive: listed in `activedrivers` with state SUBMITTED or RUNNING;
 *  - the tenant's: its id is one the tenant submitted (persisted), or its last own submission,
 *    or its main class is the tenant's and no other tenant on the master has that main class.
 */
import type { TenantConfig } from '../../src/config/schema.js';
import { ALIVE_DRIVER_STATES, type MasterState, type SparkDriver } from '../../src/spark/types.js';
import { masterIndex } from './master-index.js';

/** A driver listed in `activedrivers` in state SUBMITTED or RUNNING (call it on active ones only). */
export function isAliveState(state: string): boolean {
  return ALIVE_DRIVER_STATES.has(state);
}

/** The tenant's last own submission. */
export interface OwnSubmission {
  submissionId: string;
  /** Epoch ms of the submission. */
  at: number;
}

/** What tells the tenant's drivers from others. */
export interface Ownership {
  /** The tenant's `spark.mainClass`. */
  mainClass: string;
  /** Every driver id this tenant submitted or adopted (persisted). */
  submittedDriverIds: ReadonlySet<string>;
  /** Main classes of the other tenants configured on the same master. */
  otherTenantMainClasses: readonly string[];
  lastSubmission?: OwnSubmission | null;
}

export function driverBelongsToTenant(driver: SparkDriver, obs: Ownership): boolean {
  if (obs.submittedDriverIds.has(driver.id)) return true;
  if (obs.lastSubmission && obs.lastSubmission.submissionId === driver.id) return true;
  return driver.mainClass === obs.mainClass && !obs.otherTenantMainClasses.includes(obs.mainClass);
}

/**
 * The tenant's alive drivers, newest first; empty when the master is unknown. The same drivers
 * as filtering `activeDrivers` with `isAliveState` and `driverBelongsToTenant`, found through the
 * state's shared index: a poll costs the tenant's own ids, not the master's whole driver list.
 */
export function tenantAliveDrivers(obs: Ownership & { master: MasterState | null }): SparkDriver[] {
  if (!obs.master) return [];
  const index = masterIndex(obs.master);
  const found = new Set<SparkDriver>();
  // Every alive driver of the tenant's main class, when no other tenant on the master has it.
  if (!obs.otherTenantMainClasses.includes(obs.mainClass)) for (const d of index.aliveByMainClass.get(obs.mainClass) ?? []) found.add(d);
  const ids = obs.submittedDriverIds;
  if (ids.size <= index.aliveById.size) {
    for (const id of ids) {
      const d = index.aliveById.get(id);
      if (d) found.add(d);
    }
  } else {
    for (const d of index.aliveById.values()) if (ids.has(d.id)) found.add(d);
  }
  const last = obs.lastSubmission ? index.aliveById.get(obs.lastSubmission.submissionId) : undefined;
  if (last) found.add(last);
  return [...found].sort(compareNewestFirst);
}

/** Newest first: later start time, then the later driver id (`driver-<yyyyMMddHHmmss>-<n>`). */
export function compareNewestFirst(a: SparkDriver, b: SparkDriver): number {
  const at = Number.isFinite(a.startTime) ? a.startTime : -Infinity;
  const bt = Number.isFinite(b.startTime) ? b.startTime : -Infinity;
  if (at !== bt) return bt > at ? 1 : -1;
  return compareDriverIds(b.id, a.id);
}

const DRIVER_ID = /^driver-(\d{14})-(\d+)$/;

function compareDriverIds(a: string, b: string): number {
  const ma = DRIVER_ID.exec(a);
  const mb = DRIVER_ID.exec(b);
  if (ma && mb) {
    const [, da = '', na = '0'] = ma;
    const [, db = '', nb = '0'] = mb;
    if (da !== db) return da < db ? -1 : 1;
    const diff = Number(na) - Number(nb);
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The main classes of the tenants (other than `tenant`) whose `sparkMasterHost` lists share a master with it. */
export function otherTenantMainClasses(tenants: readonly TenantConfig[], tenant: string): string[] {
  const self = tenants.find((t) => t.name === tenant);
  if (!self) return [];
  const normalize = (host: string) => host.trim().toLowerCase();
  const mine = new Set(self.spark.sparkMasterHost.map(normalize));
  const classes = new Set<string>();
  for (const t of tenants) {
    if (t.name === tenant) continue;
    if (t.spark.sparkMasterHost.some((h) => mine.has(normalize(h)))) classes.add(t.spark.mainClass);
  }
  return [...classes];
}
