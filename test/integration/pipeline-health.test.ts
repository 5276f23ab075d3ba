/**
 * `checkPipeline` against real listeners on loopback (ephemeral ports): the Vector API and
 * Kafka broker stand-ins (test/stand-ins, see their headers for why they are stand-ins), the
 * Spark master simulator, and a local-folder object store holding minute partitions.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, type TenantConfig } from '../../src/config/schema.js';
import { javaPatternToRegExp } from '../../src/health/checks/java-pattern.js';
import { parseKafkaBrokers } from '../../src/health/checks/kafka.js';
import {
  checkPipeline,
  preloadKafkaClient,
  type ComponentCheck,
  type ComponentName,
  type PipelineHealth,
  type PipelineHealthOptions,
} from '../../src/health/pipeline-health.js';
import type { RouteDeps } from '../../src/http/routes.js';
import { LocalObjectStore } from '../../src/objectstore/local-object-store.js';
import { SparkMasterClient } from '../../src/spark/master-client.js';
import { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import { API_KEY_API_VERSIONS, API_KEY_METADATA, KafkaBrokerStandIn } from '../stand-ins/kafka-broker.js';
import { VectorApiStandIn } from '../stand-ins/vector-api.js';

// The route wraps the result in {data: …}: it must fit the route's type.
const _fitsRoute: (h: PipelineHealth) => Awaited<ReturnType<NonNullable<RouteDeps['pipelineHealth']>>> = (h) => h;

const MAIN_CLASS = 'com.logwise.spark.MainApplication';
/** The clock of the delay sample: 10:07:30 UTC. */
const NOW = Date.UTC(2026, 0, 15, 10, 7, 30);
const TIMEOUT_MS = 1_500;
const HUNG_TIMEOUT_MS = 400;

let vector: VectorApiStandIn;
let kafka: KafkaBrokerStandIn;
let sim: SparkMasterSimulator;
let spark: SparkMasterClient;
let root: string;
let store: LocalObjectStore;
let driverId: string;

function put(service: string, minuteIso: string): void {
  const d = new Date(minuteIso);
  const p = (n: number) => String(n).padStart(2, '0');
  const key = `logs/env=prod/service_name=${service}/component_name=application/year=${d.getUTCFullYear()}/month=${p(d.getUTCMonth() + 1)}/day=${p(d.getUTCDate())}/hour=${p(d.getUTCHours())}/minute=${p(d.getUTCMinutes())}/part-00000.parquet`;
  mkdirSync(dirname(join(root, key)), { recursive: true });
  writeFileSync(join(root, key), 'x');
}

function tenant(overrides: { vector?: unknown; kafka?: unknown; spark?: Record<string, unknown>; delayMetrics?: unknown } = {}): TenantConfig {
  const t: Record<string, unknown> = {
    name: 'ABC',
    objectStore: { local: { path: root } },
    vector: { host: '127.0.0.1', apiPort: vector.port },
    kafka: { kafkaBrokersHost: '127.0.0.1', kafkaBrokerPort: kafka.port },
    spark: { sparkMasterHost: '127.0.0.1', sparkJarPath: 'file:///app.jar', subscribePattern: '^logs.*', ...overrides.spark },
    delayMetrics: { app: { sampleEnv: 'prod', sampleServiceName: 'fresh-svc', sampleComponentName: 'application' } },
  };
  for (const key of ['vector', 'kafka', 'delayMetrics'] as const) {
    if (key in overrides) {
      if (overrides[key] === undefined) delete t[key];
      else t[key] = overrides[key];
    }
  }
  return configSchema.parse({ tenants: [t] }).tenants[0]!;
}

const deps = (extra: { otherTenantMainClasses?: string[]; submittedDriverIds?: ReadonlySet<string> } = {}) => ({ spark, store, now: () => NOW, ...extra });
const check = (h: PipelineHealth, name: ComponentName): ComponentCheck => h.checks.find((c) => c.name === name)!;
const statuses = (h: PipelineHealth) => Object.fromEntries(h.checks.map((c) => [c.name, c.status]));
const run = (t: TenantConfig = tenant(), opts: PipelineHealthOptions = {}, d = deps()) => checkPipeline(t, d, { timeoutMs: TIMEOUT_MS, ...opts });

