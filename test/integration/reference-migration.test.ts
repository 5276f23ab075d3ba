/**
 * Migrating from the Java orchestrator, end to end (issue 14): for each of its two versions,
 * its MySQL database with rows in it (on MariaDB), its application-default.conf and its compose
 * environment as they are (test/fixtures/reference/), its bucket in that version's layout on
 * the Ceph RGW, and its crontab's curl commands. The daemon runs as its own process with
 * nothing edited; only where things are (hosts, ports, the test's database and bucket) is
 * pointed at the test services, as an operator's .env would.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlTestServer } from '../support/databases.js';
import { startDaemonProcess, type DaemonProcess } from '../support/faults.js';
import { composeEnv, crontabRequests, REFERENCE_FIXTURES } from '../support/reference-deployment.js';
import {
  OTHER_TABLES,
  REFERENCE_SERVICES,
  referenceDatabase,
  showCreate,
  type ReferenceDatabase,
  type ReferenceVersion,
} from '../support/reference-schemas.js';
import { createTestBucket, emptyAndDeleteBucket, putObjects, s3TestAccessKeyId, s3TestEndpoint, s3TestSecretAccessKey, testS3Client } from '../support/s3.js';

const MINUTE = 60_000;

function minuteKey(folder: string, at: number): string {
  const d = new Date(Math.floor(at / MINUTE) * MINUTE);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${folder}year=${d.getUTCFullYear()}/month=${p(d.getUTCMonth() + 1)}/day=${p(d.getUTCDate())}/hour=${p(d.getUTCHours())}/minute=${p(d.getUTCMinutes())}/part-00000-c000.snappy.parquet`;
}

interface VersionCase {
  version: ReferenceVersion;
  conf: string;
  tenant: string;
  /** The bucket: the older config names its own; the newer one takes S3_BUCKET_NAME. */
  fixedBucket?: string;
  /** Each service's folder under logs/ in the version's layout. */
  folder(r: { env?: string; serviceName: string; componentName?: string }): string;
  /** A service the Spark job wrote since the last sync of the Java orchestrator. */
  newService: { env?: string; serviceName: string; componentName?: string };
  /** Its retention days by the config. */
  newRetentionDays: number;
  sample: { env?: string; serviceName: string; componentName?: string };
  env(bucket: string): Record<string, string>;
  /** Ignored keys the daemon warns about, one line each. */
  warnings: string[];
}

const CASES: VersionCase[] = [
  {
    version: 'older',
    conf: 'older.conf',
    tenant: 'D11-Prod-AWS',
    fixedBucket: 'lw-ref-log-management-prod',
    folder: (r) => `logs/env=${r.env}/service_name=${r.serviceName}/component_name=${r.componentName}/`,
    newService: { env: 'prod', serviceName: 'search', componentName: 'application' },
    newRetentionDays: 30,
    sample: { env: 'prod', serviceName: 'central-log-management', componentName: 'central-log-management-vector' },
    env: () => ({
      ENCRYPTION_KEY: 'enc-key-from-env',
      ENCRYPTION_IV: 'enc-iv-from-env',
      D11_PROD_AWS_KAFKA_MANAGER_URL: 'http://kafka-manager:9000',
      D11_PROD_AWS_KAFKA_BROKERS_HOST: 'kafka:9092',
      D11_PROD_AWS_SPARK_MASTER_HOST: 'spark://spark-master:7077',
      D11_PROD_AWS_SPARK_JAR_PATH: 'jars/logwise-spark.jar',
      D11_PROD_AWS_LOG4J_PROPERTIES_FILE_PATH: '',
    }),
    warnings: ['encryption', 'tenants[0].kafka.kafkaManagerClusterName', 'tenants[0].kafka.kafkaManagerUrl', 'tenants[0].kafka.maxProducerRatePerPartition'],
  },
  {
    version: 'newer',
    conf: 'newer.conf',
    tenant: 'ABC',
    folder: (r) => `logs/service_name=${r.serviceName}/`,
    newService: { serviceName: 'search' },
    newRetentionDays: 3,
    sample: { serviceName: 'healthcheck-dummy' },
    env: (bucket) => ({
      S3_BUCKET_NAME: bucket,
      // The compose default when .env leaves it out.
      SPARK_MASTER_HOST: 'spark://spark-master:7077',
      VECTOR_HOST: 'vector',
      VECTOR_API_PORT: '',
    }),
    warnings: [
      'tenants[0].orchestrator',
      'tenants[0].kafka.maxProducerRatePerPartition',
      'tenants[0].spark.executorCoresPerMachine',
      'tenants[0].spark.perCoreLogsProcess',
      'tenants[0].spark.minWorkerCount',
      'tenants[0].spark.maxWorkerCount',
      'tenants[0].spark.cluster',
    ],
  },
];

