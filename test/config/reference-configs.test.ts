/**
 * The Java orchestrator's configs and deployment environment load unchanged (SPEC §2, issue 14
 * items 1 and 2): both versions of its application-default.conf with its compose environment,
 * every empty-variable case, its keys that are accepted with a warning, its master and broker
 * address forms, and the database it names. Bad input still stops the daemon with one line and
 * exit code 2.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { composeEnv } from '../support/reference-deployment.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');
const OLDER = join(FIXTURES, 'reference/older.conf');
const NEWER = join(FIXTURES, 'reference/newer.conf');
const MIDDLE = join(FIXTURES, 'reference.conf');

/** What each version needs besides the compose file's variables (its operators set them). */
const versionEnv = {
  older: {
    ENCRYPTION_KEY: 'enc-key-not-logged',
    ENCRYPTION_IV: 'enc-iv-not-logged',
    D11_PROD_AWS_KAFKA_MANAGER_URL: 'http://kafka-manager:9000',
    D11_PROD_AWS_KAFKA_BROKERS_HOST: 'kafka-1:9092,kafka-2:9092',
    D11_PROD_AWS_SPARK_MASTER_HOST: 'spark-master',
    D11_PROD_AWS_SPARK_JAR_PATH: 'jars/logwise-spark.jar',
    D11_PROD_AWS_LOG4J_PROPERTIES_FILE_PATH: 'conf/log4j.properties',
  },
  newer: { VECTOR_HOST: 'vector', VECTOR_API_PORT: '8686', S3_BUCKET_NAME: 'logwise-logs' },
  middle: { S3_BUCKET_NAME: 'logwise-logs' },
} as const;

type Version = keyof typeof versionEnv;
const FILES: Record<Version, string> = { older: OLDER, newer: NEWER, middle: MIDDLE };

async function load(version: Version, overrides: Record<string, string | undefined> = {}): Promise<{ config: Config; warnings: string[] }> {
  const env: Record<string, string | undefined> = { ...composeEnv(), ...versionEnv[version], ...overrides };
  const warnings: string[] = [];
  const config = await loadConfig(FILES[version], { env, onWarning: (w) => warnings.push(w) });
  return { config, warnings };
}

