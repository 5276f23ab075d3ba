import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CONFIG_LIMITS, ConfigError, configPathFrom, loadConfig, parseConfig } from '../../src/config/load.js';
import { createCrashLoopState, DEFAULT_CRASH_LOOP_PARAMS } from '../../streams/spark/crash-loop.js';
import { crashLoopParams } from '../../streams/tenant-streams.js';
import { referenceTenants } from '../support/reference-config.js';

const referenceEnv = {
  AWS_REGION: 'ap-south-1',
  S3_BUCKET_NAME: 'log-central',
  S3_ENDPOINT_OVERRIDE: 'http://127.0.0.1:7480',
  KAFKA_BROKERS_HOST: 'kafka.internal',
  SPARK_MASTER_HOST: 'spark-master-1,spark-master-2',
  SPARK_JAR_PATH: 's3a://jars/logwise-spark.jar',
  LOG4J_PROPERTIES_FILE_PATH: '/opt/spark/conf/log4j.properties',
  AWS_ACCESS_KEY_ID: 'AKIAREFERENCEKEY0001',
  AWS_SECRET_ACCESS_KEY: 'reference-secret-key',
};

/** A small valid tenant; tests change one thing in it. */
const tenant = (extra = '', spark = '') => `
  tenants = [{
    name = "ABC"
    objectStore.local { path = "data/store" }
    kafka { kafkaBrokersHost = "k1" }
    spark {
      sparkMasterHost = "m1", sparkJarPath = "file:///app.jar"
      ${spark}
    }
    ${extra}
  }]`;

