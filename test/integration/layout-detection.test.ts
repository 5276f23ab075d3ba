/**
 * The partition layout read from the bucket when `partitionKeys` is not configured (SPEC §2,
 * issue 14 item 4), on the Ceph RGW: `logs/service_name=…/` (the newer Logwise Spark job) or
 * `logs/env=…/service_name=…/component_name=…/` (the older one), for discovery, the sample
 * delay and the per-service delays alike; a bucket with both layouts, or neither, gives one
 * warning event and the default layout.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OrchestratorEvent } from '../../streams/events.js';
import { s3TestAccessKeyId, s3TestSecretAccessKey } from '../support/s3.js';
import { startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';
import { cephBucket, type TestStore } from '../support/stores.js';

const MINUTE = 60_000;
const start = Date.now();

/** The key of a minute partition `ago` minutes back under `folder` (which ends in '/'). */
function minuteKey(folder: string, ago: number): string {
  const d = new Date(Math.floor((start - ago * MINUTE) / MINUTE) * MINUTE);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${folder}year=${d.getUTCFullYear()}/month=${p(d.getUTCMonth() + 1)}/day=${p(d.getUTCDate())}/hour=${p(d.getUTCHours())}/minute=${p(d.getUTCMinutes())}/part-00000.parquet`;
}
/** `n` minutes, or one more when a minute turned since the partitions were written. */
const minutes = (n: number) => [n, n + 1];
const single = (logsDir: string, service: string) => `${logsDir}/service_name=${service}/`;
const three = (logsDir: string, env: string, service: string, component: string) =>
  `${logsDir}/env=${env}/service_name=${service}/component_name=${component}/`;

describe('the partition layout, read from a bucket on the Ceph RGW', () => {
  let store: TestStore;
  let t: TestOrchestrator;
  const events: OrchestratorEvent[] = [];
  const of = (tenant: string, type: string) => events.filter((e) => e.tenant === tenant && e.type === type);
  const layoutEvents = (tenant: string) => events.filter((e) => e.tenant === tenant && e.type.startsWith('layout.'));

  const sync = async (tenant: string) => {
    const res = await t.orchestrator.app.request('/api/v1/component/sync?componentType=application', { method: 'POST', headers: { 'X-Tenant-Name': tenant } });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const delay = async (tenant: string) => {
    const res = await t.orchestrator.app.request('/api/v1/metric/sync-delay', { headers: { 'X-Tenant-Name': tenant } });
    return ((await res.json()) as { data: { appLogsDelayMinutes: number | null } }).data.appLogsDelayMinutes;
  };
  const services = async (tenant: string) => {
    const res = await t.orchestrator.app.request('/service-details', { headers: { 'X-Tenant-Name': tenant } });
    const rows = (
      (await res.json()) as { data: { serviceDetails: { env: string; serviceName: string; componentName: string; appLogsDelayMinutes?: number | null }[] } }
    ).data.serviceDetails;
    return rows.map((r) => `${r.env}|${r.serviceName}|${r.componentName}`).sort();
  };
  /** Per-service delays after a round (each within a minute of `expected`: a minute may turn during the test). */
  const serviceDelays = async (tenant: string) => {
    await t.orchestrator.supervisor.dispatch(tenant, 'sample-service-delays', {});
    const res = await t.orchestrator.app.request('/service-details', { headers: { 'X-Tenant-Name': tenant } });
    const rows = ((await res.json()) as { data: { serviceDetails: { serviceName: string; env: string; appLogsDelayMinutes?: number | null }[] } }).data
      .serviceDetails;
    return Object.fromEntries(rows.map((r) => [`${r.env}|${r.serviceName}`, r.appLogsDelayMinutes]));
  };

  beforeAll(async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3TestAccessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3TestSecretAccessKey);
    store = await cephBucket('layout');
    await store.put([
      // The newer Spark job: logs-single/service_name=…/, with its metadata folder beside.
      ...[4, 5, 6].map((m) => minuteKey(single('logs-single', 'checkout'), m)),
      ...[9, 10].map((m) => minuteKey(single('logs-single', 'orders'), m)),
      'logs-single/_spark_metadata/0',
      // The older one: logs-three/env=…/service_name=…/component_name=…/.
      ...[6, 7].map((m) => minuteKey(three('logs-three', 'prod', 'orders', 'application'), m)),
      minuteKey(three('logs-three', 'stag', 'orders', 'application'), 20),
      // Both layouts under one logsDir.
      minuteKey(three('logs-both', 'prod', 'orders', 'application'), 3),
      minuteKey(single('logs-both', 'checkout'), 3),
    ]);
    const tenant = (name: string, logsDir: string, extra = '') => `{
      name = "${name}"
      ${store.hocon}
      kafka.kafkaBrokersHost = "127.0.0.1:1"
      spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkMasterRestPort = 1, sparkJarPath = "file:///app.jar", logsDir = "${logsDir}" }
      ${extra}
    }`;
    // The newer reference's sample service (env and component type named, not in its layout) and the older one's.
    const newerSample = 'delayMetrics { app { sampleEnv = "local", sampleServiceName = "checkout", sampleComponentType = "application" }, allServices = true }';
    const olderSample = 'delayMetrics { app { sampleEnv = "prod", sampleServiceName = "orders", sampleComponentName = "application" }, allServices = true }';
    t = await startTestOrchestrator(
      `tenants = [
        ${tenant('SINGLE', 'logs-single', newerSample)},
        ${tenant('THREE', 'logs-three', olderSample)},
        ${tenant('BOTH', 'logs-both', olderSample)},
        ${tenant('EMPTY', 'logs-empty', newerSample)},
        ${tenant('FIXED', 'logs-single', `partitionKeys = ["service_name"]\n${newerSample}`)},
        ${tenant('DELAYFIRST', 'logs-single', newerSample)}
      ]
      loop { discoverySeconds = 3600, delaySampleSeconds = 2, sparkPollSeconds = 3600 }`,
      { quietTicks: true },
    );
    t.orchestrator.supervisor.events$.subscribe((e) => events.push(e));
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await store?.destroy();
    vi.unstubAllEnvs();
  });

  it('logs/service_name=…/: discovery onboards each service with env and component empty; the delays follow the same layout', async () => {
    expect((await sync('SINGLE')).body.data).toMatchObject({ success: true, onboarded: 2, removed: 0 });
    expect(layoutEvents('SINGLE')).toMatchObject([{ type: 'layout.detected', partitionKeys: ['service_name'], firstLevel: 'service_name' }]);
    expect(await services('SINGLE')).toEqual(['|checkout|', '|orders|']);
    // The sample service is logs-single/service_name=checkout/ (its env and component are not in this layout).
    expect(await delay('SINGLE')).toBeOneOf(minutes(4));
    const delays = await serviceDelays('SINGLE');
    expect(delays['|checkout']).toBeOneOf(minutes(4));
    expect(delays['|orders']).toBeOneOf(minutes(9));
    // A second sync: nothing new, no second event.
    expect((await sync('SINGLE')).body.data).toMatchObject({ onboarded: 0, removed: 0 });
    expect(layoutEvents('SINGLE')).toHaveLength(1);
    expect(of('SINGLE', 'discovery.synced').at(-1)).toMatchObject({ present: 2, ignoredFolders: 1 });
  });

  it('logs/env=…/service_name=…/component_name=…/: the three-level layout, for discovery and delays', async () => {
    expect((await sync('THREE')).body.data).toMatchObject({ onboarded: 2 });
    expect(layoutEvents('THREE')).toMatchObject([{ type: 'layout.detected', partitionKeys: ['env', 'service_name', 'component_name'], firstLevel: 'env' }]);
    expect(await services('THREE')).toEqual(['prod|orders|application', 'stag|orders|application']);
    expect(await delay('THREE')).toBeOneOf(minutes(6));
    const delays = await serviceDelays('THREE');
    expect(delays['prod|orders']).toBeOneOf(minutes(6));
    expect(delays['stag|orders']).toBeOneOf(minutes(20));
  });

  it('a delay asked before any discovery reads the layout itself (one listing of the first level)', async () => {
    expect(of('DELAYFIRST', 'discovery.synced')).toEqual([]);
    expect(await delay('DELAYFIRST')).toBeOneOf(minutes(4));
    expect(layoutEvents('DELAYFIRST')).toMatchObject([{ type: 'layout.detected', partitionKeys: ['service_name'] }]);
  });

  it('both layouts under logsDir: one warning event, and the default layout', async () => {
    await sync('BOTH');
    await sync('BOTH');
    expect(layoutEvents('BOTH')).toEqual([
      expect.objectContaining({
        type: 'layout.ambiguous',
        firstLevel: 'both',
        partitionKeys: ['env', 'service_name', 'component_name'],
        reason: expect.stringMatching(/both service_name= and env=/),
      }),
    ]);
    expect(await services('BOTH')).toEqual(['prod|orders|application']);
    expect(await delay('BOTH')).toBeOneOf(minutes(3));
    expect(t.logs.lines.filter((l) => l.includes('"layout.ambiguous"') && l.includes('"BOTH"') && l.includes('"level":"warn"'))).toHaveLength(1);
  });

  it('neither (an empty bucket): one warning and the default; once the Spark job writes, the layout it wrote', async () => {
    expect((await sync('EMPTY')).body.data).toMatchObject({ onboarded: 0 });
    await sync('EMPTY');
    expect(layoutEvents('EMPTY')).toMatchObject([
      { type: 'layout.ambiguous', firstLevel: 'neither', partitionKeys: ['env', 'service_name', 'component_name'] },
    ]);
    await store.put([minuteKey(single('logs-empty', 'checkout'), 2)]);
    expect((await sync('EMPTY')).body.data).toMatchObject({ onboarded: 1 });
    expect(layoutEvents('EMPTY').map((e) => e.type)).toEqual(['layout.ambiguous', 'layout.detected']);
    await new Promise((r) => setTimeout(r, 2_100)); // the sample kept in memory (one interval) is of before the write
    expect(await delay('EMPTY')).toBeOneOf(minutes(2));
  });

  it('configured partitionKeys: the bucket is not read for the layout, no layout event', async () => {
    expect((await sync('FIXED')).body.data).toMatchObject({ onboarded: 2 });
    expect(await delay('FIXED')).toBeOneOf(minutes(4));
    expect(layoutEvents('FIXED')).toEqual([]);
  });
});
