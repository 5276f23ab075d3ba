/**
 * Private instances of the test services that fault tests may kill, and the daemon and the
 * Spark master simulator as separate processes (real processes, real sockets):
 *
 *  - `startPrivateCeph`: a one-host Ceph cluster of its own through `test/services.sh ceph-up`
 *    with other ports and data dir (never the shared RGW on 7480). `killRgw` SIGKILLs radosgw;
 *    `restartRgw` starts it again on the running monitor and OSD (`services.sh rgw-restart`), so
 *    the buckets, which live in the OSD's memory, survive.
 *  - `startPrivateMariaDb`: a `mariadbd` of its own (own datadir, port, socket; run as user
 *    mysql), started, SIGKILLed and restarted on the same datadir (InnoDB crash recovery).
 *  - `startSimulatorProcess`: `test/spark-sim/cli.ts` as its own process (JSON log lines).
 *  - `startDaemonProcess`: `node --import tsx src/main.ts --config <file>`, its JSON log lines
 *    (every loop event is one) parsed as they come.
 *
 * A missing binary or a service that does not come up throws, naming what is missing: a
 * fault test fails, it never skips.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import mysql from 'mysql2/promise';
import { s3TestAccessKeyId, s3TestRegion, s3TestSecretAccessKey } from './s3.js';
import { sleep } from './spark.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVICES_DIR = join(ROOT, '.services');

// ---------------------------------------------------------------- small process helpers

/** The process exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitGone(pid: number, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`${what} (pid ${pid}) is still running ${timeoutMs} ms after SIGKILL`);
    await sleep(10);
  }
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: ROOT, env, timeout: timeoutMs, maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${stderr}${stdout}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Something accepts TCP connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------- private Ceph RGW

export interface PrivateCeph {
  endpoint: string;
  port: number;
  dataDir: string;
  /** A client of this RGW (path-style, the test credentials). */
  client: S3Client;
  /** The HOCON `objectStore` block of a tenant on `bucket` here. */
  hocon(bucket: string): string;
  rgwPid(): number | undefined;
  /** SIGSTOP / SIGCONT radosgw (requests in flight stay unanswered while it is stopped). */
  pauseRgw(): void;
  resumeRgw(): void;
  /** SIGKILL radosgw and wait until it is gone (the monitor and the OSD keep running). */
  killRgw(): Promise<void>;
  /** Starts radosgw again on the same cluster; resolves when it answers a signed request. */
  restartRgw(): Promise<void>;
  /** A signed ListBuckets answers (within `timeoutMs`). */
  answers(timeoutMs?: number): Promise<boolean>;
  /** Stops the whole private cluster. */
  stop(): Promise<void>;
}

/**
 * A Ceph cluster of its own (monitor, OSD on memstore, radosgw) through `test/services.sh`,
 * on `port` (S3) and `monPort`, data in `.services/ceph-faults` (a cluster left running there
 * by an earlier run is reused when it answers, else rebuilt).
 */
