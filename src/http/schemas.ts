import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// Each schema here both validates requests and describes them in /openapi.json.
extendZodWithOpenApi(z);

const epochMs = z.number({ error: 'expected epoch milliseconds (a number)' }).int('expected whole milliseconds').nonnegative('expected a time after 1970');

export const componentSyncQuery = z.object({
  componentType: z.string().optional().openapi({ description: 'Must be `application`; may also be given in the body.', example: 'application' }),
  force: z.enum(['true', 'false']).optional().openapi({ description: 'Remove services even when the deletion guard would stop it.' }),
});
export const componentSyncBody = z
  .object({
    componentType: z.string({ error: 'expected a string' }).optional(),
    force: z.boolean({ error: 'expected true or false' }).optional(),
  })
  .openapi('ComponentSyncRequest');

export const monitorSparkJobBody = z
  .object({
    driverCores: z.number({ error: 'expected a number' }).int('expected a whole number of cores').min(1).max(1024).optional(),
    driverMemoryInGb: z.number({ error: 'expected a number' }).positive('expected a positive size').max(4096).optional(),
  })
  // Without an example, /docs' try-it-out would offer the maximum (1024 cores, 4096 GB).
  .openapi('MonitorSparkJobRequest', { example: { driverCores: 1, driverMemoryInGb: 2 } });

export const sparkReplayBody = z
  .object({
    startingOffsetsTimestamp: epochMs.openapi({ description: 'Replay Kafka from this time (epoch ms).' }),
    resumeToSubscribePatternTimestamp: epochMs.openapi({ description: 'Go back to the normal subscription at this time (epoch ms).' }),
  })
  .refine((b) => b.resumeToSubscribePatternTimestamp > b.startingOffsetsTimestamp, {
    message: 'must be later than startingOffsetsTimestamp',
    path: ['resumeToSubscribePatternTimestamp'],
  })
  .openapi('SparkReplayRequest');

export const eventsQuery = z.object({
  tenant: z.string().optional().openapi({ description: 'Only this tenant’s events.' }),
  type: z.string().optional().openapi({ description: 'Only events whose type starts with this prefix, e.g. `spark.`.' }),
});

export const errorEnvelope = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      cause: z.string().openapi({ description: 'As the Java orchestrator’s error bodies: what failed (here the same as message).' }),
    }),
  })
  .openapi('Error');

export const successEnvelope = <T extends z.ZodType>(data: T) => z.object({ data });

export const messageData = z.object({ success: z.boolean(), message: z.string() });
export const componentSyncData = messageData.extend({ onboarded: z.number().int(), removed: z.number().int() }).openapi('ComponentSyncResult');
export const syncDelayData = z.object({ tenant: z.string(), appLogsDelayMinutes: z.number().int().nullable() }).openapi('SyncDelay');
export const serviceDetailsData = z
  .object({
    serviceDetails: z.array(
      z.object({
        env: z.string().openapi({ description: 'Empty in the single-level layout (logs/service_name=…/).' }),
        serviceName: z.string(),
        componentName: z.string().openapi({ description: 'Empty in the single-level layout.' }),
        retentionDays: z.number().int(),
        tenant: z.string(),
        lastCheckedAt: z.string().openapi({ format: 'date-time' }),
        appLogsDelayMinutes: z.number().int().nullable().optional(),
      }),
    ),
  })
  .openapi('ServiceDetails');
export const healthData = z
  .object({
    status: z.enum(['UP', 'DOWN']),
    checks: z
      .record(z.string(), z.object({ status: z.enum(['UP', 'DOWN']), type: z.string(), message: z.string().optional() }))
      .openapi({ description: 'By check, as the Java orchestrator: `mysql` (or `sqlite`), the database ping.' }),
  })
  .openapi('Health');
export const replayData = z
  .object({ id: z.number().int(), tenant: z.string(), startingOffsetsTimestamp: z.number(), resumeToSubscribePatternTimestamp: z.number() })
  .openapi('SparkReplay');
export const anyObject = z.record(z.string(), z.unknown());

const isoTime = z.string().openapi({ format: 'date-time' });

export const clusterData = z
  .object({
    mode: z
      .enum(['lease', 'single-process'])
      .openapi({ description: '`lease`: replicas share the tenants through MySQL leases; `single-process` (SQLite): this process acts for every tenant' }),
    self: z.string().openapi({ description: 'This replica’s id (`host:pid:…`)' }),
    replicas: z
      .array(
        z.object({
          id: z.string(),
          host: z.string(),
          startedAt: isoTime,
          lastHeartbeatAt: isoTime,
          tenantsHeld: z.number().int().openapi({ description: 'Tenants whose lease it holds' }),
        }),
      )
      .openapi({ description: 'The live replicas (heartbeat within the lease expiry), this one included' }),
    tenants: z
      .array(
        z.object({
          tenant: z.string(),
          actingReplica: z.string().nullable().openapi({ description: 'The replica acting for the tenant; null while none holds its lease' }),
          validUntil: isoTime.nullable(),
        }),
      )
      .openapi({ description: 'Who acts for each configured tenant, as of the last lease round' }),
    readAt: isoTime.nullable().openapi({ description: 'When the leases were last read from MySQL (null before the first round)' }),
  })
  .openapi('Cluster');
export type ClusterData = z.infer<typeof clusterData>;

export const reloadData = z
  .object({
    message: z.string(),
    added: z.array(z.string()).openapi({ description: 'Tenants added: their loops started' }),
    removed: z.array(z.string()).openapi({ description: 'Tenants removed: their loops stopped; their Spark driver and database rows were left as they are' }),
    changed: z
      .array(
        z.object({
          tenant: z.string(),
          keys: z.array(z.string()).openapi({
            description:
              'Key paths inside the tenant’s block that changed (never values); `otherTenantMainClasses`: another tenant on its Spark master now has its main class (or no longer has it), which changes which drivers are this one’s',
          }),
        }),
      )
      .openapi({ description: 'Tenants whose loops restarted with the new settings (a running driver is kept)' }),
    unchanged: z.array(z.string()).openapi({ description: 'Tenants not touched (their loops kept running)' }),
    counts: z.object({ added: z.number().int(), removed: z.number().int(), changed: z.number().int(), unchanged: z.number().int() }),
    needsRestart: z
      .array(z.object({ key: z.string(), reason: z.string() }))
      .openapi({ description: 'Settings outside `tenants` that differ in the file (http, database, ha, loop): not applied until the daemon restarts' }),
  })
  .openapi('ConfigReload');
