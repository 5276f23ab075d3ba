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
 *  - `startPrivateKafka`: a broker of the test's own (test/services/kafka.sh with other ports and
 *    directory) that the test may pause (SIGSTOP), resume and stop; never the shared one;
 *  - `waitClusterFree`: waits until a worker has all its cores free (the shared cluster fits one
 *    SparkSession driver and its executor only).
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Producer, stringSerializers } from '@platformatic/kafka';
import type { DatabaseConfig } from '../../src/config/schema.js';
import type { TenantStreamsFactory } from '../../src/orchestrator.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import { tenantStreams } from '../../streams/tenant-streams.js';
import { ROOT, pidAlive } from './faults.js';
import { startTestOrchestrator, type TestOrchestrator } from './orchestrator.js';
import type { RealMaster } from './real-spark.js';
import { sleep } from './spark.js';

// ---------------------------------------------------------------- the daemon in-process

export interface RealOrchestratorOptions {
  tenants: string[];
  loop?: {
    sparkPollSeconds?: number;
    submitGraceSeconds?: number;
    discoverySeconds?: number;
    delaySampleSeconds?: number;
    backoff?: { minSeconds: number; maxSeconds: number };
  };
  /** Default: every stream of the daemon (`tenantStreams`). */
  streams?: TenantStreamsFactory;
  database?: DatabaseConfig;
}

export interface RealOrchestrator {
  t: TestOrchestrator;
  events: OrchestratorEvent[];
  eventsOf<K extends OrchestratorEvent['type']>(type: K, tenant?: string): Extract<OrchestratorEvent, { type: K }>[];
  get(path: string, tenant: string): Promise<{ status: number; body: Record<string, any> }>;
  post(path: string, body: unknown, tenant: string): Promise<{ status: number; body: Record<string, any> }>;
  stop(): Promise<void>;
}

export async function startRealOrchestrator(opts: RealOrchestratorOptions): Promise<RealOrchestrator> {
  const loop = opts.loop ?? {};
  const backoff = loop.backoff ?? { minSeconds: 0.5, maxSeconds: 2 };
  const t = await startTestOrchestrator(
    `tenants = [${opts.tenants.join(',\n')}]
     loop {
       sparkPollSeconds = ${loop.sparkPollSeconds ?? 0.5}
       submitGraceSeconds = ${loop.submitGraceSeconds ?? 30}
       discoverySeconds = ${loop.discoverySeconds ?? 3600}
       delaySampleSeconds = ${loop.delaySampleSeconds ?? 3600}
       backoff { minSeconds = ${backoff.minSeconds}, maxSeconds = ${backoff.maxSeconds} }
     }`,
    {
      streams: opts.streams ?? tenantStreams,
      ...(opts.database ? { config: (c) => ({ ...c, database: opts.database! }) } : {}),
    },
  );
  // (First ticks fall within min(interval, 15 s) of the start.)
  const events: OrchestratorEvent[] = [];
  const sub = t.orchestrator.supervisor.events$.subscribe((e) => events.push(e));
  const request = async (path: string, init: RequestInit, tenant: string) => {
    const headers = new Headers(init.headers);
    headers.set('X-Tenant-Name', tenant);
    const res = await t.orchestrator.app.request(path, { ...init, headers });
    const text = await res.text();
    let body: Record<string, any>;
    try {
      body = JSON.parse(text) as Record<string, any>;
    } catch {
      body = { text };
    }
    return { status: res.status, body };
  };
  return {
    t,
    events,
    eventsOf: (type, tenant) => events.filter((e) => e.type === type && (tenant === undefined || e.tenant === tenant)) as never,
    get: (path, tenant) => request(path, {}, tenant),
    post: (path, body, tenant) => request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }, tenant),
    stop: async () => {
      await t.stop();
      sub.unsubscribe();
    },
  };
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
    const s = (await master.state()) as unknown as { cores: number; coresused: number; activedrivers: { id: string; mainclass: string; state: string }[]; activeapps: { id: string; name: string }[] };
    if (s.coresused === 0) return;
    last = `${s.coresused} of ${s.cores} cores used; drivers ${s.activedrivers.map((d) => `${d.id} ${d.mainclass} ${d.state}`).join(', ') || 'none'}; apps ${s.activeapps.map((a) => `${a.id} ${a.name}`).join(', ') || 'none'}`;
    if (Date.now() > deadline) throw new Error(`the Spark cluster at ${master.host}:${master.uiPort} is busy after ${timeoutMs} ms (${last}); a SparkSession job needs both of its worker's cores`);
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

function runBash(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`bash ${args.join(' ')} failed: ${error.message.split('\n')[0]}\n${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

export interface PrivateKafka {
  bootstrap: string;
  port: number;
  dir: string;
  /** The broker JVM's pid (undefined while it is down). */
  pid(): number | undefined;
  up(): Promise<void>;
  /** `kafka.sh down`: SIGTERM (controlled shutdown), SIGKILL after 15 s. */
  down(): Promise<void>;
  /** SIGSTOP / SIGCONT the broker: its port still accepts connections, nothing answers. */
  pause(): void;
  resume(): void;
  /** Stops it and removes its directory (topics, logs). */
  destroy(): Promise<void>;
}

/** A Kafka broker of the test's own: `.services/kafka-<port>`, never the shared 19092 one. */
export async function startPrivateKafka(opts: { port: number; controllerPort: number }): Promise<PrivateKafka> {
  if (opts.port === 19092 || opts.controllerPort === 19093) throw new Error('startPrivateKafka: the shared broker uses 19092/19093; pick other ports');
  const dir = join(ROOT, '.services', `kafka-${opts.port}`);
  const env = { KAFKA_TEST_DIR: dir, KAFKA_TEST_PORT: String(opts.port), KAFKA_TEST_CONTROLLER_PORT: String(opts.controllerPort) };
  const pid = (): number | undefined => {
    try {
      const p = Number(readFileSync(join(dir, 'run', 'broker.pid'), 'utf8').trim());
      return Number.isInteger(p) && p > 0 && pidAlive(p) ? p : undefined;
    } catch {
      return undefined;
    }
  };
  const signal = (sig: NodeJS.Signals) => {
    const p = pid();
    if (p === undefined) throw new Error(`the private Kafka broker of ${dir} is not running`);
    process.kill(p, sig);
  };
  const k: PrivateKafka = {
    bootstrap: `127.0.0.1:${opts.port}`,
    port: opts.port,
    dir,
    pid,
    up: async () => {
      await runBash(['test/services/kafka.sh', 'up'], env);
    },
    down: async () => {
      const p = pid();
      if (p !== undefined) process.kill(p, 'SIGCONT'); // a paused broker cannot shut down
      await runBash(['test/services/kafka.sh', 'down'], env);
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    destroy: async () => {
      await k.down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await k.up();
  return k;
}
