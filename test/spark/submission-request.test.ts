import { describe, expect, it } from 'vitest';
import { configSchema, type TenantConfig } from '../../src/config/schema.js';
import { buildSubmissionRequest, isSecretSettingName, redactSubmissionRequest, REDACTED, SPARK_GC_JAVA_OPTIONS } from '../../src/spark/submission-request.js';
import type { CreateSubmissionRequest } from '../../src/spark/types.js';

type RawTenant = Record<string, unknown>;

/** A tenant as the config loader produces it (defaults applied by the real schema). */
function tenantOf(patch: { spark?: RawTenant; objectStore?: RawTenant; kafka?: RawTenant | null; name?: string } = {}): TenantConfig {
  const raw: RawTenant = {
    name: patch.name ?? 'ABC',
    objectStore: patch.objectStore ?? { aws: { region: 'ap-south-1', bucket: 'logwise-logs' } },
    spark: {
      sparkMasterHost: 'spark-master',
      sparkJarPath: 's3a://logwise-jars/logwise-spark.jar',
      log4jPropertiesFilePath: '/opt/spark/conf/log4j.properties',
      ...patch.spark,
    },
  };
  if (patch.kafka !== null) raw.kafka = patch.kafka ?? { kafkaBrokersHost: 'kafka.internal' };
  const tenant = configSchema.parse({ tenants: [raw] }).tenants[0];
  if (!tenant) throw new Error('no tenant parsed');
  return tenant;
}

const JAVA_OPTS = '-XX:+UnlockExperimentalVMOptions -XX:+UseG1GC -Dlog4j.configuration=/opt/spark/conf/log4j.properties';

