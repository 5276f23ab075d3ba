/**
 * `GET /pipeline/health` (SPEC §3): one tenant's pipeline, component by component.
 *
 *   vector  GET http://host:apiPort/health; Vector's API answers 200 {"ok":true}.
 *   kafka   a TCP connection to each bootstrap broker, then, with the Kafka client, ApiVersions
 *           and a Metadata request listing the topics: UP when a broker answers and at least
 *           one topic matches `spark.subscribePattern` (a Java regex, matched against the whole
 *           topic name as Kafka's pattern subscription does).
 *   spark   the master is ALIVE and the tenant has an alive driver (in `activedrivers`,
 *           SUBMITTED or RUNNING, belonging to the tenant by id or main class).
 *   s3      the newest minute partition of the sample service (`delayMetrics.app`) is at most
 *           `maxDelayMinutes` old; with no sample service, the store answers a ping.
 *
 * The four run in parallel, each with its own timeout (an AbortSignal cancels its I/O), so a
 * hung dependency never hangs the endpoint. Overall UP only if every check is UP. Every socket
 * and timer a check opens is released before `checkPipeline` resolves (after a timeout, the
 * check gets `cleanupGraceMs` to release them once aborted).
 */
import net from 'node:net';
import { Agent, request } from 'undici';
import type { TenantConfig } from '../config/schema.js';
import type { ObjectStore } from '../objectstore/object-store.js';
import type { SparkMasterClient } from '../spark/master-client.js';
import type { SparkDriver } from '../spark/types.js';
import { HOURS_WALKED, sampleDelay } from '../../streams/delay-decision.js';
import { sampleServicePrefix } from '../../streams/delay-sample.js';
import type { PartitionLayout } from '../../streams/partition-layout.js';
import { compareNewestFirst, driverBelongsToTenant, tenantAliveDrivers } from '../../streams/spark-decision.js';

// ---------------------------------------------------------------- public types

export type ComponentName = 'vector' | 'kafka' | 'spark' | 's3';
export type HealthStatus = 'UP' | 'DOWN';
/** A component this tenant does not configure is SKIPPED: it does not make the pipeline DOWN. */
export type CheckStatus = HealthStatus | 'SKIPPED';

/** Type aliases (not interfaces) so that they are assignable to `Record<string, unknown>`. */
export type ComponentCheck = {
  name: ComponentName;
  status: CheckStatus;
  /** Why it is DOWN, or a short note on what was seen. */
  message?: string;
  /** Wall time the check took (≈ the timeout when it timed out). */
  durationMs: number;
  details?: Record<string, unknown>;
};

export type PipelineHealth = {
  status: HealthStatus;
  checks: ComponentCheck[];
};

export interface PipelineHealthDeps {
  /** The tenant's Spark master client (only `masterState` is used). */
  spark: Pick<SparkMasterClient, 'masterState'>;
  /** The tenant's object store. */
  store: ObjectStore;
  /** Epoch ms (the delay sample's clock). */
  now(): number;
  /** Main classes of the other tenants on the same master (ownership by main class, SPEC §4.2). */
  otherTenantMainClasses?: readonly string[];
  /** Driver ids this tenant submitted (persisted). */
  submittedDriverIds?: ReadonlySet<string>;
  /** The tenant's partition layout (read from the bucket when not configured); default: the configured or default keys. */
  layout?: Pick<PartitionLayout, 'keys'>;
}

export interface PipelineHealthOptions {
  /** Per check. Default 3000 ms. */
  timeoutMs?: number;
  /** s3 is DOWN when the sample service's newest partition is older than this. Default 15. */
  maxDelayMinutes?: number;
  /** After a timeout, how long the aborted check may take to release its sockets and timers. Default 250 ms. */
  cleanupGraceMs?: number;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 3_000;
export const DEFAULT_MAX_DELAY_MINUTES = 15;
const DEFAULT_CLEANUP_GRACE_MS = 250;
const VECTOR_MAX_BODY_BYTES = 64 * 1024;
const KAFKA_CLIENT_ID = 'logwise-orchestrator-health';
/** Topic names quoted in messages and details. */
const NAMES_SHOWN = 5;

// ---------------------------------------------------------------- entry point

export async function checkPipeline(tenant: TenantConfig, deps: PipelineHealthDeps, opts: PipelineHealthOptions = {}): Promise<PipelineHealth> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new RangeError('checkPipeline: timeoutMs must be positive');
  const graceMs = opts.cleanupGraceMs ?? DEFAULT_CLEANUP_GRACE_MS;
  const maxDelayMinutes = opts.maxDelayMinutes ?? DEFAULT_MAX_DELAY_MINUTES;
  // The Kafka client takes about a second to load: once, before any check's clock starts.
  // (A failure to load is reported by the kafka check itself.)
  if (tenant.kafka) await loadKafkaClient().catch(() => undefined);

