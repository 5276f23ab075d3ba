/**
 * A daemon for the dashboard and CLI tests: the orchestrator with all its streams on a real
 * port, with an auth token, against the Spark master simulator, with a local store that holds
 * minute partitions of a few services (so discovery onboards them and the delay is sampled).
 * Tenant ABC also has Vector and Kafka (stand-ins), so its pipeline health can be all UP.
 */
import { tenantStreams } from '../../streams/tenant-streams.js';
import { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import { KafkaBrokerStandIn } from '../stand-ins/kafka-broker.js';
import { VectorApiStandIn } from '../stand-ins/vector-api.js';
import { tenantHocon } from './daemon-config.js';
import { startDaemon } from './daemon.js';
import type { TestOrchestrator } from './orchestrator.js';
import { aliveOf, JAR, MAIN_CLASS, waitFor } from './spark.js';
import { localFolder, partitionKey, type TestStore } from './stores.js';

export const UI_TOKEN = 'ui-test-token-5f2c9a';
export const SERVICES = ['checkout', 'payments', 'search'];

export interface UiDaemon {
  t: TestOrchestrator;
  sim: SparkMasterSimulator;
  store: TestStore;
  url: string;
  /** The newest alive driver of a tenant on the simulator (waits for one). */
  aliveDriver(mainClass?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface UiDaemonOptions {
  /** Extra tenants' names (each on its own main class, no delay sample). */
  extraTenants?: string[];
  port?: number;
  protectReads?: boolean;
  /** No timer ticks: the streams run only on commands (a test then sees what its command did). */
  quietTicks?: boolean;
}

export async function startUiDaemon(opts: UiDaemonOptions = {}): Promise<UiDaemon> {
  const sim = await new SparkMasterSimulator().start();
  const vector = await new VectorApiStandIn().start();
  const kafka = await new KafkaBrokerStandIn({ topics: ['logs-application'] }).start();
  const store = localFolder();
  // Partitions of the last minutes: a delay of a minute or two, three services to discover.
  const now = Date.now();
  const keys = SERVICES.flatMap((service) => [3, 2, 1].map((ago) => partitionKey('prod', service, 'api', new Date(now - ago * 60_000).toISOString())));
  await store.put(keys);
  // Without Kafka a submission fails (the job's kafka.cluster.dns): the others get an address that refuses.
  const refusingKafka = 'kafka { kafkaBrokersHost = "127.0.0.1", kafkaBrokerPort = 1 }';
  const tenant = (name: string, mainClass: string, more: { kafka?: string; extra?: string } = {}) =>
    tenantHocon({ name, store: store.hocon, kafka: more.kafka ?? refusingKafka, masters: [sim], jar: JAR, mainClass, extra: more.extra });
  const tenants = [
    tenant('ABC', MAIN_CLASS, {
      kafka: `kafka { kafkaBrokersHost = "127.0.0.1", kafkaBrokerPort = ${kafka.port} }`,
      extra: `delayMetrics.app { sampleEnv = "prod", sampleServiceName = "checkout", sampleComponentName = "api" }
       vector { host = "127.0.0.1", apiPort = ${vector.port} }`,
    }),
    ...(opts.extraTenants ?? []).map((name, i) => tenant(name, `com.example.Job${i}`)),
  ];
  // quietTicks puts the first ticks at the end of their interval: long ones, so never in a test.
  const quiet = opts.quietTicks ?? false;
  const { t, stop } = await startDaemon({
    settings: `http { authToken = "${UI_TOKEN}", protectReads = ${opts.protectReads ? 'true' : 'false'} ${opts.port ? `, port = ${opts.port}` : ''} }`,
    tenants,
    loop: {
      sparkPollSeconds: quiet ? 3600 : 0.3,
      submitGraceSeconds: 1,
      discoverySeconds: quiet ? 3600 : 2,
      delaySampleSeconds: quiet ? 3600 : 1,
      backoff: { minSeconds: 0.2, maxSeconds: 1 },
    },
    listen: true,
    streams: tenantStreams,
    quietTicks: quiet,
  });
  const url = `http://127.0.0.1:${t.orchestrator.port}`;
  return {
    t,
    sim,
    store,
    url,
    aliveDriver: (mainClass = MAIN_CLASS) => waitFor(() => aliveOf(sim, mainClass).find((d) => d.state === 'RUNNING')?.id, `a RUNNING driver of ${mainClass}`),
    stop: async () => {
      await stop();
      await Promise.all([sim.stop(), vector.stop(), kafka.stop()]);
      await store.destroy();
    },
  };
}
