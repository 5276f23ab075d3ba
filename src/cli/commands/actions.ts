import type { DaemonClient } from '../daemon-client.js';

interface ActionOptions {
  json: boolean;
  out: (s: string) => void;
}

/** `logwise sync`: POST /api/v1/component/sync; answers when the sync is done. */
export async function sync(client: DaemonClient, tenant: string, force: boolean, opts: ActionOptions): Promise<void> {
  const data = await client.post<{ message: string; onboarded: number; removed: number }>(
    '/api/v1/component/sync',
    { componentType: 'application', force },
    tenant,
  );
  opts.out(opts.json ? JSON.stringify(data) : `${tenant}: ${data.message} (onboarded ${data.onboarded}, removed ${data.removed})`);
}

/** `logwise monitor`: POST /monitor-spark-job; the daemon answers at once and polls in the background. */
export async function monitor(
  client: DaemonClient,
  tenant: string,
  overrides: { driverCores?: number; driverMemoryInGb?: number },
  opts: ActionOptions,
): Promise<void> {
  const data = await client.post<{ message: string }>('/monitor-spark-job', overrides, tenant);
  opts.out(opts.json ? JSON.stringify(data) : `${tenant}: ${data.message}`);
}

/** `logwise replay`: POST /api/v1/spark/replay; the loop carries it out at its next polls. */
export async function replay(client: DaemonClient, tenant: string, from: number, resume: number, opts: ActionOptions): Promise<void> {
  const data = await client.post<{ id: number; startingOffsetsTimestamp: number; resumeToSubscribePatternTimestamp: number }>(
    '/api/v1/spark/replay',
    { startingOffsetsTimestamp: from, resumeToSubscribePatternTimestamp: resume },
    tenant,
  );
  const iso = (ms: number) => new Date(ms).toISOString();
  opts.out(
    opts.json
      ? JSON.stringify(data)
      : `${tenant}: replay #${data.id} recorded: Kafka from ${iso(data.startingOffsetsTimestamp)}, back to the normal subscription at ${iso(data.resumeToSubscribePatternTimestamp)}`,
  );
}
