/**
 * The real Spark standalone cluster and Kafka broker of the tests (test/services/spark.sh and
 * kafka.sh: jars from Maven Central, plain java, on loopback).
 *
 *  - `sharedSpark()` / `sharedKafka()`: the cluster and broker `npm test` starts
 *    (`bash test/services.sh up`); they throw, naming the command, when it does not answer.
 *  - `startPrivateSpark()`: a cluster of the test file's own (own ports, own directory), which
 *    the file may kill and restart: `killMaster`, `killWorker`, then `up()` again starts what is
 *    missing.
 *  - `realSparkTenant()`: a tenant's HOCON block for a cluster, with the flags a Java 17
 *    driver needs.
 *  - `RealMaster`: reads `/json/`, kills through REST, reads a driver's log in the worker's
 *    work directory (its `Launch Command:` line holds the real arguments).
 *
 * Nothing here skips: a cluster that is not there is an error.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../../src/common/sleep.js';
import { tenantHocon } from './daemon-config.js';
import { killAndWait, pidAlive, pidFromFile, runScript, servicesDir } from './processes.js';

export type ServiceEnv = Record<string, string>;

/** `KEY=value` lines (a value may be single-quoted) → a map. */
export function parseEnvLines(text: string): ServiceEnv {
  const out: ServiceEnv = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1);
    if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
    out[line.slice(0, eq)] = value;
  }
  return out;
}

// ---------------------------------------------------------------- the master

export interface MasterDriver {
  id: string;
  starttime: string;
  state: string;
  cores: number;
  memory: number;
  submitdate: string;
  worker: string;
  mainclass: string;
}

export interface MasterState {
  url: string;
  status: string;
  aliveworkers: number;
  activedrivers: MasterDriver[];
  completeddrivers: MasterDriver[];
  activeapps: { id: string; name: string; state: string }[];
}

export class RealMaster {
  constructor(readonly env: ServiceEnv) {}

  get host(): string {
    return this.env.SPARK_TEST_MASTER_HOST!;
  }
  get uiPort(): number {
    return Number(this.env.SPARK_TEST_UI_PORT);
  }
  get restPort(): number {
    return Number(this.env.SPARK_TEST_REST_PORT);
  }
  get port(): number {
    return Number(this.env.SPARK_TEST_PORT);
  }
  get jar(): string {
    return this.env.SPARK_TEST_JAR!;
  }
  get workDir(): string {
    return this.env.SPARK_TEST_WORK_DIR!;
  }

  async state(): Promise<MasterState> {
    const res = await fetch(`http://${this.host}:${this.uiPort}/json/`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`GET /json/ of the Spark master at ${this.host}:${this.uiPort} answered ${res.status}`);
    return (await res.json()) as MasterState;
  }

  /** Alive (SUBMITTED or RUNNING) drivers, optionally of one main class. */
  async alive(mainClass?: string): Promise<MasterDriver[]> {
    const s = await this.state();
    return s.activedrivers.filter((d) => (d.state === 'SUBMITTED' || d.state === 'RUNNING') && (mainClass === undefined || d.mainclass === mainClass));
  }

