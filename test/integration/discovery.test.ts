import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { ServiceDetailsRepository } from '../../src/db/service-details.js';
import { mapLimit } from '../../src/common/concurrency.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import { freshMysqlDatabase, type TestDatabase } from '../support/databases.js';
import { startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';
import { s3TestAccessKeyId, s3TestSecretAccessKey } from '../support/s3.js';
import { cephBucket, localFolder, partitionKey, type TestStore } from '../support/stores.js';

const ENVS = ['prod', 'stag', 'dev'];
const SERVICES = 700;
const COMPONENTS = ['application', 'worker'];
/** Service names with characters that need care in URLs and in S3 keys. */
const serviceName = (i: number) => (i % 50 === 0 ? `svc ${i}+a&b=c` : `svc-${i}`);

const layout = ENVS.flatMap((env) => Array.from({ length: SERVICES }, (_, i) => COMPONENTS.map((c) => partitionKey(env, serviceName(i), c)))).flat();

describe.each([
  ['the Ceph RGW and MariaDB', 'ceph'],
  ['a local folder and SQLite', 'local'],
] as const)('discovery against %s', (_name, kind) => {
  let store: TestStore;
  let mysql: TestDatabase | undefined;
  let t: TestOrchestrator;
  const events: OrchestratorEvent[] = [];

  const sync = async (tenant = 'ABC', query = '') => {
    const res = await t.orchestrator.app.request(`/api/v1/component/sync?componentType=application${query}`, {
      method: 'POST',
      headers: { 'X-Tenant-Name': tenant },
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const rows = (tenant = 'ABC') => new ServiceDetailsRepository(t.orchestrator.db).listByTenant(tenant);
  const lastEvent = <K extends OrchestratorEvent['type']>(type: K) =>
    events.filter((e) => e.type === type).at(-1) as Extract<OrchestratorEvent, { type: K }> | undefined;

  beforeAll(async () => {
    if (kind === 'ceph') {
      // Credentials reach the adapter through the SDK's default provider chain, as in production.
      vi.stubEnv('AWS_ACCESS_KEY_ID', s3TestAccessKeyId);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3TestSecretAccessKey);
      store = await cephBucket('discovery');
      mysql = await freshMysqlDatabase('discovery');
    } else {
      store = localFolder();
    }
    // Folders outside the layout are ignored and counted.
    await store.put([...layout, 'logs/_spark_metadata/0', 'logs/env=prod/not-a-service/x.parquet']);
    const database: DatabaseConfig | undefined = mysql?.config;
    t = await startTestOrchestrator(
      `
      tenants = [{
        name = "ABC"
        ${store.hocon}
        envLogsRetentionDays = [{ envs = ["prod"], retentionDays = 30 }]
        defaultLogsRetentionDays = 3
        kafka.kafkaBrokersHost = "127.0.0.1:1"
        spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkJarPath = "file:///app.jar" }
      }, {
        name = "DOWN"
        ${kind === 'ceph' ? 'objectStore.aws { region = "us-east-1", bucket = "nowhere", endpointOverride = "http://127.0.0.1:1" }' : 'objectStore.local.path = "/proc/self/nonexistent-dir/\\u0000"'}
        kafka.kafkaBrokersHost = "127.0.0.1:1"
        spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkJarPath = "file:///app.jar" }
      }]
      loop { discoverySeconds = 3600, delaySampleSeconds = 3600, sparkPollSeconds = 3600 }`,
      { quietTicks: true, config: (c) => (database ? { ...c, database } : c) },
    );
    t.orchestrator.supervisor.events$.subscribe((e) => events.push(e));
  }, 180_000);

  afterAll(async () => {
    await t?.stop();
    await store?.destroy();
    await mysql?.drop();
    vi.unstubAllEnvs();
  });

  it('onboards all 4,200 partitions with the minimum of listings and retention days by env', { timeout: 120_000 }, async () => {
    const res = await sync();
    expect(res).toEqual({
      status: 200,
      body: { data: { success: true, message: 'Successfully synced componentType: application for tenant: ABC', onboarded: 4200, removed: 0 } },
    });
    const all = await rows();
    expect(all).toHaveLength(4200);
    expect(new Set(all.map((r) => `${r.env}|${r.serviceName}|${r.componentName}`)).size).toBe(4200);
    expect(all.find((r) => r.serviceName === 'svc 50+a&b=c' && r.env === 'stag' && r.componentName === 'worker')).toBeDefined();
    expect(all.filter((r) => r.env === 'prod').every((r) => r.retentionDays === 30)).toBe(true);
    expect(all.filter((r) => r.env !== 'prod').every((r) => r.retentionDays === 3)).toBe(true);
    // One listing of logs/, one per env, one per service folder: 1 + 3 + 2,100.
    // One listing per page of logs/, of each env folder and of each service folder, and no more.
    // (RGW may cut a page short of 1,000 entries, so the pages are counted on the server itself.)
    const synced = lastEvent('discovery.synced')!;
    expect(synced).toMatchObject({ onboarded: 4200, removed: 0, ignoredFolders: 2, retries: 0 });
    const listed = [
      'logs/',
      ...ENVS.map((e) => `logs/env=${e}/`),
      ...ENVS.flatMap((e) => Array.from({ length: SERVICES }, (_, i) => `logs/env=${e}/service_name=${serviceName(i)}/`)),
    ];
    const pages = (await mapLimit(listed, 16, (prefix) => store.pagesOf(prefix))).reduce((a, b) => a + b, 0);
    expect(pages).toBeGreaterThanOrEqual(1 + 3 + 3 * SERVICES);
    expect(synced.listCalls).toBe(pages);
    expect(lastEvent('discovery.onboarded')?.count).toBe(4200);
  });

  it('re-syncs an unchanged store without inserting or deleting, touching lastCheckedAt', async () => {
    const before = await rows();
    await new Promise((r) => setTimeout(r, 20));
    const res = await sync();
    expect(res.body.data).toMatchObject({ onboarded: 0, removed: 0 });
    const after = await rows();
    expect(after.map((r) => r.id)).toEqual(before.map((r) => r.id));
    expect(after[0]!.lastCheckedAt.getTime()).toBeGreaterThan(before[0]!.lastCheckedAt.getTime());
  });

  it('shares one sync between concurrent callers', async () => {
    const synced = events.filter((e) => e.type === 'discovery.synced').length;
    const answers = await Promise.all([sync(), sync(), sync()]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(events.filter((e) => e.type === 'discovery.synced').length - synced).toBe(1);
  });

  it('removes exactly the rows of an env whose objects are gone', async () => {
    await store.deletePrefix('logs/env=dev/');
    const res = await sync();
    expect(res.body.data).toMatchObject({ onboarded: 0, removed: 1400 });
    const left = await rows();
    expect(left).toHaveLength(2800);
    expect(left.some((r) => r.env === 'dev')).toBe(false);
  });

  it('keeps every row when the bucket is emptied (the deletion guard), and removes them when forced', async () => {
    await store.deletePrefix('logs/');
    const guarded = await sync();
    expect(guarded.status).toBe(200);
    expect(guarded.body.data).toMatchObject({ success: true, onboarded: 0, removed: 0, guarded: { wouldRemove: 2800, known: 2800 } });
    expect(lastEvent('discovery.guarded')).toMatchObject({ wouldRemove: 2800, known: 2800 });
    expect(await rows()).toHaveLength(2800);

    const forced = await sync('ABC', '&force=true');
    expect(forced.body.data).toMatchObject({ onboarded: 0, removed: 2800 });
    expect(await rows()).toHaveLength(0);
  });

  it('answers a store outage with a 5xx, deletes nothing and keeps the loop running', async () => {
    await new ServiceDetailsRepository(t.orchestrator.db).insertMany(
      'DOWN',
      [{ env: 'prod', serviceName: 'kept', componentName: 'application', retentionDays: 30 }],
      new Date(),
    );
    const res = await sync('DOWN');
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.body.error.code).toBe('OBJECT_STORE_ERROR');
    expect(await rows('DOWN')).toHaveLength(1);
    expect(lastEvent('discovery.failed')?.tenant).toBe('DOWN');
    // The other tenant's loop and this one's still answer.
    expect((await sync('ABC')).status).toBe(200);
    await store.put([partitionKey('prod', 'back', 'application')]);
    expect((await sync('ABC')).body.data).toMatchObject({ onboarded: 1 });
  }, 60_000);
});
