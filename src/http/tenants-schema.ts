import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// `GET /api/v1/tenants`: every tenant at a glance (the dashboard's overview, `logwise status`).
// The schema documents the answer in /openapi.json; the daemon builds it in src/tenant-summary.ts.
extendZodWithOpenApi(z);

const isoTime = z.string().openapi({ format: 'date-time' });

const driverSummary = z
  .object({
    id: z.string(),
    state: z.string().openapi({ description: 'SUBMITTED or RUNNING (alive), else the final state of the newest completed one' }),
    startedAt: isoTime.nullable(),
    worker: z.string().nullable(),
  })
  .openapi('TenantDriver');

const sparkSummary = z
  .object({
    masterStatus: z.string().nullable().openapi({ description: 'ALIVE, STANDBY, …, UNREACHABLE; null before the first poll' }),
    masterUrl: z.string().nullable(),
    aliveDrivers: z.number().int(),
    driver: driverSummary.nullable().openapi({ description: 'The newest alive driver of the tenant, else the newest completed one' }),
    restarts: z.number().int().openapi({ description: 'Deaths of the driver seen since the daemon started' }),
    submissions: z.number().int(),
    crashLoop: z.object({ looping: z.boolean(), deathsInWindow: z.number().int(), threshold: z.number().int(), nextSubmitAllowedAt: isoTime.nullable() }),
    lastSubmission: z.object({ submissionId: z.string().nullable(), at: isoTime, reason: z.string() }).nullable(),
    lastPoll: z.object({ at: isoTime, outcome: z.string() }).nullable(),
    lastError: z.object({ at: isoTime, message: z.string() }).nullable(),
    replay: z
      .object({
        id: z.number().int(),
        startingOffsetsTimestamp: z.number(),
        resumeToSubscribePatternTimestamp: z.number(),
        isSubmittedForOffsetsTimestamp: z.boolean(),
        isResumedToSubscribePattern: z.boolean(),
      })
      .nullable()
      .openapi({ description: 'The replay not finished yet, if any' }),
  })
  .openapi('TenantSpark');

export const tenantSummary = z
  .object({
    tenant: z.string(),
    lease: z
      .object({
        mode: z.enum(['lease', 'single-process']),
        holder: z.string().nullable().openapi({ description: 'The replica acting for the tenant (null: none right now; this process on SQLite)' }),
        isThisProcess: z.boolean(),
        validUntil: isoTime.nullable(),
      })
      .openapi('TenantLease'),
    spark: sparkSummary.nullable().openapi({ description: 'null when no Spark stream runs for the tenant' }),
    services: z.object({
      known: z.number().int().nullable().openapi({ description: 'Rows in service_details; null when the database did not answer in time' }),
    }),
    discovery: z.object({
      lastSync: z.object({ at: isoTime, onboarded: z.number().int(), removed: z.number().int(), present: z.number().int(), durationMs: z.number() }).nullable(),
      lastFailure: z.object({ at: isoTime, error: z.string() }).nullable(),
    }),
    delay: z.object({
      minutes: z.number().int().nullable().openapi({ description: 'The latest sample; null when it failed or none was taken yet' }),
      at: isoTime.nullable(),
      history: z.object({
        bucketMs: z.number().int(),
        until: isoTime.openapi({ description: 'End of the newest bucket' }),
        minutes: z.array(z.number().int().nullable()).openapi({ description: 'Oldest first: the last good sample of each bucket, null when none' }),
      }),
    }),
    lastRetry: z.object({ at: isoTime, stream: z.string(), attempt: z.number().int(), error: z.string() }).nullable(),
  })
  .openapi('TenantSummary');

export const tenantsData = z
  .object({
    replica: z.string().nullable().openapi({ description: 'This process’s holder id (many replicas on MySQL); null on SQLite' }),
    generatedAt: isoTime,
    auth: z.object({
      postsNeedToken: z.boolean().openapi({ description: 'http.authToken is set: POSTs need `Authorization: Bearer <token>`' }),
      readsNeedToken: z.boolean().openapi({ description: 'http.protectReads: GETs need it too' }),
    }),
    tenants: z.array(tenantSummary),
  })
  .openapi('Tenants');

export type TenantSummary = z.infer<typeof tenantSummary>;
export type TenantsData = z.infer<typeof tenantsData>;

export const tenantsQuery = z.object({
  tenant: z.string().optional().openapi({ description: 'Only this tenant (400 INVALID_TENANT when it is not configured).' }),
});

export const recentEventsQuery = z.object({
  tenant: z.string({ error: 'expected the tenant’s name' }).openapi({ description: 'The tenant (400 INVALID_TENANT when it is not configured).' }),
});

export const recentEventsData = z
  .object({
    tenant: z.string(),
    events: z
      .array(z.object({ type: z.string(), tenant: z.string(), at: z.number().int().openapi({ description: 'epoch ms' }) }).catchall(z.unknown()))
      .openapi({ description: 'Oldest first, as GET /api/v1/events sends them' }),
  })
  .openapi('RecentEvents');
