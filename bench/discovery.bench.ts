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
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import knexFactory from 'knex';
import { mysqlTestServer } from '../test/support/databases.js';
import { assertS3TestServerUp, s3TestAccessKeyId, s3TestEndpoint, s3TestRegion, s3TestSecretAccessKey } from '../test/support/s3.js';
import { partitionKey } from '../test/support/stores.js';
import { buildDaemon, cpuMsOf, freePort, memoryOf, startDaemon, waitFor, type Daemon } from './daemon.js';
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

/** The daemon's statements on service_details during one sync, read from the server's query log. */
interface ServiceStatements {
  inserts: number;
  deletes: number;
  /** UPDATEs of lastCheckedAt (the re-sync's touch of the rows still present). */
  touches: number;
  otherWrites: number;
  selects: number;
  /** Every statement of the daemon's user (lease renewals included). */
  all: number;
}

function classify(statements: readonly string[]): ServiceStatements {
  const out: ServiceStatements = { inserts: 0, deletes: 0, touches: 0, otherWrites: 0, selects: 0, all: statements.length };
  for (const sql of statements) {
    if (!/\bservice_details\b/i.test(sql)) continue;
    const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase();
    if (verb === 'insert' || verb === 'replace') out.inserts += 1;
    else if (verb === 'delete') out.deletes += 1;
    else if (verb === 'update') /lastCheckedAt/i.test(sql) ? (out.touches += 1) : (out.otherWrites += 1);
    else if (verb === 'select') out.selects += 1;
  }
  return out;
}

/**
 * A fresh database and a MariaDB user of its own for the daemon, so that the server's query log
 * tells the daemon's statements apart from everybody else's.
 */
async function daemonDatabase(): Promise<{
  config: { database: string; user: string; password: string };
  recordStatements(): Promise<() => Promise<string[]>>;
  drop(): Promise<void>;
}> {
  const name = `lw_bench_discovery_${process.pid}_${Date.now().toString(36)}`;
  const user = `lwbench${process.pid}`;
  const password = randomBytes(12).toString('hex');
  const admin = knexFactory({ client: 'mysql2', connection: { ...mysqlTestServer, connectTimeout: 3000 }, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  for (const host of ['%', 'localhost']) {
    await admin.raw(`CREATE OR REPLACE USER ?@? IDENTIFIED BY ?`, [user, host, password]);
    await admin.raw(`GRANT ALL ON \`${name}\`.* TO ?@?`, [user, host]);
  }
  /**
   * The daemon's statements while recording, from the server's general query log (table
   * output, read for this user only); the log settings are put back afterwards.
   */
  const recordStatements = async () => {
    const [vars] = (await admin.raw('SELECT @@GLOBAL.general_log g, @@GLOBAL.log_output o')) as [{ g: number; o: string }[]];
    const before = vars[0]!;
    const since = new Date(Date.now() - 1000);
    await admin.raw("SET GLOBAL log_output = 'TABLE,FILE'");
    await admin.raw('SET GLOBAL general_log = 1');
    return async () => {
      await admin.raw(`SET GLOBAL general_log = ${Number(before.g)}`);
      await admin.raw('SET GLOBAL log_output = ?', [before.o]);
      const [rows] = (await admin.raw(
        "SELECT CONVERT(argument USING utf8mb4) a FROM mysql.general_log WHERE user_host LIKE ? AND command_type = 'Query' AND event_time >= ?",
        [`${user}[%`, since],
      )) as [{ a: string }[]];
      if (!Number(before.g)) await admin.raw('TRUNCATE TABLE mysql.general_log');
      return rows.map((r) => r.a);
    };
  };
  return {
    config: { database: name, user, password },
    recordStatements,
    drop: async () => {
      await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      for (const host of ['%', 'localhost']) await admin.raw('DROP USER IF EXISTS ?@?', [user, host]);
      await admin.destroy();
    },
  };
}

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

    progress(NAME, 'sync 1 (empty database) ...');
    const first = await sync();
    progress(
      NAME,
      `sync 1: ${(first.wallMs / 1000).toFixed(2)} s, daemon CPU ${(first.cpuMs / 1000).toFixed(2)} s, ${first.listCalls} list calls, ${first.onboarded} onboarded, RSS max ${(first.rssMaxBytes / MB).toFixed(0)} MB`,
    );
    const rows = await countRows(database.config.database);
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
    const minimum = await countMinimumListCalls(seeded.bucket, 'logs/', 3);
    const analytic =
      Math.ceil(layout.envs / 1000) + layout.envs * Math.ceil(layout.services / 1000) + layout.envs * layout.services * Math.ceil(layout.components / 1000);

    const targets: TargetFigure[] = [
      { name: 'discovery.sync.wall', value: round(first.wallMs / 1000, 2), unit: 's', op: '<=', limit: 20, kind: 'timing' },
      { name: 'discovery.sync.peak_rss', value: round(peakRss / MB, 1), unit: 'MB', op: '<=', limit: 250, limitNote: 'VmHWM of the daemon', kind: 'timing' },
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
      },
      info: {
        bucket: seeded.bucket,
        bucketReused: seeded.reused,
        bucketKept: !clean,
        node: process.version,
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

/** Rows in service_details, read by root (not counted against the daemon's user). */
async function countRows(databaseName: string): Promise<number> {
  const admin = knexFactory({ client: 'mysql2', connection: { ...mysqlTestServer, database: databaseName }, pool: { min: 0, max: 1 } });
  try {
    const [rows] = (await admin.raw('SELECT COUNT(*) n FROM service_details WHERE tenant = ?', [TENANT])) as [{ n: number }[]];
    return Number(rows[0]!.n);
  } finally {
    await admin.destroy();
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