  /** Every driver the master knows (active and completed) of a main class, oldest first. */
  async drivers(mainClass?: string): Promise<MasterDriver[]> {
    const s = await this.state();
    return [...s.activedrivers, ...s.completeddrivers]
      .filter((d) => mainClass === undefined || d.mainclass === mainClass)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async rest(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Record<string, any>; text: string }> {
    const res = await fetch(`http://${this.host}:${this.restPort}${path}`, {
      method,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let parsed: Record<string, any> = {};
    try {
      parsed = JSON.parse(text) as Record<string, any>;
    } catch {
      // not JSON (Jetty's error page): keep the text
    }
    return { status: res.status, body: parsed, text };
  }

  kill(id: string) {
    return this.rest('POST', `/v1/submissions/kill/${id}`);
  }

  /** Kills every alive driver (of a main class) and waits until the master lists none. */
  async killAll(mainClass?: string, timeoutMs = 30_000): Promise<void> {
    for (const d of await this.alive(mainClass)) await this.kill(d.id);
    const deadline = Date.now() + timeoutMs;
    while ((await this.alive(mainClass)).length > 0) {
      if (Date.now() > deadline) throw new Error(`drivers of ${mainClass ?? 'any class'} still alive ${timeoutMs} ms after their kill`);
      await sleep(200);
    }
  }

  /** The driver's stderr in the worker's work dir (first line: `Launch Command: …`), or ''. */
  driverStderr(id: string): string {
    const file = join(this.workDir, id, 'stderr');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }
  driverStdout(id: string): string {
    const file = join(this.workDir, id, 'stdout');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }
  /** The arguments of the driver's JVM as the worker launched it. */
  launchCommand(id: string): string[] {
    const line =
      this.driverStderr(id)
        .split('\n')
        .find((l) => l.startsWith('Launch Command: ')) ?? '';
    return [...line.slice('Launch Command: '.length).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
  }
  /** Driver ids that have a work directory (were launched on the worker). */
  launchedDrivers(): string[] {
    return existsSync(this.workDir) ? readdirSync(this.workDir).filter((n) => n.startsWith('driver-')) : [];
  }
}

/** Waits until the master answers ALIVE with `workers` alive workers. */
export async function waitMasterReady(master: RealMaster, workers = 1, timeoutMs = 90_000): Promise<MasterState> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const s = await master.state();
      if (s.status === 'ALIVE' && s.aliveworkers === workers) return s;
      last = `status ${s.status}, ${s.aliveworkers} alive workers`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`the Spark master at ${master.host}:${master.uiPort} is not ready after ${timeoutMs} ms (${last})`);
    await sleep(250);
  }
}

// ---------------------------------------------------------------- shared services

const START_HINT = 'start it with `bash test/services.sh up` (npm test does this first)';

/** The cluster `npm test` started; throws when its master is not ALIVE with a worker. */
export async function sharedSpark(): Promise<RealMaster> {
  const master = new RealMaster(parseEnvLines(await runScript(['test/services.sh', 'spark-env'])));
  try {
    await waitMasterReady(master, 1, 5_000);
  } catch (err) {
    throw new Error(`the real Spark master of the tests does not answer: ${(err as Error).message}; ${START_HINT}`);
  }
  return master;
}

/** The broker `npm test` started: `KAFKA_TEST_BOOTSTRAP` and friends; throws when it does not listen. */
export async function sharedKafka(): Promise<ServiceEnv> {
  const env = parseEnvLines(await runScript(['test/services.sh', 'kafka-env']));
  const status = await runScript(['test/services.sh', 'kafka-status']);
  if (!status.includes('running')) throw new Error(`the Kafka broker of the tests is not running; ${START_HINT}`);
  return env;
}

// ---------------------------------------------------------------- private clusters

export interface PrivateSparkOptions {
  /** First of the ports this cluster uses: master base, ui base+1, rest base+2, worker ui base+3, standby base+4..6, ZooKeeper base+7. */
  basePort: number;
  /** `.services/<name>`; default `spark-<basePort>`. */
  name?: string;
  restEnabled?: boolean;
  ha?: boolean;
  workerMemory?: string;
  workerCores?: number;
}

export interface PrivateSpark {
  master: RealMaster;
  /** The second master (STANDBY) when `ha`. */
  standby?: RealMaster;
  /** The settings the scripts were run with (for `up` again). */
  scriptEnv: NodeJS.ProcessEnv;
  /** Starts what is not running (master, standby, worker) and waits for ALIVE with one worker. */
  up(): Promise<void>;
  /** SIGKILL the master (or the standby, or the worker) JVM; waits until it is gone. */
  killMaster(): Promise<void>;
  killStandby(): Promise<void>;
  killWorker(): Promise<void>;
  /** Stops the cluster (and every driver its worker runs). */
  down(): Promise<void>;
}

/**
 * The first port the kernel hands out to `listen(0)` and outgoing connections. A fixed port at
 * or above it can be taken by any process of the run (a test's server on port 0, a driver's RPC
 * port), so a cluster started there fails at random.
 */
function ephemeralPortFloor(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

export async function startPrivateSpark(opts: PrivateSparkOptions): Promise<PrivateSpark> {
  const b = opts.basePort;
  const floor = ephemeralPortFloor();
  if (b + 7 >= floor) throw new Error(`startPrivateSpark: ports ${b}–${b + 7} reach the ephemeral range (from ${floor}); pick a base port below ${floor - 7}`);
  const dir = servicesDir(opts.name ?? `spark-${b}`);
  const scriptEnv: NodeJS.ProcessEnv = {
    SPARK_TEST_DIR: dir,
    SPARK_TEST_PORT: String(b),
    SPARK_TEST_UI_PORT: String(b + 1),
    SPARK_TEST_REST_PORT: String(b + 2),
    SPARK_TEST_WORKER_UI_PORT: String(b + 3),
    SPARK_TEST_STANDBY_PORT: String(b + 4),
    SPARK_TEST_STANDBY_UI_PORT: String(b + 5),
    SPARK_TEST_STANDBY_REST_PORT: String(b + 6),
    SPARK_TEST_ZK_PORT: String(b + 7),
    SPARK_TEST_REST_ENABLED: opts.restEnabled === false ? 'false' : 'true',
    SPARK_TEST_HA: opts.ha ? '1' : '0',
    // the shared cluster owns the worker's external shuffle service port (7337)
    SPARK_TEST_SHUFFLE_SERVICE: 'false',
    SPARK_TEST_WORKER_MEMORY: opts.workerMemory ?? '3g',
    SPARK_TEST_WORKER_CORES: String(opts.workerCores ?? 2),
  };
  const up = async () => {
    await runScript(['test/services/spark.sh', 'up'], scriptEnv);
  };
  await up();
  const env = parseEnvLines(await runScript(['test/services/spark.sh', 'env'], scriptEnv));
  const master = new RealMaster(env);
  const standby = opts.ha
    ? new RealMaster({
        ...env,
        SPARK_TEST_PORT: env.SPARK_TEST_STANDBY_PORT!,
        SPARK_TEST_UI_PORT: env.SPARK_TEST_STANDBY_UI_PORT!,
        SPARK_TEST_REST_PORT: env.SPARK_TEST_STANDBY_REST_PORT!,
      })
    : undefined;
  const killJvm = async (name: string) => {
    const pid = pidFromFile(join(dir, 'run', `${name}.pid`));
    if (pid !== undefined) await killAndWait(pid, `the Spark ${name}`);
  };
  return {
    master,
    ...(standby ? { standby } : {}),
    scriptEnv,
    up,
    killMaster: () => killJvm('master'),
    killStandby: () => killJvm('standby'),
    killWorker: () => killJvm('worker'),
    down: async () => {
      await runScript(['test/services/spark.sh', 'down'], scriptEnv);
    },
  };
}

// ---------------------------------------------------------------- a tenant on a real master

export interface RealTenantOptions {
  name?: string;
  /** Default: SPARK_TEST_MAIN_CLASS (runs until killed, no SparkContext). */
  mainClass?: string;
  /** `spark.app.name`; FinishAfter/FailAfter read their seconds from its trailing number. */
  appName?: string;
  /** HOCON for objectStore (default a local store under `{{dir}}`). */
  store?: string;
  /** `kafkaBrokersHost` (default a host nothing listens on; the test drivers do not read Kafka). */
  kafkaBrokersHost?: string;
  driverMemory?: string;
  executorMemory?: string;
  /** Extra HOCON inside the tenant's `spark { }` block. */
  sparkExtra?: string;
  /** Extra HOCON inside the tenant block. */
  extra?: string;
}

/** One tenant's HOCON block on a real master (and, when `masters` has two, Spark HA). */
export function realSparkTenant(masters: RealMaster | RealMaster[], opts: RealTenantOptions = {}): string {
  const list = Array.isArray(masters) ? masters : [masters];
  const m = list[0]!;
  return tenantHocon({
    name: opts.name ?? 'ABC',
    store: opts.store ?? 'objectStore.local.path = "{{dir}}/store"',
    kafka: `kafka { kafkaBrokersHost = "${opts.kafkaBrokersHost ?? '127.0.0.1:1'}" }`,
    masters: list,
    jar: m.jar,
    mainClass: opts.mainClass ?? m.env.SPARK_TEST_MAIN_CLASS!,
    sparkExtra: `sparkMasterPort = ${m.port}
      appName = "${opts.appName ?? 'logwise-test'}"
      clientSparkVersion = "${m.env.SPARK_TEST_VERSION}"
      driverMemory = "${opts.driverMemory ?? '512m'}"
      driverCores = "1"
      driverCoresMax = "1"
      executorCores = "1"
      executorMemory = "${opts.executorMemory ?? '512m'}"
      driverExtraJavaOptions = "${m.env.SPARK_TEST_DRIVER_JAVA_OPTIONS}"
      ${opts.sparkExtra ?? ''}`,
    ...(opts.extra !== undefined ? { extra: opts.extra } : {}),
  });
}

// ---------------------------------------------------------------- keep-alive and fault tests

/** The driver JVMs (DriverWrapper processes) running from this cluster's work dir: driver id → pids. */
function driverJvms(master: RealMaster): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    if (!cmd.includes('org.apache.spark.deploy.worker.DriverWrapper') || !pidAlive(Number(pid))) continue;
    const at = cmd.indexOf(`${master.workDir}/driver-`);
    const id = at < 0 ? undefined : /^driver-[0-9-]+/.exec(cmd.slice(at + master.workDir.length + 1))?.[0];
    if (id) out.set(id, [...(out.get(id) ?? []), Number(pid)]);
  }
  return out;
}