/** curl as the scheduler runs it: the crontab's arguments, the host `orchestrator:8080` reached at the daemon's port. */
function runCron(args: string[], port: number, tenant: string): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const given = args.map((a) => (a === 'X-Tenant-Name: ABC' ? `X-Tenant-Name: ${tenant}` : a));
  return new Promise((resolve) =>
    execFile('curl', ['--connect-to', `orchestrator:8080:127.0.0.1:${port}`, ...given], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr, ms: Date.now() - started }),
    ),
  );
}

describe.each(CASES)('migrating from the $version Java orchestrator', (c) => {
  let ref: ReferenceDatabase;
  let bucket: string;
  let dir: string;
  let daemon: DaemonProcess | undefined;
  const s3 = testS3Client();
  const now = Date.now();
  let rowsBefore: Record<string, unknown>[];
  let othersBefore: Record<string, unknown>;

  const get = (path: string, tenant = c.tenant) => daemon!.request('GET', path, { tenant });

  beforeAll(async () => {
    ref = await referenceDatabase(`e2e_${c.version}`, c.version);
    rowsBefore = await ref.db('service_details').select().orderBy(['serviceName', 'tenant']);
    othersBefore = {};
    for (const table of OTHER_TABLES[c.version]) othersBefore[table] = { ddl: await showCreate(ref.db, table), rows: await ref.db(table).select() };

    if (c.fixedBucket) {
      bucket = c.fixedBucket;
      await emptyAndDeleteBucket(bucket, s3).catch(() => undefined);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } else {
      bucket = await createTestBucket(`ref-${c.version}`, s3);
    }
    // The Spark job's output: every service the database knows, and one it does not know yet;
    // the sample service's newest minute 3 minutes ago, the others older.
    const mine = REFERENCE_SERVICES[c.version].filter((r) => r.tenant === c.tenant);
    const keys = [...mine, c.newService].flatMap((r) => {
      const newest = r.serviceName === c.sample.serviceName ? 3 : 10;
      return [newest, newest + 1, newest + 2].map((ago) => minuteKey(c.folder(r), now - ago * MINUTE));
    });
    await putObjects(s3, bucket, [...keys, 'logs/_spark_metadata/0', 'checkpoint/offsets/0'], 16);

    dir = mkdtempSync(join(tmpdir(), `lw-ref-${c.version}-`));
    daemon = await startDaemonProcess({
      dir,
      // The reference's file, as it is.
      config: readFileSync(join(REFERENCE_FIXTURES, c.conf), 'utf8'),
      env: {
        ...composeEnv(),
        ...c.env(bucket),
        // Where things are on this machine (an operator's .env says the same of theirs).
        PORT: '0',
        DB_MASTER_HOST: mysqlTestServer.host,
        DB_PORT: String(mysqlTestServer.port),
        DB_USERNAME: mysqlTestServer.user,
        DB_PASSWORD: mysqlTestServer.password, // empty: unset, as compose's empty values are
        ORCHESTRATOR_DB_NAME: ref.name,
        S3_ENDPOINT_OVERRIDE: s3TestEndpoint,
        AWS_ACCESS_KEY_ID: s3TestAccessKeyId,
        AWS_SECRET_ACCESS_KEY: s3TestSecretAccessKey,
        AWS_SESSION_TOKEN: '',
      },
    });
  }, 120_000);

  afterAll(async () => {
    if (daemon && !daemon.exited) await daemon.stop();
    await ref?.drop();
    if (bucket) await emptyAndDeleteBucket(bucket, s3).catch(() => undefined);
    s3.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts on the reference’s config and compose environment: MySQL (no DB_CLIENT), its database, one warning per ignored key', async () => {
    const started = daemon!.lines.find((l) => l.msg === 'orchestrator listening')!;
    expect(started).toMatchObject({ database: 'mysql', tenants: [c.tenant] });
    expect(daemon!.lines.find((l) => l.msg === 'database migrated')).toMatchObject({
      migrations: ['001_initial', '002_leases', '003_replay_steps', '004_adopt_reference_tables', '005_replicas'],
    });
    const warned = daemon!.lines.filter((l) => l.level === 'warn' && typeof l.msg === 'string' && l.msg.startsWith('config: ')).map((l) => l.config);
    expect(warned.sort()).toEqual([...c.warnings].sort());
    const all = JSON.stringify(daemon!.lines) + daemon!.stderr.join('\n');
    expect(all).not.toMatch(/enc-key-from-env|enc-iv-from-env/);
    expect(all).not.toContain(s3TestSecretAccessKey);
  });

  it('the crontab’s requests answer 200 with the reference’s messages; the sync keeps every row and its retention days', async () => {
    const [sync, monitor] = crontabRequests();
    const synced = await runCron(sync!.args, daemon!.port, c.tenant);
    expect(synced.code, synced.stderr).toBe(0);
    expect(JSON.parse(synced.stdout)).toEqual({
      data: { success: true, message: `Successfully synced componentType: application for tenant: ${c.tenant}`, onboarded: 1, removed: 0 },
    });
    const monitored = await runCron(monitor!.args, daemon!.port, c.tenant);
    expect(monitored.code, monitored.stderr).toBe(0);
    expect(JSON.parse(monitored.stdout)).toEqual({ data: { success: true, message: `Successfully monitored the spark job for tenant: ${c.tenant}` } });
    expect(monitored.ms, '/monitor-spark-job answers at once (ms)').toBeLessThan(2_000);

    // Every row of the reference is there, as it was (retention days edited by hand included), plus the new service.
    const rows = (await ref.db('service_details').select().orderBy(['serviceName', 'tenant'])) as Record<string, unknown>[];
    const pick = (r: Record<string, unknown>) => ({
      env: r.env ?? '',
      serviceName: r.serviceName,
      componentName: r.componentName ?? '',
      retentionDays: r.retentionDays,
      tenant: r.tenant,
    });
    const added = {
      env: c.newService.env ?? '',
      serviceName: c.newService.serviceName,
      componentName: c.newService.componentName ?? '',
      retentionDays: c.newRetentionDays,
      tenant: c.tenant,
    };
    expect(rows.map(pick)).toEqual(expect.arrayContaining([...rowsBefore.map(pick), added]));
    expect(rows).toHaveLength(rowsBefore.length + 1);
    for (const table of OTHER_TABLES[c.version]) {
      expect({ ddl: await showCreate(ref.db, table), rows: await ref.db(table).select() }, table).toEqual(othersBefore[table]);
    }
  });

  it('answers as the reference: service details, health, liveness, pipeline health; the delay follows the bucket’s layout', async () => {
    const details = await get('/service-details');
    expect(details.status).toBe(200);
    const mine = REFERENCE_SERVICES[c.version].filter((r) => r.tenant === c.tenant);
    const byName = Object.fromEntries(
      (details.body.data.serviceDetails as { serviceName: string; env: string; retentionDays: number; tenant: string }[]).map((r) => [
        `${r.env}|${r.serviceName}`,
        r.retentionDays,
      ]),
    );
    for (const r of mine) expect(byName[`${r.env ?? ''}|${r.serviceName}`], r.serviceName).toBe(r.retentionDays);
    expect(Object.keys(byName)).toHaveLength(mine.length + 1);

    expect(await get('/healthcheck')).toEqual({ status: 200, body: { data: { status: 'UP', checks: { mysql: { status: 'UP', type: 'mysql' } } } } });
    expect((await get('/health')).body.data.status).toBe('UP');
    expect(await get('/liveness')).toEqual({ status: 200, body: { text: 'Success' } });

    const delay = await get('/api/v1/metric/sync-delay');
    expect(delay.body.data.tenant).toBe(c.tenant);
    expect([3, 4]).toContain(delay.body.data.appLogsDelayMinutes);

    const pipeline = await get('/pipeline/health');
    expect(pipeline.status).toBe(200);
    expect(pipeline.body).toMatchObject({ status: 'DOWN', message: 'One or more pipeline components have issues', tenant: c.tenant });
    expect((pipeline.body.checks as { component: string; check: { status: string } }[]).map((x) => x.component)).toEqual(['vector', 'kafka', 'spark', 's3']);
    expect(pipeline.body.checks.find((x: { component: string }) => x.component === 's3').check.status).toBe('UP');
  });

  it('stops on SIGTERM with exit code 0, and a second start finds nothing to migrate', async () => {
    expect(await daemon!.stop()).toBe(0);
    daemon = await startDaemonProcess({
      dir,
      config: readFileSync(join(REFERENCE_FIXTURES, c.conf), 'utf8'),
      env: {
        ...composeEnv(),
        ...c.env(bucket),
        PORT: '0',
        DB_MASTER_HOST: mysqlTestServer.host,
        DB_PORT: String(mysqlTestServer.port),
        DB_USERNAME: mysqlTestServer.user,
        DB_PASSWORD: mysqlTestServer.password,
        ORCHESTRATOR_DB_NAME: ref.name,
        S3_ENDPOINT_OVERRIDE: s3TestEndpoint,
        AWS_ACCESS_KEY_ID: s3TestAccessKeyId,
        AWS_SECRET_ACCESS_KEY: s3TestSecretAccessKey,
        AWS_SESSION_TOKEN: '',
      },
    });
    expect(daemon.lines.some((l) => l.msg === 'database migrated')).toBe(false);
    expect((await get('/service-details')).body.data.serviceDetails).toHaveLength(
      REFERENCE_SERVICES[c.version].filter((r) => r.tenant === c.tenant).length + 1,
    );
    expect(await daemon.stop()).toBe(0);
  });
});
