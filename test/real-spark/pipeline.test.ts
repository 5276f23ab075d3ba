/**
 * The whole pipeline for real (SPEC §4.1–4.4): log lines produced into the REAL Kafka broker →
 * the daemon (every stream) submits the REAL Structured Streaming job `LogStreamJob` to the
 * SHARED Spark cluster → the job writes Parquet partitions into the REAL Ceph RGW → the daemon
 * onboards the services Spark wrote and measures their delay; then a replay from a timestamp
 * makes a new driver read Kafka again from there. And `/pipeline/health`'s Kafka check against
 * a real broker: the shared one (UP, the topics matching `subscribePattern` named), and a
 * private one (port 32090) paused and stopped (DOWN within the check's timeout).
 *
 * The shared cluster's worker (2 cores) fits one SparkSession driver and its executor: the file
 * waits until it is free, and kills only the drivers it submitted.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFailed, vi } from 'vitest';
import type { TenantStreamsFactory } from '../../streams/ports.js';
import {
  listObjects,
  produceLines,
  sampleAlive,
  startPrivateKafka,
  startRealOrchestrator,
  waitClusterFree,
  type AliveSampler,
  type LogLine,
  type PrivateKafka,
  type RealOrchestrator,
  watchWorkerProcesses,
  type WorkerProcesses,
} from '../support/real-pipeline.js';
import { realSparkTenant, sharedKafka, sharedSpark, type RealMaster } from '../support/real-spark.js';
import { createTestBucket, emptyAndDeleteBucket, s3TestAccessKeyId, s3TestEndpoint, s3TestRegion, s3TestSecretAccessKey, testS3Client } from '../support/s3.js';
import { sleep, waitFor } from '../support/spark.js';

const PRIVATE_KAFKA = { port: 32090, controllerPort: 32091 };
const TENANT = 'PIPE';
const RUN = `r${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const TOPICS = { app: `logs.${RUN}.app`, web: `logs.${RUN}.web`, other: `other.${RUN}` };
/** A Java regex as the job and Kafka read it (the HOCON below doubles the backslashes). */
const PATTERN = `^logs\\.${RUN}\\..*`;
const SERVICES = [
  { env: 'prod', service: 'orders', component: 'api', topic: TOPICS.app },
  { env: 'prod', service: 'payments', component: 'worker', topic: TOPICS.app },
  // ':' is escaped by Spark in the folder name (service_name=checkout%3Av2)
  { env: 'dev', service: 'checkout:v2', component: 'web', topic: TOPICS.web },
] as const;
const LINES_PER_SERVICE = 30;
/** Batch A0 is stamped this long before batch A: another minute partition, before the replay's timestamp. */
const OLDER_MS = 10 * 60_000;

/** `year=…/month=…/day=…/hour=…/minute=…/` of an epoch ms (UTC), as the job partitions. */
function minuteFolder(ms: number): string {
  const t = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `year=${t.getUTCFullYear()}/month=${p(t.getUTCMonth() + 1)}/day=${p(t.getUTCDate())}/hour=${p(t.getUTCHours())}/minute=${p(t.getUTCMinutes())}/`;
}
const serviceFolder = (s: { env: string; service: string; component: string }) =>
  `logs/env=${s.env}/service_name=${s.service.replaceAll(':', '%3A')}/component_name=${s.component}/`;

type Check = { name: string; status: string; message?: string; durationMs: number; details?: Record<string, any> };

