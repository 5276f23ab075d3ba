/**
 * Discovery at scale (SPEC §4.1): one full sync of a bucket holding one object per partition
 * (default 10 envs × 1,000 services × 10 components = 100,000) on the Ceph RGW into a fresh
 * MariaDB database, through the production path (`POST /api/v1/component/sync` → the tenant
 * loop → the discovery stream's `sync` → listPartitions + ServiceDetailsRepository), then a
 * re-sync of the unchanged bucket.
 *
 *   node --import tsx bench/discovery.bench.ts [--quick] [--fresh] [--clean]
 *        [--envs N --services N --components N]
 *
 * --quick        2 envs × 100 services × 5 components
 * --fresh        re-seed the bucket even if a seeded one with the right marker exists
 * --clean        delete the seeded bucket afterwards (default: keep it for the next run;
 *                BENCH_CLEAN=1 does the same)
 *
 * Writing the objects is not measured, and runs in a separate process (`--seed`) so that the
 * peak RSS reported is the one of the process that syncs. A bucket is reused when it holds the
 * marker object `_bench/seeded.json` written after the last object of the same layout.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { ServiceDetailsRepository } from '../src/db/service-details.js';
import type { OrchestratorEvent } from '../streams/events.js';
import { freshMysqlDatabase } from '../test/support/databases.js';
import { startTestOrchestrator } from '../test/support/orchestrator.js';
import { assertS3TestServerUp, s3TestAccessKeyId, s3TestEndpoint, s3TestRegion, s3TestSecretAccessKey } from '../test/support/s3.js';
import { partitionKey } from '../test/support/stores.js';
import { MB, flagValue, hasFlag, peakRssBytes, progress, reportResult, since, type BenchResult, type TargetFigure } from './harness.js';

const NAME = 'discovery';
const TENANT = 'BENCH';
/** PutObject requests in flight while seeding. */
const SEED_CONCURRENCY = 96;
/** Listings in flight while counting the minimum independently. */
const COUNT_CONCURRENCY = 32;
/** DeleteObjects batches in flight while cleaning up. */
const DELETE_CONCURRENCY = 8;
const MARKER_KEY = '_bench/seeded.json';
/** Bump when the seeded layout changes, so an old bucket is not reused. */
const LAYOUT_VERSION = 1;

const ENV_NAMES = ['prod', 'stag', 'dev', 'qa', 'perf', 'uat', 'sandbox', 'dr', 'canary', 'preprod'];
const COMPONENT_NAMES = ['application', 'worker', 'cron', 'api', 'consumer', 'producer', 'scheduler', 'gateway', 'batch', 'stream'];

interface Layout {
  envs: number;
  services: number;
  components: number;
}

const quick = hasFlag('--quick');
const layout: Layout = {
  envs: intFlag('--envs') ?? (quick ? 2 : 10),
  services: intFlag('--services') ?? (quick ? 100 : 1000),
  components: intFlag('--components') ?? (quick ? 5 : 10),
};