async function waitFor(cond: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  await preloadKafkaClient(); // about a second, once
  root = mkdtempSync(join(tmpdir(), 'lw-health-'));
  store = new LocalObjectStore({ path: root });
  put('fresh-svc', '2026-01-15T09:58:00Z');
  put('fresh-svc', '2026-01-15T10:05:00Z'); // 2 minutes before NOW
  put('stale-svc', '2026-01-15T09:30:00Z'); // 37 minutes before NOW
  put('stale-svc', '2026-01-15T08:10:00Z');
  put('old-svc', '2026-01-15T05:00:00Z'); // outside the 4 hours walked
});

afterAll(() => {
  store.close();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(async () => {
  vector = await new VectorApiStandIn().start();
  kafka = await new KafkaBrokerStandIn({
    topics: ['logs-app', { name: 'logs-audit', partitions: 6 }, 'metrics', { name: '__consumer_offsets', partitions: 50, internal: true }],
  }).start();
  sim = await new SparkMasterSimulator({ killDelayMs: null }).start();
  driverId = sim.addDriverByHand({ mainClass: MAIN_CLASS });
  spark = new SparkMasterClient({ hosts: [sim.host], webUiPort: sim.uiPort, restPort: sim.restPort, timeoutMs: 5_000 });
});

afterEach(async () => {
  await spark.close();
  await Promise.all([vector.stop(), kafka.stop(), sim.stop()]);
});

describe('checkPipeline', () => {
  it('is UP when Vector, Kafka, the Spark master and driver, and recent logs are all there', async () => {
    const h = await run();
    expect(h.status).toBe('UP');
    expect(h.checks.map((c) => c.name)).toEqual(['vector', 'kafka', 'spark', 's3']);
    expect(statuses(h)).toEqual({ vector: 'UP', kafka: 'UP', spark: 'UP', s3: 'UP' });
    for (const c of h.checks) expect(c.durationMs).toBeGreaterThanOrEqual(0);

    expect(check(h, 'vector').details).toMatchObject({ url: `http://127.0.0.1:${vector.port}/health`, httpStatus: 200 });
    expect(vector.requests).toEqual(['GET /health']);

    const k = check(h, 'kafka');
    expect(k.details).toMatchObject({
      subscribePattern: '^logs.*',
      metadataVersion: 12,
      brokerCount: 1,
      clusterId: kafka.clusterId,
      topicCount: 3, // the internal __consumer_offsets is not counted (Kafka's exclude.internal.topics)
      matchingTopicCount: 2,
      matchingTopics: ['logs-app', 'logs-audit'],
      partitions: { 'logs-app': 1, 'logs-audit': 6 },
    });
    expect(k.message).toBe('2 of 3 topics match ^logs.* (logs-app, logs-audit)');

    expect(check(h, 'spark').message).toBe(`driver ${driverId} is RUNNING`);
    expect(check(h, 'spark').details).toMatchObject({ masterStatus: 'ALIVE', drivers: [{ id: driverId, state: 'RUNNING' }] });
    expect(check(h, 's3').details).toMatchObject({ delayMinutes: 2, newestPartition: '2026-01-15T10:05:00.000Z', maxDelayMinutes: 15 });
  });

  it('speaks the Kafka protocol the client expects (ApiVersions v3, Metadata v12) and closes its connections', async () => {
    const before = kafka.acceptedConnections;
    await run();
    // One TCP probe, then one client connection carrying every request.
    expect(kafka.acceptedConnections - before).toBe(2);
    expect(kafka.requests.map((r) => [r.apiKey, r.apiVersion, r.topics ?? null])).toEqual([
      [API_KEY_API_VERSIONS, 3, null], // listApis(): which Metadata version the client will use
      [API_KEY_API_VERSIONS, 3, null], // the client's own negotiation before its first Metadata request
      [API_KEY_METADATA, 12, null], // listTopics(): null = every topic
      [API_KEY_METADATA, 12, ['logs-app', 'logs-audit']], // brokers and partitions of the matching ones
    ]);
    expect(kafka.requests.every((r) => r.answered && r.trailingBytes === 0 && r.clientId === 'logwise-orchestrator-health')).toBe(true);
    expect(kafka.requests[0]?.clientSoftware).toMatch(/^platformatic-kafka\/1\.35\./);
    expect(kafka.requests.map((r) => r.correlationId)).toEqual([1, 2, 3, 4]);
    await waitFor(() => kafka.openConnections === 0);
  });

  it.each([
    [11, false],
    [10, true],
    [9, true],
  ])('works with a broker whose newest Metadata version is %i', async (max, brokerCount) => {
    await kafka.stop();
    kafka = await new KafkaBrokerStandIn({ topics: ['logs-app'], metadataVersions: { min: 9, max } }).start();
    const h = await run();
    expect(check(h, 'kafka')).toMatchObject({ status: 'UP', details: { metadataVersion: max, matchingTopicCount: 1 } });
    expect('brokerCount' in check(h, 'kafka').details!).toBe(brokerCount);
    expect(kafka.requests.filter((r) => r.apiKey === API_KEY_METADATA).every((r) => r.apiVersion === max)).toBe(true);
  });

  describe('vector', () => {
    it('is DOWN when its API does not listen, and UP again when it does', async () => {
      await vector.stop();
      const down = await run();
      expect(down.status).toBe('DOWN');
      expect(statuses(down)).toEqual({ vector: 'DOWN', kafka: 'UP', spark: 'UP', s3: 'UP' });
      expect(check(down, 'vector').message).toMatch(new RegExp(`^Vector API unreachable at http://127\\.0\\.0\\.1:${vector.port}/health: .*ECONNREFUSED`));
      await vector.start();
      const up = await run();
      expect(up.status).toBe('UP');
    });

    it('is DOWN when Vector says it is not ok (503 {"ok":false})', async () => {
      vector.setHealthy(false);
      const h = await run();
      expect(check(h, 'vector')).toMatchObject({ status: 'DOWN', message: 'Vector API answered HTTP 503 {"ok":false} (shutting down)' });
      expect(h.status).toBe('DOWN');
    });

    it('is DOWN within the timeout when Vector hangs, without holding up the other checks', async () => {
      vector.setHang(true);
      const started = performance.now();
      const h = await run(tenant(), { timeoutMs: HUNG_TIMEOUT_MS });
      const elapsed = performance.now() - started;
      expect(check(h, 'vector')).toMatchObject({
        status: 'DOWN',
        message: `no answer within ${HUNG_TIMEOUT_MS} ms (waiting for GET http://127.0.0.1:${vector.port}/health)`,
      });
      expect(check(h, 'vector').durationMs).toBeGreaterThanOrEqual(HUNG_TIMEOUT_MS - 5);
      expect(elapsed).toBeLessThan(HUNG_TIMEOUT_MS + 1_000);
      expect(statuses(h)).toMatchObject({ kafka: 'UP', spark: 'UP', s3: 'UP' });
    });

    it('is SKIPPED "not configured" for a tenant without a vector block, and the tenant can still be UP', async () => {
      const h = await run(tenant({ vector: undefined }));
      expect(check(h, 'vector')).toMatchObject({ status: 'SKIPPED', message: expect.stringMatching(/^not configured/) });
      expect(statuses(h)).toMatchObject({ kafka: 'UP', spark: 'UP', s3: 'UP' });
      expect(h.status).toBe('UP');
    });
  });

  describe('kafka', () => {
    it('is DOWN when the broker refuses connections, and UP again when it listens', async () => {
      await kafka.stop();
      const down = await run();
      expect(statuses(down)).toEqual({ vector: 'UP', kafka: 'DOWN', spark: 'UP', s3: 'UP' });
      expect(check(down, 'kafka').message).toBe(`Kafka broker 127.0.0.1:${kafka.port} (connection refused)`);
      await kafka.start();
      const up = await run();
      expect(up.status).toBe('UP');
    });

    it('is DOWN when no topic matches the subscribe pattern (matched against the whole name, as Kafka does)', async () => {
      kafka.setTopics(['metrics', 'app-logs', { name: '__consumer_offsets', internal: true }]);
      const h = await run();
      expect(check(h, 'kafka')).toMatchObject({
        status: 'DOWN',
        message: `Kafka broker 127.0.0.1:${kafka.port} answered, but none of its 2 topics matches the subscribe pattern ^logs.* (app-logs, metrics)`,
        details: { brokerCount: 1, topicCount: 2, matchingTopicCount: 0 },
      });
      // Java's matches(): "logs" does not match "mylogs-x" or "logs-x" as a find() would.
      kafka.setTopics(['logs-app', 'mylogs']);
      const exact = await run(tenant({ spark: { subscribePattern: 'logs' } }));
      expect(check(exact, 'kafka')).toMatchObject({ status: 'DOWN', details: { topicCount: 2, matchingTopicCount: 0 } });
      kafka.setTopics([]);
      const empty = await run();
      expect(check(empty, 'kafka').message).toBe(
        `Kafka broker 127.0.0.1:${kafka.port} answered, but it has no topics, so none matches the subscribe pattern ^logs.*`,
      );
    });

    it.each([
      ['hangs from the first byte', true, 'accepted the connection but did not answer ApiVersions'],
      ['answers ApiVersions but never Metadata', 'metadata', 'answered ApiVersions but not the metadata request'],
    ] as const)('is DOWN within the timeout when the broker %s, and leaves no socket or timer behind', async (_what, mode, phase) => {
      kafka.setHang(mode);
      const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const started = performance.now();
      const h = await run(tenant({ vector: undefined }), { timeoutMs: HUNG_TIMEOUT_MS });
      const elapsed = performance.now() - started;
      expect(check(h, 'kafka')).toMatchObject({ status: 'DOWN', message: `no answer within ${HUNG_TIMEOUT_MS} ms (127.0.0.1:${kafka.port} ${phase})` });
      expect(elapsed).toBeLessThan(HUNG_TIMEOUT_MS + 1_000);
      expect(statuses(h)).toMatchObject({ spark: 'UP', s3: 'UP' });
      // The client's connection was closed by the check (the broker never closes it by itself).
      await waitFor(() => kafka.openConnections === 0);
      expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(timersBefore);
    });

    it('takes a comma-separated broker list, with or without ports, and is UP while one broker answers', async () => {
      const dead = await deadPort();
      const h = await run(tenant({ kafka: { kafkaBrokersHost: `127.0.0.1:${dead}, 127.0.0.1:${kafka.port}`, kafkaBrokerPort: 9092 } }));
      expect(check(h, 'kafka')).toMatchObject({
        status: 'UP',
        message: `2 of 3 topics match ^logs.* (logs-app, logs-audit); unreachable: 127.0.0.1:${dead}`,
        details: { bootstrapBrokers: [`127.0.0.1:${dead}`, `127.0.0.1:${kafka.port}`], unreachableBrokers: [`127.0.0.1:${dead} (connection refused)`] },
      });
      const none = await run(tenant({ kafka: { kafkaBrokersHost: '127.0.0.1,localhost', kafkaBrokerPort: dead } }));
      expect(check(none, 'kafka').message).toMatch(
        new RegExp(`^no Kafka broker reachable: 127\\.0\\.0\\.1:${dead} \\(connection refused\\), localhost:${dead} \\(`),
      );
    });

    it('is always configured: a tenant without a kafka block fails validation at start-up (a submission needs it)', () => {
      expect(() => tenant({ kafka: undefined })).toThrow(/is required \(a Spark submission passes kafka\.kafkaBrokersHost to the job\)/);
    });
  });

  describe('spark', () => {
    it('is DOWN when the master is STANDBY, and UP again when it is ALIVE', async () => {
      sim.setStatus('STANDBY');
      const down = await run();
      expect(statuses(down)).toEqual({ vector: 'UP', kafka: 'UP', spark: 'DOWN', s3: 'UP' });
      expect(check(down, 'spark').message).toBe(`Spark master ${sim.masterUrl} is STANDBY, not ALIVE`);
      sim.setStatus('ALIVE');
      expect((await run()).status).toBe('UP');
    });

    it('is DOWN when the tenant has no alive driver', async () => {
      const other = await run(tenant({ spark: { mainClass: 'com.example.OtherJob' } }));
      expect(check(other, 'spark')).toMatchObject({ status: 'DOWN', message: `no alive driver of tenant ABC on ${sim.masterUrl}` });

      // The main class is shared with another tenant on this master: only our own ids count.
      const shared = await run(tenant(), {}, deps({ otherTenantMainClasses: [MAIN_CLASS] }));
      expect(check(shared, 'spark').status).toBe('DOWN');
      expect(check(shared, 'spark').message).toMatch(/shared with another tenant/);
      const ours = await run(tenant(), {}, deps({ otherTenantMainClasses: [MAIN_CLASS], submittedDriverIds: new Set([driverId]) }));
      expect(check(ours, 'spark').status).toBe('UP');

      // Killed: it leaves activedrivers, and the message names how it ended.
      await spark.killSubmission(driverId);
      sim.finishPendingKills();
      const killed = await run();
      expect(check(killed, 'spark')).toMatchObject({
        status: 'DOWN',
        message: `no alive driver of tenant ABC on ${sim.masterUrl}; its last driver ${driverId} ended KILLED`,
      });
    });

    it('counts a SUBMITTED driver (waiting for a worker) as alive', async () => {
      for (const w of sim.workers()) sim.loseWorker(w.id);
      const waiting = sim.addDriverByHand({ mainClass: MAIN_CLASS });
      const h = await run();
      expect(check(h, 'spark').details).toMatchObject({ drivers: [{ id: waiting, state: 'SUBMITTED', worker: null }] });
      expect(check(h, 'spark').status).toBe('UP');
      expect(check(h, 'spark').message).toMatch(/is SUBMITTED \(waiting for a worker\)$/);
    });

    it('is DOWN when the master does not answer', async () => {
      await sim.refuseConnections(true);
      const h = await run();
      expect(check(h, 'spark')).toMatchObject({ status: 'DOWN', message: expect.stringMatching(/^Spark master unreachable: 127\.0\.0\.1:\d+ \(.*refused/i) });
    });
  });

  describe('s3', () => {
    it('is DOWN when the newest logs of the sample service are older than the threshold (an option)', async () => {
      const stale = tenant({ delayMetrics: { app: { sampleEnv: 'prod', sampleServiceName: 'stale-svc', sampleComponentName: 'application' } } });
      const h = await run(stale);
      expect(statuses(h)).toEqual({ vector: 'UP', kafka: 'UP', spark: 'UP', s3: 'DOWN' });
      expect(check(h, 's3')).toMatchObject({
        message: 'the newest logs of the sample service are 37 minutes old (2026-01-15T09:30:00.000Z), more than 15',
        details: { delayMinutes: 37 },
      });
      expect(check(await run(stale, { maxDelayMinutes: 40 }), 's3').status).toBe('UP');
    });

    it('is DOWN when the sample service has no logs in the hours walked', async () => {
      const old = await run(tenant({ delayMetrics: { app: { sampleEnv: 'prod', sampleServiceName: 'old-svc', sampleComponentName: 'application' } } }));
      expect(check(old, 's3')).toMatchObject({
        status: 'DOWN',
        message: expect.stringMatching(/^no logs of the sample service in the last 4 hours/),
        details: { delayMinutes: null },
      });
    });

    it('without a sample service, checks that the store answers and says so', async () => {
      const h = await run(tenant({ delayMetrics: undefined }));
      expect(check(h, 's3')).toMatchObject({ status: 'UP', message: expect.stringMatching(/^no sample service configured/) });
      const gone = new LocalObjectStore({ path: join(root, 'no-such-dir') });
      const down = await checkPipeline(tenant({ delayMetrics: undefined }), { ...deps(), store: gone }, { timeoutMs: TIMEOUT_MS });
      expect(check(down, 's3').status).toBe('DOWN');
      gone.close();
    });
  });
});

describe('helpers', () => {
  it('parseKafkaBrokers: one host, lists, own ports, IPv6, scheme prefixes', () => {
    expect(parseKafkaBrokers('kafka', 9092)).toEqual([{ host: 'kafka', port: 9092 }]);
    expect(parseKafkaBrokers('k1, k2:9093,,', 9092)).toEqual([
      { host: 'k1', port: 9092 },
      { host: 'k2', port: 9093 },
    ]);
    expect(parseKafkaBrokers('[::1]:9094,::1,PLAINTEXT://k3:9095', 9092)).toEqual([
      { host: '::1', port: 9094 },
      { host: '::1', port: 9092 },
      { host: 'k3', port: 9095 },
    ]);
  });

  it('javaPatternToRegExp: whole-name match, Java-only syntax', () => {
    const m = (p: string, topic: string) => javaPatternToRegExp(p).test(topic);
    expect(m('^logs.*', 'logs-app')).toBe(true);
    expect(m('^logs.*', 'app-logs')).toBe(false);
    expect(m('logs', 'logs-app')).toBe(false);
    expect(m('logs-(app|web)', 'logs-web')).toBe(true);
    expect(m('(?i)LOGS.*', 'logs-app')).toBe(true);
    expect(m('\\Qlogs.v1\\E.*', 'logs.v1-a')).toBe(true);
    expect(m('\\Qlogs.v1\\E.*', 'logsXv1-a')).toBe(false);
    expect(m('\\Alogs.*+\\z', 'logs-a')).toBe(true);
    expect(m('[]a]+', ']a')).toBe(true);
    expect(() => javaPatternToRegExp('logs(')).toThrow(SyntaxError);
  });
});