async function problemsOf(text: string): Promise<string[]> {
  try {
    await parseConfig(text, 'test.conf');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  beforeEach(() => {
    for (const name of ['PORT', 'ORCHESTRATOR_AUTH_TOKEN', 'DB_CLIENT', 'DB_MASTER_HOST', 'DB_PORT', 'DB_USERNAME', 'DB_PASSWORD', 'DB_NAME'])
      vi.stubEnv(name, undefined);
  });
  afterEach(() => vi.unstubAllEnvs());

  it('parses the reference orchestrator’s config unchanged, with its env variables set', async () => {
    for (const [k, v] of Object.entries(referenceEnv)) vi.stubEnv(k, v);
    const config = await loadConfig(join(import.meta.dirname, '../fixtures/reference.conf'));
    const t = config.tenants[0]!;
    expect(t.name).toBe('ABC');
    expect(t.envLogsRetentionDays).toEqual([{ envs: ['prod'], retentionDays: 30 }]);
    expect(t.objectStore.aws).toEqual({
      region: 'ap-south-1',
      bucket: 'log-central',
      endpointOverride: 'http://127.0.0.1:7480',
      roleArn: 'arn:aws:iam::000000000000:role/log-central-role',
    });
    expect(t.kafka).toMatchObject({ kafkaBrokersHost: 'kafka.internal', kafkaBrokerPort: 9092 });
    expect(t.spark).toMatchObject({
      sparkMasterHost: ['spark-master-1', 'spark-master-2'],
      sparkMasterWebUiPort: 8080,
      sparkMasterRestPort: 6066,
      sparkMasterPort: 7077,
      kafkaMaxRatePerPartition: '4000',
      sparkJarPath: 's3a://jars/logwise-spark.jar',
      log4jPropertiesFilePath: '/opt/spark/conf/log4j.properties',
      awsAccessKeyId: 'AKIAREFERENCEKEY0001',
      awsSecretAccessKey: 'reference-secret-key',
      logsDir: 'logs',
      checkPointDir: 'checkpoint',
    });
    expect(t.spark.awsSessionToken).toBeUndefined();
    expect(t.delayMetrics?.app).toMatchObject({ sampleEnv: 'local', sampleServiceName: 'healthcheck-dummy', sampleComponentType: 'application' });
    // Not configured: read from the bucket (issue 14).
    expect(t.partitionKeys).toBeUndefined();
    expect(config.database).toMatchObject({ client: 'sqlite', database: 'log_central' });
    expect(config.loop).toMatchObject({ sparkPollSeconds: 15, discoverySeconds: 300, delaySampleSeconds: 60, submitGraceSeconds: 60 });
  });

  it('loads the embedded default: one tenant, SQLite and a local store under data/, a master on localhost', async () => {
    const config = await loadConfig('conf/application.conf');
    expect(config.tenants).toHaveLength(1);
    expect(config.database).toMatchObject({ client: 'sqlite', filename: 'data/orchestrator.sqlite' });
    expect(config.tenants[0]!.objectStore).toEqual({ local: { path: 'data/object-store' } });
    expect(config.tenants[0]!.spark.sparkMasterHost).toEqual(['127.0.0.1']);
    expect(config.http.port).toBe(8080);
  });

  it('lets the reference’s environment variables win over the file', async () => {
    vi.stubEnv('PORT', '9999');
    vi.stubEnv('DB_CLIENT', 'mysql');
    vi.stubEnv('DB_MASTER_HOST', 'db.internal');
    vi.stubEnv('DB_PORT', '3307');
    vi.stubEnv('DB_USERNAME', 'orchestrator');
    vi.stubEnv('DB_PASSWORD', 'pw-from-env');
    vi.stubEnv('ORCHESTRATOR_AUTH_TOKEN', 'token-from-env');
    const config = await parseConfig(`http.port = 8080\n${tenant()}`);
    expect(config.http).toMatchObject({ port: 9999, authToken: 'token-from-env' });
    expect(config.database).toMatchObject({ client: 'mysql', host: 'db.internal', port: 3307, user: 'orchestrator', password: 'pw-from-env' });
  });

  it("loop.crashLoop sets the crash-loop threshold, window and cap of every tenant's Spark stream", async () => {
    const config = await parseConfig(`loop.crashLoop { threshold = 3, windowSeconds = 120, maxBackoffSeconds = 20 }\n${tenant()}`);
    expect(config.loop.crashLoop).toEqual({ threshold: 3, windowSeconds: 120, maxBackoffSeconds: 20 });
    const params = createCrashLoopState(crashLoopParams(config.loop.crashLoop!)).params;
    // A cap below the default first wait (30 s) lowers the first wait with it.
    expect(params).toMatchObject({
      threshold: 3,
      windowMs: 120_000,
      maxBackoffMs: 20_000,
      baseBackoffMs: 20_000,
      stableMs: DEFAULT_CRASH_LOOP_PARAMS.stableMs,
    });
    expect(createCrashLoopState(crashLoopParams({ threshold: 8 })).params).toMatchObject({ ...DEFAULT_CRASH_LOOP_PARAMS, threshold: 8 });
    await expect(parseConfig(`loop.crashLoop { threshold = 0 }\n${tenant()}`)).rejects.toThrow(/loop\.crashLoop\.threshold/);
    await expect(parseConfig(`loop.crashLoop { backoffSeconds = 5 }\n${tenant()}`)).rejects.toThrow(/loop\.crashLoop/);
  });

  it('accepts fractional loop intervals and a single-level partition layout', async () => {
    const config = await parseConfig(
      `loop { sparkPollSeconds = 0.2, backoff { minSeconds = 0.05, maxSeconds = 1 } }\n${tenant('partitionKeys = ["service_name"]')}`,
    );
    expect(config.loop.sparkPollSeconds).toBe(0.2);
    expect(config.loop.backoff).toEqual({ minSeconds: 0.05, maxSeconds: 1 });
    expect(config.tenants[0]!.partitionKeys).toEqual(['service_name']);
  });

  it.each([
    ['a missing required key', tenant('', '').replace('sparkJarPath = "file:///app.jar"', ''), ['tenants[0].spark.sparkJarPath: is required']],
    ['a number that is not one', tenant('defaultLogsRetentionDays = "three"'), ['tenants[0].defaultLogsRetentionDays: expected a number, got string "three"']],
    ['a port out of range', `http.port = 70000\n${tenant()}`, ['http.port: expected a port (0-65535)']],
    ['a fraction where whole days are needed', tenant('defaultLogsRetentionDays = 1.5'), ['tenants[0].defaultLogsRetentionDays: expected an integer']],
    ['an unknown key', tenant('sparkk { a = 1 }'), ['tenants[0].sparkk: unknown key']],
    ['an unknown nested key', tenant('', 'driverMemroy = "2G"'), ['tenants[0].spark.driverMemroy: unknown key']],
    ['an unknown database client', `database.client = postgres\n${tenant()}`, ['database.client: expected "mysql" or "sqlite", got string "postgres"']],
    ['a wrong boolean', `http.protectReads = maybe\n${tenant()}`, ['http.protectReads: expected true or false, got string "maybe"']],
    [
      'two object stores',
      tenant('objectStore.aws { region = "us-east-1", bucket = "b" }'),
      ['tenants[0].objectStore: set exactly one of objectStore.aws or objectStore.local'],
    ],
    [
      'a duplicate tenant',
      `tenants = [{ name = "A", objectStore.local.path = "x", kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m", sparkJarPath = "j" } }, { name = "A", objectStore.local.path = "y", kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m", sparkJarPath = "j" } }]`,
      ['tenants[1].name: duplicate tenant name "A"'],
    ],
    ['no tenants', 'http.port = 8080', ['tenants: is required: list at least one tenant']],
    [
      'a backoff that shrinks',
      `loop.backoff { minSeconds = 10, maxSeconds = 1 }\n${tenant()}`,
      ['loop.backoff.minSeconds: must not be greater than loop.backoff.maxSeconds'],
    ],
    [
      'an empty retention env list',
      tenant('envLogsRetentionDays = [{ envs = [], retentionDays = 3 }]'),
      ['tenants[0].envLogsRetentionDays[0].envs: must name at least one env'],
    ],
  ])('reports %s with its key path', async (_name, text, expected) => {
    expect(await problemsOf(text)).toEqual(expected);
  });

  it.each([
    ['tenants[0].name', `tenants = [{ objectStore.local.path = "x", kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m", sparkJarPath = "j" } }]`],
    ['tenants[0].objectStore', `tenants = [{ name = A, kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m", sparkJarPath = "j" } }]`],
    ['tenants[0].spark', `tenants = [{ name = A, objectStore.local.path = "x", kafka.kafkaBrokersHost = k }]`],
    ['tenants[0].spark.sparkMasterHost', `tenants = [{ name = A, objectStore.local.path = "x", kafka.kafkaBrokersHost = k, spark { sparkJarPath = "j" } }]`],
    [
      'tenants[0].kafka.kafkaBrokersHost',
      `tenants = [{ name = A, objectStore.local.path = "x", kafka {}, spark { sparkMasterHost = "m", sparkJarPath = "j" } }]`,
    ],
    ['tenants[0].spark.sparkJarPath', `tenants = [{ name = A, objectStore.local.path = "x", kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m" } }]`],
    [
      'tenants[0].objectStore.local.path',
      `tenants = [{ name = A, objectStore.local {}, kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m", sparkJarPath = "j" } }]`,
    ],
    [
      'tenants[0].objectStore.aws.bucket',
      `tenants = [{ name = A, objectStore.aws { region = x }, kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m", sparkJarPath = "j" } }]`,
    ],
    [
      'tenants[0].delayMetrics.app.sampleServiceName',
      `tenants = [{ name = A, delayMetrics.app { sampleEnv = x }, objectStore.local.path = "x", kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m", sparkJarPath = "j" } }]`,
    ],
  ])('names the missing required key %s in one line', async (path, text) => {
    expect(await problemsOf(text)).toEqual([`${path}: is required`]);
  });

  it('says what shape was expected', async () => {
    expect(await problemsOf(`http = 5\n${tenant()}`)).toEqual(['http: expected an object ({ … }), got number 5']);
    expect(await problemsOf('tenants = [ 5 ]')).toEqual(['tenants[0]: expected an object ({ … }), got number 5']);
  });

  it('reports every problem, one line each', async () => {
    const problems = await problemsOf(`http.port = "x"\ndatabase.client = oracle\n${tenant('defaultLogsRetentionDays = 0')}`);
    expect(problems).toHaveLength(3);
    expect(problems.every((p) => !p.includes('\n'))).toBe(true);
    expect(problems).toEqual(
      expect.arrayContaining([
        'http.port: expected a number, got string "x"',
        'database.client: expected "mysql" or "sqlite", got string "oracle"',
        'tenants[0].defaultLogsRetentionDays: expected at least 1 day',
      ]),
    );
  });

  it('names a required ${VAR} that is not set, and rejects broken HOCON', async () => {
    vi.stubEnv('LW_SURELY_UNSET', undefined);
    expect(await problemsOf(`x = \${LW_SURELY_UNSET}\n${tenant()}`)).toEqual([
      'test.conf: ${LW_SURELY_UNSET} is not set (use ${?LW_SURELY_UNSET} if it is optional)',
    ]);
    const [line] = await problemsOf('tenants = [{ name = "A" ');
    expect(line).toMatch(/^test\.conf: invalid HOCON: /);
  });

  it('reports an unreadable file', async () => {
    await expect(loadConfig('/nonexistent/app.conf')).rejects.toThrow('/nonexistent/app.conf: cannot read the config file (ENOENT)');
  });

  it('finds the config from --config, then ORCHESTRATOR_CONFIG, then the default', () => {
    expect(configPathFrom(['--config', 'a.conf'], { ORCHESTRATOR_CONFIG: 'b.conf' })).toBe('a.conf');
    expect(configPathFrom(['--config=c.conf'], {})).toBe('c.conf');
    expect(configPathFrom([], { ORCHESTRATOR_CONFIG: 'b.conf' })).toBe('b.conf');
    expect(configPathFrom([], {})).toBe('conf/application.conf');
    expect(() => configPathFrom(['--config'], {})).toThrow(ConfigError);
  });

  it('stops the daemon at start-up with one line per problem and a non-zero exit, never echoing a secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lw-conf-'));
    const file = join(dir, 'bad.conf');
    writeFileSync(
      file,
      `database { password = "pw-Sup3rSecret" }\nspark.x = 1\nhttp.port = -1\n${tenant('defaultLogsRetentionDays = "x"', 'awsSecretAccessKey = "aws-Sup3rSecret"')}`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', file], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n').sort();
    expect(lines).toEqual([
      'config error: http.port: expected a port (0-65535)',
      'config error: spark: unknown key',
      'config error: tenants[0].defaultLogsRetentionDays: expected a number, got string "x"',
    ]);
    expect(run.stdout + run.stderr).not.toMatch(/Sup3rSecret/);
  });
});

