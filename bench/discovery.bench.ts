/**
 * Discovery at scale (SPEC §4.1): one full sync of a bucket holding one object per partition
 * (default 10 envs × 1,000 services × 10 components = 100,000) on the Ceph RGW into a fresh
 * MariaDB database, through the production path: the built daemon (`node dist/src/main.js`)
 * in a process of its own, `POST /api/v1/component/sync` → the tenant loop → the discovery
 * stream; then a re-sync of the unchanged bucket. The wall time is the HTTP request's; the CPU
 * time and the peak RSS (VmHWM) are the daemon's, from /proc; the list calls come from its
 * `discovery.synced` log line; the statements on service_details are read from MariaDB's own
 * general query log, for a database user of the daemon's own (lease renewals of the same user
 * write too, so statements are told apart by table).
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
 *
 * The tenant loop's first discovery tick falls at random within 15 s of the daemon's start: a
 * sync that a measured request would join (its wall then a part of the sync's) or race. The
 * bench lets it run and finish first, unmeasured (the peak RSS covers it: VmHWM is the daemon's
 * whole life), empties the tenant's rows, and checks that each measured sync is its request's
 * own (the daemon's duration of it within the request's wall).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { mysqlTestServer } from '../test/support/databases.js';
import { assertS3TestServerUp, s3TestAccessKeyId, s3TestEndpoint, s3TestRegion, s3TestSecretAccessKey } from '../test/support/s3.js';
import { partitionKey } from '../test/support/stores.js';
import knexFactory from 'knex';
import { classify, countRows, daemonDatabase, type ServiceStatements } from './query-log.js';
import { buildDaemon, cpuMsOf, freePort, memoryOf, startDaemon, waitFor, type Daemon } from './daemon.js';
import { ensureRclone, rcloneListing, type RcloneListing } from './rclone-listing.js';
import { MB, hasFlag, intFlag, progress, reportResult, type BenchResult, type TargetFigure } from './harness.js';
import {
  benchS3Client,
  componentName,
  envName,
  markerFor,
  pool,
  removeBucket,
  seedBucket,
  seedInChild,
  serviceName,
  type SeedOutcome,
} from './seeded-bucket.js';

const NAME = 'discovery';
const TENANT = 'BENCH';
/** Listings in flight while counting the minimum independently. */
const COUNT_CONCURRENCY = 32;
/** rclone's listings in flight (`--checkers`), as many as the daemon's. */
const RCLONE_CHECKERS = 16;
/** The folder the daemon's tenant walks (its logsDir) and the partition levels below it. */
const ROOT = 'logs/';
const LEVELS = 3;
/** Bump when the seeded layout changes, so an old bucket is not reused. */
const LAYOUT_VERSION = 1;

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
  return markerFor({ layoutVersion: LAYOUT_VERSION, ...l, objects: partitionCount(l) }, keysOf(l));
}

/** Seeds the layout's bucket (this file run with --seed, in a child process of its own). */
function seed(l: Layout, fresh: boolean): Promise<SeedOutcome> {
  return seedBucket({ bench: NAME, bucket: bucketOf(l), marker: markerOf(l), keys: keysOf(l), objects: partitionCount(l), fresh });
}

