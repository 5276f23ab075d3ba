import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ObjectStore } from '../../src/objectstore/object-store.js';
import type { EventOf, OrchestratorEvent } from '../../streams/events.js';
import { tenantStreams } from '../../streams/tenant-streams.js';
import { startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';
import { s3TestAccessKeyId, s3TestSecretAccessKey } from '../support/s3.js';
import { cephBucket, localFolder, type TestStore } from '../support/stores.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const INTERVAL_SECONDS = 3600;
const p2 = (n: number) => String(n).padStart(2, '0');

/** `year=…/month=…/day=…/hour=…/minute=…/` of the minute holding `at`, written out here rather than by the code under test. */
function minuteFolder(at: number): string {
  const d = new Date(at);
  return `year=${d.getUTCFullYear()}/month=${p2(d.getUTCMonth() + 1)}/day=${p2(d.getUTCDate())}/hour=${p2(d.getUTCHours())}/minute=${p2(d.getUTCMinutes())}/`;
}
const hourFolder = (at: number) => minuteFolder(at).replace(/minute=\d\d\/$/, '');

/** Part files of the minute partitions `minutesAgo` (relative to `now`) of one service folder. */
function partitions(folder: string, now: number, minutesAgo: readonly number[], parts: number): string[] {
  return minutesAgo.flatMap((ago) =>
    Array.from({ length: parts }, (_, i) => `${folder}${minuteFolder(now - ago * MINUTE)}part-${String(i).padStart(5, '0')}-7d3f9c2e.c000.snappy.parquet`),
  );
}

/** The hour folders the walk lists when the newest partition is at `newest`: from the current hour back to that one. */
const hoursWalked = (now: number, newest: number) => Math.floor(now / HOUR) - Math.floor(newest / HOUR) + 1;

/** The sample service of ABC as Spark writes its folder: `=` escaped as %3D, space and + as they are. */
const ABC_SERVICE = 'order svc+v2=blue';
const ABC_FOLDER = 'logs/env=prod/service_name=order svc+v2%3Dblue/component_name=application/';
const ABC_NEWEST_AGO = 7;
const SINGLE_FOLDER = 'logs-single/service_name=checkout/';
const IDLE_FOLDER = 'logs/env=prod/service_name=idle/component_name=application/';

describe.each([
  ['the Ceph RGW', 'ceph'],
  ['a local folder', 'local'],
] as const)('sync delay against %s', (_name, kind) => {
  let store: TestStore;
  let t: TestOrchestrator;
  const events: OrchestratorEvent[] = [];
  /** The streams' clock: pinned to the real time the data was written against, moved by the tests. */
  const start = Date.now();
  let now = start;
  /** Each tenant's object store, as its streams use it. */
  const stores = new Map<string, ObjectStore>();

  const delay = async (tenant: string | undefined, path = '/api/v1/metric/sync-delay') => {
    const res = await t.orchestrator.app.request(path, { headers: tenant === undefined ? {} : { 'X-Tenant-Name': tenant } });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const all = <K extends OrchestratorEvent['type']>(type: K, tenant?: string) =>
    events.filter((e): e is EventOf<K> => e.type === type && (tenant === undefined || e.tenant === tenant));
  /** Pages the walk takes on the store itself (RGW may split a listing), for the hour folders from `at`'s hour back `hours`. */
  const serverPages = async (folder: string, at: number, hours: number) => {
    let pages = 0;
    for (let h = 0; h < hours; h++) pages += await store.pagesOf(folder + hourFolder(at - h * HOUR));
    return pages;
  };

  beforeAll(async () => {
    // The S3 tenants (ABC on Ceph, and DOWN in both variants) get credentials through the SDK's default chain.
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3TestAccessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3TestSecretAccessKey);
    store = kind === 'ceph' ? await cephBucket('delay') : localFolder();
    await store.put([
      // 3,000 objects: 60 minute partitions of 50 part files, the newest 7 minutes ago.
      ...partitions(
        ABC_FOLDER,
        start,
        Array.from({ length: 60 }, (_, i) => ABC_NEWEST_AGO + i),
        50,
      ),
      // What a sampler that forgot Spark's escaping would read: newer, and wrong.
      ...partitions('logs/env=prod/service_name=order svc+v2=blue/component_name=application/', start, [1], 1),
      // IDLE: written five hours ago, nothing in the window.
      ...partitions(IDLE_FOLDER, start, [300, 301, 302], 5),
      // SINGLE: the single-level layout, newest 12 minutes ago.
      ...partitions(SINGLE_FOLDER, start, [12, 13, 14], 10),
    ]);
    const spark =
      'kafka.kafkaBrokersHost = "127.0.0.1:1", spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkMasterRestPort = 1, sparkJarPath = "file:///app.jar"';
    t = await startTestOrchestrator(
      `
      tenants = [{
        name = "ABC"
        ${store.hocon}
        # Configured: these tests count the sample's listings (reading the layout from the bucket is test/integration/layout-detection.test.ts).
        partitionKeys = ["env", "service_name", "component_name"]
        ${spark} }
        delayMetrics.app { sampleEnv = "prod", sampleServiceName = "${ABC_SERVICE}", sampleComponentName = "application" }
      }, {
        name = "IDLE"
        ${store.hocon}
        partitionKeys = ["env", "service_name", "component_name"]
        ${spark} }
        delayMetrics.app { sampleEnv = "prod", sampleServiceName = "idle", sampleComponentType = "application" }
      }, {
        name = "SINGLE"
        ${store.hocon}
        partitionKeys = ["service_name"]
        ${spark}, logsDir = "logs-single" }
        delayMetrics.app { sampleEnv = "prod", sampleServiceName = "checkout" }
      }, {
        name = "DOWN"
        objectStore.aws { region = "us-east-1", bucket = "nowhere", endpointOverride = "http://127.0.0.1:59999" }
        ${spark} }
        delayMetrics.app { sampleEnv = "prod", sampleServiceName = "${ABC_SERVICE}", sampleComponentName = "application" }
      }]
      loop { discoverySeconds = ${INTERVAL_SECONDS}, delaySampleSeconds = ${INTERVAL_SECONDS}, sparkPollSeconds = ${INTERVAL_SECONDS} }`,
      {
        quietTicks: true,
        streams: (tenant, ctx, deps) => {
          stores.set(tenant.name, deps.store(tenant.name));
          return tenantStreams(tenant, { ...ctx, now: () => now }, deps);
        },
      },
    );
    t.orchestrator.supervisor.events$.subscribe((e) => events.push(e));
  }, 180_000);

  afterAll(async () => {
    await t?.stop();
    await store?.destroy();
    vi.unstubAllEnvs();
  });

  it('answers 7 minutes for a sample service with 3,000 objects, in at most 4 listings (one per hour folder walked)', async () => {
    const before = stores.get('ABC')!.stats.listCalls;
    expect(await delay('ABC')).toEqual({ status: 200, body: { data: { tenant: 'ABC', appLogsDelayMinutes: 7 } } });
    const [sampled, ...more] = all('delay.sampled', 'ABC');
    expect(more).toHaveLength(0);
    const newest = Math.floor((start - ABC_NEWEST_AGO * MINUTE) / MINUTE) * MINUTE;
    expect(sampled).toMatchObject({ appLogsDelayMinutes: 7, newestPartition: new Date(newest).toISOString() });
    // The current hour, and the one before when the newest partition is in it (a test run in the first 7 minutes of an hour).
    const hours = hoursWalked(start, newest);
    expect(hours).toBe(new Date(start).getUTCMinutes() >= ABC_NEWEST_AGO ? 1 : 2);
    expect(sampled!.listCalls).toBe(await serverPages(ABC_FOLDER, start, hours));
    expect(sampled!.listCalls).toBe(hours);
    expect(sampled!.listCalls).toBeLessThanOrEqual(4);
    expect(stores.get('ABC')!.stats.listCalls - before).toBe(sampled!.listCalls);
  });

  it('answers 180 when nothing was written in the window, after listing the four hour folders', async () => {
    expect((await delay('IDLE')).body).toEqual({ data: { tenant: 'IDLE', appLogsDelayMinutes: 180 } });
    const [sampled] = all('delay.sampled', 'IDLE');
    expect(sampled).toMatchObject({ appLogsDelayMinutes: 180, newestPartition: null, listCalls: 4 });
    expect(await serverPages(IDLE_FOLDER, start, 4)).toBe(4);
  });

  it('reads the single-level layout partitionKeys = ["service_name"]', async () => {
    expect((await delay('SINGLE')).body).toEqual({ data: { tenant: 'SINGLE', appLogsDelayMinutes: 12 } });
    const [sampled] = all('delay.sampled', 'SINGLE');
    const hours = hoursWalked(start, Math.floor((start - 12 * MINUTE) / MINUTE) * MINUTE);
    expect(sampled!.listCalls).toBe(hours);
    expect(sampled!.listCalls).toBe(await serverPages(SINGLE_FOLDER, start, hours));
  });

  it('refuses an unknown tenant and a missing header with 400', async () => {
    expect(await delay('NOPE')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_TENANT' } } });
    expect(await delay(undefined)).toMatchObject({ status: 400, body: { error: { code: 'MISSING_TENANT' } } });
    expect(await delay('', '/metric/sync-delay')).toMatchObject({ status: 400, body: { error: { code: 'MISSING_TENANT' } } });
  });

  it('answers null when S3 is down, emits delay.failed, and the loop keeps running for every tenant', async () => {
    const down = await delay('DOWN');
    expect(down).toEqual({ status: 200, body: { data: { tenant: 'DOWN', appLogsDelayMinutes: null } } });
    const [failed] = all('delay.failed', 'DOWN');
    expect(failed?.error).toMatch(/ECONNREFUSED/);
    expect(failed?.error).not.toContain(s3TestSecretAccessKey);
    // The other tenants still answer, and so does this one: from the remembered failure (no
    // second listing with retries within a few seconds), then with a new attempt.
    expect((await delay('SINGLE')).body).toEqual({ data: { tenant: 'SINGLE', appLogsDelayMinutes: 12 } });
    expect((await delay('ABC')).body).toEqual({ data: { tenant: 'ABC', appLogsDelayMinutes: 7 } });
    expect((await delay('DOWN', '/metric/sync-delay')).body).toEqual({ data: { tenant: 'DOWN', appLogsDelayMinutes: null } });
    expect(all('delay.failed', 'DOWN')).toHaveLength(1);
    now += 11_000;
    expect((await delay('DOWN')).body).toEqual({ data: { tenant: 'DOWN', appLogsDelayMinutes: null } });
    expect(all('delay.failed', 'DOWN')).toHaveLength(2);
    expect(all('delay.failed', 'ABC')).toHaveLength(0);
    expect(t.logs.text).toContain('delay.failed');
  }, 60_000);
  it('answers a sample younger than one interval from memory, on both paths, and samples again after it', async () => {
    const before = stores.get('ABC')!.stats.listCalls;
    now = start + 30 * MINUTE;
    expect((await delay('ABC')).body).toEqual({ data: { tenant: 'ABC', appLogsDelayMinutes: 7 } });
    expect(await delay('ABC', '/metric/sync-delay')).toEqual({ status: 200, body: { data: { tenant: 'ABC', appLogsDelayMinutes: 7 } } });
    expect(stores.get('ABC')!.stats.listCalls).toBe(before);
    expect(all('delay.sampled', 'ABC')).toHaveLength(1);

    // One interval and a minute later, the same newest partition is 68 minutes old.
    now = start + INTERVAL_SECONDS * 1000 + MINUTE;
    expect((await delay('ABC', '/metric/sync-delay')).body).toEqual({ data: { tenant: 'ABC', appLogsDelayMinutes: ABC_NEWEST_AGO + 61 } });
    const resampled = all('delay.sampled', 'ABC');
    expect(resampled).toHaveLength(2);
    const newest = Math.floor((start - ABC_NEWEST_AGO * MINUTE) / MINUTE) * MINUTE;
    const hours = hoursWalked(now, newest);
    expect(hours).toBeGreaterThanOrEqual(2);
    expect(hours).toBeLessThanOrEqual(3);
    expect(resampled[1]!.listCalls).toBe(await serverPages(ABC_FOLDER, now, hours));
    expect(resampled[1]!.listCalls).toBe(hours);
    expect(stores.get('ABC')!.stats.listCalls - before).toBe(hours);
  });
});