/** `node --import tsx src/main.ts --config <file>` on `text` written to a file of its own: its exit code, stderr lines and how long it took. */
async function startDaemonOn(text: string): Promise<{ code: number | null; lines: string[]; stdout: string; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'lw-conf-edge-'));
  const file = join(dir, 'daemon.conf');
  writeFileSync(file, text);
  try {
    return await startDaemonOnFile(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function startDaemonOnFile(file: string): Promise<{ code: number | null; lines: string[]; stdout: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PORT: '0' },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    // A daemon that starts (it should not) or a parser that hangs is stopped after 60 s.
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, lines: stderr.trim().split('\n').filter(Boolean), stdout, ms: Date.now() - t0 });
    });
  });
}

describe('many tenants written out in the reference’s full format (issue 19)', () => {
  afterEach(() => vi.unstubAllEnvs());

  /** Loaded through loadConfig (the start-up, reload and `config check` path); the tenants checked one by one. */
  async function loadsAll(n: number): Promise<number> {
    const text = referenceTenants(n);
    const dir = mkdtempSync(join(tmpdir(), 'lw-conf-many-'));
    const file = join(dir, 'application.conf');
    writeFileSync(file, text);
    try {
      const t0 = performance.now();
      const config = await loadConfig(file);
      const ms = performance.now() - t0;
      console.log(`${n.toLocaleString('en')} reference tenants, ${(text.length / 1e6).toFixed(1)} MB: loaded in ${ms.toFixed(0)} ms`);
      expect(config.tenants).toHaveLength(n);
      for (let i = 0; i < n; i++) {
        const t = config.tenants[i]!;
        if (t.name !== `T${i}` || t.objectStore.aws?.bucket !== `log-central-${i}` || t.spark.sparkMasterHost[0] !== `spark-master-${i}`) {
          expect.fail(`tenant ${i} came out wrong: ${JSON.stringify(t).slice(0, 300)}`);
        }
      }
      return ms;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('1,000 tenants load, every key where the reference puts it', { timeout: 60_000 }, async () => {
    vi.stubEnv('LW_REFERENCE_AWS_SESSION_TOKEN', 'session-token');
    vi.stubEnv('LW_REFERENCE_JAR_PATH', 'jars/');
    await loadsAll(1_000);
    const config = await parseConfig(referenceTenants(1_000), 'test.conf');
    const last = config.tenants[999]!;
    expect(last).toMatchObject({
      name: 'T999',
      defaultLogsRetentionDays: 3,
      envLogsRetentionDays: [{ envs: ['prod', 'darwin'], retentionDays: 30 }],
      objectStore: { aws: { region: 'us-east-1', bucket: 'log-central-999', roleArn: 'arn:aws:iam::000000000000:role/log-central-role-999' } },
      kafka: { kafkaBrokersHost: 'kafka-999-1.internal,kafka-999-2.internal', kafkaBrokerPort: 9092, maxProducerRatePerPartition: 6000 },
      delayMetrics: { app: { sampleEnv: 'prod', sampleComponentType: 'application', sampleServiceName: 'healthcheck-dummy-999' } },
    });
    expect(last.objectStore.aws).not.toHaveProperty('endpointOverride');
    expect(last.spark).toMatchObject({
      sparkMasterHost: ['spark-master-999'],
      sparkJarPath: 's3a://log-central-999/jars/logwise-spark.jar',
      log4jPropertiesFilePath: 'https://s3.amazonaws.com/log-central-999/log4j.properties',
      driverCoresMax: '50000',
      awsSessionToken: 'session-token',
    });
    expect(last.spark.awsAccessKeyId).toBeUndefined();
  });

  it('10,000 tenants (~15 MB) load', { timeout: 120_000 }, async () => {
    const ms = await loadsAll(10_000);
    // The benchmark holds the 10 s target (in a process of its own); here only a gross regression fails.
    expect(ms).toBeLessThan(30_000);
  });
});

describe('config edges: the daemon stops at start-up, exit 2, one line saying what is wrong and the limit', () => {
  const refTenant = (i: number) => `{
    name = "T${i}"
    defaultLogsRetentionDays = 3
    envLogsRetentionDays = [{
      envs = ["prod"],
      retentionDays = 30
    }]
    objectStore = {
      local = {
        path = "/data/store-${i}"
      }
    },
    kafka = {
      kafkaBrokersHost = "kafka-${i}.internal"
    },
    spark = {
      sparkMasterHost = "spark-master-1"
      kafkaMaxRatePerPartition = "4000"
      kafkaStartingOffsets = "latest"
      subscribePattern = "^logs.*"
      sparkJarPath = "s3a://jars/logwise-spark.jar"
      clientSparkVersion = "3.1.2"
      mainClass = "com.logwise.spark.MainApplication"
      appName = "logwise"
      driverCoresMax = "50000"
      driverCores = "1"
      driverMemory = "1G"
      driverMaxResultSize = "1G"
      executorCores = "1"
      executorMemory = "1G"
      logsDir = "logs"
      checkPointDir = "checkpoint"
    },
    delayMetrics = {
      app = {
        sampleEnv = "local"
        sampleComponentType = "application"
        sampleServiceName = "healthcheck-dummy"
      }
    }
  }`;
  const tenants = (n: number) => `tenants = [\n${Array.from({ length: n }, (_, i) => refTenant(i)).join(',\n')}\n]\n`;

  it('a config over 64 MiB: too large, with the limit, without reading it', { timeout: 90_000 }, async () => {
    const chunk = tenants(1_000);
    const dir = mkdtempSync(join(tmpdir(), 'lw-conf-large-'));
    const file = join(dir, 'daemon.conf');
    try {
      for (let written = 0; written <= CONFIG_LIMITS.bytes; written += chunk.length) appendFileSync(file, chunk);
      const run = await startDaemonOnFile(file);
      console.log(`config edges, > 64 MiB: exit ${run.code} after ${run.ms} ms: ${run.lines.join(' | ')}`);
      expect(run.code).toBe(2);
      expect(run.lines).toEqual([
        expect.stringMatching(/^config error: .*daemon\.conf: the config is 6\d\.\d MiB \(\d+ bytes\); at most 64 MiB \(67108864 bytes\) is read$/),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Text handed to parseConfig is measured the same way.
    expect(await problemsOf(`${tenant()}\n${' '.repeat(CONFIG_LIMITS.bytes)}`)).toEqual([
      expect.stringMatching(/^test\.conf: the config is 64\.0 MiB \(\d+ bytes\); at most 64 MiB \(67108864 bytes\) is read$/),
    ]);
  });

  it('deep nesting: too deeply nested, with the limit, at once', { timeout: 90_000 }, async () => {
    const run = await startDaemonOn(`${tenants(1)}deep ${'{ a '.repeat(5_000)}= 1${' }'.repeat(5_000)}\n`);
    console.log(`config edges, 5,000 levels: exit ${run.code} after ${run.ms} ms: ${run.lines.join(' | ')}`);
    expect(run.code).toBe(2);
    expect(run.lines).toEqual([
      expect.stringMatching(/^config error: .*daemon\.conf: nested 5000 levels deep at line \d+; at most 64 levels of \{ \}, \[ \] and dotted keys are read$/),
    ]);
    expect(run.ms).toBeLessThan(15_000);
  });

  it('a tenant without the kafka block a submission needs: named at start-up', { timeout: 90_000 }, async () => {
    const run = await startDaemonOn(tenants(1).replace(/kafka = \{\s*kafkaBrokersHost = "kafka-0.internal"\s*\},/, ''));
    console.log(`config edges, no kafka: exit ${run.code} after ${run.ms} ms: ${run.lines.join(' | ')}; stdout ${run.stdout.length} bytes`);
    expect(run.code).toBe(2);
    expect(run.lines).toEqual(['config error: tenants[0].kafka: is required (a Spark submission passes kafka.kafkaBrokersHost to the job)']);
  });

  it('a long quoted string is read like any other (no limit but the file size)', async () => {
    const t0 = performance.now();
    expect(await problemsOf(`${tenant()}\nnote = "${'x'.repeat(1_000_000)}"`)).toEqual(['note: unknown key']);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
