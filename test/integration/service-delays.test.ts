import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Gauge } from 'prom-client';
import { asyncScheduler, firstValueFrom, from } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { TenantConfig } from '../../src/config/schema.js';
import { ServiceDetailsRepository, type ServicePartition } from '../../src/db/service-details.js';
import { LocalObjectStore } from '../../src/objectstore/local-object-store.js';
import type { ObjectStore } from '../../src/objectstore/object-store.js';
import type { EventInput, EventOf, OrchestratorEvent } from '../../streams/events.js';
import { paceOffsets, serviceKey } from '../../streams/service-delays-plan.js';
import { refreshServiceDelayGauge, serviceDelaySeries, serviceDelaysStream, withServiceDelays, type ServiceDelaysDeps } from '../../streams/service-delays.js';
import { Supervisor } from '../../streams/supervisor.js';
import type { StreamContext } from '../../streams/tenant-loop.js';
import { freshSqliteDatabase, type TestDatabase } from '../support/databases.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const p2 = (n: number) => String(n).padStart(2, '0');
function hourFolder(at: number): string {
  const d = new Date(at);
  return `year=${d.getUTCFullYear()}/month=${p2(d.getUTCMonth() + 1)}/day=${p2(d.getUTCDate())}/hour=${p2(d.getUTCHours())}/`;
}
const minuteFolder = (at: number) => `${hourFolder(at)}minute=${p2(new Date(at).getUTCMinutes())}/`;
const hoursWalked = (now: number, newest: number) => Math.floor(now / HOUR) - Math.floor(newest / HOUR) + 1;

const SERVICES = 300;
const ENVS = ['prod', 'stag', 'dev'];
/** Every 25th name needs Spark's escaping (`=` → %3D; space and + stay). */
const nameOf = (i: number) => (i % 25 === 0 ? `svc ${i}+x=y` : `svc-${i}`);
const folderName = (name: string) => name.replaceAll('=', '%3D');
const serviceOf = (i: number): ServicePartition => ({ env: ENVS[i % 3]!, serviceName: nameOf(i), componentName: i % 2 ? 'worker' : 'application' });
/** Minutes since the newest partition of service i; null: it has no folder at all (→ 180). */
const delayOf = (i: number): number | null => (i % 10 === 0 ? null : 1 + ((i * 37) % 175));
const BROKEN: ServicePartition = { env: 'prod', serviceName: 'broken', componentName: 'application' };
const folderOf = (s: ServicePartition, logsDir = 'logs') =>
  `${logsDir}/env=${s.env}/service_name=${folderName(s.serviceName)}/component_name=${s.componentName}/`;

/** An ObjectStore that records each listing (when, what, how many at once) and passes it on; from call `outageFrom` on, the store is "down". */
function recording(inner: ObjectStore, outageFrom = Number.POSITIVE_INFINITY) {
  const calls: { prefix: string; at: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const store: ObjectStore = {
    async listPrefixes(prefix, signal) {
      calls.push({ prefix, at: Date.now() });
      if (calls.length > outageFrom) throw new Error('connect ECONNREFUSED 127.0.0.1:7480');
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await inner.listPrefixes(prefix, signal);
      } finally {
        inFlight -= 1;
      }
    },
    listKeys: (prefix, signal) => inner.listKeys(prefix, signal),
    deleteKeys: (keys, signal) => inner.deleteKeys(keys, signal),
    ping: (signal) => inner.ping(signal),
    get stats() {
      return inner.stats;
    },
    describe: () => inner.describe(),
    close: () => inner.close(),
  };
  return { store, calls, maxInFlight: () => maxInFlight };
}