describe('Kafka → Spark (LogStreamJob) → Ceph, supervised, discovered and replayed by the daemon', () => {
  let master: RealMaster;
  let bootstrap: string;
  let streamClass: string;
  let bucket: string;
  const client = testS3Client();
  let h: RealOrchestrator | undefined;
  let sampler: AliveSampler | undefined;
  let procs: WorkerProcesses | undefined;
  let privateKafka: Promise<PrivateKafka> | undefined;
  let t0: number;
  /** The timestamp of batch A's records (batch A0's: OLDER_MS before). */
  let producedAt = 0;

  const ownDrivers = async () => {
    const ids = new Set((h?.eventsOf('spark.submitted') ?? []).map((e) => e.submissionId));
    return (await master.alive(streamClass)).filter((d) => ids.has(d.id) || master.launchCommand(d.id).includes(`s3.bucket=${bucket}`));
  };

  beforeAll(async () => {
    t0 = Date.now();
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3TestAccessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3TestSecretAccessKey);
    // The private broker starts meanwhile (its own JVM, seconds).
    privateKafka = startPrivateKafka(PRIVATE_KAFKA);
    privateKafka.catch(() => undefined);
    master = await sharedSpark();
    bootstrap = (await sharedKafka()).KAFKA_TEST_BOOTSTRAP!;
    streamClass = master.env.SPARK_TEST_STREAM_CLASS!;
    bucket = await createTestBucket('real-pipeline', client);
    await waitClusterFree(master, 150_000);
    procs = watchWorkerProcesses(master.workDir);
  }, 240_000);

  afterAll(async () => {
    await sampler?.stop();
    await h?.stop().catch(() => undefined);
    // Only what this file submitted (others may use the shared cluster).
    for (const d of await ownDrivers().catch(() => [])) await master.kill(d.id);
    await waitFor(async () => (await ownDrivers()).length === 0, 'the drivers of this file to end', 30_000, 250).catch(() => undefined);
    await procs?.stop();
    if (procs) console.log(`pipeline: peak RSS of the driver + executor JVMs ${procs.peak().mb} MB (${procs.peak().detail}); file ${Date.now() - t0} ms`);
    // (An executor of a killed driver may still be finishing a write: try again once.)
    if (bucket) {
      await emptyAndDeleteBucket(bucket, client).catch(async () => {
        await sleep(3_000);
        await emptyAndDeleteBucket(bucket, client);
      });
    }
    client.destroy();
    await (await privateKafka?.catch(() => undefined))?.destroy();
    vi.unstubAllEnvs();
  }, 120_000);

  /** Events of anything that failed (none is expected on a healthy pipeline). */
  const failures = (orch: RealOrchestrator) =>
    orch.events.filter((e) =>
      [
        'stream.retrying',
        'command.failed',
        'discovery.failed',
        'discovery.guarded',
        'delay.failed',
        'spark.submit-failed',
        'spark.master-unreachable',
        'spark.crashloop',
      ].includes(e.type),
    );

  const health = async (orch: RealOrchestrator, tenant: string) => {
    const started = Date.now();
    const res = await orch.get('/pipeline/health', tenant);
    expect(res.status).toBe(200);
    const checks = res.body.data.checks as Check[];
    return {
      ms: Date.now() - started,
      kafka: checks.find((c) => c.name === 'kafka')!,
      spark: checks.find((c) => c.name === 'spark')!,
      s3: checks.find((c) => c.name === 's3')!,
    };
  };

  it('produced lines are written by the job the daemon submitted; the daemon onboards the services and reports a delay of minutes', async () => {
    producedAt = Date.now();
    const batch = (name: string, timestamp: number): LogLine[] =>
      SERVICES.flatMap((s) =>
        Array.from({ length: LINES_PER_SERVICE }, (_, i) => ({
          topic: s.topic,
          env: s.env,
          service: s.service,
          component: s.component,
          message: `${s.service} ${name} line ${i}`,
          timestamp,
        })),
      );
    // A0 first, then A: in every partition all of A0's records come before A's, so reading from a
    // timestamp between them (Kafka: the first offset whose timestamp is at or after it) reads A only.
    await produceLines(bootstrap, batch('A0', producedAt - OLDER_MS));
    await produceLines(bootstrap, [
      ...batch('A', producedAt),
      { topic: TOPICS.other, env: 'prod', service: 'ghost', component: 'api', message: 'not subscribed', timestamp: producedAt },
    ]);

    const known = new Set((await master.drivers()).map((d) => d.id));
    sampler = sampleAlive(master, streamClass, { ignore: known, intervalMs: 200 });
    h = await startRealOrchestrator({
      tenants: [
        realSparkTenant(master, {
          name: TENANT,
          mainClass: streamClass,
          appName: 'logwise-real-pipeline',
          store: `objectStore.aws { region = "${s3TestRegion}", bucket = "${bucket}", endpointOverride = "${s3TestEndpoint}" }`,
          kafkaBrokersHost: bootstrap,
          sparkExtra: `
            kafkaStartingOffsets = "earliest"
            subscribePattern = "${PATTERN.replaceAll('\\', '\\\\')}"
            kafkaMaxRatePerPartition = "200"
            s3aAccessKey = "${s3TestAccessKeyId}"
            s3aSecretKey = "${s3TestSecretAccessKey}"`,
          extra: `
            envLogsRetentionDays = [{ envs = ["prod"], retentionDays = 30 }]
            delayMetrics.app { sampleEnv = "prod", sampleServiceName = "orders", sampleComponentName = "api" }`,
        }),
      ],
      loop: { sparkPollSeconds: 1, submitGraceSeconds: 60, discoverySeconds: 5, delaySampleSeconds: 5, backoff: { minSeconds: 0.5, maxSeconds: 2 } },
    });
    const orch = h;
    onTestFailed(async () => {
      console.log(
        `events:\n${orch.events
          .filter((e) => e.type !== 'spark.polled')
          .map((e) => `${new Date(e.at).toISOString()} ${JSON.stringify(e)}`)
          .join('\n')}`,
      );
      for (const id of orch.eventsOf('spark.submitted').map((e) => e.submissionId))
        console.log(`${id} stdout:\n${master.driverStdout(id)}\nstderr (tail):\n${master.driverStderr(id).slice(-3000)}`);
    });

    // ---- the daemon submits the job, which reads from the earliest offsets
    const submitted = await waitFor(() => h!.eventsOf('spark.submitted')[0], 'the keep-alive submission', 60_000, 100);
    const d1 = submitted.submissionId;
    await waitFor(() => master.driverStdout(d1).includes('logwise-test-app reading from earliest'), `driver ${d1} to start reading`, 60_000, 250);
    const startedMs = Date.now() - submitted.at;

    // ---- the services Spark wrote are onboarded (the unsubscribed topic's is not)
    const want = SERVICES.map((s) => `${s.env}/${s.service}/${s.component}`).sort();
    const rows = await waitFor(
      async () => {
        const res = await h!.get('/service-details', TENANT);
        const data = (res.body.data?.serviceDetails ?? []) as {
          env: string;
          serviceName: string;
          componentName: string;
          retentionDays: number;
          tenant: string;
        }[];
        return data.length >= SERVICES.length ? data : undefined;
      },
      'the three services in service_details',
      150_000,
      500,
    );
    const onboardedMs = Date.now() - submitted.at;
    expect(rows.map((r) => `${r.env}/${r.serviceName}/${r.componentName}`).sort()).toEqual(want);
    expect(Object.fromEntries(rows.map((r) => [r.serviceName, [r.tenant, r.retentionDays]]))).toEqual({
      orders: [TENANT, 30],
      payments: [TENANT, 30],
      'checkout:v2': [TENANT, 3],
    });
    expect(
      h
        .eventsOf('discovery.onboarded')
        .flatMap((e) => e.services)
        .sort(),
    ).toHaveLength(3);
    // What Spark wrote: Parquet under the Logwise layout, a minute partition per record minute
    // (both batches: the job read from the earliest offsets).
    const objects = await waitFor(
      async () => {
        const all = await listObjects(client, bucket, 'logs/');
        const written = (prefix: string) => all.some((o) => o.key.startsWith(prefix) && o.key.endsWith('.parquet'));
        return SERVICES.every((s) => written(serviceFolder(s) + minuteFolder(producedAt)) && written(serviceFolder(s) + minuteFolder(producedAt - OLDER_MS)))
          ? all
          : undefined;
      },
      'Parquet files in both minute partitions of every service',
      60_000,
      1_000,
    );
    expect(objects.some((o) => o.key.includes('ghost'))).toBe(false);
    expect(objects.some((o) => o.key.startsWith('logs/_spark_metadata/'))).toBe(true);

    // ---- the delay of the sample service: minutes, not the 180 of "nothing found". Only a sample
    // started after both minute partitions were seen counts: Spark's tasks land the partitions one
    // by one, and a sample taken between them finds only the older minute (10 min behind). The event
    // carries when the sample ended: one ended a second after the listing began after it (a sample
    // lists two folders, tens of milliseconds on this bucket).
    const listedAt = Date.now();
    await waitFor(
      () => h!.eventsOf('delay.sampled').find((e) => e.at >= listedAt + 1_000 && e.appLogsDelayMinutes < 180),
      'a delay sample, started after the partitions were listed, that found them',
      20_000,
      250,
    );
    const res = await h.get('/api/v1/metric/sync-delay', TENANT);
    const delay = res.body.data?.appLogsDelayMinutes as number;
    expect(delay).toBeGreaterThanOrEqual(1);
    expect(delay).toBeLessThanOrEqual(Math.max(3, Math.ceil((Date.now() - producedAt) / 60_000) + 1));

    // ---- /pipeline/health against the real broker, master and bucket
    const hc = await health(h, TENANT);
    expect(hc.kafka.status, hc.kafka.message).toBe('UP');
    expect([...(hc.kafka.details!.matchingTopics as string[])].sort()).toEqual([TOPICS.app, TOPICS.web]);
    expect(hc.kafka.details!.matchingTopicCount).toBe(2);
    expect(hc.kafka.details!.subscribePattern).toBe(PATTERN);
    expect(hc.kafka.details!.partitions).toMatchObject({ [TOPICS.app]: 2, [TOPICS.web]: 2 });
    expect(hc.spark.status, hc.spark.message).toBe('UP');
    expect(hc.spark.message).toContain(d1);
    expect(hc.s3.status, hc.s3.message).toBe('UP');
    console.log(
      `pipeline: driver ${d1} reading ${startedMs} ms after its submission, services onboarded ${onboardedMs} ms after it, delay ${delay} min; ` +
        `kafka check: ${hc.kafka.message} (${hc.kafka.durationMs} ms)`,
    );
    expect(h.eventsOf('spark.submitted')).toHaveLength(1);
    expect(failures(h)).toEqual([]);
  }, 240_000);

  it('a replay from a timestamp: the new driver reads Kafka again from there and writes the minutes already written once more', async () => {
    const orch = h!;
    const sample = SERVICES[0];
    const prefix = serviceFolder(sample);
    const before = await listObjects(client, bucket, prefix);
    expect(before.length).toBeGreaterThan(0);
    const stateBefore = await listObjects(client, bucket, 'checkpoint/');
    expect(stateBefore.length).toBeGreaterThan(0);

    const appsBefore = [...procs!.seen().keys()].filter((d) => d.startsWith('app-'));
    // After batch A0's records and before batch A's: only batch A is read again.
    const startingOffsetsTimestamp = producedAt - 1_000;
    const res = await orch.post('/api/v1/spark/replay', { startingOffsetsTimestamp, resumeToSubscribePatternTimestamp: Date.now() + 3_600_000 }, TENANT);
    expect(res.status).toBe(200);
    const started = await waitFor(() => orch.eventsOf('spark.replay-started')[0], 'the replay to start', 60_000, 100);
    const [d1] = orch.eventsOf('spark.submitted').map((e) => e.submissionId);
    const killed = orch.eventsOf('spark.killed');
    const cleaned = orch.eventsOf('spark.state-cleaned');
    const replay = orch.eventsOf('spark.submitted')[1]!;
    expect(killed.map((e) => [e.submissionIds, e.reason])).toEqual([[[d1], 'replay-start']]);
    expect(cleaned).toHaveLength(1);
    expect(cleaned[0]!.deleted).toBeGreaterThanOrEqual(stateBefore.length);
    expect(replay).toMatchObject({ purpose: 'replay-start', startingOffsetsTimestamp });
    const d2 = replay.submissionId;
    // The master stopped listing the killed driver, and its JVM had exited, before anything was deleted.
    expect(cleaned[0]!.at).toBeGreaterThan(sampler!.lastSeenActive(d1!)!);
    expect(procs!.lastSeen(d1!)).toBeDefined();
    expect(cleaned[0]!.at).toBeGreaterThan(procs!.lastSeen(d1!)!);
    await waitFor(
      () => master.driverStdout(d2).includes(`logwise-test-app reading from timestamp ${startingOffsetsTimestamp}`),
      `driver ${d2} to read from the timestamp`,
      60_000,
      250,
    );
    expect(master.launchCommand(d2)).toContain(`kafka.startingOffsetsTimestamp=${startingOffsetsTimestamp}`);

    // The lines of batch A are read again: new part files in its minute partition, already written once.
    // Written by the new driver: after the cleanup, which came after the killed driver's JVM had
    // exited (on a loaded machine the killed driver's last micro-batches land late, just before
    // its kill); S3's lastModified has whole seconds, and the new driver needs several to start.
    const writtenByNew = cleaned[0]!.at + 1_000;
    const after = await waitFor(
      async () => {
        const now = await listObjects(client, bucket, prefix);
        const fresh = now.filter((o) => !before.some((b) => b.key === o.key) && o.key.endsWith('.parquet') && o.lastModified >= writtenByNew);
        return fresh.length > 0 ? { now, fresh } : undefined;
      },
      'new part files of the sample service after the replay',
      120_000,
      1_000,
    );
    const minutesUnder = (folder: string, list: { key: string }[]) => [...new Set(list.map((o) => o.key.slice(folder.length).replace(/part-.*$/, '')))].sort();
    expect(
      minutesUnder(
        prefix,
        before.filter((o) => o.key.endsWith('.parquet')),
      ),
    ).toEqual([minuteFolder(producedAt - OLDER_MS), minuteFolder(producedAt)].sort());
    for (const o of after.fresh) expect(o.lastModified).toBeGreaterThanOrEqual(replay.at - 2_000);
    // Every service's batch A was read again, and no line of batch A0 (before the timestamp).
    for (const s of SERVICES) {
      const p = serviceFolder(s);
      const again = await waitFor(
        async () => {
          const list = (await listObjects(client, bucket, p)).filter((o) => o.key.endsWith('.parquet') && o.lastModified >= writtenByNew);
          return list.length > 0 ? list : undefined;
        },
        `new part files under ${p}`,
        60_000,
        1_000,
      );
      expect(minutesUnder(p, again), p).toEqual([minuteFolder(producedAt)]);
    }
    // The sink's metadata and the checkpoint are the new driver's only (the old ones were deleted).
    const state = await listObjects(client, bucket, 'checkpoint/');
    expect(state.length).toBeGreaterThan(0);
    for (const o of state) expect(o.lastModified, o.key).toBeGreaterThanOrEqual(cleaned[0]!.at - 2_000);
    for (const o of await listObjects(client, bucket, 'logs/_spark_metadata/')) expect(o.lastModified, o.key).toBeGreaterThanOrEqual(cleaned[0]!.at - 2_000);

    const polls = orch.eventsOf('spark.polled').length;
    await waitFor(() => orch.eventsOf('spark.polled').length >= polls + 3, 'three more polls', 15_000);
    expect(orch.eventsOf('spark.submitted')).toHaveLength(2);
    expect(orch.eventsOf('spark.replay-started')).toHaveLength(1);
    expect(failures(orch)).toEqual([]);
    expect((await ownDrivers()).map((d) => d.id)).toEqual([d2]);
    await sampler!.stop();
    const oldExecutorsGone = Math.max(...appsBefore.map((a) => procs!.lastSeen(a) ?? 0));
    console.log(
      `pipeline replay: started ${started.at - killed[0]!.at} ms after the kill; the killed driver's JVM last seen ${procs!.lastSeen(d1!)! - killed[0]!.at} ms ` +
        `after the kill, its executors ${oldExecutorsGone - killed[0]!.at} ms after (cleanup at ${cleaned[0]!.at - killed[0]!.at} ms); ` +
        `${after.fresh.length} new part files of ${sample.service}; most alive at once ${sampler!.maxAlive}`,
    );
    expect(sampler!.overlaps).toEqual([]);
    expect(sampler!.maxAlive).toBe(1);
    sampler = undefined;
  }, 240_000);

  it('Kafka health: UP with the matching topics while the private broker runs, DOWN within the timeout when it hangs or is stopped', async () => {
    const broker = await privateKafka!;
    const pattern = `^logs\\.priv${RUN}\\..*`;
    const topics = [`logs.priv${RUN}.a`, `logs.priv${RUN}.b`];
    const noStreams: TenantStreamsFactory = () => [];
    const orch = await startRealOrchestrator({
      tenants: [
        realSparkTenant(master, {
          name: 'KAF',
          kafkaBrokersHost: broker.bootstrap,
          sparkExtra: `subscribePattern = "${pattern.replaceAll('\\', '\\\\')}"`,
        }),
      ],
      streams: noStreams,
    });
    try {
      // A broker without a matching topic answers, and is DOWN for this pipeline.
      const empty = await health(orch, 'KAF');
      expect(empty.kafka.status).toBe('DOWN');
      expect(empty.kafka.message).toMatch(/^Kafka broker 127\.0\.0\.1:32090 answered, but /);
      await produceLines(broker.bootstrap, [
        ...topics.map((topic) => ({ topic, env: 'prod', service: 's', component: 'c', message: 'x' })),
        { topic: `other.priv${RUN}`, env: 'prod', service: 's', component: 'c', message: 'x' },
      ]);
      const up = await health(orch, 'KAF');
      expect(up.kafka.status, up.kafka.message).toBe('UP');
      expect([...(up.kafka.details!.matchingTopics as string[])].sort()).toEqual(topics);
      expect(up.kafka.message).toContain('2 of 3 topics match');

      // Hung: the port still accepts connections (the kernel's backlog), nothing answers.
      broker.pause();
      let hung: Awaited<ReturnType<typeof health>>;
      try {
        hung = await health(orch, 'KAF');
      } finally {
        broker.resume();
      }
      expect(hung.kafka.status).toBe('DOWN');
      expect(hung.kafka.message).toMatch(/^no answer within 3000 ms \(/);
      expect(hung.kafka.durationMs).toBeLessThan(3_600);
      expect(hung.ms).toBeLessThan(4_500);

      const back = await waitFor(
        async () => {
          const r = await health(orch, 'KAF');
          return r.kafka.status === 'UP' ? r : undefined;
        },
        'the Kafka check UP again after the broker resumed',
        20_000,
        500,
      );
      expect(back.kafka.details!.matchingTopicCount).toBe(2);

      // Stopped: refused at once.
      await broker.down();
      const down = await health(orch, 'KAF');
      expect(down.kafka.status).toBe('DOWN');
      expect(down.kafka.message).toContain('connection refused');
      expect(down.kafka.durationMs).toBeLessThan(3_000);
      console.log(
        `kafka health: no matching topic "${empty.kafka.message}"; up "${up.kafka.message}" (${up.kafka.durationMs} ms); hung "${hung.kafka.message}" (${hung.kafka.durationMs} ms); stopped "${down.kafka.message}" (${down.kafka.durationMs} ms)`,
      );
    } finally {
      await orch.stop();
    }
  }, 120_000);
});