async function problems(version: Version, overrides: Record<string, string | undefined>): Promise<string[]> {
  try {
    await load(version, overrides);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const why = 'accepted for compatibility with the Java orchestrator, and not used';

describe('the Java orchestrator’s configs, with its compose environment', () => {
  it('the older version loads: its encryption and Kafka Manager keys accepted with one warning each', async () => {
    const { config, warnings } = await load('older');
    expect(warnings.sort()).toEqual(
      [
        `encryption: ${why}`,
        `tenants[0].kafka.kafkaManagerClusterName: ${why}`,
        `tenants[0].kafka.kafkaManagerUrl: ${why}`,
        `tenants[0].kafka.maxProducerRatePerPartition: ${why}`,
      ].sort(),
    );
    expect(warnings.join('\n')).not.toMatch(/enc-key|enc-iv|kafka-manager:9000/);
    const t = config.tenants[0]!;
    expect(t.name).toBe('D11-Prod-AWS');
    // S3_ENDPOINT_OVERRIDE= (compose): unset.
    expect(t.objectStore.aws).toEqual({
      region: 'us-east-1',
      bucket: 'lw-ref-log-management-prod',
      roleArn: 'arn:aws:iam::000000000000:role/central-prod-log-central-role',
    });
    expect(t.kafka).toEqual({ kafkaBrokersHost: 'kafka-1:9092,kafka-2:9092', kafkaBrokerPort: 9092, maxProducerRatePerPartition: 6000 });
    expect(t.spark).toMatchObject({
      sparkMasterHost: ['spark-master'],
      sparkJarPath: 's3a://lw-ref-log-management-prod/jars/logwise-spark.jar',
      log4jPropertiesFilePath: 'https://s3.amazonaws.com/lw-ref-log-management-prod/conf/log4j.properties',
      mainClass: 'com.dream11.MainApplication',
    });
    expect(t.delayMetrics?.app).toEqual({
      sampleEnv: 'prod',
      sampleServiceName: 'central-log-management',
      sampleComponentName: 'central-log-management-vector',
    });
    expect(t.partitionKeys).toBeUndefined();
    expect(config).not.toHaveProperty('encryption');
    expect(t.kafka).not.toHaveProperty('kafkaManagerUrl');
  });

  it('the newer version loads: its orchestrator, Spark scaling and cluster keys accepted with one warning each', async () => {
    const { config, warnings } = await load('newer');
    expect(warnings.sort()).toEqual(
      [
        `tenants[0].orchestrator: ${why}`,
        `tenants[0].kafka.maxProducerRatePerPartition: ${why}`,
        `tenants[0].spark.executorCoresPerMachine: ${why}`,
        `tenants[0].spark.perCoreLogsProcess: ${why}`,
        `tenants[0].spark.minWorkerCount: ${why}`,
        `tenants[0].spark.maxWorkerCount: ${why}`,
        `tenants[0].spark.cluster: ${why}`,
      ].sort(),
    );
    const t = config.tenants[0]!;
    expect(t.objectStore.aws).toEqual({ region: 'us-east-1', bucket: 'logwise-logs' });
    expect(t.vector).toEqual({ host: 'vector', apiPort: 8686 });
    expect(t.kafka.kafkaBrokersHost).toBe('kafka');
    // AWS_ACCESS_KEY_ID=, AWS_SECRET_ACCESS_KEY=, AWS_SESSION_TOKEN= (compose): unset; AWS_REGION set.
    expect(t.spark).toMatchObject({ sparkMasterHost: ['spark-master'], sparkMasterPort: 7077, sparkJarPath: 'file:/opt/app/app.jar', awsRegion: 'us-east-1' });
    for (const key of ['awsAccessKeyId', 'awsSecretAccessKey', 'awsSessionToken'] as const) expect(t.spark[key], key).toBeUndefined();
    expect(t.delayMetrics?.app).toEqual({ sampleEnv: 'local', sampleServiceName: 'healthcheck-dummy', sampleComponentType: 'application' });
  });

  it('a key set in many tenants is one warning that counts them', async () => {
    const tenant = (i: number) =>
      `{ name = "T${i}", objectStore.local.path = "/x", kafka { kafkaBrokersHost = "k", kafkaManagerUrl = "u" }, spark { sparkMasterHost = "m", sparkJarPath = "j" } }`;
    const warnings: string[] = [];
    await parseConfig(`tenants = [${[0, 1, 2].map(tenant).join(', ')}]`, 't.conf', { env: {}, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([`tenants[*].kafka.kafkaManagerUrl (in 3 tenants): ${why}`]);
  });

  it('any other unknown key is still an error', async () => {
    const text = readFileSync(NEWER, 'utf8').replace(
      'maxProducerRatePerPartition = 6000',
      'maxProducerRatePerPartition = 6000\n      kafkaManagerUrI = "typo"',
    );
    await expect(parseConfig(text, 'typo.conf', { env: { ...composeEnv(), ...versionEnv.newer } })).rejects.toMatchObject({
      problems: ['tenants[0].kafka.kafkaManagerUrI: unknown key'],
    });
  });

  describe('the database: MySQL from the reference’s variables, always log_central', () => {
    it('the compose variables (no DB_CLIENT) select MySQL, and DB_NAME (the MySQL container’s) does not select the database', async () => {
      const { config } = await load('newer');
      expect(config.database).toMatchObject({ client: 'mysql', host: 'db', port: 3306, user: 'myapp', password: 'myapp_pass', database: 'log_central' });
    });
    it.each([
      ['no database variable', { DB_MASTER_HOST: undefined, DB_PORT: undefined, DB_USERNAME: undefined, DB_PASSWORD: undefined }, { client: 'sqlite' }],
      ['only DB_PASSWORD=', { DB_MASTER_HOST: undefined, DB_PORT: undefined, DB_USERNAME: undefined, DB_PASSWORD: '' }, { client: 'sqlite' }],
      [
        'DB_MASTER_HOST= (empty) and the rest unset',
        { DB_MASTER_HOST: '', DB_PORT: undefined, DB_USERNAME: undefined, DB_PASSWORD: undefined },
        { client: 'sqlite' },
      ],
      [
        'only DB_MASTER_HOST',
        { DB_PORT: undefined, DB_USERNAME: undefined, DB_PASSWORD: undefined },
        { client: 'mysql', host: 'db', port: 3306, user: 'root', password: '' },
      ],
      ['DB_PASSWORD= (empty)', { DB_PASSWORD: '' }, { client: 'mysql', user: 'myapp', password: '' }],
      ['DB_CLIENT=sqlite with the compose variables', { DB_CLIENT: 'sqlite' }, { client: 'sqlite' }],
      ['DB_CLIENT= (empty)', { DB_CLIENT: '' }, { client: 'mysql' }],
      ['ORCHESTRATOR_DB_NAME', { ORCHESTRATOR_DB_NAME: 'logwise_orch' }, { client: 'mysql', database: 'logwise_orch' }],
      ['ORCHESTRATOR_DB_NAME= (empty)', { ORCHESTRATOR_DB_NAME: '' }, { database: 'log_central' }],
    ] as const)('%s', async (_case, env, expected) => {
      expect((await load('newer', env)).config.database).toMatchObject(expected);
    });
    it('the embedded default config too: SQLite alone, MySQL with the reference’s variables', async () => {
      expect((await loadConfig('conf/application.conf', { env: {} })).database).toMatchObject({ client: 'sqlite', filename: 'data/orchestrator.sqlite' });
      expect(
        (await loadConfig('conf/application.conf', { env: { DB_MASTER_HOST: 'db', DB_USERNAME: 'myapp', DB_PASSWORD: 'myapp_pass', DB_NAME: 'myapp' } }))
          .database,
      ).toMatchObject({
        client: 'mysql',
        host: 'db',
        user: 'myapp',
        database: 'log_central',
      });
    });
    it('a database key in the file names a MySQL server too; database.database selects the database', async () => {
      const text = `database { host = "mysql.internal", database = "orchestrator" }\n${readFileSync(NEWER, 'utf8')}`;
      const env = {
        ...composeEnv(),
        ...versionEnv.newer,
        DB_MASTER_HOST: undefined,
        DB_PORT: undefined,
        DB_USERNAME: undefined,
        DB_PASSWORD: undefined,
        DB_NAME: 'myapp',
      };
      expect((await parseConfig(text, 'db.conf', { env })).database).toMatchObject({ client: 'mysql', host: 'mysql.internal', database: 'orchestrator' });
    });
  });

  describe('an empty variable is unset: optional keys are not set, required ones are an error naming the key and the variable', () => {
    it.each([
      ['AWS_SESSION_TOKEN=', 'newer', { AWS_SESSION_TOKEN: '' }, (c: Config) => expect(c.tenants[0]!.spark.awsSessionToken).toBeUndefined()],
      [
        'AWS_ACCESS_KEY_ID= and AWS_SECRET_ACCESS_KEY=',
        'middle',
        { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
        (c: Config) => expect(c.tenants[0]!.spark).not.toHaveProperty('awsAccessKeyId'),
      ],
      [
        'S3_ENDPOINT_OVERRIDE=',
        'middle',
        { S3_ENDPOINT_OVERRIDE: '' },
        (c: Config) => expect(c.tenants[0]!.objectStore.aws).not.toHaveProperty('endpointOverride'),
      ],
      [
        'S3_ENDPOINT_OVERRIDE= (older)',
        'older',
        { S3_ENDPOINT_OVERRIDE: '' },
        (c: Config) => expect(c.tenants[0]!.objectStore.aws).not.toHaveProperty('endpointOverride'),
      ],
      [
        'LOG4J_PROPERTIES_FILE_PATH= (a ${VAR} of an optional key)',
        'newer',
        { LOG4J_PROPERTIES_FILE_PATH: '' },
        (c: Config) => expect(c.tenants[0]!.spark.log4jPropertiesFilePath).toBeUndefined(),
      ],
      [
        'VECTOR_API_PORT= (its default applies)',
        'newer',
        { VECTOR_API_PORT: '' },
        (c: Config) => expect(c.tenants[0]!.vector).toEqual({ host: 'vector', apiPort: 8686 }),
      ],
      [
        'D11_PROD_AWS_SPARK_JAR_PATH= (in a concatenation: the rest stays)',
        'older',
        { D11_PROD_AWS_SPARK_JAR_PATH: '' },
        (c: Config) => expect(c.tenants[0]!.spark.sparkJarPath).toBe('s3a://lw-ref-log-management-prod/'),
      ],
      ['ENCRYPTION_KEY= (an ignored key)', 'older', { ENCRYPTION_KEY: '' }, (c: Config) => expect(c).not.toHaveProperty('encryption')],
      [
        'D11_PROD_AWS_KAFKA_MANAGER_URL= (an ignored key)',
        'older',
        { D11_PROD_AWS_KAFKA_MANAGER_URL: '' },
        (c: Config) => expect(c.tenants[0]!.kafka).not.toHaveProperty('kafkaManagerUrl'),
      ],
      ['ORCHESTRATOR_URL= (an ignored key)', 'newer', { ORCHESTRATOR_URL: '' }, (c: Config) => expect(c.tenants[0]).not.toHaveProperty('orchestrator')],
      ['PORT=', 'newer', { PORT: '' }, (c: Config) => expect(c.http.port).toBe(8080)],
      ['ORCHESTRATOR_AUTH_TOKEN=', 'newer', { ORCHESTRATOR_AUTH_TOKEN: '' }, (c: Config) => expect(c.http.authToken).toBeUndefined()],
    ] as const)('%s', async (_case, version, env, check) => {
      check((await load(version, env)).config);
    });

    it.each([
      ['S3_BUCKET_NAME=', 'newer', { S3_BUCKET_NAME: '' }, 'tenants[0].objectStore.aws.bucket: is required (${S3_BUCKET_NAME} is set but empty)'],
      ['S3_BUCKET_NAME unset', 'newer', { S3_BUCKET_NAME: undefined }, 'tenants[0].objectStore.aws.bucket: is required (${?S3_BUCKET_NAME} is not set)'],
      ['AWS_REGION=', 'middle', { AWS_REGION: '' }, 'tenants[0].objectStore.aws.region: is required (${AWS_REGION} is set but empty)'],
      ['SPARK_JAR_PATH=', 'newer', { SPARK_JAR_PATH: '' }, 'tenants[0].spark.sparkJarPath: is required (${SPARK_JAR_PATH} is set but empty)'],
      ['SPARK_MASTER_HOST=', 'newer', { SPARK_MASTER_HOST: '' }, 'tenants[0].spark.sparkMasterHost: is required (${SPARK_MASTER_HOST} is set but empty)'],
      ['KAFKA_BROKERS_HOST=', 'newer', { KAFKA_BROKERS_HOST: '' }, 'tenants[0].kafka.kafkaBrokersHost: is required (${KAFKA_BROKERS_HOST} is set but empty)'],
      ['VECTOR_HOST=', 'newer', { VECTOR_HOST: '' }, 'tenants[0].vector.host: is required (${VECTOR_HOST} is set but empty)'],
      [
        'D11_PROD_AWS_SPARK_MASTER_HOST= (older)',
        'older',
        { D11_PROD_AWS_SPARK_MASTER_HOST: '' },
        'tenants[0].spark.sparkMasterHost: is required (${D11_PROD_AWS_SPARK_MASTER_HOST} is set but empty)',
      ],
    ] as const)('%s', async (_case, version, env, line) => {
      expect(await problems(version, env)).toEqual([line]);
    });

    it('a required ${VAR} that is not set at all is still a HOCON error naming it', async () => {
      expect(await problems('newer', { SPARK_JAR_PATH: undefined })).toEqual([
        `${NEWER}: \${SPARK_JAR_PATH} is not set (use \${?SPARK_JAR_PATH} if it is optional)`,
      ]);
    });
  });

  describe('Spark masters and Kafka brokers as the reference’s deployments write them', () => {
    const sparkOf = async (env: Record<string, string>) => (await load('newer', env)).config.tenants[0]!.spark;
    it.each([
      ['spark://spark-master:7077', ['spark-master'], 7077],
      ['spark://m1:7077,m2:7077', ['m1', 'm2'], 7077],
      ['spark://m1:7077, spark://m2:7077', ['m1', 'm2'], 7077],
      ['m1:7078', ['m1'], 7078],
      ['m1, m2', ['m1', 'm2'], 7077],
      ['SPARK://10.0.0.5:7077/', ['10.0.0.5'], 7077],
      ['[::1]:7077', ['[::1]'], 7077],
    ])('sparkMasterHost = %s', async (value, hosts, port) => {
      expect(await sparkOf({ SPARK_MASTER_HOST: value })).toMatchObject({
        sparkMasterHost: hosts,
        sparkMasterPort: port,
        sparkMasterWebUiPort: 8080,
        sparkMasterRestPort: 6066,
      });
    });
    it.each([
      ['spark://m1:7077,m2:7078', 'tenants[0].spark.sparkMasterHost: names the masters with different ports (7077, 7078); one sparkMasterPort applies to all'],
      ['http://m1:8080', 'tenants[0].spark.sparkMasterHost: expected host, host:port or spark://host:port, got string "http://m1:8080"'],
      ['m1:99999', 'tenants[0].spark.sparkMasterHost: expected host, host:port or spark://host:port, got string "m1:99999"'],
    ])('sparkMasterHost = %s is an error', async (value, line) => {
      expect(await problems('newer', { SPARK_MASTER_HOST: value })).toEqual([line]);
    });
    it('a port in sparkMasterHost that contradicts sparkMasterPort is an error', async () => {
      const text = readFileSync(NEWER, 'utf8').replace('sparkMasterHost = ${SPARK_MASTER_HOST}', 'sparkMasterHost = "spark://m:7077", sparkMasterPort = 7000');
      await expect(parseConfig(text, 'p.conf', { env: { ...composeEnv(), ...versionEnv.newer } })).rejects.toMatchObject({
        problems: ['tenants[0].spark.sparkMasterPort: is 7000, but sparkMasterHost names port 7077'],
      });
    });
    it.each(['kafka', 'kafka:9092', 'k1:9092,k2:9093', 'PLAINTEXT://k1:9092', '[::1]:9092'])('kafkaBrokersHost = %s', async (value) => {
      expect((await load('newer', { KAFKA_BROKERS_HOST: value })).config.tenants[0]!.kafka.kafkaBrokersHost).toBe(value);
    });
    it.each(['kafka:abc', 'k1 k2', 'k1:0'])('kafkaBrokersHost = %s is an error', async (value) => {
      expect(await problems('newer', { KAFKA_BROKERS_HOST: value })).toEqual([
        'tenants[0].kafka.kafkaBrokersHost: expected host, host:port or a comma-separated list of them',
      ]);
    });
  });
});

describe('the daemon on the reference’s config and environment', () => {
  /** `node --import tsx src/main.ts --config <file>` with exactly `env` (and PATH): exit code and stderr lines. */
  const run = (file: string, env: Record<string, string | undefined>) =>
    new Promise<{ code: number | null; lines: string[] }>((resolve) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', file], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH, PORT: '0', ...env } as NodeJS.ProcessEnv,
      });
      let stderr = '';
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, lines: stderr.trim().split('\n').filter(Boolean) });
      });
    });

  it('a required key left empty: one line naming the key and the variable, exit code 2', { timeout: 90_000 }, async () => {
    const [empty, region] = await Promise.all([
      run(NEWER, { ...composeEnv(), ...versionEnv.newer, SPARK_JAR_PATH: '' }),
      run(MIDDLE, { ...composeEnv(), ...versionEnv.middle, AWS_REGION: '', AWS_SECRET_ACCESS_KEY: 'Sup3rSecretFromEnv' }),
    ]);
    expect(empty).toEqual({ code: 2, lines: ['config error: tenants[0].spark.sparkJarPath: is required (${SPARK_JAR_PATH} is set but empty)'] });
    expect(region).toEqual({ code: 2, lines: ['config error: tenants[0].objectStore.aws.region: is required (${AWS_REGION} is set but empty)'] });
  });
});
