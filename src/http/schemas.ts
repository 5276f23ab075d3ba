import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// Each schema here both validates requests and describes them in /openapi.json.
extendZodWithOpenApi(z);

const epochMs = z
  .number({ error: 'expected epoch milliseconds (a number)' })
  .int('expected whole milliseconds')
  .nonnegative('expected a time after 1970');

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
  .object({ error: z.object({ code: z.string(), message: z.string(), cause: z.string().openapi({ description: 'As the Java orchestrator’s error bodies: what failed (here the same as message).' }) }) })
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
