/**
 * Timestamp-based reprocessing (SPEC §4.2, §4.3) end to end: the loop against the master
 * simulator (asynchronous kills), the REAL Ceph RGW (state cleanup) and REAL MariaDB (the
 * replay row and the submissions survive a daemon restart).
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SparkSubmitStatusRepository } from '../../src/db/spark-submit-status.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import { freshMysqlDatabase, type TestDatabase } from '../support/databases.js';
import {
  createTestBucket,
  emptyAndDeleteBucket,
  putObjects,
  s3TestAccessKeyId,
  s3TestEndpoint,
  s3TestRegion,
  s3TestSecretAccessKey,
  testS3Client,
} from '../support/s3.js';
import { acceptedCreates, MAIN_CLASS, observedSimulator, sparkTenant, startSparkOrchestrator, waitFor, type SparkHarness } from '../support/spark.js';
import { partitionKey } from '../support/stores.js';

const KILL_DELAY_MS = 400;
const STATE_KEYS = [
  'checkpoint/metadata',
  'checkpoint/offsets/0',
  'checkpoint/offsets/1',
  'checkpoint/commits/0',
  'checkpoint/sources/0/0',
  // More than one listing page and more than one DeleteObjects batch.
  ...Array.from({ length: 1_050 }, (_, i) => `checkpoint/state/0/${i % 200}/${i}.delta`),
  ...Array.from({ length: 10 }, (_, i) => `logs/_spark_metadata/${i}`),
  'logs/_spark_metadata/9.compact',
];
const KEPT_KEYS = [
  partitionKey('prod', 'orders', 'application'),
  partitionKey('prod', 'orders', 'worker', '2026-11-27T03:01:00Z'),
  partitionKey('dev', 'billing', 'application'),
  'logs/env=prod/_spark_metadata/0', // only the top-level metadata folder is the sink's
  'logs/_spark_metadata_old/0',
  'checkpoints-backup/metadata',
  'checkpoint.txt',
];

async function allKeys(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

describe('Spark replay against the simulator, the Ceph RGW and MariaDB', () => {
  let mysql: TestDatabase;
  const client = testS3Client();

  beforeAll(async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3TestAccessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3TestSecretAccessKey);
    mysql = await freshMysqlDatabase('spark_replay');
  });
  afterAll(async () => {
    await mysql?.drop();
    client.destroy();
    vi.unstubAllEnvs();
  });

  it.each([
    ['ABC', false],
    ['XYZ', true],
  ] as const)(
    'tenant %s: kill, clean, replay from the timestamp, then resume, each step once (daemon restart in between: %s)',
    async (tenant, restart) => {
      const bucket = await createTestBucket(`spark-replay-${tenant}`, client);
      const { sim, maxAlive } = await observedSimulator({ killDelayMs: KILL_DELAY_MS });
      const harnesses: SparkHarness[] = [];
      const running = new Set<SparkHarness>();
      const violations: string[] = [];
      try {
        await putObjects(client, bucket, [...STATE_KEYS, ...KEPT_KEYS], 48);
        const start = async () => {
          const h = await startSparkOrchestrator({
            tenants: [
              sparkTenant(sim, {
                name: tenant,
                store: `objectStore.aws { region = "${s3TestRegion}", bucket = "${bucket}", endpointOverride = "${s3TestEndpoint}" }`,
              }),
            ],
            pollSeconds: 0.25,
            graceSeconds: 2,
            database: mysql.config,
          });
          // Nothing is cleaned while a killed driver is still listed as running.
          h.t.orchestrator.supervisor.events$.subscribe((e) => {
            if (e.type === 'spark.state-cleaned') {
              const running = sim.activeDrivers().filter((d) => d.killRequested);
              if (running.length) violations.push(`state cleaned while ${running.map((d) => d.id).join(', ')} still active`);
            }
          });
          harnesses.push(h);
          running.add(h);
          return h;
        };
        const all = <K extends OrchestratorEvent['type']>(type: K) => harnesses.flatMap((h) => h.eventsOf(type, tenant));
        const replays = new SparkSubmitStatusRepository(mysql.db);

        let h = await start();
        const d1 = (await waitFor(() => acceptedCreates(sim)[0], 'the first driver')).submissionId!;
        await waitFor(async () => (await h.status(tenant)).drivers.alive.length === 1, 'the loop to see it alive');

        // ---- the replay request
        const startingOffsetsTimestamp = Date.now() - 3_600_000;
        const resumeAt = Date.now() + (restart ? 10_000 : 6_000);
        const res = await h.post('/api/v1/spark/replay', { startingOffsetsTimestamp, resumeToSubscribePatternTimestamp: resumeAt }, tenant);
        expect(res.status).toBe(200);
        expect(res.body.data).toMatchObject({ tenant, startingOffsetsTimestamp, resumeToSubscribePatternTimestamp: resumeAt });
        const replayId = res.body.data.id as number;

        await waitFor(() => all('spark.replay-started').length === 1, 'the replay to start', 30_000);
        const d2 = acceptedCreates(sim)[1]!.submissionId!;
        expect(sim.killRequests.map((k) => [k.id, k.accepted])).toEqual([[d1, true]]);
        expect(sim.getDriver(d1)?.state).toBe('KILLED');
        const replayArgs = (acceptedCreates(sim)[1]!.body as Record<string, any>).appArgs as string[];
        expect(replayArgs).toContain(`kafka.startingOffsetsTimestamp=${startingOffsetsTimestamp}`);
        // kill → (the kill completes on the master) → clean → submit
        const [killed] = all('spark.killed');
        const [cleaned] = all('spark.state-cleaned');
        const submitted = all('spark.submitted').find((e) => e.submissionId === d2)!;
        expect(killed).toMatchObject({ submissionIds: [d1], reason: 'replay-start' });
        expect(cleaned).toMatchObject({ deleted: STATE_KEYS.length, prefixes: ['checkpoint/', 'logs/_spark_metadata/'] });
        expect(cleaned!.at - killed!.at).toBeGreaterThanOrEqual(KILL_DELAY_MS - 50);
        expect(submitted.at).toBeGreaterThanOrEqual(cleaned!.at);
        expect(submitted).toMatchObject({ purpose: 'replay-start', startingOffsetsTimestamp });
        expect(all('spark.replay-started')).toEqual([expect.objectContaining({ replayId, startingOffsetsTimestamp })]);
        expect(await allKeys(client, bucket)).toEqual([...KEPT_KEYS].sort());
        expect(await replays.latest(tenant)).toMatchObject({ id: replayId, isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: false });

        // The replay job writes new state.
        await putObjects(client, bucket, ['checkpoint/metadata', 'checkpoint/offsets/0', 'logs/_spark_metadata/0']);

        if (restart) {
          await h.stop();
          running.delete(h);
          h = await start();
          await waitFor(async () => (await h.status(tenant)).lastPoll?.outcome === 'none', 'the new daemon to find the replay driver', 10_000);
          const status = await h.status(tenant);
          expect(status.drivers.alive.map((d: { id: string }) => d.id)).toEqual([d2]);
          expect(status.replay).toMatchObject({ id: replayId, isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: false });
          expect(Date.now()).toBeLessThan(resumeAt); // the restart happened before the resume was due
          expect(acceptedCreates(sim)).toHaveLength(2);
          expect(sim.killRequests).toHaveLength(1);
        }

        // ---- the resume
        await waitFor(() => all('spark.resumed').length === 1, 'the resume', resumeAt - Date.now() + 20_000);
        const d3 = acceptedCreates(sim)[2]!.submissionId!;
        expect(acceptedCreates(sim)[2]!.at).toBeGreaterThanOrEqual(resumeAt);
        expect(sim.killRequests.map((k) => k.id)).toEqual([d1, d2]);
        expect(sim.getDriver(d2)?.state).toBe('KILLED');
        const resumeArgs = (acceptedCreates(sim)[2]!.body as Record<string, any>).appArgs as string[];
        expect(resumeArgs.some((a) => a.startsWith('kafka.startingOffsetsTimestamp='))).toBe(false);
        expect(all('spark.state-cleaned').map((e) => e.deleted)).toEqual([STATE_KEYS.length, 3]);
        expect(all('spark.resumed')).toEqual([expect.objectContaining({ replayId })]);
        expect(await allKeys(client, bucket)).toEqual([...KEPT_KEYS].sort());
        expect(await replays.latest(tenant)).toMatchObject({ id: replayId, isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: true });

        // ---- and nothing more
        const polled = all('spark.polled').length;
        await waitFor(() => all('spark.polled').length >= polled + 8, 'eight more polls');
        expect(acceptedCreates(sim).map((c) => c.submissionId)).toEqual([d1, d2, d3]);
        expect(sim.createRequests).toHaveLength(3);
        expect(sim.killRequests).toHaveLength(2);
        expect(all('spark.replay-started')).toHaveLength(1);
        expect(all('spark.resumed')).toHaveLength(1);
        expect(all('spark.state-cleaned')).toHaveLength(2);
        expect(sim.activeDrivers().map((d) => [d.id, d.mainClass])).toEqual([[d3, MAIN_CLASS]]);
        expect(maxAlive()).toBe(1);
        expect(violations).toEqual([]);
        expect((await h.status(tenant)).replay).toMatchObject({ isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: true });
      } finally {
        for (const h of running) await h.stop().catch(() => undefined);
        await sim.stop();
        await emptyAndDeleteBucket(bucket, client);
      }
    },
    120_000,
  );
});
