/**
 * Private instances of the test services, which a test may pause (SIGSTOP), kill and start
 * again; never the shared ones `bash test/services.sh up` starts (each refuses their ports):
 *
 *  - `startPrivateCeph`: a one-host Ceph cluster of its own through `test/services.sh ceph-up`
 *    with other ports and data dir (never the shared RGW on 7480). `killRgw` SIGKILLs radosgw;
 *    `restartRgw` starts it again on the running monitor and OSD (`services.sh rgw-restart`), so
 *    the buckets, which live in the OSD's memory, survive.
 *  - `startPrivateMariaDb`: a `mariadbd` of its own (own datadir, port, socket; run as user
 *    mysql), started, SIGKILLed and restarted on the same datadir (InnoDB crash recovery).
 *  - `startPrivateKafka`: a broker of its own (test/services/kafka.sh with other ports and
 *    directory), never the shared 19092 one.
 *
 * A missing binary or a service that does not come up throws, naming what is missing: a
 * fault test fails, it never skips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import mysql from 'mysql2/promise';
import { sleep } from '../../src/common/sleep.js';
import { killAndWait, pidFromFile, portInUse, ROOT, run, runScript, servicesDir, signalRunning, waitGone } from './processes.js';
import { s3TestAccessKeyId, s3TestRegion, s3TestSecretAccessKey } from './s3.js';

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
  const monPort = opts.monPort ?? Number(process.env.FAULTS_CEPH_MON_PORT ?? 26200);
  const dataDir = opts.dataDir ?? process.env.FAULTS_CEPH_DATA_DIR ?? servicesDir('ceph-faults');
  // Never the shared cluster: other tests and people use it.
  if (port === 7480 || monPort === 26100 || dataDir === servicesDir('ceph')) {
    throw new Error(
      `startPrivateCeph: port ${port}, monitor port ${monPort} and data dir ${dataDir} must differ from the shared cluster's (7480, 26100, .services/ceph)`,
    );
  }
  const env = {
    S3_TEST_PORT: String(port),
    CEPH_TEST_MON_PORT: String(monPort),
    CEPH_TEST_DATA_DIR: dataDir,
    S3_TEST_REGION: s3TestRegion,
    S3_TEST_ACCESS_KEY: s3TestAccessKeyId,
    S3_TEST_SECRET_KEY: s3TestSecretAccessKey,
  };
  const services = (cmd: string, timeoutMs = 180_000) => runScript([join(ROOT, 'test/services.sh'), cmd], env, timeoutMs);
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
  const rgwPid = () => pidFromFile(join(dataDir, 'run/rgw.a.pid'));
  const signal = (sig: NodeJS.Signals) => signalRunning(rgwPid, sig, `radosgw of ${dataDir}`);
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
  /** The rows of one query in `database`, on a connection of its own. */
  query<T>(database: string, sql: string, args?: unknown[]): Promise<T[]>;
  /** `SELECT 1` answers within `timeoutMs`. */
  answers(timeoutMs?: number): Promise<boolean>;
  createDatabase(name: string): Promise<void>;
  /** The daemon's HOCON `database` block on `database` here (as root). */
  hocon(database: string): string;
  /** Kills the server and removes its datadir. */
  destroy(): Promise<void>;
}

const MARIADBD = '/usr/sbin/mariadbd';

/**
 * A MariaDB server of its own on `port` (default 3316), datadir in `.services/<name>` (default
 * `mariadb-faults`; created fresh by `mariadb-install-db`; root@127.0.0.1 without a password). A
 * server left running on that datadir by an earlier run is killed first.
 */
export async function startPrivateMariaDb(opts: { port?: number; name?: string } = {}): Promise<PrivateMariaDb> {
  const port = opts.port ?? Number(process.env.FAULTS_MARIADB_PORT ?? 3316);
  const dir = opts.name !== undefined ? servicesDir(opts.name) : (process.env.FAULTS_MARIADB_DIR ?? servicesDir('mariadb-faults'));
  if (port === 3306) throw new Error('startPrivateMariaDb: port 3306 is the shared MariaDB; pick another');
  for (const bin of [MARIADBD, '/usr/bin/mariadb-install-db']) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: install mariadb-server (\`bash test/services.sh up\` does)`);
  }
  const datadir = join(dir, 'data');
  const pidFile = join(dir, 'mysqld.pid');
  // A server of an earlier run on this datadir (its command line names it) goes first.
  try {
    const old = pidFromFile(pidFile);
    if (old !== undefined && readFileSync(`/proc/${old}/cmdline`, 'utf8').includes(`--datadir=${datadir}`))
      await killAndWait(old, 'an earlier private mariadbd');
  } catch {
    // the process is gone
  }
  if (await portInUse(port)) throw new Error(`port 127.0.0.1:${port} is taken; set FAULTS_MARIADB_PORT to a free port for the private MariaDB`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await run('chown', ['mysql:mysql', dir], { timeoutMs: 10_000 });
  const common = ['--no-defaults', `--datadir=${datadir}`, '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=8M'];
  await run('mariadb-install-db', [...common, '--user=mysql', '--auth-root-authentication-method=normal', '--skip-test-db'], { timeoutMs: 120_000 });

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
  const pid = () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined);
  const server: PrivateMariaDb = {
    host: '127.0.0.1',
    port,
    dir,
    pid,
    async start() {
      if (pid() !== undefined) throw new Error('the private MariaDB is already running');
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
      signalRunning(pid, 'SIGKILL', 'the private MariaDB');
      await exited;
    },
    pause: () => void signalRunning(pid, 'SIGSTOP', 'the private MariaDB'),
    resume() {
      const p = pid();
      if (p !== undefined) process.kill(p, 'SIGCONT');
    },
    connect,
    async query<T>(database: string, sql: string, args: unknown[] = []) {
      const conn = await connect(database);
      try {
        const [rows] = await conn.query(sql, args);
        return rows as T[];
      } finally {
        await conn.end();
      }
    },
    answers,
    async createDatabase(name) {
      const conn = await connect();
      try {
        await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      } finally {
        await conn.end();
      }
    },
    hocon: (database) => `database { client = mysql, host = "127.0.0.1", port = ${port}, user = "root", password = "", database = "${database}", poolMax = 4 }`,
    async destroy() {
      const p = pid();
      if (p !== undefined) {
        process.kill(p, 'SIGCONT');
        process.kill(p, 'SIGKILL');
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

// ---------------------------------------------------------------- private Kafka

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
  const dir = servicesDir(`kafka-${opts.port}`);
  const env = { KAFKA_TEST_DIR: dir, KAFKA_TEST_PORT: String(opts.port), KAFKA_TEST_CONTROLLER_PORT: String(opts.controllerPort) };
  const kafkaSh = (cmd: 'up' | 'down') => runScript(['test/services/kafka.sh', cmd], env, 180_000);
  const pid = () => pidFromFile(join(dir, 'run', 'broker.pid'));
  const signal = (sig: NodeJS.Signals) => void signalRunning(pid, sig, `the private Kafka broker of ${dir}`);
  const k: PrivateKafka = {
    bootstrap: `127.0.0.1:${opts.port}`,
    port: opts.port,
    dir,
    pid,
    up: async () => {
      await kafkaSh('up');
    },
    down: async () => {
      const p = pid();
      if (p !== undefined) process.kill(p, 'SIGCONT'); // a paused broker cannot shut down
      await kafkaSh('down');
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