export async function startPrivateCeph(opts: { port?: number; monPort?: number; dataDir?: string } = {}): Promise<PrivateCeph> {
  const port = opts.port ?? Number(process.env.FAULTS_S3_PORT ?? 7490);
  const monPort = opts.monPort ?? Number(process.env.FAULTS_CEPH_MON_PORT ?? 40200);
  const dataDir = opts.dataDir ?? process.env.FAULTS_CEPH_DATA_DIR ?? join(SERVICES_DIR, 'ceph-faults');
  // Never the shared cluster: other tests and people use it.
  if (port === 7480 || monPort === 40100 || dataDir === join(SERVICES_DIR, 'ceph')) {
    throw new Error(`startPrivateCeph: port ${port}, monitor port ${monPort} and data dir ${dataDir} must differ from the shared cluster's (7480, 40100, .services/ceph)`);
  }
  const env = {
    ...process.env,
    S3_TEST_PORT: String(port),
    CEPH_TEST_MON_PORT: String(monPort),
    CEPH_TEST_DATA_DIR: dataDir,
    S3_TEST_REGION: s3TestRegion,
    S3_TEST_ACCESS_KEY: s3TestAccessKeyId,
    S3_TEST_SECRET_KEY: s3TestSecretAccessKey,
  };
  const services = (cmd: string, timeoutMs = 180_000) => run('bash', [join(ROOT, 'test/services.sh'), cmd], env, timeoutMs);
  await services('ceph-up');
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: s3TestRegion,
    credentials: { accessKeyId: s3TestAccessKeyId, secretAccessKey: s3TestSecretAccessKey },
    forcePathStyle: true,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const rgwPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(join(dataDir, 'run/rgw.a.pid'), 'utf8').trim());
      return Number.isInteger(pid) && pidAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const signal = (sig: NodeJS.Signals) => {
    const pid = rgwPid();
    if (pid === undefined) throw new Error(`radosgw of ${dataDir} is not running`);
    process.kill(pid, sig);
    return pid;
  };
  return {
    endpoint,
    port,
    dataDir,
    client,
    hocon: (bucket) => `objectStore.aws { region = "${s3TestRegion}", bucket = "${bucket}", endpointOverride = "${endpoint}" }`,
    rgwPid,
    pauseRgw: () => void signal('SIGSTOP'),
    resumeRgw: () => void signal('SIGCONT'),
    async killRgw() {
      const pid = signal('SIGKILL');
      await waitGone(pid, 'radosgw');
    },
    async restartRgw() {
      await services('rgw-restart', 60_000);
    },
    async answers(timeoutMs = 1_000) {
      try {
        await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(timeoutMs) });
        return true;
      } catch {
        return false;
      }
    },
    async stop() {
      client.destroy();
      await services('ceph-down', 60_000);
    },
  };
}

// ---------------------------------------------------------------- private MariaDB

export interface PrivateMariaDb {
  host: string;
  port: number;
  dir: string;
  /** The running server's pid (undefined while it is down). */
  pid(): number | undefined;
  /** Starts the server on its datadir and waits until it answers over TCP. */
  start(): Promise<void>;
  /** SIGKILL: no shutdown, InnoDB recovers on the next start. */
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  /** A connection as root over TCP (the caller ends it). */
  connect(database?: string): Promise<mysql.Connection>;
  /** `SELECT 1` answers within `timeoutMs`. */
  answers(timeoutMs?: number): Promise<boolean>;
  createDatabase(name: string): Promise<void>;
  /** Kills the server and removes its datadir. */
  destroy(): Promise<void>;
}

const MARIADBD = '/usr/sbin/mariadbd';

/**
 * A MariaDB server of its own on `port` (default 3316), datadir in `.services/mariadb-faults`
 * (created fresh by `mariadb-install-db`; root@127.0.0.1 without a password). A server left
 * running on that datadir by an earlier run is killed first.
 */
