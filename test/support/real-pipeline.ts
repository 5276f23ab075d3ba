/**
 * Helpers for the end-to-end tests on the real Spark cluster, Kafka broker and Ceph RGW
 * (test/real-spark/replay.test.ts, pipeline.test.ts):
 *
 *  - `startRealOrchestrator`: the daemon in-process with every stream (or none), its loop
 *    intervals chosen by the test (discovery and delay too), SQLite in a temp dir;
 *  - `sampleAlive`: reads the master's `/json/` every few ms in the background and records the
 *    most drivers of a main class it ever saw alive at once, and when each was last seen alive;
 *  - `watchWorkerProcesses`: the driver and executor JVMs a worker runs (processes whose working
 *    directory is under the worker's work dir): their peak RSS, and when each was last running;
 *  - `listObjects`: every object under a prefix with its time (Ceph, through the test client);
 *  - `produceLines`: log lines into Kafka topics with `@platformatic/kafka`;
 *  - `startPrivateKafka` (private-services.ts, re-exported): a broker of the test's own that the
 *    test may pause (SIGSTOP), resume and stop; never the shared one;
 *  - `waitClusterFree`: waits until a worker has all its cores free (the shared cluster fits one
 *    SparkSession driver and its executor only).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { sleep } from '../../src/common/sleep.js';
import type { DatabaseConfig } from '../../src/config/schema.js';
import type { TenantStreamsFactory } from '../../streams/ports.js';
import { tenantStreams } from '../../streams/tenant-streams.js';
import type { LoopSettings } from './daemon-config.js';
import { startDaemon, type Daemon } from './daemon.js';
import type { RealMaster } from './real-spark.js';

export { startPrivateKafka, type PrivateKafka } from './private-services.js';

// ---------------------------------------------------------------- the daemon in-process

export interface RealOrchestratorOptions {
  tenants: string[];
  /** Default: a poll every 0.5 s, 30 s of submit grace, backoff 0.5 to 2 s, no discovery or delay sample. */
  loop?: Partial<LoopSettings>;
  /** Default: every stream of the daemon (`tenantStreams`). */
  streams?: TenantStreamsFactory;
  database?: DatabaseConfig;
}

export type RealOrchestrator = Daemon;

export function startRealOrchestrator(opts: RealOrchestratorOptions): Promise<RealOrchestrator> {
  const loop = opts.loop ?? {};
  // (First ticks fall within min(interval, 15 s) of the start.)
  return startDaemon({
    tenants: opts.tenants,
    loop: {
      ...loop,
      sparkPollSeconds: loop.sparkPollSeconds ?? 0.5,
      submitGraceSeconds: loop.submitGraceSeconds ?? 30,
      backoff: loop.backoff ?? { minSeconds: 0.5, maxSeconds: 2 },
    },
    streams: opts.streams ?? tenantStreams,
    ...(opts.database ? { database: opts.database } : {}),
  });
}

// ---------------------------------------------------------------- watching the master

export interface AliveSampler {
  /** The most drivers of the class seen alive (SUBMITTED or RUNNING) in one read. */
  readonly maxAlive: number;
  /** Reads that listed more than one alive driver of the class: `time ids`. */
  readonly overlaps: string[];
  readonly samples: number;
  readonly errors: number;
  /** When (the send time of the read, epoch ms) each driver was last seen in `activedrivers`. */
  lastSeenActive(id: string): number | undefined;
  stop(): Promise<void>;
}

