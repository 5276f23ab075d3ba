/**
 * Delay sampling (SPEC §4.4): at most 4 ListObjectsV2 calls per sample whatever the number of
 * objects, and with `delayMetrics.allServices` on 10,000 services one full round of the
 * per-service stream within the interval (`loop.delaySampleSeconds`, default 60).
 *
 *   node --import tsx bench/delay.bench.ts [--quick] [--fresh] [--clean] [--interval S]
 *        [--envs N --services N --components N]
 *
 * --quick       5 envs × 10 services × 10 components = 500 services, a 10 s interval
 * default       5 envs × 200 services × 10 components = 10,000 services, the default 60 s interval
 * --fresh       re-seed the bucket even if a seeded one with the right marker exists
 * --clean       delete the seeded bucket afterwards (default: keep it for the next run)
 *
 * The bucket on the Ceph RGW holds minute partitions as Spark writes them
 * (`logs/env=…/service_name=…/component_name=…/year=…/month=…/day=…/hour=HH/minute=MM/part-….parquet`,
 * values escaped as Spark does) around a fixed instant T0 = 2026-01-01 00:40 UTC, so the walk
 * back from the current hour crosses midnight and the year's end. Per service (by its index):
 *   - current (55 %): three minute partitions, the newest 1–35 minutes before T0;
 *   - back (25 %): three minute partitions 1, 2 or 3 hours back (2025-12-31);
 *   - old (15 %): partitions five hours back only, nothing in the window (delay 180);
 *   - both (5 %): the current hour and the hour before;
 *   - heavy (one in 1,000): 40 part files in each of 40 or 60 minute partitions (1,600–2,400
 *     objects in the hour walked), and one very heavy service with 200 part files in each of 60
 *     minutes (12,000 objects), the current hour empty: the walk lists two hour folders of it.
 * The streams' clock (what the delays are computed against) starts at T0 when the round starts,
 * so a seeded bucket stays valid for every later run; the pacing runs on the real clock.
 * Seeding runs in a child process (`--seed`); a bucket holding the marker `_bench/seeded.json`
 * of the same layout is reused.
 *
 * The measured path is production's: a fresh MariaDB database, the daemon's Orchestrator on the
 * bucket, `POST /api/v1/component/sync` (discovery fills service_details), then one round of the
 * per-service stream pushed into the tenant loop (`sample-service-delays`), and one sample of
 * the sample service (the very heavy one) through `sample-delay`. ListObjectsV2 calls are
 * counted three ways: the walk's own count (the round's `listings`, and per service by a thin
 * wrapper around the tenant's store), the store's `stats.listCalls` (one per page sent), and for
 * the heavy services the pages of each hour folder recounted with a plain SDK client.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import { escapePathName } from '../streams/discovery-decision.js';
import { lastValueFrom, from } from 'rxjs';
import { ServiceDetailsRepository } from '../src/db/service-details.js';
import type { ServiceDelayRound } from '../streams/commands.js';
import { serviceDelaysStream, type ServiceDelayState } from '../streams/service-delays.js';
import type { OrchestratorEvent } from '../streams/events.js';
import { tenantStreams } from '../streams/tenant-streams.js';
import { freshMysqlDatabase } from '../test/support/databases.js';
import { startTestOrchestrator } from '../test/support/orchestrator.js';
import { assertS3TestServerUp, delimiterPages, s3TestAccessKeyId, s3TestEndpoint, s3TestRegion, s3TestSecretAccessKey } from '../test/support/s3.js';
import { hasFlag, intFlag, progress, reportResult, since, type BenchResult, type TargetFigure } from './harness.js';
import { benchS3Client, componentName, envName, markerFor, removeBucket, seedBucket, seedInChild, serviceName, type SeedOutcome } from './seeded-bucket.js';

const NAME = 'delay';
const TENANT = 'BENCH';
/** Bump when the seeded layout changes, so an old bucket is not reused. */
const LAYOUT_VERSION = 1;
/** The instant the layout is written around: 00:40 UTC on New Year's Day. */
const T0 = Date.UTC(2026, 0, 1, 0, 40);
const MINUTE = 60_000;
const HOUR = 3_600_000;
const MAX_DELAY = 180;

interface Layout {
  envs: number;
  services: number;
  components: number;
}

const quick = hasFlag('--quick');
const layout: Layout = {
  envs: intFlag('--envs') ?? 5,
  services: intFlag('--services') ?? (quick ? 10 : 200),
  components: intFlag('--components') ?? 10,
};
const INTERVAL_SECONDS = intFlag('--interval') ?? (quick ? 10 : 60);

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------- the layout

