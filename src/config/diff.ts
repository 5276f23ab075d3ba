/**
 * What a config reload changes (SIGHUP, `POST /api/v1/admin/reload`): pure, from the running
 * config and the one just read. Only `tenants` is applied by a running daemon; every other
 * section is read once at start-up and a difference there is reported as needing a restart.
 */
import { otherTenantMainClasses } from '../../streams/spark/ownership.js';
import { leaseMsOf, type Config, type TenantConfig } from './schema.js';

/**
 * The pseudo key of a tenant whose own block is the same but whose drivers are told apart from
 * others' differently: another tenant on its Spark master now has its main class, or no longer
 * has it, so its drivers are no longer (or now) recognised by main class alone (see
 * streams/spark/ownership.ts). Such a tenant's loop restarts, as for a change of its own.
 */
export const OWNERSHIP_KEY = 'otherTenantMainClasses';

/** Why the sections a running daemon does not re-apply need a restart. */
const RESTART_REASONS: Record<string, string> = {
  http: 'the HTTP server keeps the address, port and token it started with',
  database: 'the database pools are opened at start-up',
  ha: 'the lease period is fixed when the lease keeper starts (every replica must use the same)',
  loop: 'one set of timings drives every tenant’s loop, the shared Spark master clients and the replay reads',
};

export interface TenantChange {
  before: TenantConfig;
  after: TenantConfig;
  /** Key paths inside the tenant's block that differ (never their values), or `OWNERSHIP_KEY`. */
  keys: string[];
}

export interface RestartNeeded {
  /** A key path outside `tenants` (e.g. `http.port`). */
  key: string;
  reason: string;
}

export interface ReloadPlan {
  added: TenantConfig[];
  removed: TenantConfig[];
  changed: TenantChange[];
  unchanged: string[];
  /** Settings that differ and are not applied (the running daemon keeps its own). */
  needsRestart: RestartNeeded[];
  /**
   * Tenants removed while the daemon ran (and not added back): their drivers are left running,
   * so the remaining tenants keep telling those drivers apart from their own (never adopting or
   * killing them as duplicates) until the daemon restarts.
   */
  retired: TenantConfig[];
  /** The config the daemon runs with afterwards: its own sections, the new tenants. */
  applied: Config;
}

/** The plan of a reload from `running` (with the tenants `retired` by earlier reloads) to `next`. */
export function planReload(running: Config, next: Config, retired: readonly TenantConfig[] = []): ReloadPlan {
  const before = new Map(running.tenants.map((t) => [t.name, t]));
  const after = new Set(next.tenants.map((t) => t.name));
  const removed = running.tenants.filter((t) => !after.has(t.name));
  const retiredNext = [...retired.filter((t) => !after.has(t.name) && !removed.some((r) => r.name === t.name)), ...removed];
  // Who owns which driver, before and after: configured tenants plus retired ones (their drivers still run).
  const ownersBefore = [...running.tenants, ...retired.filter((t) => !before.has(t.name))];
  const ownersAfter = [...next.tenants, ...retiredNext];
  const added: TenantConfig[] = [];
  const changed: TenantChange[] = [];
  const unchanged: string[] = [];
  for (const t of next.tenants) {
    const old = before.get(t.name);
    if (!old) {
      added.push(t);
      continue;
    }
    const keys = changedKeys(old, t);
    if (sharesMainClass(ownersBefore, old) !== sharesMainClass(ownersAfter, t)) keys.push(OWNERSHIP_KEY);
    if (keys.length > 0) changed.push({ before: old, after: t, keys });
    else unchanged.push(t.name);
  }
  const needsRestart: RestartNeeded[] = [];
  for (const section of Object.keys({ ...running, ...next }) as (keyof Config)[]) {
    if (section === 'tenants') continue;
    const keys =
      section === 'ha'
        ? effectiveLeaseSeconds(running) === effectiveLeaseSeconds(next)
          ? []
          : ['ha.leaseSeconds']
        : changedKeys(running[section], next[section], section);
    for (const key of keys) needsRestart.push({ key, reason: RESTART_REASONS[section] ?? 'read once at start-up' });
  }
  return { added, removed, changed, unchanged, needsRestart, retired: retiredNext, applied: { ...running, tenants: next.tenants } };
}

/** The lease period a config gives (null without leases), so that an `ha` block spelling out the default is no change. */
function effectiveLeaseSeconds(cfg: Config): number | null {
  const ms = leaseMsOf(cfg);
  return ms === null ? null : ms / 1000;
}

/**
 * The key paths under which `a` and `b` differ: objects key by key, anything else (lists
 * included) as a whole. Values are never part of the answer (they may be secrets).
 */
export function changedKeys(a: unknown, b: unknown, prefix = ''): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => changedKeys(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return sameValue(a, b) ? [] : [prefix || '(top level)'];
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => changedKeys(v, b[i]).length === 0);
  if (isPlainObject(a) && isPlainObject(b)) return changedKeys(a, b).length === 0;
  return false;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Whether another tenant on the tenant's master runs its main class: then only the ids it submitted make a driver its own. */
function sharesMainClass(owners: readonly TenantConfig[], tenant: TenantConfig): boolean {
  return otherTenantMainClasses(owners, tenant.name).includes(tenant.spark.mainClass);
}
