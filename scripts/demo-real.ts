/**
 * `npm run demo -- --real`: the whole pipeline with the real parts, on this machine: a Kafka
 * broker, a Spark standalone master + worker (both from Maven Central jars), the Ceph RGW as S3
 * (`bash test/services.sh up` starts them, idempotently), the test application's Structured
 * Streaming job (Kafka → Parquet in the Logwise layout on S3), the orchestrator supervising it,
 * and a producer of log lines. Watch the pretty logs, or in other terminals:
 *
 *   curl -N localhost:8080/api/v1/events
 *   curl -H 'X-Tenant-Name: ABC' localhost:8080/api/v1/metric/sync-delay
 *   open http://127.0.0.1:18080   (the Spark master's UI: the driver and its application)
 *
 * Runs until Ctrl-C, or for `--seconds N`. The services stay up afterwards
 * (`bash test/services.sh down` stops them); the driver is killed on the way out.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { parseEnvLines, RealMaster, realSparkTenant } from '../test/support/real-spark.js';
import { s3TestAccessKeyId, s3TestEndpoint, s3TestRegion, s3TestSecretAccessKey, testS3Client } from '../test/support/s3.js';

const BUCKET = 'logwise-demo';
const TOPIC = 'logs-application';
const SERVICES = [
  ['prod', 'checkout'],
  ['prod', 'payments'],
  ['prod', 'search'],
  ['stag', 'inventory'],
] as const;

const say = (line: string) => process.stdout.write(`\x1b[36m[demo]\x1b[0m ${line}\n`);

function services(command: string): string {
  return execFileSync('bash', ['test/services.sh', command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function daemonConfig(spark: RealMaster, kafkaBootstrap: string): string {
  return `# written by npm run demo -- --real
http.port = 8080
http.port = \${?PORT}
database.filename = "data/demo-real/orchestrator.sqlite"
loop {
  sparkPollSeconds = 5
  discoverySeconds = 20
  delaySampleSeconds = 10
  submitGraceSeconds = 60
  backoff { minSeconds = 1, maxSeconds = 20 }
}
tenants = [${realSparkTenant(spark, {
    store: `objectStore.aws { region = "${s3TestRegion}", bucket = "${BUCKET}", endpointOverride = "${s3TestEndpoint}" }`,
    kafkaBrokersHost: kafkaBootstrap,
    mainClass: spark.env.SPARK_TEST_STREAM_CLASS!,
    appName: 'logwise-demo',
    driverMemory: '768m',
    executorMemory: '768m',
    sparkExtra: `subscribePattern = "^logs.*"
      kafkaStartingOffsets = "earliest"
      kafkaMaxRatePerPartition = "1000"
      s3aAccessKey = "${s3TestAccessKeyId}"
      s3aSecretKey = "${s3TestSecretAccessKey}"`,
    extra: `envLogsRetentionDays = [{ envs = ["prod"], retentionDays = 30 }]
    delayMetrics.app { sampleEnv = "prod", sampleServiceName = "checkout", sampleComponentName = "api" }`,
  })}]
`;
}

export async function runRealDemo(seconds: number | undefined): Promise<void> {
  say('starting MariaDB, the Ceph RGW, Kafka and the Spark master + worker (bash test/services.sh up) ...');
  services('up');
  const spark = new RealMaster(parseEnvLines(services('spark-env')));
  const kafkaBootstrap = parseEnvLines(services('kafka-env')).KAFKA_TEST_BOOTSTRAP!;

  const s3 = testS3Client();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((err: { name?: string }) => {
    if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
  });
  const dir = 'data/demo-real';
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'daemon.conf');
  writeFileSync(configPath, daemonConfig(spark, kafkaBootstrap));
  say(`S3 bucket ${BUCKET} on ${s3TestEndpoint}; Kafka at ${kafkaBootstrap}; Spark master UI http://${spark.host}:${spark.uiPort}`);

  const producer = new Producer({ clientId: 'logwise-demo', bootstrapBrokers: [kafkaBootstrap], serializers: stringSerializers, autocreateTopics: true });
  let sent = 0;
  let producing = true;
  const produce = async () => {
    while (producing) {
      const messages = SERVICES.map(([env, service]) => ({
        topic: TOPIC,
        value: JSON.stringify({ env, service_name: service, component_name: 'api', message: `request ${sent} served` }),
      }));
      await producer.send({ messages }).catch((err: Error) => say(`producer: ${err.message}`));
      sent += messages.length;
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  const producing$ = produce();
  say(`producing ${SERVICES.length} log lines a second to topic ${TOPIC}`);

  const orchestrator = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configPath], {
    stdio: 'inherit',
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: s3TestAccessKeyId,
      AWS_SECRET_ACCESS_KEY: s3TestSecretAccessKey,
      LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    },
  });
  say(
    'orchestrator starting on http://localhost:8080: expect spark.submitted, then (30-60 s later) discovery.onboarded and the delay falling to a minute or two',
  );

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    producing = false;
    await producing$;
    await producer.close().catch(() => undefined);
    orchestrator.kill('SIGTERM');
    await new Promise((r) => (orchestrator.exitCode === null ? orchestrator.once('exit', r) : r(undefined)));
    say('killing the streaming driver (the services stay up: bash test/services.sh down stops them)');
    await spark.killAll(spark.env.SPARK_TEST_STREAM_CLASS).catch((err: Error) => say(err.message));
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  orchestrator.once('exit', (status) => {
    if (!stopping) {
      say(`the orchestrator exited (${status}); stopping`);
      void stop(status ?? 1);
    }
  });
  if (seconds !== undefined) setTimeout(() => void stop(0), seconds * 1000);
}