/** Reads `/json/` every `intervalMs` until stopped; drivers in `ignore` are not counted. */
export function sampleAlive(master: RealMaster, mainClass: string, opts: { intervalMs?: number; ignore?: ReadonlySet<string> } = {}): AliveSampler {
  const intervalMs = opts.intervalMs ?? 50;
  const ignore = opts.ignore ?? new Set<string>();
  let stopped = false;
  let maxAlive = 0;
  let samples = 0;
  let errors = 0;
  const overlaps: string[] = [];
  const lastActive = new Map<string, number>();
  const done = (async () => {
    while (!stopped) {
      const sent = Date.now();
      try {
        const s = await master.state();
        samples += 1;
        const active = s.activedrivers.filter((d) => d.mainclass === mainClass && !ignore.has(d.id));
        for (const d of active) lastActive.set(d.id, sent);
        const alive = active.filter((d) => d.state === 'SUBMITTED' || d.state === 'RUNNING');
        if (alive.length > maxAlive) maxAlive = alive.length;
        if (alive.length > 1) overlaps.push(`${new Date(sent).toISOString()} ${alive.map((d) => `${d.id}:${d.state}`).join(' ')}`);
      } catch {
        errors += 1;
      }
      await sleep(intervalMs);
    }
  })();
  return {
    get maxAlive() {
      return maxAlive;
    },
    overlaps,
    get samples() {
      return samples;
    },
    get errors() {
      return errors;
    },
    lastSeenActive: (id) => lastActive.get(id),
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** Waits until the master's workers have all their cores free (no driver or executor of anyone runs). */
export async function waitClusterFree(master: RealMaster, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const s = (await master.state()) as unknown as {
      cores: number;
      coresused: number;
      activedrivers: { id: string; mainclass: string; state: string }[];
      activeapps: { id: string; name: string }[];
    };
    if (s.coresused === 0) return;
    last = `${s.coresused} of ${s.cores} cores used; drivers ${s.activedrivers.map((d) => `${d.id} ${d.mainclass} ${d.state}`).join(', ') || 'none'}; apps ${s.activeapps.map((a) => `${a.id} ${a.name}`).join(', ') || 'none'}`;
    if (Date.now() > deadline)
      throw new Error(
        `the Spark cluster at ${master.host}:${master.uiPort} is busy after ${timeoutMs} ms (${last}); a SparkSession job needs both of its worker's cores`,
      );
    await sleep(1_000);
  }
}

// ---------------------------------------------------------------- the worker's JVMs

export interface WorkerProcesses {
  /** The largest sum of the RSS (MB) of the driver and executor JVMs seen at once, and what made it. */
  peak(): { mb: number; detail: string };
  /**
   * When (epoch ms, the scan's start) a JVM working in `<workDir>/<dir>` was last seen running:
   * `<driverId>` for a driver, `<appId>` for its executors; undefined if never seen.
   */
  lastSeen(dir: string): number | undefined;
  /** Every `<workDir>/<dir>` a JVM was seen in, with when it was last seen. */
  seen(): Map<string, number>;
  stop(): Promise<void>;
}

/**
 * Every `intervalMs`, the Java processes whose working directory is under `workDir` (the worker
 * runs a driver in `<workDir>/<driverId>/`, an executor in `<workDir>/<appId>/<n>/`): their summed
 * VmRSS (what `ps` shows as RSS) and when each was last seen.
 */
export function watchWorkerProcesses(workDir: string, intervalMs = 100): WorkerProcesses {
  let stopped = false;
  let peak = { mb: 0, detail: 'none seen' };
  const seen = new Map<string, number>();
  const root = workDir.replace(/\/+$/, '') + '/';
  const done = (async () => {
    while (!stopped) {
      const at = Date.now();
      const found: { pid: string; ppid: string; kind: string; dir: string; mb: number }[] = [];
      for (const name of safeReaddir('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        try {
          const cwd = readlinkSync(`/proc/${name}/cwd`);
          if (!cwd.startsWith(root)) continue;
          const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
          const kind = cmd.includes('CoarseGrainedExecutorBackend') ? 'executor' : cmd.includes('DriverWrapper') ? 'driver' : null;
          if (!kind) continue;
          const status = readFileSync(`/proc/${name}/status`, 'utf8');
          if (/^State:\s+Z/m.test(status)) continue;
          const rss = /VmRSS:\s+(\d+) kB/.exec(status);
          const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1] ?? '';
          found.push({ pid: name, ppid, kind, dir: cwd.slice(root.length).split('/')[0]!, mb: rss ? Number(rss[1]) / 1024 : 0 });
        } catch {
          // gone meanwhile, or not ours to read
        }
      }
      // A JVM's short-lived child (Hadoop runs `id`/`groups`) shows its parent's command line
      // and memory until it execs: not a JVM of its own.
      const pids = new Set(found.map((f) => f.pid));
      const jvms = found.filter((f) => !pids.has(f.ppid));
      for (const f of found) seen.set(f.dir, at);
      const total = jvms.reduce((sum, f) => sum + f.mb, 0);
      const parts = jvms.map((f) => `${f.kind} ${f.dir} ${Math.round(f.mb)} MB`);
      if (total > peak.mb) peak = { mb: Math.round(total), detail: parts.join(' + ') };
      await sleep(intervalMs);
    }
  })();
  return {
    peak: () => peak,
    lastSeen: (dir) => seen.get(dir),
    seen: () => new Map(seen),
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------- S3

export interface ObjectInfo {
  key: string;
  lastModified: number;
  size: number;
}

/** Every object under `prefix` (all pages), sorted by key. */
export async function listObjects(client: S3Client, bucket: string, prefix = ''): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, lastModified: o.LastModified?.getTime() ?? 0, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

// ---------------------------------------------------------------- Kafka

export interface LogLine {
  topic: string;
  env: string;
  service: string;
  component: string;
  message: string;
  /** Epoch ms of the record (Kafka CreateTime); default now. */
  timestamp?: number;
}

/** Sends the lines as JSON records (`{"env","service_name","component_name","message"}`), topics created on first use. */
export async function produceLines(bootstrap: string, lines: readonly LogLine[]): Promise<void> {
  const producer = new Producer({
    clientId: 'logwise-real-pipeline-test',
    bootstrapBrokers: [bootstrap],
    serializers: stringSerializers,
    autocreateTopics: true,
    retries: 5,
  });
  try {
    await producer.send({
      messages: lines.map((l) => ({
        topic: l.topic,
        value: JSON.stringify({ env: l.env, service_name: l.service, component_name: l.component, message: l.message }),
        ...(l.timestamp !== undefined ? { timestamp: BigInt(l.timestamp) } : {}),
      })),
    });
  } finally {
    await producer.close();
  }
}