/** Ids of the driver JVMs running from this cluster's work dir (the master may not know them). */
export function runningDriverJvms(master: RealMaster): string[] {
  return [...driverJvms(master).keys()].sort();
}

/**
 * SIGKILLs the driver JVMs still running from this cluster's work dir: `down()` stops the worker,
 * and a driver whose worker died without its WorkerWatcher noticing runs on as an orphan.
 */
export function killDriverJvms(master: RealMaster): string[] {
  const jvms = driverJvms(master);
  for (const pids of jvms.values()) {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
  }
  return [...jvms.keys()];
}

export interface AliveSample {
  at: number;
  /** The master's status, or null when `/json/` did not answer. */
  status: string | null;
  /** Alive (SUBMITTED or RUNNING) drivers of the main class, with their states. */
  alive: { id: string; state: string }[];
}

/** Reads `/json/` every `everyMs` and keeps what it saw of one main class's alive drivers. */
export class AliveSampler {
  readonly samples: AliveSample[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    readonly master: RealMaster,
    readonly mainClass: string,
    everyMs = 150,
  ) {
    this.done = (async () => {
      while (this.running) {
        const at = Date.now();
        try {
          const s = await master.state();
          const alive = s.activedrivers.filter((d) => d.mainclass === mainClass && (d.state === 'SUBMITTED' || d.state === 'RUNNING'));
          this.samples.push({ at, status: s.status, alive: alive.map((d) => ({ id: d.id, state: d.state })) });
        } catch {
          this.samples.push({ at, status: null, alive: [] });
        }
        await sleep(Math.max(0, everyMs - (Date.now() - at)));
      }
    })();
  }

  /** The most alive drivers of the class any answered read showed. */
  maxAlive(): number {
    return Math.max(0, ...this.samples.map((s) => s.alive.length));
  }

  /** When an answered read first showed `id` not alive after one had shown it alive. */
  goneAt(id: string): number | undefined {
    const seen = this.samples.findIndex((s) => s.alive.some((d) => d.id === id));
    if (seen < 0) return undefined;
    return this.samples.slice(seen).find((s) => s.status !== null && !s.alive.some((d) => d.id === id))?.at;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}