type Kind = 'current' | 'back' | 'old' | 'both' | 'heavy' | 'very-heavy';

interface Service {
  index: number;
  env: string;
  serviceName: string;
  componentName: string;
  kind: Kind;
  /** Minute partitions (epoch ms of each minute) and part files in each. */
  minutes: number[];
  parts: number;
}

const total = (l: Layout) => l.envs * l.services * l.components;
const hourStart = (t: number) => Math.floor(t / HOUR) * HOUR;
const H0 = hourStart(T0);
/** Heavy services: one in 1,000 (at least one in quick mode). */
const heavyEvery = (l: Layout) => Math.min(1000, Math.max(50, Math.floor(total(l) / 2)));

function kindOf(i: number, l: Layout): Kind {
  if (i === 3) return 'very-heavy';
  if (i % heavyEvery(l) === 7) return 'heavy';
  const r = i % 20;
  if (r < 11) return 'current';
  if (r < 16) return 'back';
  if (r < 19) return 'old';
  return 'both';
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, k) => from + k);

function serviceAt(i: number, l: Layout): Service {
  const c = i % l.components;
  const s = Math.floor(i / l.components) % l.services;
  const e = Math.floor(i / (l.components * l.services));
  const kind = kindOf(i, l);
  let minutes: number[];
  let parts = 1;
  switch (kind) {
    case 'current': {
      const newest = T0 - (1 + ((i * 7) % 35)) * MINUTE;
      minutes = [newest, newest - MINUTE, newest - 2 * MINUTE];
      break;
    }
    case 'back': {
      const newest = H0 - (1 + (i % 3)) * HOUR + (i % 60) * MINUTE;
      minutes = [newest, newest - MINUTE, newest - 2 * MINUTE];
      break;
    }
    case 'old': {
      const newest = H0 - 5 * HOUR + (i % 60) * MINUTE;
      minutes = [newest, newest - MINUTE];
      break;
    }
    case 'both':
      minutes = [T0 - (1 + (i % 30)) * MINUTE, H0 - HOUR + 10 * MINUTE, H0 - HOUR + 20 * MINUTE, H0 - HOUR + 30 * MINUTE];
      break;
    case 'heavy':
      parts = 40;
      // Half in the current hour (40 minutes up to T0 − 1 min), half in the hour before (all 60), the current hour empty.
      minutes = Math.floor(i / heavyEvery(l)) % 2 === 0 ? range(0, 40).map((m) => H0 + m * MINUTE) : range(0, 60).map((m) => H0 - HOUR + m * MINUTE);
      break;
    case 'very-heavy':
      parts = 200;
      minutes = range(0, 60).map((m) => H0 - HOUR + m * MINUTE);
      break;
  }
  return { index: i, env: envName(e), serviceName: serviceName(s), componentName: componentName(c), kind, minutes, parts };
}