function intFlag(flag: string): number | undefined {
  const v = flagValue(flag);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} wants a positive integer, got ${v}`);
  return n;
}

const envName = (i: number) => (i < ENV_NAMES.length ? ENV_NAMES[i]! : `env${i}`);
const componentName = (i: number) => (i < COMPONENT_NAMES.length ? COMPONENT_NAMES[i]! : `component${i}`);
/** One service in a hundred has characters that need care in URLs and S3 keys (as in the integration test). */
const serviceName = (i: number) => (i % 100 === 50 ? `svc ${String(i).padStart(4, '0')}+a&b=c` : `svc-${String(i).padStart(4, '0')}`);

function partitionCount(l: Layout): number {
  return l.envs * l.services * l.components;
}

function describeLayout(l: Layout): string {
  return `${l.envs} envs × ${l.services.toLocaleString('en')} services × ${l.components} components = ${partitionCount(l).toLocaleString('en')} partitions`;
}

function* keysOf(l: Layout): Generator<string> {
  for (let e = 0; e < l.envs; e++)
    for (let s = 0; s < l.services; s++) for (let c = 0; c < l.components; c++) yield partitionKey(envName(e), serviceName(s), componentName(c));
}

function bucketOf(l: Layout): string {
  return `lw-bench-discovery-${l.envs}x${l.services}x${l.components}`;
}

function markerOf(l: Layout): string {
  const digest = createHash('sha256');
  for (const key of keysOf(l)) digest.update(key).update('\n');
  return JSON.stringify({ layoutVersion: LAYOUT_VERSION, ...l, objects: partitionCount(l), keys: digest.digest('hex') });
}

function benchS3Client(maxSockets: number): S3Client {
  return new S3Client({
    endpoint: s3TestEndpoint,
    region: s3TestRegion,
    credentials: { accessKeyId: s3TestAccessKeyId, secretAccessKey: s3TestSecretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets }) },
  });
}

/** Runs `fn` over `items` with at most `limit` in flight; the first error stops the rest. */
async function pool<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  let failed: unknown;
  const worker = async () => {
    for (let next = it.next(); !next.done && failed === undefined; next = it.next()) {
      try {
        await fn(next.value);
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failed !== undefined) throw failed;
}

// ---------------------------------------------------------------- seeding (its own process)

interface SeedOutcome {
  bucket: string;
  reused: boolean;
  objects: number;
  seedMs: number;
}

async function readMarker(client: S3Client, bucket: string): Promise<string | undefined> {
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: MARKER_KEY }));
    return await res.Body?.transformToString();
  } catch (error) {
    if (error instanceof S3ServiceException && ['NoSuchBucket', 'NoSuchKey', 'NotFound'].includes(error.name)) return undefined;
    throw error;
  }
}

async function seed(l: Layout, fresh: boolean): Promise<SeedOutcome> {
  await assertS3TestServerUp();
  const client = benchS3Client(SEED_CONCURRENCY);
  const bucket = bucketOf(l);
  const marker = markerOf(l);
  const started = performance.now();
  try {
    if (!fresh && (await readMarker(client, bucket)) === marker) {
      return { bucket, reused: true, objects: partitionCount(l), seedMs: since(started) };
    }
    if (fresh) await deleteBucket(client, bucket);
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (error) {
      if (!(error instanceof S3ServiceException && error.name === 'BucketAlreadyOwnedByYou')) throw error;
    }
    // A bucket without the right marker (an interrupted seeding, an older layout) is emptied first,
    // so that nothing but the layout is in it.
    await deleteObjects(client, bucket);
    const total = partitionCount(l);
    let done = 0;
    await pool(keysOf(l), SEED_CONCURRENCY, async (key) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
      done += 1;
      if (done % 10_000 === 0) progress(NAME, `seeded ${done.toLocaleString('en')} / ${total.toLocaleString('en')} objects (${(since(started) / 1000).toFixed(1)} s)`);
    });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: MARKER_KEY, Body: marker }));
    return { bucket, reused: false, objects: total, seedMs: since(started) };
  } finally {
    client.destroy();
  }
}

/** Deletes every object of the bucket: the whole listing first, then DeleteObjects batches in parallel. */
async function deleteObjects(client: S3Client, bucket: string): Promise<number> {
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (error) {
    if (error instanceof S3ServiceException && error.name === 'NoSuchBucket') return 0;
    throw error;
  }
  const batches: string[][] = [];
  for (let i = 0; i < keys.length; i += 1000) batches.push(keys.slice(i, i + 1000));
  await pool(batches, DELETE_CONCURRENCY, async (batch) => {
    const res = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    if (res.Errors?.length) throw new Error(`DeleteObjects in ${bucket}: ${res.Errors.length} errors, first ${res.Errors[0]?.Key}: ${res.Errors[0]?.Code}`);
  });
  return keys.length;
}

async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  await deleteObjects(client, bucket);
  try {
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (!(error instanceof S3ServiceException && error.name === 'NoSuchBucket')) throw error;
  }
}

/** Seeds in a child process (this file with --seed), so its memory never counts in the sync's peak RSS. */
function seedInChild(l: Layout, fresh: boolean): Promise<SeedOutcome> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--seed', '--envs', String(l.envs), '--services', String(l.services), '--components', String(l.components)];
  if (fresh) args.push('--fresh');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`seeding the bucket failed (exit ${code})`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as SeedOutcome);
      } catch {
        reject(new Error(`seeding printed no outcome: ${out.slice(0, 500)}`));
      }
    });
  });
}

// ---------------------------------------------------------------- the independent minimum

/**
 * The fewest ListObjectsV2 calls a delimiter walk of the partition levels can make: one per
 * page of `logs/`, of each env folder and of each service folder, the pages counted with the
 * SDK itself (RGW may cut a page short of 1,000 entries). Also returns the partitions found.
 */
async function countMinimumListCalls(bucket: string, root: string, levels: number): Promise<{ pages: number; partitions: number }> {
  const client = benchS3Client(COUNT_CONCURRENCY);
  let pages = 0;
  const listFolder = async (prefix: string): Promise<string[]> => {
    const found: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      pages += 1;
      for (const cp of page.CommonPrefixes ?? []) if (cp.Prefix) found.push(cp.Prefix);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  };
  try {
    let level = [root];
    for (let depth = 0; depth < levels; depth++) {
      const next: string[] = [];
      await pool(level, COUNT_CONCURRENCY, async (prefix) => {
        next.push(...(await listFolder(prefix)));
      });
      level = next;
    }
    return { pages, partitions: level.length };
  } finally {
    client.destroy();
  }
}

// ---------------------------------------------------------------- the measured syncs

type QueryKind = 'select' | 'insert' | 'delete' | 'touch' | 'update' | 'other';

function kindOf(sql: string): QueryKind {
  const s = sql.trimStart().slice(0, 16).toLowerCase();
  if (s.startsWith('select')) return 'select';
  if (s.startsWith('insert')) return 'insert';
  if (s.startsWith('delete')) return 'delete';
  if (s.startsWith('update')) return /lastCheckedAt/i.test(sql) ? 'touch' : 'update';
  return 'other';
}

interface QueryLog {
  counts: Record<QueryKind, number>;
  /** Time spent waiting for each kind of statement (ms, summed over statements). */
  ms: Record<QueryKind, number>;
  /** performance.now() of the first statement. */
  first: number | undefined;
}

function emptyQueryLog(): QueryLog {
  const zero = () => ({ select: 0, insert: 0, delete: 0, touch: 0, update: 0, other: 0 });
  return { counts: zero(), ms: zero(), first: undefined };
}

interface SyncMeasure {
  wallMs: number;
  /** CPU time of this process (user + system) during the sync. */
  cpuMs: number;
  /** From the request to the first SQL statement: the listing of the store. */
  listingMs: number;
  /** From the first SQL statement to the answer: reading the rows, planning, writing. */
  dbMs: number;
  onboarded: number;
  removed: number;
  present: number;
  listCalls: number;
  retries: number;
  queries: QueryLog;
}

async function measure(): Promise<BenchResult> {
  const loadAtStart = os.loadavg().map((v) => round(v, 2));
  const expected = partitionCount(layout);
  const fresh = hasFlag('--fresh');
  const clean = hasFlag('--clean') || process.env.BENCH_CLEAN === '1';
  progress(NAME, `${quick ? 'quick: ' : ''}${describeLayout(layout)}`);

  await assertS3TestServerUp();
  const seeded = await seedInChild(layout, fresh);
  progress(NAME, `bucket ${seeded.bucket}: ${seeded.reused ? 'reused (marker found)' : `seeded ${seeded.objects.toLocaleString('en')} objects`} in ${(seeded.seedMs / 1000).toFixed(1)} s`);

  const rssBeforeSetup = process.memoryUsage().rss;
  const mysql = await freshMysqlDatabase('bench_discovery');
  // Credentials reach the adapter through the SDK's default provider chain, as in production.
  process.env.AWS_ACCESS_KEY_ID = s3TestAccessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3TestSecretAccessKey;
  const t = await startTestOrchestrator(
    `
    tenants = [{
      name = "${TENANT}"
      objectStore.aws { region = "${s3TestRegion}", bucket = "${seeded.bucket}", endpointOverride = "${s3TestEndpoint}" }
      envLogsRetentionDays = [{ envs = ["prod"], retentionDays = 30 }]
      defaultLogsRetentionDays = 3
      spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkMasterRestPort = 1, sparkJarPath = "file:///app.jar" }
    }]
    loop { discoverySeconds = 86400, delaySampleSeconds = 86400, sparkPollSeconds = 86400 }`,
    { quietTicks: true, config: (c) => ({ ...c, database: mysql.config }) },
  );
  const events: OrchestratorEvent[] = [];
  t.orchestrator.supervisor.events$.subscribe((e) => events.push(e));

  let log = emptyQueryLog();
  const pending = new Map<string, { kind: QueryKind; at: number }>();
  const db = t.orchestrator.db;
  db.on('query', (q: { sql: string; __knexQueryUid: string }) => {
    const kind = kindOf(q.sql);
    const at = performance.now();
    log.counts[kind] += 1;
    log.first ??= at;
    pending.set(q.__knexQueryUid, { kind, at });
  });
  const ended = (_: unknown, q: { __knexQueryUid: string }) => {
    const p = pending.get(q.__knexQueryUid);
    if (!p) return;
    pending.delete(q.__knexQueryUid);
    log.ms[p.kind] += performance.now() - p.at;
  };
  db.on('query-response', ended);
  db.on('query-error', (_: unknown, q: { __knexQueryUid: string }) => ended(undefined, q));

  // Samples the memory every 20 ms, by phase (the listing ends at the first SQL statement).
  let phase = 'setup';
  const memory: Record<string, { rssMax: number; heapMax: number }> = {};
  const sample = () => {
    const m = process.memoryUsage();
    const name = log.first === undefined ? `${phase}.listing` : `${phase}.db`;
    const slot = (memory[name] ??= { rssMax: 0, heapMax: 0 });
    slot.rssMax = Math.max(slot.rssMax, m.rss);
    slot.heapMax = Math.max(slot.heapMax, m.heapUsed);
  };
  const sampler = setInterval(sample, 20);

  const sync = async (name: string): Promise<SyncMeasure> => {
    phase = name;
    log = emptyQueryLog();
    const before = events.length;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const res = await t.orchestrator.app.request('/api/v1/component/sync?componentType=application', { method: 'POST', headers: { 'X-Tenant-Name': TENANT } });
    const end = performance.now();
    sample();
    const cpuUsed = process.cpuUsage(cpu);
    phase = `after-${name}`;
    const body = (await res.json()) as { data?: { onboarded: number; removed: number }; error?: unknown };
    if (res.status !== 200 || !body.data) throw new Error(`sync answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
    const synced = events.slice(before).find((e) => e.type === 'discovery.synced') as Extract<OrchestratorEvent, { type: 'discovery.synced' }> | undefined;
    if (!synced) throw new Error('the sync emitted no discovery.synced event');
    const firstQuery = log.first ?? end;
    return {
      wallMs: end - start,
      cpuMs: (cpuUsed.user + cpuUsed.system) / 1000,
      listingMs: firstQuery - start,
      dbMs: end - firstQuery,
      onboarded: body.data.onboarded,
      removed: body.data.removed,
      present: synced.present,
      listCalls: synced.listCalls,
      retries: synced.retries,
      queries: log,
    };
  };

  try {
    const rssBeforeSync = process.memoryUsage().rss;
    progress(NAME, 'sync 1 (empty database) ...');
    const first = await sync('sync');
    progress(NAME, `sync 1: ${(first.wallMs / 1000).toFixed(2)} s (listing ${(first.listingMs / 1000).toFixed(2)} s, database ${(first.dbMs / 1000).toFixed(2)} s), ${first.listCalls} list calls, ${first.onboarded} onboarded`);
    const rows = await new ServiceDetailsRepository(db).countByTenant(TENANT);
    progress(NAME, 're-sync (unchanged bucket) ...');
    const second = await sync('resync');
    progress(NAME, `re-sync: ${(second.wallMs / 1000).toFixed(2)} s (listing ${(second.listingMs / 1000).toFixed(2)} s, database ${(second.dbMs / 1000).toFixed(2)} s), ${second.queries.counts.touch} lastCheckedAt updates`);
    const peakRss = peakRssBytes();
    clearInterval(sampler);

    progress(NAME, 'counting the minimum of ListObjectsV2 calls with the SDK ...');
    const minimum = await countMinimumListCalls(seeded.bucket, 'logs/', 3);
    const analytic = Math.ceil(layout.envs / 1000) + layout.envs * Math.ceil(layout.services / 1000) + layout.envs * layout.services * Math.ceil(layout.components / 1000);

    const targets: TargetFigure[] = [
      { name: 'discovery.sync.wall', value: round(first.wallMs / 1000, 2), unit: 's', op: '<=', limit: 20 },
      { name: 'discovery.sync.peak_rss', value: round(peakRss / MB, 1), unit: 'MB', op: '<=', limit: 250, limitNote: 'VmHWM of the syncing process' },
      { name: 'discovery.sync.list_calls', value: first.listCalls, unit: 'calls', op: '=', limit: minimum.pages, limitNote: 'minimum, pages counted with the SDK' },
      { name: 'discovery.sync.rows', value: rows, unit: 'rows', op: '=', limit: expected, limitNote: 'one per partition' },
      { name: 'discovery.resync.wall', value: round(second.wallMs / 1000, 2), unit: 's', op: '<=', limit: 20 },
      { name: 'discovery.resync.inserts', value: second.queries.counts.insert, unit: 'statements', op: '=', limit: 0 },
      { name: 'discovery.resync.deletes', value: second.queries.counts.delete, unit: 'statements', op: '=', limit: 0 },
      { name: 'discovery.resync.touch_updates', value: second.queries.counts.touch, unit: 'statements', op: '<=', limit: Math.ceil(rows / 1000), limitNote: 'ceil(rows / 1,000)' },
    ];
    const ms = (v: number) => round(v, 1);
    return {
      name: NAME,
      quick,
      scale: describeLayout(layout),
      targets,
      figures: {
        'sync.wall_ms': ms(first.wallMs),
        'sync.cpu_ms': ms(first.cpuMs),
        'sync.listing_ms': ms(first.listingMs),
        'sync.db_ms': ms(first.dbMs),
        'sync.db_select_ms': ms(first.queries.ms.select),
        'sync.db_insert_ms': ms(first.queries.ms.insert),
        'sync.insert_statements': first.queries.counts.insert,
        'sync.select_statements': first.queries.counts.select,
        'sync.list_calls': first.listCalls,
        'sync.list_retries': first.retries,
        'sync.list_calls_per_s': round(first.listCalls / (first.listingMs / 1000), 0),
        'sync.onboarded': first.onboarded,
        'resync.wall_ms': ms(second.wallMs),
        'resync.cpu_ms': ms(second.cpuMs),
        'resync.listing_ms': ms(second.listingMs),
        'resync.db_ms': ms(second.dbMs),
        'resync.db_select_ms': ms(second.queries.ms.select),
        'resync.db_touch_ms': ms(second.queries.ms.touch),
        'resync.list_calls': second.listCalls,
        'resync.onboarded': second.onboarded,
        'resync.removed': second.removed,
        'resync.present': second.present,
        'min_list_calls.sdk': minimum.pages,
        'min_list_calls.analytic': analytic,
        'partitions.sdk': minimum.partitions,
        'rss.before_setup_mb': round(rssBeforeSetup / MB, 1),
        'rss.before_sync_mb': round(rssBeforeSync / MB, 1),
        'rss.peak_mb': round(peakRss / MB, 1),
        'seed.ms': ms(seeded.seedMs),
        ...Object.fromEntries(
          Object.entries(memory)
            .filter(([k]) => !k.startsWith('after-') && !k.startsWith('setup'))
            .flatMap(([k, v]) => [
              [`rss.${k}_max_mb`, round(v.rssMax / MB, 1)],
              [`heap.${k}_max_mb`, round(v.heapMax / MB, 1)],
            ]),
        ),
      },
      info: {
        bucket: seeded.bucket,
        bucketReused: seeded.reused,
        bucketKept: !clean,
        database: mysql.config.database,
        node: process.version,
        execArgv: process.execArgv,
        nodeOptions: process.env.NODE_OPTIONS ?? '',
        cpus: os.cpus().length,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)),
        sync1Queries: first.queries.counts,
        resyncQueries: second.queries.counts,
      },
    };
  } finally {
    clearInterval(sampler);
    await t.stop();
    await mysql.drop();
    if (clean) {
      progress(NAME, `deleting bucket ${seeded.bucket} ...`);
      const client = benchS3Client(DELETE_CONCURRENCY);
      await deleteBucket(client, seeded.bucket).finally(() => client.destroy());
    } else {
      progress(NAME, `keeping bucket ${seeded.bucket} for the next run (--clean deletes it)`);
    }
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

if (hasFlag('--seed')) {
  const outcome = await seed(layout, hasFlag('--fresh'));
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
} else {
  reportResult(await measure());
}
