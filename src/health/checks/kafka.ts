/**
 * The kafka check: a TCP connection to each bootstrap broker, then, with the Kafka client,
 * ApiVersions and a Metadata request listing the topics: UP when a broker answers and at least
 * one topic matches `spark.subscribePattern` (a Java regex, matched against the whole topic name
 * as Kafka's pattern subscription does).
 */
import net from 'node:net';
import type { TenantConfig } from '../../config/schema.js';
import { urlHost } from '../../spark/hosts.js';
import { describeError, type CheckContext, type CheckOutcome } from './check.js';
import { javaPatternToRegExp } from './java-pattern.js';

const KAFKA_CLIENT_ID = 'logwise-orchestrator-health';
/** Topic names quoted in messages and details. */
const NAMES_SHOWN = 5;

export interface BrokerAddress {
  host: string;
  port: number;
}

/**
 * `kafkaBrokersHost` as the reference accepts it: one host, or a comma-separated list, each
 * with or without its own port (`host1,host2`, `host1:9092,host2:9093`, `[::1]:9092`); a
 * `PLAINTEXT://`-style prefix is ignored. Entries without a port get `defaultPort`.
 */
export function parseKafkaBrokers(hosts: string, defaultPort: number): BrokerAddress[] {
  const out: BrokerAddress[] = [];
  for (const raw of hosts.split(',')) {
    const entry = raw
      .trim()
      .replace(/^[a-z_]+:\/\//i, '')
      .replace(/\/+$/, '');
    if (entry === '') continue;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      out.push({ host: bracketed[1] ?? '', port: bracketed[2] ? Number(bracketed[2]) : defaultPort });
      continue;
    }
    const colons = entry.split(':').length - 1;
    const hostPort = /^([^:]+):(\d+)$/.exec(entry);
    if (colons === 1 && hostPort) out.push({ host: hostPort[1] ?? '', port: Number(hostPort[2]) });
    else out.push({ host: entry, port: defaultPort }); // a bare name, or a bare IPv6 address
  }
  return out.filter((b) => b.host !== '' && Number.isInteger(b.port) && b.port >= 1 && b.port <= 65535);
}

type ProbeResult = { broker: string; ok: true } | { broker: string; ok: false; reason: string };

