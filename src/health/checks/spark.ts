/**
 * The spark check: the master is ALIVE and the tenant has an alive driver (in `activedrivers`,
 * SUBMITTED or RUNNING, belonging to the tenant by id or main class).
 */
import type { TenantConfig } from '../../config/schema.js';
import type { SparkMasterClient } from '../../spark/master-client.js';
import type { SparkDriver } from '../../spark/types.js';
import { compareNewestFirst, driverBelongsToTenant, tenantAliveDrivers } from '../../../streams/spark/ownership.js';
import type { CheckContext, CheckOutcome } from './check.js';

export interface SparkCheckDeps {
  /** The tenant's Spark master client (only `masterState` is used). */
  spark: Pick<SparkMasterClient, 'masterState'>;
  /** Main classes of the other tenants on the same master (ownership by main class, SPEC §4.2). */
  otherTenantMainClasses?: readonly string[];
  /** Driver ids this tenant submitted (persisted). */
  submittedDriverIds?: ReadonlySet<string>;
}

export async function checkSpark(tenant: TenantConfig, deps: SparkCheckDeps, ctx: CheckContext): Promise<CheckOutcome> {
  ctx.phase('waiting for the Spark master state (GET /json/)');
  const master = await deps.spark.masterState({ signal: ctx.signal });
  const where = master.url || master.webUiUrl;
  Object.assign(ctx.details, { master: where, webUiUrl: master.webUiUrl, masterStatus: master.status, aliveWorkers: master.aliveWorkers });
  if (master.status !== 'ALIVE') return { status: 'DOWN', message: `Spark master ${where} is ${master.status || 'in an unknown state'}, not ALIVE` };

  const ownership = {
    mainClass: tenant.spark.mainClass,
    submittedDriverIds: deps.submittedDriverIds ?? new Set<string>(),
    otherTenantMainClasses: deps.otherTenantMainClasses ?? [],
  };
  const alive = tenantAliveDrivers({ ...ownership, master });
  ctx.details.drivers = alive.map(describeDriver);
  if (alive.length === 0) {
    const ended = master.completedDrivers.filter((d) => driverBelongsToTenant(d, ownership)).sort(compareNewestFirst)[0];
    const shared = ownership.otherTenantMainClasses.includes(ownership.mainClass)
      ? ` (main class ${ownership.mainClass} is shared with another tenant, so only the tenant's own submission ids count)`
      : '';
    return {
      status: 'DOWN',
      message: `no alive driver of tenant ${tenant.name} on ${where}${ended ? `; its last driver ${ended.id} ended ${ended.state}` : ''}${shared}`,
    };
  }
  const [newest] = alive;
  const state = newest ? `${newest.id} is ${newest.state}${newest.state === 'SUBMITTED' ? ' (waiting for a worker)' : ''}` : '';
  return { status: 'UP', message: `driver ${state}${alive.length > 1 ? `; ${alive.length} alive drivers (duplicates)` : ''}` };
}

function describeDriver(d: SparkDriver): Record<string, unknown> {
  return { id: d.id, state: d.state, worker: d.worker, startTime: Number.isFinite(d.startTime) ? new Date(d.startTime).toISOString() : null };
}