function seedLayoutInChild(l: Layout, fresh: boolean): Promise<SeedOutcome> {
  const args = ['--envs', String(l.envs), '--services', String(l.services), '--components', String(l.components)];
  return seedInChild(fileURLToPath(import.meta.url), fresh ? [...args, '--fresh'] : args);
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

interface SyncMeasure {
  wallMs: number;
  /** CPU time of the daemon (user + system) during the sync. */
  cpuMs: number;
  /** Peak RSS of the daemon sampled every 20 ms during the sync. */
  rssMaxBytes: number;
  onboarded: number;
  removed: number;
  present: number;
  listCalls: number;
  retries: number;
  /** The daemon's own account of the sync (the `discovery.synced` event). */
  durationMs: number;
  statements: ServiceStatements;
}

async function measure(): Promise<BenchResult> {
  const loadAtStart = os.loadavg().map((v) => round(v, 2));
  const expected = partitionCount(layout);
  const fresh = hasFlag('--fresh');
  const clean = hasFlag('--clean') || process.env.BENCH_CLEAN === '1';
  progress(NAME, `${quick ? 'quick: ' : ''}${describeLayout(layout)}`);

  await assertS3TestServerUp();
  const seeded = await seedLayoutInChild(layout, fresh);
  progress(
    NAME,
    `bucket ${seeded.bucket}: ${seeded.reused ? 'reused (marker found)' : `seeded ${seeded.objects.toLocaleString('en')} objects`} in ${(seeded.seedMs / 1000).toFixed(1)} s`,
  );

  const rcloneVersion = ensureRclone((m) => progress(NAME, m));
  buildDaemon();
  // BENCH_DAEMON_NODE_ARGS: flags for the daemon's node (e.g. --cpu-prof --cpu-prof-dir=DIR to find hot spots).
  const daemonNodeArgs = (process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const database = await daemonDatabase();
  const dir = mkdtempSync(join(os.tmpdir(), 'lw-bench-discovery-'));
  const port = await freePort();
  let daemon: Daemon | undefined;
  try {
    daemon = await startDaemon({
      dir,
      port,
      // Credentials reach the adapter through the SDK's default provider chain, as in production.
      env: { AWS_ACCESS_KEY_ID: s3TestAccessKeyId, AWS_SECRET_ACCESS_KEY: s3TestSecretAccessKey },
      nodeArgs: daemonNodeArgs,
      config: `
        http.port = ${port}
        database { client = mysql, host = "${mysqlTestServer.host}", port = ${mysqlTestServer.port}, user = "${database.config.user}", password = "${database.config.password}", database = "${database.config.database}" }
        tenants = [{
          name = "${TENANT}"
          objectStore.aws { region = "${s3TestRegion}", bucket = "${seeded.bucket}", endpointOverride = "${s3TestEndpoint}" }
          envLogsRetentionDays = [{ envs = ["prod"], retentionDays = 30 }]
          defaultLogsRetentionDays = 3
          kafka.kafkaBrokersHost = "127.0.0.1:1"
          spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkMasterRestPort = 1, sparkJarPath = "file:///app.jar" }
        }]
        loop { discoverySeconds = 86400, delaySampleSeconds = 86400, sparkPollSeconds = 86400 }`,
    });
    const d = daemon;
    // With MySQL the daemon acts for a tenant once it holds the tenant's lease.
    await waitFor('the daemon to hold the tenant lease', 60_000, () => d.logLines().some((l) => l.event === 'lease.acquired'), 100);
    // The loop's first tick (within 15 s of the start) syncs once, unmeasured; then the table is emptied again.
    progress(NAME, "waiting for the loop's first discovery tick to sync ...");
    await waitFor("the first tick's sync", 300_000, () => d.logLines().some((l) => l.event === 'discovery.synced'), 200);
    await clearRows(database.config.database, TENANT);
    const rssBeforeSync = memoryOf(d.pid).rss;

    const sync = async (): Promise<SyncMeasure> => {
      const seen = d.logLines().filter((l) => l.event === 'discovery.synced').length;
      const stopRecording = await database.recordStatements();
      let rssMax = 0;
      const sampler = setInterval(() => (rssMax = Math.max(rssMax, memoryOf(d.pid).rss)), 20);
      const cpu = cpuMsOf(d.pid);
      const start = performance.now();
      const res = await fetch(`${d.base}/api/v1/component/sync?componentType=application`, { method: 'POST', headers: { 'X-Tenant-Name': TENANT } });
      const body = (await res.json()) as { data?: { onboarded: number; removed: number }; error?: unknown };
      const wallMs = performance.now() - start;
      clearInterval(sampler);
      const cpuMs = cpuMsOf(d.pid) - cpu;
      rssMax = Math.max(rssMax, memoryOf(d.pid).rss);
      if (res.status !== 200 || !body.data) throw new Error(`sync answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
      const synced = await waitFor('the discovery.synced log line', 10_000, () => d.logLines().filter((l) => l.event === 'discovery.synced')[seen]);
      const statements = classify(await stopRecording());
      // A sync that began before the request (a tick's) would be joined: its wall would be a part of it.
      if (Number(synced.durationMs) > wallMs + 100) {
        throw new Error(`the request joined a sync already running (the daemon's ${synced.durationMs} ms > the request's ${Math.round(wallMs)} ms)`);
      }
      return {
        wallMs,
        cpuMs,
        rssMaxBytes: rssMax,
        onboarded: body.data.onboarded,
        removed: body.data.removed,
        present: Number(synced.present),
        listCalls: Number(synced.listCalls),
        retries: Number(synced.retries),
        durationMs: Number(synced.durationMs),
        statements,
      };
    };

    // rclone walks the tree right before the sync and right after it (the daemon idle), so that
    // the ratio is taken against the machine as it was around the sync, not a minute later.
    const rcloneBefore = await listWithRclone(seeded.bucket, expected);
    progress(NAME, 'sync 1 (empty database) ...');
    const first = await sync();
    progress(
      NAME,
      `sync 1: ${(first.wallMs / 1000).toFixed(2)} s, daemon CPU ${(first.cpuMs / 1000).toFixed(2)} s, ${first.listCalls} list calls, ${first.onboarded} onboarded, RSS max ${(first.rssMaxBytes / MB).toFixed(0)} MB`,
    );
    const rcloneAfter = await listWithRclone(seeded.bucket, expected);
    const rcloneWallMs = (rcloneBefore.wallMs + rcloneAfter.wallMs) / 2;
    const rows = await countRows(database.config.database, TENANT);
    progress(NAME, 're-sync (unchanged bucket) ...');
    const second = await sync();
    const re = second.statements;
    progress(
      NAME,
      `re-sync: ${(second.wallMs / 1000).toFixed(2)} s, ${re.inserts} INSERTs, ${re.deletes} DELETEs, ${re.touches} lastCheckedAt UPDATEs on service_details`,
    );
    const peakRss = memoryOf(d.pid).hwm;
    const exitCode = await d.stop();
    if (exitCode !== 0) throw new Error(`the daemon exited with ${exitCode} on SIGTERM`);

    progress(NAME, 'counting the minimum of ListObjectsV2 calls with the SDK ...');
    const minimum = await countMinimumListCalls(seeded.bucket, ROOT, LEVELS);
    const analytic =
      Math.ceil(layout.envs / 1000) + layout.envs * Math.ceil(layout.services / 1000) + layout.envs * layout.services * Math.ceil(layout.components / 1000);

    const targets: TargetFigure[] = [
      { name: 'discovery.sync.wall', value: round(first.wallMs / 1000, 2), unit: 's', op: '<=', limit: 20, kind: 'timing' },
      {
        name: 'discovery.wallVsRclone',
        value: round(first.wallMs / rcloneWallMs, 2),
        unit: '×',
        op: '<=',
        limit: 1,
        limitNote: 'sync wall / rclone lsf wall (mean of one right before and one right after), same tree',
        kind: 'timing',
      },
      { name: 'discovery.sync.peak_rss', value: round(peakRss / MB, 1), unit: 'MB', op: '<=', limit: 150, limitNote: 'VmHWM of the daemon', kind: 'timing' },
      {
        name: 'discovery.sync.list_calls',
        value: first.listCalls,
        unit: 'calls',
        op: '=',
        limit: minimum.pages,
        limitNote: 'minimum, pages counted with the SDK',
        kind: 'deterministic',
      },
      { name: 'discovery.sync.rows', value: rows, unit: 'rows', op: '=', limit: expected, limitNote: 'one per partition', kind: 'deterministic' },
      { name: 'discovery.resync.wall', value: round(second.wallMs / 1000, 2), unit: 's', op: '<=', limit: 20, kind: 'timing' },
      { name: 'discovery.resync.inserts', value: re.inserts, unit: 'statements', op: '=', limit: 0, limitNote: 'MariaDB query log', kind: 'deterministic' },
      { name: 'discovery.resync.deletes', value: re.deletes, unit: 'statements', op: '=', limit: 0, limitNote: 'MariaDB query log', kind: 'deterministic' },
      {
        name: 'discovery.resync.updates',
        value: re.touches + re.otherWrites,
        unit: 'statements',
        op: '<=',
        limit: Math.ceil(rows / 1000),
        limitNote: 'ceil(rows / 1,000), MariaDB query log',
        kind: 'deterministic',
      },
    ];
    const ms = (v: number) => round(v, 1);
    return {
      name: NAME,
      quick,
      scale: describeLayout(layout),
      targets,
      figures: {
        'sync.wall_ms': ms(first.wallMs),
        'sync.daemon_duration_ms': ms(first.durationMs),
        'sync.daemon_cpu_ms': ms(first.cpuMs),
        'sync.list_calls': first.listCalls,
        'sync.list_retries': first.retries,
        'sync.list_calls_per_s': round(first.listCalls / (first.wallMs / 1000), 0),
        'sync.onboarded': first.onboarded,
        'sync.insert_statements': first.statements.inserts,
        'sync.select_statements': first.statements.selects,
        'sync.all_statements': first.statements.all,
        'sync.rss_max_mb': round(first.rssMaxBytes / MB, 1),
        'resync.wall_ms': ms(second.wallMs),
        'resync.daemon_cpu_ms': ms(second.cpuMs),
        'resync.list_calls': second.listCalls,
        'resync.onboarded': second.onboarded,
        'resync.removed': second.removed,
        'resync.present': second.present,
        'resync.touch_updates': re.touches,
        'resync.all_statements': re.all,
        'resync.select_statements': re.selects,
        'resync.rss_max_mb': round(second.rssMaxBytes / MB, 1),
        'min_list_calls.sdk': minimum.pages,
        'min_list_calls.analytic': analytic,
        'partitions.sdk': minimum.partitions,
        'rss.before_sync_mb': round(rssBeforeSync / MB, 1),
        'rss.peak_mb': round(peakRss / MB, 1),
        'seed.ms': ms(seeded.seedMs),
        'rclone.wall_ms': ms(rcloneWallMs),
        'rclone.before_sync.wall_ms': ms(rcloneBefore.wallMs),
        'rclone.after_sync.wall_ms': ms(rcloneAfter.wallMs),
        'rclone.cpu_ms': ms((rcloneBefore.cpuMs + rcloneAfter.cpuMs) / 2),
        'rclone.max_rss_mb': round(Math.max(rcloneBefore.maxRssBytes, rcloneAfter.maxRssBytes) / MB, 1),
        'rclone.folders': rcloneAfter.folders,
        'rclone.cpu_per_list_call_ms': round((rcloneBefore.cpuMs + rcloneAfter.cpuMs) / 2 / minimum.pages, 3),
        'sync.daemon_cpu_per_list_call_ms': round(first.cpuMs / first.listCalls, 3),
      },
      info: {
        bucket: seeded.bucket,
        bucketReused: seeded.reused,
        bucketKept: !clean,
        node: process.version,
        rclone: rcloneVersion,
        daemonNodeArgs,
        cpus: os.cpus().length,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)),
        sync1Statements: first.statements,
        resyncStatements: second.statements,
      },
    };
  } finally {
    await daemon?.stop();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
    if (clean) {
      await removeBucket(NAME, seeded.bucket);
    } else {
      progress(NAME, `keeping bucket ${seeded.bucket} for the next run (--clean deletes it)`);
    }
  }
}

/** Deletes the tenant's rows (after the loop's first, unmeasured sync), so that the measured first sync onboards every partition. */
async function clearRows(databaseName: string, tenant: string): Promise<void> {
  const admin = knexFactory({ client: 'mysql2', connection: { ...mysqlTestServer, database: databaseName }, pool: { min: 0, max: 1 } });
  try {
    await admin.raw('DELETE FROM service_details WHERE tenant = ?', [tenant]);
  } finally {
    await admin.destroy();
  }
}

/** rclone's walk of the same tree on the same server, with the test server's keys; it must find every partition. */
async function listWithRclone(bucket: string, partitions: number): Promise<RcloneListing> {
  progress(NAME, `rclone lsf --dirs-only -R --max-depth ${LEVELS} --checkers ${RCLONE_CHECKERS} ...`);
  const listing = await rcloneListing({
    endpoint: s3TestEndpoint,
    region: s3TestRegion,
    accessKeyId: s3TestAccessKeyId,
    secretAccessKey: s3TestSecretAccessKey,
    bucket,
    root: ROOT,
    depth: LEVELS,
    checkers: RCLONE_CHECKERS,
  });
  progress(
    NAME,
    `rclone: ${(listing.wallMs / 1000).toFixed(2)} s, CPU ${(listing.cpuMs / 1000).toFixed(2)} s, max RSS ${(listing.maxRssBytes / MB).toFixed(0)} MB, ${listing.deepest} partitions`,
  );
  if (listing.deepest !== partitions) throw new Error(`rclone listed ${listing.deepest} partition folders, not ${partitions}`);
  return listing;
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