  const checks = await Promise.all([
    runCheck('vector', timeoutMs, graceMs, (ctx) => checkVector(tenant, ctx, timeoutMs)),
    runCheck('kafka', timeoutMs, graceMs, (ctx) => checkKafka(tenant, ctx, timeoutMs)),
    runCheck('spark', timeoutMs, graceMs, (ctx) => checkSpark(tenant, deps, ctx)),
    runCheck('s3', timeoutMs, graceMs, (ctx) => checkS3(tenant, deps, ctx, maxDelayMinutes)),
  ]);
  return { status: checks.every((c) => c.status !== 'DOWN') ? 'UP' : 'DOWN', checks };
}

/** Loads the Kafka client module ahead of the first check (e.g. at start-up); later calls are free. */
export function preloadKafkaClient(): Promise<void> {
  return loadKafkaClient().then(() => undefined);
}

// ---------------------------------------------------------------- runner

interface CheckContext {
  signal: AbortSignal;
  /** What the check is waiting for now (said in the message if it times out). */
  phase(what: string): void;
  /** Details gathered so far (kept in the answer if it times out). */
  details: Record<string, unknown>;
}

interface CheckOutcome {
  status: CheckStatus;
  message?: string;
}

async function runCheck(name: ComponentName, timeoutMs: number, graceMs: number, fn: (ctx: CheckContext) => Promise<CheckOutcome>): Promise<ComponentCheck> {
  const started = performance.now();
  const controller = new AbortController();
  let phase = 'starting';
  const ctx: CheckContext = { signal: controller.signal, phase: (what) => void (phase = what), details: {} };
  const work = Promise.resolve()
    .then(() => fn(ctx))
    .catch((error: unknown): CheckOutcome => ({ status: 'DOWN', message: describeError(error) }));

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const first = await Promise.race([work, timedOut]);
  clearTimeout(timer);
  if (first !== 'timeout') return result(name, first, ctx.details, started);

  const durationMs = Math.round(performance.now() - started);
  controller.abort(new Error(`${name} check timed out after ${timeoutMs} ms`));
  // Let the aborted check close what it opened, but never wait on it for long.
  let grace: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (grace = setTimeout(resolve, graceMs)))]);
  clearTimeout(grace);
  return {
    name,
    status: 'DOWN',
    message: `no answer within ${timeoutMs} ms (${phase})`,
    durationMs,
    ...(Object.keys(ctx.details).length > 0 ? { details: ctx.details } : {}),
  };
}

function result(name: ComponentName, outcome: CheckOutcome, details: Record<string, unknown>, started: number): ComponentCheck {
  return {
    name,
    status: outcome.status,
    ...(outcome.message !== undefined ? { message: outcome.message } : {}),
    durationMs: Math.round(performance.now() - started),
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}

// ---------------------------------------------------------------- vector

async function checkVector(tenant: TenantConfig, ctx: CheckContext, timeoutMs: number): Promise<CheckOutcome> {
  if (!tenant.vector) return { status: 'SKIPPED', message: 'not configured (no vector { host, apiPort } for this tenant)' };
  const url = vectorHealthUrl(tenant.vector.host, tenant.vector.apiPort);
  ctx.details.url = url;
  ctx.phase(`waiting for GET ${url}`);
  const agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 1, pipelining: 0 });
  try {
    const res = await request(url, { method: 'GET', dispatcher: agent, signal: ctx.signal, headers: { accept: 'application/json' } });
    ctx.details.httpStatus = res.statusCode;
    const text = await readCapped(res.body, VECTOR_MAX_BODY_BYTES);
    let ok: unknown;
    try {
      ok = (JSON.parse(text) as { ok?: unknown } | null)?.ok;
    } catch {
      ok = undefined;
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      return { status: 'DOWN', message: `Vector API answered HTTP ${res.statusCode}${ok === false ? ' {"ok":false} (shutting down)' : ''}` };
    }
    if (ok !== true) return { status: 'DOWN', message: `Vector API answered HTTP ${res.statusCode} without "ok":true: ${firstLine(text, 120) || '(empty body)'}` };
    return { status: 'UP' };
  } catch (error) {
    return { status: 'DOWN', message: `Vector API unreachable at ${url}: ${describeError(error)}` };
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

function vectorHealthUrl(host: string, port: number): string {
  const trimmed = host.trim().replace(/\/+$/, '');
  const base = /^https?:\/\//i.test(trimmed) ? trimmed : `http://${urlHost(trimmed)}`;
  const hasPort = /^https?:\/\/(\[[^\]]+\]|[^/:]+):\d+$/i.test(base);
  return `${hasPort ? base : `${base}:${port}`}/health`;
}