export async function startPrivateMariaDb(opts: { port?: number; dir?: string } = {}): Promise<PrivateMariaDb> {
  const port = opts.port ?? Number(process.env.FAULTS_MARIADB_PORT ?? 3316);
  const dir = opts.dir ?? process.env.FAULTS_MARIADB_DIR ?? join(SERVICES_DIR, 'mariadb-faults');
  if (port === 3306) throw new Error('startPrivateMariaDb: port 3306 is the shared MariaDB; pick another');
  for (const bin of [MARIADBD, '/usr/bin/mariadb-install-db']) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: install mariadb-server (\`bash test/services.sh up\` does)`);
  }
  const datadir = join(dir, 'data');
  const pidFile = join(dir, 'mysqld.pid');
  // A server of an earlier run on this datadir (its command line names it) goes first.
  try {
    const old = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(old) && pidAlive(old) && readFileSync(`/proc/${old}/cmdline`, 'utf8').includes(`--datadir=${datadir}`)) {
      process.kill(old, 'SIGKILL');
      await waitGone(old, 'an earlier private mariadbd');
    }
  } catch {
    // no pid file, or the process is gone
  }
  if (await portInUse(port)) throw new Error(`port 127.0.0.1:${port} is taken; set FAULTS_MARIADB_PORT to a free port for the private MariaDB`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await run('chown', ['mysql:mysql', dir], process.env, 10_000);
  const common = ['--no-defaults', `--datadir=${datadir}`, '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=8M'];
  await run('mariadb-install-db', [...common, '--user=mysql', '--auth-root-authentication-method=normal', '--skip-test-db'], process.env, 120_000);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const connect = (database?: string) =>
    mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '', connectTimeout: 2_000, ...(database ? { database } : {}) });
  const answers = async (timeoutMs = 1_000): Promise<boolean> => {
    const attempt = (async () => {
      const conn = await connect();
      try {
        await conn.query('select 1');
        return true;
      } finally {
        conn.destroy();
      }
    })().catch(() => false);
    return Promise.race([attempt, sleep(timeoutMs).then(() => false)]);
  };
  const server: PrivateMariaDb = {
    host: '127.0.0.1',
    port,
    dir,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    async start() {
      if (server.pid() !== undefined) throw new Error('the private MariaDB is already running');
      const proc = spawn(
        MARIADBD,
        [
          ...common,
          '--user=mysql',
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          `--socket=${join(dir, 'mysqld.sock')}`,
          `--pid-file=${pidFile}`,
          `--log-error=${join(dir, 'error.log')}`,
          '--skip-log-bin',
          '--skip-name-resolve',
        ],
        { stdio: 'ignore' },
      );
      child = proc;
      exited = new Promise((resolve) => proc.once('exit', () => resolve()));
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`the private mariadbd exited during start-up (${proc.exitCode ?? proc.signalCode}):\n${tail(join(dir, 'error.log'))}`);
        }
        if (await answers(1_000)) return;
        if (Date.now() > deadline) throw new Error(`the private MariaDB does not answer on 127.0.0.1:${port} after 30 s:\n${tail(join(dir, 'error.log'))}`);
        await sleep(50);
      }
    },
    async kill() {
      const pid = server.pid();
      if (pid === undefined) throw new Error('the private MariaDB is not running');
      process.kill(pid, 'SIGKILL');
      await exited;
    },
    pause() {
      const pid = server.pid();
      if (pid === undefined) throw new Error('the private MariaDB is not running');
      process.kill(pid, 'SIGSTOP');
    },
    resume() {
      const pid = server.pid();
      if (pid !== undefined) process.kill(pid, 'SIGCONT');
    },
    connect,
    answers,
    async createDatabase(name) {
      const conn = await connect();
      try {
        await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      } finally {
        await conn.end();
      }
    },
    async destroy() {
      const pid = server.pid();
      if (pid !== undefined) {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

// ---------------------------------------------------------------- line-reading child processes

/** A child process whose stdout lines are JSON objects (other lines are kept as `{ text }`). */
abstract class JsonLineProcess<L extends Record<string, unknown>> {
  readonly lines: L[] = [];
  readonly stderr: string[] = [];
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private listeners = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let parsed: L;
      try {
        parsed = JSON.parse(line) as L;
      } catch {
        parsed = { text: line } as unknown as L;
      }
      this.lines.push(parsed);
      for (const l of [...this.listeners]) l();
    });
    createInterface({ input: proc.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exit.then(() => {
      for (const l of [...this.listeners]) l();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** The first line (from index `from`) matching `pred`; fails on timeout or when the process exits. */
  waitForLine(pred: (line: L) => boolean, what: string, timeoutMs = 15_000, from = 0): Promise<L> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.slice(from).find(pred);
        if (found) return finish(() => resolve(found));
        if (this.exited) return finish(() => reject(new Error(`${this.name} exited while waiting for ${what}\n${this.stderr.slice(-20).join('\n')}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
      const finish = (done: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        done();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** SIGKILL, and wait until the process has exited. */
  async kill(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGKILL');
    await this.exit;
  }
}

// ---------------------------------------------------------------- the simulator as a process

export interface SimLine extends Record<string, unknown> {
  event?: 'started' | 'request';
  time?: string;
  endpoint?: string;
  method?: string;
  path?: string;
  status?: number;
  held?: boolean;
  submissionId?: string | null;
  appArgs?: string[] | null;
  uiPort?: number;
  restPort?: number;
  text?: string;
}

export class SimulatorProcess extends JsonLineProcess<SimLine> {
  uiPort = 0;
  restPort = 0;
  startedAt = 0;

  get uiUrl(): string {
    return `http://127.0.0.1:${this.uiPort}`;
  }
  /** Requests it served (answered, dropped or held). */
  requests(endpoint?: string): SimLine[] {
    return this.lines.filter((l) => l.event === 'request' && (endpoint === undefined || l.endpoint === endpoint));
  }
  /** Creates that started a driver. */
  acceptedCreates(): SimLine[] {
    return this.requests('create').filter((l) => typeof l.submissionId === 'string');
  }
  /** The master's `/json/` document. */
  async state(): Promise<{ activedrivers: { id: string; state: string; mainclass: string }[]; completeddrivers: { id: string; state: string }[]; status: string }> {
    const res = await fetch(`${this.uiUrl}/json/`, { signal: AbortSignal.timeout(3_000) });
    return (await res.json()) as never;
  }
  async stop(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGTERM');
    await this.exit;
  }
}

/** `test/spark-sim/cli.ts --json-log` on the given ports (0: free ones), with extra flags. */
export async function startSimulatorProcess(opts: { uiPort?: number; restPort?: number; args?: string[] } = {}): Promise<SimulatorProcess> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/spark-sim/cli.ts', '--json-log', '--ui-port', String(opts.uiPort ?? 0), '--rest-port', String(opts.restPort ?? 0), ...(opts.args ?? [])],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const sim = new SimulatorProcess('the simulator process', proc);
  const started = await sim.waitForLine((l) => l.event === 'started', 'the simulator to listen', 30_000);
  sim.uiPort = started.uiPort!;
  sim.restPort = started.restPort!;
  sim.startedAt = Date.parse(started.time!);
  return sim;
}

// ---------------------------------------------------------------- the daemon as a process

export interface DaemonLine extends Record<string, unknown> {
  time: number;
  level: string;
  msg: string;
  event?: string;
  tenant?: string;
}

export interface HttpAnswer {
  status: number;
  body: Record<string, any>;
}

export class DaemonProcess extends JsonLineProcess<DaemonLine> {
  port = 0;

  /** The loop events it logged (one line each), optionally of one type. */
  events(type?: string): DaemonLine[] {
    return this.lines.filter((l) => typeof l.event === 'string' && (type === undefined || l.event === type));
  }

  /** The first event of `type` logged at or after `since` (epoch ms) that matches `pred`. */
  waitForEvent(type: string, what: string, opts: { since?: number; timeoutMs?: number; pred?: (l: DaemonLine) => boolean } = {}): Promise<DaemonLine> {
    const since = opts.since ?? 0;
    return this.waitForLine((l) => l.event === type && l.time >= since && (opts.pred?.(l) ?? true), what, opts.timeoutMs ?? 15_000);
  }

  async request(method: 'GET' | 'POST', path: string, opts: { tenant?: string; body?: unknown; timeoutMs?: number } = {}): Promise<HttpAnswer> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method,
      headers: { 'X-Tenant-Name': opts.tenant ?? 'ABC', ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let body: Record<string, any>;
    try {
      body = JSON.parse(text) as Record<string, any>;
    } catch {
      body = { text };
    }
    return { status: res.status, body };
  }

  /** SIGTERM; resolves with the exit code (SPEC §4.6: 0 within 10 s). */
  async stop(timeoutMs = 12_000): Promise<number | null> {
    if (this.exited) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    const { code } = await this.exit;
    clearTimeout(timer);
    return code;
  }
}

/**
 * The daemon as operators run it: `node --import tsx src/main.ts --config <dir>/daemon.conf`,
 * JSON logs at debug level (every loop event, every poll). Resolves once it listens.
 */
export async function startDaemonProcess(opts: { dir: string; config: string; env?: Record<string, string> }): Promise<DaemonProcess> {
  const configPath = join(opts.dir, 'daemon.conf');
  writeFileSync(configPath, opts.config);
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configPath], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'debug', LOG_FORMAT: 'json', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const daemon = new DaemonProcess('the daemon', proc);
  const listening = await daemon.waitForLine((l) => l.msg === 'orchestrator listening', 'the daemon to listen', 60_000);
  daemon.port = Number(listening.port);
  return daemon;
}

/**
 * Polls `probe` every `intervalMs` until it answers true; resolves with the time the successful
 * probe was sent (the earliest the dependency can be said to be back).
 */
export async function firstSuccess(probe: () => Promise<boolean>, what: string, timeoutMs = 30_000, intervalMs = 20): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sent = Date.now();
    if (await probe()) return sent;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
