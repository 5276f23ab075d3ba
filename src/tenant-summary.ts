import type { SparkStatusView } from '../streams/spark/status-view.js';
import { DELAY_BUCKET_MS, type TenantActivity } from '../streams/tenant-activity.js';
import type { TenantSummary, TenantsData } from './http/tenants-schema.js';
import type { TenantLeaseStatus } from '../streams/lease-views.js';

export interface TenantSummaryInput {
  tenants: readonly string[];
  /** What the tenant's Spark stream knows (undefined: no Spark stream runs for it). */
  sparkStatus(tenant: string): SparkStatusView | undefined;
  lease(tenant: string): TenantLeaseStatus;
  activity: TenantActivity;
  /** Rows of service_details per tenant; null when the database did not answer in time. */
  serviceCounts: ReadonlyMap<string, number> | null;
  replica: string | null;
  auth: TenantsData['auth'];
  now: number;
}

/** `GET /api/v1/tenants`: every tenant at a glance, from the loops' views in memory and one grouped count. */
export function tenantsSummary(input: TenantSummaryInput): TenantsData {
  return {
    replica: input.replica,
    generatedAt: new Date(input.now).toISOString(),
    auth: input.auth,
    tenants: input.tenants.map((tenant) => summaryOf(tenant, input)),
  };
}

function summaryOf(tenant: string, input: TenantSummaryInput): TenantSummary {
  const activity = input.activity.view(tenant);
  const { lastSync, lastFailure } = activity.discovery;
  const latest = activity.delay.latest;
  const lease = input.lease(tenant);
  const status = input.sparkStatus(tenant);
  return {
    tenant,
    lease:
      lease.mode === 'lease'
        ? { mode: 'lease', holder: lease.holder, isThisProcess: lease.isThisProcess, validUntil: lease.validUntil }
        : { mode: 'single-process', holder: null, isThisProcess: true, validUntil: null },
    spark: status ? sparkOf(status) : null,
    services: { known: input.serviceCounts ? (input.serviceCounts.get(tenant) ?? 0) : null },
    discovery: {
      lastSync: lastSync ? { ...lastSync, at: iso(lastSync.at) } : null,
      lastFailure: lastFailure ? { at: iso(lastFailure.at), error: lastFailure.error } : null,
    },
    delay: {
      minutes: latest?.minutes ?? null,
      at: latest ? iso(latest.at) : null,
      history: {
        bucketMs: DELAY_BUCKET_MS,
        until: iso((Math.floor(input.now / DELAY_BUCKET_MS) + 1) * DELAY_BUCKET_MS),
        minutes: activity.delay.history(input.now),
      },
    },
    lastRetry: activity.lastRetry ? { ...activity.lastRetry, at: iso(activity.lastRetry.at) } : null,
  };
}

function sparkOf(s: SparkStatusView): NonNullable<TenantSummary['spark']> {
  // Newest first in both lists: the alive driver when there is one, else the one that ended last.
  const driver = s.drivers.alive[0] ?? s.drivers.recentCompleted[0];
  return {
    masterStatus: s.master.status,
    masterUrl: s.master.webUiUrl,
    aliveDrivers: s.drivers.alive.length,
    driver: driver ? { id: driver.id, state: driver.state, startedAt: driver.startedAt, worker: driver.worker } : null,
    restarts: s.restarts,
    submissions: s.submissions,
    crashLoop: {
      looping: s.crashLoop.looping,
      deathsInWindow: s.crashLoop.deathsInWindow,
      threshold: s.crashLoop.threshold,
      nextSubmitAllowedAt: s.crashLoop.nextSubmitAllowedAt,
    },
    lastSubmission: s.lastSubmission ? { submissionId: s.lastSubmission.submissionId, at: s.lastSubmission.at, reason: s.lastSubmission.reason } : null,
    lastPoll: s.lastPoll ? { at: s.lastPoll.at, outcome: s.lastPoll.outcome } : null,
    lastError: s.lastError,
    replay: s.replay && !s.replay.isResumedToSubscribePattern ? { ...s.replay } : null,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The rows of service_details per tenant for the summary: one grouped query shared by
 * concurrent callers and reused for `maxAgeMs`; a caller waits at most `waitMs`, then gets null
 * (unknown), so a slow or absent database never holds the dashboard.
 */
export function serviceCountsReader(
  count: () => Promise<Map<string, number>>,
  opts: { maxAgeMs: number; waitMs: number; now?: () => number },
): () => Promise<Map<string, number> | null> {
  const now = opts.now ?? Date.now;
  let last: { at: number; value: Map<string, number> } | undefined;
  let inFlight: Promise<Map<string, number>> | undefined;
  return async () => {
    if (last && now() - last.at < opts.maxAgeMs) return last.value;
    if (!inFlight) {
      const started = now();
      inFlight = count()
        .then((value) => {
          last = { at: started, value };
          return value;
        })
        .finally(() => {
          inFlight = undefined;
        });
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), opts.waitMs);
      timer.unref();
    });
    try {
      return await Promise.race([inFlight, timeout]);
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  };
}