describe('buildSubmissionRequest', () => {
  it('reproduces the reference request field for field (defaults, S3 bucket, no keys)', () => {
    const req = buildSubmissionRequest({ tenant: tenantOf(), masterHost: 'spark-master' });
    expect(req).toEqual({
      action: 'CreateSubmissionRequest',
      appArgs: [
        'kafka.cluster.dns=kafka.internal',
        'kafka.maxRatePerPartition=4000',
        'kafka.startingOffsets=latest',
        'kafka.subscribePattern="^logs.*"',
        'spark.master.host="http://spark-master:8080"',
        's3.bucket=logwise-logs',
      ],
      appResource: 's3a://logwise-jars/logwise-spark.jar',
      clientSparkVersion: '3.1.2',
      mainClass: 'com.logwise.spark.MainApplication',
      environmentVariables: {
        SPARK_ENV_LOADED: '1',
        'X-Tenant-Name': 'ABC',
        AWS_REGION: 'ap-south-1',
      },
      sparkProperties: {
        'spark.app.name': 'logwise',
        'spark.cores.max': '50000',
        'spark.driver.cores': '1',
        'spark.driver.memory': '1G',
        'spark.driver.extraJavaOptions': JAVA_OPTS,
        'spark.driver.maxResultSize': '1G',
        'spark.driver.supervise': 'true',
        'spark.executor.cores': '1',
        'spark.executor.memory': '1G',
        'spark.executor.extraJavaOptions': JAVA_OPTS,
        'spark.jars': 's3a://logwise-jars/logwise-spark.jar',
        'spark.master': 'spark://spark-master:7077',
        'spark.submit.deployMode': 'cluster',
        'spark.scheduler.mode': 'FAIR',
        'spark.scheduler.pool': 'production',
        'spark.dynamicAllocation.enabled': 'true',
        'spark.shuffle.service.enabled': 'true',
        'spark.dynamicAllocation.executorIdleTimeout': '15',
        'spark.driverEnv.AWS_REGION': 'ap-south-1',
        'spark.executorEnv.AWS_REGION': 'ap-south-1',
        'spark.hadoop.fs.s3a.impl': 'org.apache.hadoop.fs.s3a.S3AFileSystem',
        'spark.hadoop.fs.s3a.path.style.access': 'false',
        'spark.hadoop.fs.s3a.endpoint': 's3.ap-south-1.amazonaws.com',
        'spark.hadoop.fs.s3a.endpoint.region': 'ap-south-1',
      },
    });
  });

  it('takes every configured spark value from the tenant', () => {
    const tenant = tenantOf({
      name: 'XYZ',
      spark: {
        kafkaMaxRatePerPartition: 1234,
        kafkaStartingOffsets: 'earliest',
        subscribePattern: '^app-logs-.*',
        clientSparkVersion: '3.5.1',
        mainClass: 'com.example.Main',
        appName: 'logs-xyz',
        driverCoresMax: '64',
        driverCores: '2',
        driverMemory: '4G',
        driverMaxResultSize: '2G',
        executorCores: '3',
        executorMemory: '6G',
        sparkJarPath: 'hdfs:///jobs/job.jar',
      },
      kafka: { kafkaBrokersHost: 'broker-1.example', kafkaBrokerPort: 9093 },
    });
    const req = buildSubmissionRequest({ tenant, masterHost: 'spark-master' });
    expect(req.appArgs.slice(0, 4)).toEqual([
      'kafka.cluster.dns=broker-1.example',
      'kafka.maxRatePerPartition=1234',
      'kafka.startingOffsets=earliest',
      'kafka.subscribePattern="^app-logs-.*"',
    ]);
    expect(req).toMatchObject({ appResource: 'hdfs:///jobs/job.jar', clientSparkVersion: '3.5.1', mainClass: 'com.example.Main' });
    expect(req.environmentVariables['X-Tenant-Name']).toBe('XYZ');
    expect(req.sparkProperties).toMatchObject({
      'spark.app.name': 'logs-xyz',
      'spark.cores.max': '64',
      'spark.driver.cores': '2',
      'spark.driver.memory': '4G',
      'spark.driver.maxResultSize': '2G',
      'spark.executor.cores': '3',
      'spark.executor.memory': '6G',
      'spark.jars': 'hdfs:///jobs/job.jar',
    });
  });

  it('uses the master it is given and the configured ports; lists the other HA masters in spark.master', () => {
    const tenant = tenantOf({ spark: { sparkMasterHost: 'm1, m2,m3', sparkMasterWebUiPort: 8081, sparkMasterPort: 7078 } });
    const req = buildSubmissionRequest({ tenant, masterHost: 'm2' });
    expect(req.appArgs).toContain('spark.master.host="http://m2:8081"');
    expect(req.sparkProperties['spark.master']).toBe('spark://m2:7078,m1:7078,m3:7078');
    const single = buildSubmissionRequest({ tenant: tenantOf(), masterHost: 'spark-master' });
    expect(single.sparkProperties['spark.master']).toBe('spark://spark-master:7077');
  });

  it('applies driver overrides to this submission only', () => {
    const tenant = tenantOf();
    const req = buildSubmissionRequest({ tenant, masterHost: 'spark-master', overrides: { driverCores: 4, driverMemoryInGb: 8 } });
    expect(req.sparkProperties['spark.driver.cores']).toBe('4');
    expect(req.sparkProperties['spark.driver.memory']).toBe('8G');
    const onlyCores = buildSubmissionRequest({ tenant, masterHost: 'spark-master', overrides: { driverCores: 2 } });
    expect(onlyCores.sparkProperties['spark.driver.cores']).toBe('2');
    expect(onlyCores.sparkProperties['spark.driver.memory']).toBe('1G');
    const none = buildSubmissionRequest({ tenant, masterHost: 'spark-master', overrides: {} });
    expect(none.sparkProperties['spark.driver.cores']).toBe('1');
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects the driver override %s', (bad) => {
    const tenant = tenantOf();
    expect(() => buildSubmissionRequest({ tenant, masterHost: 'spark-master', overrides: { driverCores: bad } })).toThrow(RangeError);
    expect(() => buildSubmissionRequest({ tenant, masterHost: 'spark-master', overrides: { driverMemoryInGb: bad } })).toThrow(RangeError);
  });

  it('adds kafka.startingOffsetsTimestamp for a replay, and only then', () => {
    const tenant = tenantOf();
    const replay = buildSubmissionRequest({ tenant, masterHost: 'spark-master', startingOffsetsTimestamp: 1_704_067_200_000 });
    expect(replay.appArgs.at(-1)).toBe('kafka.startingOffsetsTimestamp=1704067200000');
    expect(replay.appArgs.slice(0, -1)).toEqual(buildSubmissionRequest({ tenant, masterHost: 'spark-master' }).appArgs);
    const normal = buildSubmissionRequest({ tenant, masterHost: 'spark-master' });
    expect(normal.appArgs.some((a) => a.startsWith('kafka.startingOffsetsTimestamp'))).toBe(false);
  });

  it.each([0, -5, 1.5, Number.NaN])('rejects the replay timestamp %s', (bad) => {
    expect(() => buildSubmissionRequest({ tenant: tenantOf(), masterHost: 'spark-master', startingOffsetsTimestamp: bad })).toThrow(RangeError);
  });

  it('writes quoted values as HOCON/JSON strings, so special characters survive the job parsing them', () => {
    const tenant = tenantOf({ spark: { subscribePattern: '^logs\\.(app|web)".*' } });
    const arg = buildSubmissionRequest({ tenant, masterHost: 'spark-master' }).appArgs[3] ?? '';
    expect(arg.startsWith('kafka.subscribePattern="')).toBe(true);
    expect(JSON.parse(arg.slice('kafka.subscribePattern='.length))).toBe('^logs\\.(app|web)".*');
  });

  it('leaves out -Dlog4j.configuration when no log4j file is configured', () => {
    const tenant = tenantOf({ spark: { log4jPropertiesFilePath: undefined } });
    const req = buildSubmissionRequest({ tenant, masterHost: 'spark-master' });
    expect(req.sparkProperties['spark.driver.extraJavaOptions']).toBe(SPARK_GC_JAVA_OPTIONS);
    expect(req.sparkProperties['spark.executor.extraJavaOptions']).toBe(SPARK_GC_JAVA_OPTIONS);
  });

  it('appends driverExtraJavaOptions to the JVM options of the driver only (executors get the module flags from their SparkContext)', () => {
    const flags = '-XX:+IgnoreUnrecognizedVMOptions --add-opens=java.base/sun.nio.ch=ALL-UNNAMED';
    const tenant = tenantOf({ spark: { log4jPropertiesFilePath: undefined, driverExtraJavaOptions: flags } });
    const req = buildSubmissionRequest({ tenant, masterHost: 'spark-master' });
    expect(req.sparkProperties['spark.driver.extraJavaOptions']).toBe(`${SPARK_GC_JAVA_OPTIONS} ${flags}`);
    expect(req.sparkProperties['spark.executor.extraJavaOptions']).toBe(SPARK_GC_JAVA_OPTIONS);
  });

  it('fails clearly without a Kafka broker host or a master host', () => {
    expect(() => buildSubmissionRequest({ tenant: tenantOf({ kafka: null }), masterHost: 'spark-master' })).toThrow(/kafka\.kafkaBrokersHost/);
    expect(() => buildSubmissionRequest({ tenant: tenantOf(), masterHost: ' ' })).toThrow(/master host/);
  });

  describe('AWS and S3A settings', () => {
    it('AWS keys with a session token: temporary-credentials provider, token, env for driver and executors', () => {
      const tenant = tenantOf({
        spark: { awsAccessKeyId: 'AKIAEXAMPLEKEY', awsSecretAccessKey: 'aws-secret-value', awsSessionToken: 'session-token-value', awsRegion: 'eu-west-1' },
      });
      const req = buildSubmissionRequest({ tenant, masterHost: 'spark-master' });
      expect(req.sparkProperties).toMatchObject({
        'spark.driverEnv.AWS_ACCESS_KEY_ID': 'AKIAEXAMPLEKEY',
        'spark.executorEnv.AWS_ACCESS_KEY_ID': 'AKIAEXAMPLEKEY',
        'spark.driverEnv.AWS_SECRET_ACCESS_KEY': 'aws-secret-value',
        'spark.executorEnv.AWS_SECRET_ACCESS_KEY': 'aws-secret-value',
        'spark.driverEnv.AWS_SESSION_TOKEN': 'session-token-value',
        'spark.executorEnv.AWS_SESSION_TOKEN': 'session-token-value',
        'spark.driverEnv.AWS_REGION': 'eu-west-1',
        'spark.executorEnv.AWS_REGION': 'eu-west-1',
        'spark.hadoop.fs.s3a.aws.credentials.provider': 'org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider',
        'spark.hadoop.fs.s3a.session.token': 'session-token-value',
        'spark.hadoop.fs.s3a.access.key': 'AKIAEXAMPLEKEY',
        'spark.hadoop.fs.s3a.secret.key': 'aws-secret-value',
        'spark.hadoop.fs.s3a.endpoint': 's3.eu-west-1.amazonaws.com',
        'spark.hadoop.fs.s3a.endpoint.region': 'eu-west-1',
      });
      expect(req.environmentVariables).toEqual({
        SPARK_ENV_LOADED: '1',
        'X-Tenant-Name': 'ABC',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY',
        AWS_SECRET_ACCESS_KEY: 'aws-secret-value',
        AWS_SESSION_TOKEN: 'session-token-value',
        AWS_REGION: 'eu-west-1',
      });
    });

    it('AWS keys without a token: simple provider and no session token', () => {
      const tenant = tenantOf({ spark: { awsAccessKeyId: 'AKIAEXAMPLEKEY', awsSecretAccessKey: 'aws-secret-value' } });
      const props = buildSubmissionRequest({ tenant, masterHost: 'spark-master' }).sparkProperties;
      expect(props['spark.hadoop.fs.s3a.aws.credentials.provider']).toBe('org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider');
      expect(props['spark.hadoop.fs.s3a.access.key']).toBe('AKIAEXAMPLEKEY');
      expect(props['spark.hadoop.fs.s3a.secret.key']).toBe('aws-secret-value');
      expect(props).not.toHaveProperty('spark.hadoop.fs.s3a.session.token');
      expect(props).not.toHaveProperty('spark.driverEnv.AWS_SESSION_TOKEN');
    });

    it('s3a keys win for S3A and travel as S3A-ACCESS-KEY / S3A-SECRET-KEY, as in the reference', () => {
      const tenant = tenantOf({
        spark: {
          s3aAccessKey: 's3a-access',
          s3aSecretKey: 's3a-secret',
          awsAccessKeyId: 'AKIAEXAMPLEKEY',
          awsSecretAccessKey: 'aws-secret-value',
          awsSessionToken: 'session-token-value',
        },
      });
      const req = buildSubmissionRequest({ tenant, masterHost: 'spark-master' });
      expect(req.environmentVariables['S3A-ACCESS-KEY']).toBe('s3a-access');
      expect(req.environmentVariables['S3A-SECRET-KEY']).toBe('s3a-secret');
      expect(req.sparkProperties['spark.hadoop.fs.s3a.access.key']).toBe('s3a-access');
      expect(req.sparkProperties['spark.hadoop.fs.s3a.secret.key']).toBe('s3a-secret');
      expect(req.sparkProperties['spark.hadoop.fs.s3a.aws.credentials.provider']).toBe('org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider');
      expect(req.sparkProperties).not.toHaveProperty('spark.hadoop.fs.s3a.session.token');
      // The AWS variables are still passed for the SDK, as the reference does.
      expect(req.sparkProperties['spark.driverEnv.AWS_ACCESS_KEY_ID']).toBe('AKIAEXAMPLEKEY');
    });

    it('no keys at all: no provider and no key properties (the default AWS chain applies)', () => {
      const props = buildSubmissionRequest({ tenant: tenantOf(), masterHost: 'spark-master' }).sparkProperties;
      for (const name of ['aws.credentials.provider', 'access.key', 'secret.key', 'session.token']) {
        expect(props).not.toHaveProperty(`spark.hadoop.fs.s3a.${name}`);
      }
    });

    it('an endpoint override (MinIO, Ceph) is used with path-style access', () => {
      const tenant = tenantOf({ objectStore: { aws: { region: 'us-east-1', bucket: 'logs', endpointOverride: 'http://minio:9000' } } });
      const props = buildSubmissionRequest({ tenant, masterHost: 'spark-master' }).sparkProperties;
      expect(props['spark.hadoop.fs.s3a.endpoint']).toBe('http://minio:9000');
      expect(props['spark.hadoop.fs.s3a.path.style.access']).toBe('true');
      expect(props['spark.hadoop.fs.s3a.endpoint.region']).toBe('us-east-1');
    });

    it('region: spark.awsRegion first, then the bucket region; us-east-1 uses the global endpoint', () => {
      const tenant = tenantOf({ spark: { awsRegion: 'us-east-1' }, objectStore: { aws: { region: 'eu-central-1', bucket: 'logs' } } });
      const props = buildSubmissionRequest({ tenant, masterHost: 'spark-master' }).sparkProperties;
      expect(props['spark.driverEnv.AWS_REGION']).toBe('us-east-1');
      expect(props['spark.hadoop.fs.s3a.endpoint']).toBe('s3.amazonaws.com');
    });

    it('a local object store (shared disk): file:// scheme, the directory as the bucket, no S3A settings', () => {
      const tenant = tenantOf({ objectStore: { local: { path: '/srv/logwise/store/' } } });
      const req = buildSubmissionRequest({ tenant, masterHost: 'spark-master' });
      expect(req.appArgs.slice(5)).toEqual(['s3.bucket="/srv/logwise/store"', 's3.uri.scheme="file://"']);
      expect(Object.keys(req.sparkProperties).filter((k) => k.startsWith('spark.hadoop.fs.s3a.'))).toEqual([]);
      expect(req.sparkProperties['spark.driverEnv.AWS_REGION']).toBe('us-east-1');
    });
  });
});