async function readCapped(body: AsyncIterable<Buffer | Uint8Array> & { destroy?: () => void }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.from(chunk);
    chunks.push(b);
    size += b.length;
    if (size >= max) {
      body.destroy?.();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

// ---------------------------------------------------------------- kafka

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
    const entry = raw.trim().replace(/^[a-z_]+:\/\//i, '').replace(/\/+$/, '');
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

/**
 * A `java.util.regex.Pattern` as Spark passes `subscribePattern` to Kafka, as a JS RegExp that
 * must match the WHOLE topic name (Kafka uses `pattern.matcher(topic).matches()`).
 * Converted: leading inline flags `(?i)`/`(?s)`/`(?m)`, `\A` `\z` `\Z`, `\Q…\E` quoting and
 * possessive quantifiers (`a*+` → `a*`). Throws a SyntaxError for what JS cannot compile.
 */
export function javaPatternToRegExp(pattern: string): RegExp {
  let source = pattern;
  let flags = '';
  const inline = /^\(\?([imsux]+)\)/.exec(source);
  if (inline) {
    for (const f of inline[1] ?? '') if ((f === 'i' || f === 's' || f === 'm') && !flags.includes(f)) flags += f;
    source = source.slice(inline[0].length);
  }
  let out = '';
  let inClass = false;
  let prevQuantifier = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      const n = source[i + 1];
      i += 1;
      prevQuantifier = false;
      if (n === undefined) throw new SyntaxError('Unexpected trailing backslash');
      if (!inClass && n === 'Q') {
        const end = source.indexOf('\\E', i + 1);
        const literal = end === -1 ? source.slice(i + 1) : source.slice(i + 1, end);
        out += literal.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
        i = end === -1 ? source.length : end + 1;
        continue;
      }
      if (!inClass && n === 'A') out += '^';
      else if (!inClass && n === 'z') out += '$';
      else if (!inClass && n === 'Z') out += '(?=\\n?$)';
      else out += `\\${n}`;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal in Java.
      if (source[i + 1] === '^') out += source[++i];
      if (source[i + 1] === ']') {
        out += '\\]';
        i += 1;
      }
      prevQuantifier = false;
      continue;
    }
    if (c === '+' && prevQuantifier) {
      prevQuantifier = false; // possessive: matched greedily here
      continue;
    }
    out += c;
    prevQuantifier = c === '*' || c === '+' || c === '?' || c === '}';
  }
  return new RegExp(`^(?:${out})$`, flags);
}

type ProbeResult = { broker: string; ok: true } | { broker: string; ok: false; reason: string };

async function checkKafka(tenant: TenantConfig, ctx: CheckContext, timeoutMs: number): Promise<CheckOutcome> {
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
  const close = () => (closing ??= admin.close().then(() => undefined, () => undefined));
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

function loadKafkaClient(): Promise<KafkaModule> {
  kafkaModule ??= import('@platformatic/kafka').catch((error: unknown) => {
    kafkaModule = undefined;
    throw error;
  });
  return kafkaModule;
}

// ---------------------------------------------------------------- spark

async function checkSpark(tenant: TenantConfig, deps: PipelineHealthDeps, ctx: CheckContext): Promise<CheckOutcome> {
  ctx.phase('waiting for the Spark master state (GET /json/)');
  const master = await deps.spark.masterState({ signal: ctx.signal });
  const where = master.url || master.webUiUrl;
  Object.assign(ctx.details, { master: where, webUiUrl: master.webUiUrl, masterStatus: master.status, aliveWorkers: master.aliveWorkers });
  if (master.status !== 'ALIVE') return { status: 'DOWN', message: `Spark master ${where} is ${master.status || 'in an unknown state'}, not ALIVE` };

  const ownership = {
    mainClass: tenant.spark.mainClass,
    submittedDriverIds: deps.submittedDriverIds ?? new Set<string>(),
    otherTenantMainClasses: deps.otherTenantMainClasses ?? [],
  };
  const alive = tenantAliveDrivers({ ...ownership, master });
  ctx.details.drivers = alive.map(describeDriver);
  if (alive.length === 0) {
    const ended = master.completedDrivers.filter((d) => driverBelongsToTenant(d, ownership)).sort(compareNewestFirst)[0];
    const shared = ownership.otherTenantMainClasses.includes(ownership.mainClass)
      ? ` (main class ${ownership.mainClass} is shared with another tenant, so only the tenant's own submission ids count)`
      : '';
    return {
      status: 'DOWN',
      message: `no alive driver of tenant ${tenant.name} on ${where}${ended ? `; its last driver ${ended.id} ended ${ended.state}` : ''}${shared}`,
    };
  }
  const [newest] = alive;
  const state = newest ? `${newest.id} is ${newest.state}${newest.state === 'SUBMITTED' ? ' (waiting for a worker)' : ''}` : '';
  return { status: 'UP', message: `driver ${state}${alive.length > 1 ? `; ${alive.length} alive drivers (duplicates)` : ''}` };
}

function describeDriver(d: SparkDriver): Record<string, unknown> {
  return { id: d.id, state: d.state, worker: d.worker, startTime: Number.isFinite(d.startTime) ? new Date(d.startTime).toISOString() : null };
}

// ---------------------------------------------------------------- s3

async function checkS3(tenant: TenantConfig, deps: PipelineHealthDeps, ctx: CheckContext, maxDelayMinutes: number): Promise<CheckOutcome> {
  const store = deps.store;
  ctx.details.store = store.describe();
  const prefix = tenant.delayMetrics?.app ? sampleServicePrefix(tenant, deps.layout ? await deps.layout.keys(undefined, ctx.signal) : undefined) : null;
  if (!prefix) {
    ctx.phase('waiting for the object store to answer a ping');
    await store.ping(ctx.signal);
    return { status: 'UP', message: 'no sample service configured (delayMetrics.app), so recent logs are not checked; the object store answered' };
  }
  ctx.details.sampleService = prefix;
  ctx.details.maxDelayMinutes = maxDelayMinutes;
  ctx.phase(`listing the minute partitions under ${prefix}`);
  const now = deps.now();
  const sample = await sampleDelay(now, (hourPath) => deps.store.listPrefixes(prefix + hourPath, ctx.signal));
  const newest = sample.newest === null ? null : new Date(sample.newest).toISOString();
  Object.assign(ctx.details, { delayMinutes: sample.newest === null ? null : sample.minutes, newestPartition: newest });
  if (sample.newest === null) return { status: 'DOWN', message: `no logs of the sample service in the last ${HOURS_WALKED} hours (${prefix})` };
  if (sample.minutes > maxDelayMinutes) {
    return { status: 'DOWN', message: `the newest logs of the sample service are ${sample.minutes} minutes old (${newest}), more than ${maxDelayMinutes}` };
  }
  return { status: 'UP', message: `the newest logs of the sample service are ${sample.minutes} minute${sample.minutes === 1 ? '' : 's'} old` };
}

// ---------------------------------------------------------------- helpers

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function firstLine(text: string, max: number): string {
  const line = text.split(/\r?\n/, 1)[0]?.trim() ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** The most telling message of an error (the Kafka client nests the real cause in `errors` / `cause`). */
function describeError(error: unknown): string {
  const seen = new Set<unknown>();
  let e: unknown = error;
  let message = '';
  while (e instanceof Error && !seen.has(e)) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    const own = e.message || (typeof code === 'string' ? code : e.name);
    if (!message) message = own;
    else if (!message.includes(own)) message += `: ${own}`;
    const nested: unknown = (e as { errors?: unknown[] }).errors?.[0] ?? e.cause;
    if (nested === undefined) break;
    e = nested;
  }
  if (message) return message;
  return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
}