describe('per-service delay on a local folder and SQLite', () => {
  let root: string;
  let database: TestDatabase;
  let repo: ServiceDetailsRepository;
  let tenant: TenantConfig;
  let single: TenantConfig;
  /** The streams' clock, pinned one second into the current minute (so that moving it by 2 s never crosses a minute). */
  const start = Math.floor(Date.now() / MINUTE) * MINUTE + 1_000;
  let now = start;
  const events: OrchestratorEvent[] = [];
  const ctx: StreamContext = {
    tenant: 'ABC',
    now: () => now,
    scheduler: asyncScheduler,
    emit: (e: EventInput) => events.push({ ...e, tenant: 'ABC', at: Date.now() } as OrchestratorEvent),
    isActing: () => true,
    assertActing: () => undefined,
    actingTerm: () => 0,
  };
  const rounds = () => events.filter((e): e is EventOf<'delay.service-sampled'> => e.type === 'delay.service-sampled');

  const write = (keys: string[]) => {
    for (const key of keys) {
      mkdirSync(dirname(join(root, key)), { recursive: true });
      writeFileSync(join(root, key), key);
    }
  };
  const partitionsOf = (folder: string, minutesAgo: number[]) =>
    minutesAgo.map((ago) => `${folder}${minuteFolder(start - ago * MINUTE)}part-00000.c000.snappy.parquet`);
  const newestOf = (ago: number) => Math.floor((start - ago * MINUTE) / MINUTE) * MINUTE;
  const run = (stream: ReturnType<typeof serviceDelaysStream>) => firstValueFrom(from(stream.definition.commands['sample-service-delays']!({})));
  const streamOn = (store: ObjectStore, opts: Partial<ServiceDelaysDeps> = {}) =>
    serviceDelaysStream(ctx, { tenant, store, services: repo, intervalMs: 2000, ...opts });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lw-service-delays-'));
    const config = await parseConfig(`
      tenants = [{
        name = "ABC"
        objectStore.local.path = "${root}"
        # Configured: these tests count listings (reading the layout from the bucket is test/integration/layout-detection.test.ts).
        partitionKeys = ["env", "service_name", "component_name"]
        kafka.kafkaBrokersHost = "127.0.0.1:1"
        spark { sparkMasterHost = "127.0.0.1", sparkJarPath = "file:///app.jar" }
        delayMetrics { app { sampleEnv = "prod", sampleServiceName = "svc-1", sampleComponentName = "worker" }, allServices = true }
      }, {
        name = "SINGLE"
        objectStore.local.path = "${root}"
        partitionKeys = ["service_name"]
        kafka.kafkaBrokersHost = "127.0.0.1:1"
        spark { sparkMasterHost = "127.0.0.1", sparkJarPath = "file:///app.jar", logsDir = "logs-single" }
        delayMetrics { app { sampleEnv = "prod", sampleServiceName = "a" }, allServices = true }
      }]`);
    [tenant, single] = config.tenants as [TenantConfig, TenantConfig];
    expect(tenant.delayMetrics?.allServices).toBe(true);

    for (let i = 0; i < SERVICES; i++) {
      const d = delayOf(i);
      if (d !== null) write(partitionsOf(folderOf(serviceOf(i)), [d, d + 2, d + 9]));
    }
    // BROKEN's current hour folder is a symbolic link to itself: listing it fails (ELOOP).
    const loop = join(root, folderOf(BROKEN), hourFolder(start)).replace(/\/$/, '');
    mkdirSync(dirname(loop), { recursive: true });
    symlinkSync(basename(loop), loop);

    database = await freshSqliteDatabase();
    repo = new ServiceDetailsRepository(database.db);
    await repo.insertMany(
      'ABC',
      [...Array.from({ length: SERVICES }, (_, i) => ({ ...serviceOf(i), retentionDays: 3 })), { ...BROKEN, retentionDays: 3 }],
      new Date(start),
    );
  });

  beforeEach(() => {
    now = start;
  });

  afterAll(async () => {
    await database?.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('gives every service its delay in one paced round of at most 4 listings each; a failing service is null and stops nothing', async () => {
    const inner = new LocalObjectStore({ path: root });
    const rec = recording(inner);
    const stream = streamOn(rec.store);
    const roundStart = Date.now();
    const result = await run(stream);

    const total = SERVICES + 1;
    expect(result).toMatchObject({ services: total, failed: 1, skipped: 0, abandoned: false, aborted: false });
    expect(rounds()).toHaveLength(1);
    expect(rounds()[0]).toMatchObject({ tenant: 'ABC', services: total, failed: 1, durationMs: result.durationMs });

    // Every service has its value; the broken one is null.
    const values = stream.state.latestServiceDelays();
    expect(values.size).toBe(total);
    for (let i = 0; i < SERVICES; i++) expect([nameOf(i), values.get(serviceKey(serviceOf(i)))]).toEqual([nameOf(i), delayOf(i) ?? 180]);
    expect(values.get(serviceKey(BROKEN))).toBeNull();
    expect(stream.state.get(BROKEN)?.error).toMatch(/ELOOP/);

    // Listings: exactly the hour folders walked, never more than 4 per service, each one a directory read.
    const perService = new Map<string, number>();
    for (const c of rec.calls) {
      const folder = c.prefix.replace(/year=.*$/, '');
      perService.set(folder, (perService.get(folder) ?? 0) + 1);
    }
    expect(perService.size).toBe(total);
    expect(Math.max(...perService.values())).toBeLessThanOrEqual(4);
    for (let i = 0; i < SERVICES; i++) {
      const d = delayOf(i);
      expect(perService.get(folderOf(serviceOf(i)))).toBe(d === null ? 4 : hoursWalked(start, newestOf(d)));
    }
    expect(perService.get(folderOf(BROKEN))).toBe(1);
    expect(result.listings).toBe(rec.calls.length);
    expect(inner.stats.listCalls).toBe(rec.calls.length);

    // Paced: the services start spread over 80 % of the 2 s interval, in order, never early; at most 16 at once.
    const offsets = paceOffsets(total, 2000);
    const firstCall = new Map<string, number>();
    for (const c of rec.calls) {
      const folder = c.prefix.replace(/year=.*$/, '');
      if (!firstCall.has(folder)) firstCall.set(folder, c.at - roundStart);
    }
    const starts = [...firstCall.values()];
    // The k-th service to start never starts before the k-th planned start (≈ 5.3 ms apart; the last at ≈ 1.59 s).
    expect(starts).toHaveLength(total);
    starts.forEach((at, i) => expect(at).toBeGreaterThanOrEqual(offsets[i]! - 2));
    expect(starts.at(-1)!).toBeGreaterThanOrEqual(1_585);
    expect(rec.maxInFlight()).toBeLessThanOrEqual(16);
    expect(result.durationMs).toBeLessThan(2000);

    // What the lead wires: the rows of GET /service-details and the gauge's series.
    const rows = withServiceDelays(await repo.listByTenant('ABC'), stream.state);
    expect(rows).toHaveLength(total);
    expect(rows.find((r) => r.serviceName === nameOf(7))?.appLogsDelayMinutes).toBe(delayOf(7));
    expect(rows.find((r) => r.serviceName === 'svc 25+x=y')?.appLogsDelayMinutes).toBe(delayOf(25));
    expect(rows.find((r) => r.serviceName === 'broken')?.appLogsDelayMinutes).toBeNull();
    expect(withServiceDelays((await repo.listByTenant('ABC')).slice(0, 1), undefined)[0]).not.toHaveProperty('appLogsDelayMinutes');
    const series = serviceDelaySeries('ABC', stream.state);
    expect(series).toHaveLength(total);
    expect(series).toContainEqual({ labels: { tenant: 'ABC', env: 'dev', service: 'svc 50+x=y', component: 'application' }, value: 180 });
    expect(series.find((x) => x.labels.service === 'broken')?.value).toBeNaN();
    const gauge = new Gauge({ name: 'logwise_service_log_delay_minutes', help: 'test', labelNames: ['tenant', 'env', 'service', 'component'], registers: [] });
    refreshServiceDelayGauge(gauge, new Map([['ABC', stream.state]]));
    const gaugeValues = (await gauge.get()).values;
    expect(gaugeValues).toHaveLength(total);
    expect(gaugeValues).toContainEqual({ labels: { tenant: 'ABC', env: 'stag', service: 'svc 25+x=y', component: 'worker' }, value: delayOf(25) });

    // The next round (one interval later) follows the table: a removed service is dropped, a new one appears,
    // and new data counts.
    const known = await repo.listByTenant('ABC');
    const removed = known.find((r) => r.serviceName === nameOf(1))!;
    await repo.deleteByIds('ABC', [removed.id]);
    const added: ServicePartition = { env: 'prod', serviceName: 'new one', componentName: 'application' };
    await repo.insertMany('ABC', [{ ...added, retentionDays: 3 }], new Date());
    write(partitionsOf(folderOf(added), [3]));
    write(partitionsOf(folderOf(serviceOf(2)), [1]));
    now = start + 2000;
    const second = await run(stream);
    expect(second).toMatchObject({ services: total, failed: 1 });
    const after = stream.state.latestServiceDelays();
    expect(after.has(serviceKey(serviceOf(1)))).toBe(false);
    expect(after.get(serviceKey(added))).toBe(3);
    expect(after.get(serviceKey(serviceOf(2)))).toBe(1);
    expect(rounds()).toHaveLength(2);
  });

  it('reads the single-level layout', async () => {
    const rows = ['a', 'b c+d=e', 'idle'].map((serviceName) => ({ env: '', serviceName, componentName: '', retentionDays: 3 }));
    await repo.insertMany('SINGLE', rows, new Date());
    write(partitionsOf('logs-single/service_name=a/', [4]));
    write(partitionsOf('logs-single/service_name=b c+d%3De/', [9]));
    const ctxSingle: StreamContext = { ...ctx, tenant: 'SINGLE' };
    const stream = serviceDelaysStream(ctxSingle, { tenant: single, store: new LocalObjectStore({ path: root }), services: repo, intervalMs: 100 });
    expect(await run(stream)).toMatchObject({ services: 3, failed: 0 });
    expect(Object.fromEntries([...stream.state.all()].map((d) => [d.serviceName, d.minutes]))).toEqual({ a: 4, 'b c+d=e': 9, idle: 180 });
  });

  it('gives up on a round when the store is down: the first 32 fail, the rest are skipped, all are null', async () => {
    const inner = new LocalObjectStore({ path: root });
    inner.close(); // every call now fails
    const rec = recording(inner);
    const before = rounds().length;
    const stream = streamOn(rec.store, { intervalMs: 6_000 });
    const startedAt = Date.now();
    const result = await run(stream);
    // The table now holds 301 rows (test 1 removed one and added one).
    expect(result).toMatchObject({ services: SERVICES + 1, failed: SERVICES + 1, abandoned: true, aborted: false });
    expect(result.skipped).toBe(SERVICES + 1 - rec.calls.length);
    expect(rec.calls.length).toBeGreaterThanOrEqual(32);
    expect(rec.calls.length).toBeLessThanOrEqual(32 + 16);
    // It ends at the 32nd start (31 × 4.8 s / 301 ≈ 0.5 s), not after the whole 4.8 s spread.
    expect(rec.calls.at(-1)!.at - startedAt).toBeGreaterThanOrEqual(paceOffsets(SERVICES + 1, 6_000)[31]! - 2);
    expect(Date.now() - startedAt).toBeLessThan(1_500);
    expect([...stream.state.latestServiceDelays().values()].every((v) => v === null)).toBe(true);
    expect(rounds().slice(before)).toMatchObject([{ services: SERVICES + 1, failed: SERVICES + 1 }]);
  }, 20_000);

  it('gives up on the rest of a round when the store goes down in its middle, keeping the values taken before', async () => {
    const rec = recording(new LocalObjectStore({ path: root }), 100);
    const stream = streamOn(rec.store, { intervalMs: 3_000 });
    const result = await run(stream);
    expect(result).toMatchObject({ services: SERVICES + 1, abandoned: true });
    expect(rec.calls.length).toBeLessThanOrEqual(100 + 32 + 16);
    const values = [...stream.state.latestServiceDelays().values()];
    const sampled = values.filter((v) => v !== null).length;
    expect(sampled).toBeGreaterThan(20);
    expect(result.failed).toBe(SERVICES + 1 - sampled);
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it('ends a paced round at once on shutdown, keeping the values it had', async () => {
    const controller = new AbortController();
    const rec = recording(new LocalObjectStore({ path: root }));
    const stream = streamOn(rec.store, { intervalMs: 60_000, signal: controller.signal });
    const startedAt = Date.now();
    const pending = run(stream);
    setTimeout(() => controller.abort(), 500);
    const result = await pending;
    expect(Date.now() - startedAt).toBeLessThan(1500);
    expect(result.aborted).toBe(true);
    expect(result.skipped).toBeGreaterThan(SERVICES / 2);
    // Sampled before the abort: about 500 ms of a 48 s spread, i.e. the first 3 or 4 services.
    expect(stream.state.size).toBeGreaterThan(0);
    expect(stream.state.size).toBeLessThan(10);
    expect(stream.state.size + result.skipped).toBe(SERVICES + 1);
  });

  it('runs on its own ticks in a supervised loop, one event per round', async () => {
    const sup = new Supervisor([
      {
        tenant: 'ABC',
        backoff: { minMs: 100, maxMs: 1000 },
        firstTickSpreadMs: 0,
        streams: (loopCtx) => [
          serviceDelaysStream({ ...loopCtx, now: () => now }, { tenant, store: new LocalObjectStore({ path: root }), services: repo, intervalMs: 600 })
            .definition,
        ],
      },
    ]);
    const seen: OrchestratorEvent[] = [];
    sup.events$.subscribe((e) => seen.push(e));
    sup.start();
    const sampled = () => seen.filter((e) => e.type === 'delay.service-sampled');
    while (sampled().length < 2) await new Promise((r) => setTimeout(r, 50));
    await sup.stop();
    expect(seen[0]).toMatchObject({ type: 'loop.started', streams: ['service-delays'] });
    expect(sampled()[0]).toMatchObject({ tenant: 'ABC', services: SERVICES + 1, failed: 1 });
    expect(seen.filter((e) => e.type === 'stream.retrying')).toHaveLength(0);
  }, 20_000);
});