function* servicesOf(l: Layout): Generator<Service> {
  for (let i = 0; i < total(l); i++) yield serviceAt(i, l);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The folder of a minute, written out here rather than by the code under test. */
function minuteFolder(at: number): string {
  const d = new Date(at);
  return `year=${d.getUTCFullYear()}/month=${pad(d.getUTCMonth() + 1)}/day=${pad(d.getUTCDate())}/hour=${pad(d.getUTCHours())}/minute=${pad(d.getUTCMinutes())}/`;
}
const hourFolderOf = (at: number) => minuteFolder(at).replace(/minute=\d\d\/$/, '');

function folderOf(s: Pick<Service, 'env' | 'serviceName' | 'componentName'>): string {
  return `logs/env=${escapePathName(s.env)}/service_name=${escapePathName(s.serviceName)}/component_name=${escapePathName(s.componentName)}/`;
}

function* keysOf(l: Layout): Generator<string> {
  for (const s of servicesOf(l)) {
    const folder = folderOf(s);
    for (const m of s.minutes) for (let p = 0; p < s.parts; p++) yield `${folder}${minuteFolder(m)}part-${pad(p, 5)}-7d3f9c2e.c000.snappy.parquet`;
  }
}

function objectCount(l: Layout): number {
  let n = 0;
  for (const s of servicesOf(l)) n += s.minutes.length * s.parts;
  return n;
}

/** The newest minute partition in the walk's window (the current hour of `now` and three before), null when none. */
function expectedNewest(s: Service, now: number): number | null {
  const windowStart = hourStart(now) - 3 * HOUR;
  const inWindow = s.minutes.filter((m) => m >= windowStart && m < hourStart(now) + HOUR);
  return inWindow.length ? Math.max(...inWindow) : null;
}

function expectedMinutes(s: Service, now: number): number {
  const newest = expectedNewest(s, now);
  return newest === null ? MAX_DELAY : Math.min(MAX_DELAY, Math.max(1, Math.floor((now - newest) / MINUTE)));
}

function describeLayout(l: Layout): string {
  return `${l.envs} envs × ${l.services.toLocaleString('en')} services × ${l.components} components = ${total(l).toLocaleString('en')} services`;
}

const bucketOf = (l: Layout) => `lw-bench-delay-${l.envs}x${l.services}x${l.components}`;

function markerOf(l: Layout): string {
  return markerFor({ layoutVersion: LAYOUT_VERSION, t0: new Date(T0).toISOString(), ...l, objects: objectCount(l) }, keysOf(l));
}

// ---------------------------------------------------------------- seeding (its own process)

/** Seeds the layout's bucket (this file run with --seed, in a child process of its own). */
function seed(l: Layout, fresh: boolean): Promise<SeedOutcome> {
  return seedBucket({ bench: NAME, bucket: bucketOf(l), marker: markerOf(l), keys: keysOf(l), objects: objectCount(l), fresh });
}

function seedLayoutInChild(l: Layout, fresh: boolean): Promise<SeedOutcome> {
  const args = ['--envs', String(l.envs), '--services', String(l.services), '--components', String(l.components)];
  return seedInChild(fileURLToPath(import.meta.url), fresh ? [...args, '--fresh'] : args);
}

// ---------------------------------------------------------------- counting the walk

interface WalkCount {
  /** listPrefixes calls (hour folders listed). */
  calls: number;
  /** performance.now() of the first call's start and of the last call's end. */
  first: number;
  last: number;
  /** Hour folders listed (for recounting their pages with the SDK). */
  hours: string[];
}

/** The tenant's store, counting each service's listings on the way (the walk's own count, per service). */
class CountingStore implements ObjectStore {
  readonly perService = new Map<string, WalkCount>();
  counting = false;

  constructor(private readonly inner: ObjectStore) {}

  get stats() {
    return this.inner.stats;
  }

  async listPrefixes(prefix: string, signal?: AbortSignal): Promise<string[]> {
    const m = /^(.*\/)(year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/)$/.exec(prefix);
    if (!this.counting || !m) return this.inner.listPrefixes(prefix, signal);
    const folder = m[1]!;
    let w = this.perService.get(folder);
    if (!w) this.perService.set(folder, (w = { calls: 0, first: performance.now(), last: 0, hours: [] }));
    w.calls += 1;
    w.hours.push(m[2]!);
    try {
      return await this.inner.listPrefixes(prefix, signal);
    } finally {
      w.last = performance.now();
    }
  }

  listKeys(prefix: string, signal?: AbortSignal) {
    return this.inner.listKeys(prefix, signal);
  }
  deleteKeys(keys: readonly string[], signal?: AbortSignal) {
    return this.inner.deleteKeys(keys, signal);
  }
  ping(signal?: AbortSignal) {
    return this.inner.ping(signal);
  }
  describe() {
    return this.inner.describe();
  }
  close() {
    this.inner.close();
  }
}

function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

// ---------------------------------------------------------------- the measured run

async function measure(): Promise<BenchResult> {
  const loadAtStart = os.loadavg().map((v) => round(v, 2));
  const clean = hasFlag('--clean') || process.env.BENCH_CLEAN === '1';
  progress(NAME, `${quick ? 'quick: ' : ''}${describeLayout(layout)}, interval ${INTERVAL_SECONDS} s`);
  await assertS3TestServerUp();
  const seeded = await seedLayoutInChild(layout, hasFlag('--fresh'));
  progress(
    NAME,
    `bucket ${seeded.bucket}: ${seeded.reused ? 'reused (marker found)' : `seeded ${seeded.objects.toLocaleString('en')} objects`} in ${(seeded.seedMs / 1000).toFixed(1)} s`,
  );

  const services = [...servicesOf(layout)];
  const byFolder = new Map(services.map((s) => [folderOf(s), s]));
  const sampleService = services.find((s) => s.kind === 'very-heavy')!;

  const mysql = await freshMysqlDatabase('bench_delay');
  process.env.AWS_ACCESS_KEY_ID = s3TestAccessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3TestSecretAccessKey;
  // The streams' clock: T0 once the round starts, moving with the real clock.
  let clockStart = Date.now();
  const now = () => T0 + (Date.now() - clockStart);
  let counting: CountingStore | undefined;
  let state: ServiceDelayState | undefined;
  const t = await startTestOrchestrator(
    `
    tenants = [{
      name = "${TENANT}"
      objectStore.aws { region = "${s3TestRegion}", bucket = "${seeded.bucket}", endpointOverride = "${s3TestEndpoint}" }
      kafka.kafkaBrokersHost = "127.0.0.1:1"
      spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkMasterRestPort = 1, sparkJarPath = "file:///app.jar" }
      delayMetrics {
        allServices = true
        app { sampleEnv = "${sampleService.env}", sampleServiceName = "${sampleService.serviceName}", sampleComponentName = "${sampleService.componentName}" }
      }
    }]
    loop { discoverySeconds = 86400, delaySampleSeconds = ${INTERVAL_SECONDS}, sparkPollSeconds = 86400 }`,
    {
      quietTicks: true,
      config: (c) => ({ ...c, database: mysql.config }),
      streams: (tenant, ctx, deps) => {
        counting = new CountingStore(deps.store(tenant.name));
        const store = counting;
        const built = tenantStreams(tenant, { ...ctx, now }, { ...deps, store: () => store });
        if (Array.isArray(built)) throw new Error('tenantStreams gives its views');
        state = built.views.serviceDelays;
        // The benchmark pushes the round and the sample itself: no timer tick may run one in the
        // middle of the measurement. (The round's pacing reads loop.delaySampleSeconds, not this.)
        return {
          ...built,
          definitions: built.definitions.map((s) => (s.name === 'delay' || s.name === 'service-delays' ? { ...s, intervalMs: 86_400_000 } : s)),
        };
      },
    },
  );
  const events: OrchestratorEvent[] = [];
  t.orchestrator.supervisor.events$.subscribe((e) => events.push(e));
  const sdk = benchS3Client(8);

  try {
    if (!counting || !state) throw new Error('the per-service stream did not start (delayMetrics.allServices)');
    const store = counting;
    progress(NAME, 'discovery sync into service_details (POST /api/v1/component/sync) ...');
    const syncStart = performance.now();
    const res = await t.orchestrator.app.request('/api/v1/component/sync?componentType=application', { method: 'POST', headers: { 'X-Tenant-Name': TENANT } });
    const sync = (await res.json()) as { data?: { onboarded: number } };
    if (res.status !== 200 || sync.data?.onboarded !== services.length)
      throw new Error(`the sync answered ${res.status}: ${JSON.stringify(sync).slice(0, 300)} (expected ${services.length} onboarded)`);
    const syncMs = since(syncStart);
    progress(NAME, `${services.length.toLocaleString('en')} services onboarded in ${(syncMs / 1000).toFixed(1)} s`);

    // ------------------------------------------------ one full round through the loop
    progress(NAME, `one round of the per-service stream (paced over ${Math.round(0.8 * INTERVAL_SECONDS)} s of the ${INTERVAL_SECONDS} s interval) ...`);
    const pagesBefore = store.stats.listCalls;
    const retriesBefore = store.stats.retries;
    store.counting = true;
    clockStart = Date.now();
    const cpu = process.cpuUsage();
    const roundStart = performance.now();
    const result = await t.orchestrator.supervisor.dispatch(TENANT, 'sample-service-delays', {});
    const roundMs = since(roundStart);
    const cpuUsed = process.cpuUsage(cpu);
    store.counting = false;
    const pages = store.stats.listCalls - pagesBefore;
    const retries = store.stats.retries - retriesBefore;
    progress(
      NAME,
      `round: ${(roundMs / 1000).toFixed(1)} s, ${result.listings.toLocaleString('en')} listings, ${pages.toLocaleString('en')} ListObjectsV2 pages, ${result.failed} failed; load ${os.loadavg()[0]!.toFixed(2)}`,
    );

    // ------------------------------------------------ per sample: calls, cost, correctness
    const perSample: { calls: number; ms: number; kind: Kind }[] = [];
    const wrong: string[] = [];
    for (const s of services) {
      const w = store.perService.get(folderOf(s));
      const d = state.get(s);
      if (!w || !d) {
        wrong.push(`${folderOf(s)}: not sampled`);
        continue;
      }
      perSample.push({ calls: w.calls, ms: w.last - w.first, kind: s.kind });
      const newest = expectedNewest(s, d.sampledAt);
      const minutes = expectedMinutes(s, d.sampledAt);
      if (d.minutes !== minutes || d.newestPartition !== newest) {
        wrong.push(
          `${folderOf(s)} (${s.kind}): ${d.minutes} min, newest ${d.newestPartition === null ? null : new Date(d.newestPartition).toISOString()}; expected ${minutes}, ${newest === null ? null : new Date(newest).toISOString()}${d.error ? ` (${d.error})` : ''}`,
        );
      }
    }
    for (const folder of store.perService.keys()) if (!byFolder.has(folder)) wrong.push(`${folder}: listed, but no such service`);
    if (wrong.length) progress(NAME, `${wrong.length} services with a wrong delay, e.g. ${wrong.slice(0, 3).join('; ')}`);
    const walkCalls = perSample.reduce((a, p) => a + p.calls, 0);
    const maxCalls = Math.max(...perSample.map((p) => p.calls));

    // The heavy services' hour folders, recounted with a plain SDK client.
    const heavy = services.filter((s) => s.kind === 'heavy' || s.kind === 'very-heavy');
    let heavySdkPages = 0;
    let heavyWalkCalls = 0;
    for (const s of heavy) {
      const w = store.perService.get(folderOf(s))!;
      heavyWalkCalls += w.calls;
      for (const hour of w.hours) heavySdkPages += await delimiterPages(sdk, seeded.bucket, folderOf(s) + hour);
    }
    const heavyObjects = heavy.reduce((a, s) => a + s.minutes.length * s.parts, 0);

    // ------------------------------------------------ headroom: the same round, unpaced
    // The stream's own code with a 1 ms interval (every sample due at once, 16 in flight): how
    // long the samples take when nothing spaces them out, against the interval they must fit in.
    progress(NAME, 'the same round unpaced (headroom) ...');
    const loopCtx = t.orchestrator.supervisor.loop(TENANT).context;
    const unpacedStream = serviceDelaysStream(
      { ...loopCtx, now, emit: () => undefined },
      { tenant: t.config.tenants[0]!, store, services: new ServiceDetailsRepository(t.orchestrator.db), intervalMs: 1 },
    );
    const unpacedStart = performance.now();
    const unpaced = (await lastValueFrom(from(unpacedStream.definition.commands['sample-service-delays']!({} as never)))) as ServiceDelayRound;
    const unpacedMs = since(unpacedStart);
    progress(NAME, `unpaced: ${(unpacedMs / 1000).toFixed(1)} s for ${unpaced.services.toLocaleString('en')} services (${unpaced.failed} failed)`);

    // ------------------------------------------------ the sample service: the very heavy one
    const before = events.length;
    const samplePagesBefore = store.stats.listCalls;
    const sampled = await t.orchestrator.supervisor.dispatch(TENANT, 'sample-delay', { maxAgeMs: 0 });
    const sampleEvent = events.slice(before).find((e) => e.type === 'delay.sampled') as Extract<OrchestratorEvent, { type: 'delay.sampled' }> | undefined;
    const samplePages = store.stats.listCalls - samplePagesBefore;
    let sampleSdkPages = 0;
    for (let h = 0; h < (sampleEvent?.listCalls ?? 0); h++)
      sampleSdkPages += await delimiterPages(sdk, seeded.bucket, folderOf(sampleService) + hourFolderOf(now() - h * HOUR));
    progress(
      NAME,
      `sample service (${sampleService.minutes.length * sampleService.parts} objects in its newest hour): ${sampled} min in ${sampleEvent?.listCalls} listings, ${samplePages} pages (SDK recount ${sampleSdkPages})`,
    );

    const ms = perSample.map((p) => p.ms);
    const callsBy = (kind: Kind) => {
      const of = perSample.filter((p) => p.kind === kind);
      return of.length ? round(of.reduce((a, p) => a + p.calls, 0) / of.length, 2) : 0;
    };
    const targets: TargetFigure[] = [
      {
        name: 'delay.sample.max_list_calls',
        value: Math.max(maxCalls, sampleEvent?.listCalls ?? 0),
        unit: 'calls',
        op: '<=',
        limit: 4,
        limitNote: 'per sample, whatever the objects',
        kind: 'deterministic',
      },
      {
        name: 'delay.round.pages_per_listing',
        value: round(pages / Math.max(1, walkCalls), 3),
        unit: 'pages',
        op: '=',
        limit: 1,
        limitNote: 'store pages over walk listings',
        kind: 'deterministic',
      },
      {
        name: 'delay.round.wall',
        value: round(roundMs / 1000 / INTERVAL_SECONDS, 3),
        unit: '× interval',
        op: '<=',
        limit: 1,
        limitNote: `${INTERVAL_SECONDS} s`,
        kind: 'timing',
      },
      {
        name: 'delay.round.wrong',
        value: wrong.length + result.failed,
        unit: 'services',
        op: '=',
        limit: 0,
        limitNote: 'delay or newest partition off, or failed',
        kind: 'deterministic',
      },
    ];
    return {
      name: NAME,
      quick,
      scale: `${describeLayout(layout)}, ${seeded.objects.toLocaleString('en')} objects, interval ${INTERVAL_SECONDS} s`,
      targets,
      figures: {
        'round.wall_ms': round(roundMs, 0),
        'round.paced_over_ms': Math.round(0.8 * INTERVAL_SECONDS * 1000),
        'round.services': result.services,
        'round.listings': result.listings,
        'round.listings_walk_per_service': walkCalls,
        'round.pages': pages,
        'round.retries': retries,
        'round.failed': result.failed,
        'round.skipped': result.skipped,
        'round.cpu_ms': round((cpuUsed.user + cpuUsed.system) / 1000, 0),
        'sample.cpu_ms_per_sample': round((cpuUsed.user + cpuUsed.system) / 1000 / result.services, 3),
        'sample.cpu_ms_per_listing': round((cpuUsed.user + cpuUsed.system) / 1000 / Math.max(1, walkCalls), 3),
        'sample.ms_p50': round(percentile(ms, 50), 1),
        'sample.ms_p99': round(percentile(ms, 99), 1),
        'sample.ms_max': round(Math.max(...ms), 1),
        'sample.ms_mean': round(ms.reduce((a, b) => a + b, 0) / ms.length, 2),
        'sample.calls_max': maxCalls,
        'sample.calls_mean': round(walkCalls / perSample.length, 3),
        'sample.calls_mean.current': callsBy('current'),
        'sample.calls_mean.back': callsBy('back'),
        'sample.calls_mean.old': callsBy('old'),
        'sample.calls_mean.both': callsBy('both'),
        'sample.calls_mean.heavy': callsBy('heavy'),
        'heavy.services': heavy.length,
        'heavy.objects': heavyObjects,
        'heavy.walk_listings': heavyWalkCalls,
        'heavy.sdk_pages': heavySdkPages,
        'sample_service.objects_in_newest_hour': sampleService.minutes.length * sampleService.parts,
        'sample_service.listings': sampleEvent?.listCalls ?? -1,
        'sample_service.pages': samplePages,
        'sample_service.sdk_pages': sampleSdkPages,
        'sync.ms': round(syncMs, 0),
        'seed.ms': round(seeded.seedMs, 0),
        'round.listings_per_s': round(walkCalls / (roundMs / 1000), 0),
        'unpaced.wall_ms': round(unpacedMs, 0),
        'unpaced.failed': unpaced.failed,
        'unpaced.listings_per_s': round(unpaced.listings / (unpacedMs / 1000), 0),
        'unpaced.headroom': round((INTERVAL_SECONDS * 1000) / unpacedMs, 2),
      },
      info: {
        bucket: seeded.bucket,
        bucketReused: seeded.reused,
        bucketKept: !clean,
        objects: seeded.objects,
        t0: new Date(T0).toISOString(),
        kinds: Object.fromEntries(
          (['current', 'back', 'old', 'both', 'heavy', 'very-heavy'] as const).map((k) => [k, services.filter((s) => s.kind === k).length]),
        ),
        wrongExamples: wrong.slice(0, 10),
        node: process.version,
        cpus: os.cpus().length,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)),
      },
    };
  } finally {
    sdk.destroy();
    await t.stop();
    await mysql.drop();
    if (clean) {
      await removeBucket(NAME, seeded.bucket);
    } else {
      progress(NAME, `keeping bucket ${seeded.bucket} for the next run (--clean deletes it)`);
    }
  }
}

if (hasFlag('--seed')) {
  const outcome = await seed(layout, hasFlag('--fresh'));
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
} else {
  reportResult(await measure());
  // The SDK's keep-alive sockets and the orchestrator's pools are closed; exit without waiting for stray timers.
  process.exit(0);
}