describe('redactSubmissionRequest', () => {
  const SECRETS = ['AKIAEXAMPLEKEY', 'aws-secret-value', 'session-token-value', 's3a-access', 's3a-secret'];

  function fullRequest(): CreateSubmissionRequest {
    const tenant = tenantOf({
      spark: {
        s3aAccessKey: 's3a-access',
        s3aSecretKey: 's3a-secret',
        awsAccessKeyId: 'AKIAEXAMPLEKEY',
        awsSecretAccessKey: 'aws-secret-value',
        awsSessionToken: 'session-token-value',
      },
      objectStore: { aws: { region: 'eu-west-1', bucket: 'logs', endpointOverride: 'http://minio:9000' } },
    });
    return buildSubmissionRequest({ tenant, masterHost: 'spark-master', startingOffsetsTimestamp: 1_704_067_200_000 });
  }

  it('replaces every key, secret and token value and keeps everything else', () => {
    const req = fullRequest();
    const safe = redactSubmissionRequest(req);
    for (const name of [
      'spark.driverEnv.AWS_ACCESS_KEY_ID',
      'spark.executorEnv.AWS_ACCESS_KEY_ID',
      'spark.driverEnv.AWS_SECRET_ACCESS_KEY',
      'spark.executorEnv.AWS_SECRET_ACCESS_KEY',
      'spark.driverEnv.AWS_SESSION_TOKEN',
      'spark.executorEnv.AWS_SESSION_TOKEN',
      'spark.hadoop.fs.s3a.access.key',
      'spark.hadoop.fs.s3a.secret.key',
    ]) {
      expect(safe.sparkProperties[name], name).toBe(REDACTED);
    }
    for (const name of ['S3A-ACCESS-KEY', 'S3A-SECRET-KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      expect(safe.environmentVariables[name], name).toBe(REDACTED);
    }
    // Not secrets: kept as they are.
    expect(safe.sparkProperties['spark.hadoop.fs.s3a.aws.credentials.provider']).toBe('org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider');
    expect(safe.sparkProperties['spark.driverEnv.AWS_REGION']).toBe('eu-west-1');
    expect(safe.sparkProperties['spark.hadoop.fs.s3a.endpoint']).toBe('http://minio:9000');
    expect(safe.environmentVariables['X-Tenant-Name']).toBe('ABC');
    expect(safe.appArgs).toEqual(req.appArgs);
    expect(safe.mainClass).toBe(req.mainClass);
  });

  it('no secret survives JSON.stringify of the redacted copy; the original is untouched', () => {
    const req = fullRequest();
    const before = JSON.stringify(req);
    const text = JSON.stringify(redactSubmissionRequest(req));
    for (const secret of SECRETS) {
      expect(before).toContain(secret);
      expect(text).not.toContain(secret);
    }
    expect(JSON.stringify(req)).toBe(before);
  });

  it('also redacts secret appArgs, -D options, URL credentials and secrets repeated elsewhere', () => {
    const req: CreateSubmissionRequest = {
      action: 'CreateSubmissionRequest',
      appArgs: ['kafka.cluster.dns=k', 'kafka.sasl.password="p4ss-word"', 'orchestrator.token=tok-123456', 'note=uses p4ss-word inside'],
      appResource: 'https://deploy:jar-pass@repo.example/job.jar',
      clientSparkVersion: '3.5.1',
      mainClass: 'com.example.Main',
      environmentVariables: { DB_PASSWORD: 'db-pass-1', PLAIN: 'visible' },
      sparkProperties: {
        'spark.driver.extraJavaOptions': '-XX:+UseG1GC -Dkafka.secret.key=inline-secret -Dother=ok',
        'spark.authenticate.secret': 'auth-secret-1',
        'spark.ssl.keyPassword': 'key-pass-1',
        'spark.app.name': 'job',
        'spark.executorEnv.MIRROR': 'db-pass-1',
      },
    };
    const safe = redactSubmissionRequest(req);
    expect(safe.appArgs).toEqual(['kafka.cluster.dns=k', `kafka.sasl.password=${REDACTED}`, `orchestrator.token=${REDACTED}`, `note=uses ${REDACTED} inside`]);
    expect(safe.appResource).toBe(`https://${REDACTED}@repo.example/job.jar`);
    expect(safe.environmentVariables).toEqual({ DB_PASSWORD: REDACTED, PLAIN: 'visible' });
    expect(safe.sparkProperties['spark.driver.extraJavaOptions']).toBe(`-XX:+UseG1GC -Dkafka.secret.key=${REDACTED} -Dother=ok`);
    expect(safe.sparkProperties['spark.executorEnv.MIRROR']).toBe(REDACTED);
    const text = JSON.stringify(safe);
    for (const secret of ['p4ss-word', 'tok-123456', 'jar-pass', 'db-pass-1', 'inline-secret', 'auth-secret-1', 'key-pass-1']) {
      expect(text).not.toContain(secret);
    }
  });

  it('names secret settings the way Spark does, without hiding credential provider class names', () => {
    expect(isSecretSettingName('spark.hadoop.fs.s3a.access.key')).toBe(true);
    expect(isSecretSettingName('S3A-SECRET-KEY')).toBe(true);
    expect(isSecretSettingName('AWS_SESSION_TOKEN')).toBe(true);
    expect(isSecretSettingName('spark.hadoop.fs.s3a.aws.credentials.provider')).toBe(false);
    expect(isSecretSettingName('spark.driverEnv.AWS_REGION')).toBe(false);
    expect(isSecretSettingName('X-Tenant-Name')).toBe(false);
  });
});