export async function checkKafka(tenant: TenantConfig, ctx: CheckContext, timeoutMs: number): Promise<CheckOutcome> {
  if (!tenant.kafka) return { status: 'SKIPPED', message: 'not configured (no kafka { kafkaBrokersHost, kafkaBrokerPort } for this tenant)' };
  const brokers = parseKafkaBrokers(tenant.kafka.kafkaBrokersHost, tenant.kafka.kafkaBrokerPort);
  if (brokers.length === 0) return { status: 'DOWN', message: `kafkaBrokersHost names no broker: ${JSON.stringify(tenant.kafka.kafkaBrokersHost)}` };
  const patternText = tenant.spark.subscribePattern;
  ctx.details.subscribePattern = patternText;
  let pattern: RegExp;
  try {
    pattern = javaPatternToRegExp(patternText);
  } catch (error) {
    return { status: 'DOWN', message: `spark.subscribePattern ${JSON.stringify(patternText)} is not a usable regular expression: ${describeError(error)}` };
  }

  // 1. TCP: which bootstrap brokers accept a connection at all (clear "refused"/"timed out").
  ctx.phase(`connecting to ${brokers.map(brokerName).join(', ')}`);
  const probes = await Promise.all(brokers.map((b) => probeTcp(b, timeoutMs, ctx.signal)));
  const reachable = brokers.filter((_, i) => probes[i]?.ok);
  const unreachable = probes.filter((p): p is Extract<ProbeResult, { ok: false }> => !p.ok);
  ctx.details.bootstrapBrokers = brokers.map(brokerName);
  if (unreachable.length > 0) ctx.details.unreachableBrokers = unreachable.map((p) => `${p.broker} (${p.reason})`);
  if (reachable.length === 0) {
    const what = unreachable.map((p) => `${p.broker} (${p.reason})`).join(', ');
    return { status: 'DOWN', message: brokers.length === 1 ? `Kafka broker ${what}` : `no Kafka broker reachable: ${what}` };
  }

  // 2. The Kafka protocol: ApiVersions, then Metadata listing every topic.
  const { Admin } = await loadKafkaClient();
  ctx.signal.throwIfAborted(); // never open a client after the check has been given up
  const admin = new Admin({
    clientId: KAFKA_CLIENT_ID,
    bootstrapBrokers: reachable.map((b) => ({ host: b.host, port: b.port })),
    connectTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retries: 0,
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= admin.close().then(
      () => undefined,
      () => undefined,
    ));
  ctx.signal.addEventListener('abort', close, { once: true });
  try {
    const target = reachable.map(brokerName).join(', ');
    ctx.phase(`${target} accepted the connection but did not answer ApiVersions`);
    const apis = await admin.listApis();
    const metadataApi = apis.find((a) => a.apiKey === METADATA_API_KEY);
    if (!metadataApi) return { status: 'DOWN', message: `Kafka broker ${target} does not offer the Metadata API` };
    // The client sends the highest version both know (it implements 9-12).
    const metadataVersion = Math.min(metadataApi.maxVersion, 12);
    ctx.details.metadataVersion = metadataVersion;

    ctx.phase(`${target} answered ApiVersions but not the metadata request`);
    const topics = await admin.listTopics({ includeInternals: false });
    const matching = topics.filter((t) => pattern.test(t));
    Object.assign(ctx.details, { topicCount: topics.length, matchingTopicCount: matching.length, matchingTopics: matching.slice(0, NAMES_SHOWN) });

    // Broker list (and the partitions of a few matching topics) from a second Metadata request. Skipped
    // for Metadata v11: this client writes the v8-10 include_cluster_authorized_operations field into
    // its v11 request, which a v11 broker (Kafka 2.8-3.0) cannot parse and answers by closing.
    if (metadataVersion !== 11) {
      ctx.phase(`${target} did not answer the broker metadata request`);
      const meta = await admin.metadata({ topics: matching.slice(0, NAMES_SHOWN), forceUpdate: true });
      ctx.details.brokerCount = meta.brokers.size;
      ctx.details.clusterId = meta.id;
      ctx.details.partitions = Object.fromEntries([...meta.topics].map(([name, t]) => [name, t.partitionsCount]));
    }

    if (matching.length === 0) {
      const seen =
        topics.length === 0
          ? `it has no topics, so none matches the subscribe pattern ${patternText}`
          : `none of its ${topics.length} topic${topics.length === 1 ? '' : 's'} matches the subscribe pattern ${patternText} (${quoteNames(topics)})`;
      return { status: 'DOWN', message: `Kafka broker ${target} answered, but ${seen}` };
    }
    return {
      status: 'UP',
      message: `${matching.length} of ${topics.length} topic${topics.length === 1 ? '' : 's'} match ${patternText} (${quoteNames(matching)})${unreachable.length > 0 ? `; unreachable: ${unreachable.map((p) => p.broker).join(', ')}` : ''}`,
    };
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    return { status: 'DOWN', message: `Kafka metadata request to ${reachable.map(brokerName).join(', ')} failed: ${describeError(error)}` };
  } finally {
    ctx.signal.removeEventListener('abort', close);
    await close();
  }
}

const METADATA_API_KEY = 3;

function brokerName(b: BrokerAddress): string {
  return `${urlHost(b.host)}:${b.port}`;
}

function quoteNames(names: readonly string[]): string {
  return names.length <= NAMES_SHOWN ? names.join(', ') : `${names.slice(0, NAMES_SHOWN).join(', ')}, … ${names.length - NAMES_SHOWN} more`;
}

/** Opens a TCP connection and closes it at once. */
function probeTcp(broker: BrokerAddress, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  const name = brokerName(broker);
  return new Promise((resolve) => {
    const socket = net.connect({ host: broker.host, port: broker.port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = () => done({ broker: name, ok: false, reason: 'aborted' });
    const timer = setTimeout(() => done({ broker: name, ok: false, reason: `connection timed out after ${timeoutMs} ms` }), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done({ broker: name, ok: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ broker: name, ok: false, reason: connectFailure(err) }));
  });
}

function connectFailure(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${err.code})`;
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `unreachable (${err.code})`;
    default:
      return err.code ?? err.message;
  }
}

type KafkaModule = typeof import('@platformatic/kafka');
let kafkaModule: Promise<KafkaModule> | undefined;

/** The Kafka client module, loaded once (it takes about a second); a failed load is tried again next time. */
export function loadKafkaClient(): Promise<KafkaModule> {
  kafkaModule ??= import('@platformatic/kafka').catch((error: unknown) => {
    kafkaModule = undefined;
    throw error;
  });
  return kafkaModule;
}
