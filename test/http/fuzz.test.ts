/**
 * Bad input never gets a 5xx, never crashes the daemon, never has its error answer quote the
 * input at length, and never changes a row it should not: 10,000 generated requests (random
 * paths, methods, header names and values, repeated headers, huge paths, query values and
 * bodies, invalid UTF-8, wrong types, unknown tenants) sent through real sockets, so that they
 * go through the production path (@hono/node-server and the raw-header reader of the HTTP
 * shell), to a daemon without an auth token and to one with `http.authToken` set; plus
 * truncated and oversized requests written byte by byte. Seeded: a failure prints its seed.
 */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/knex.js';
import { startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';
import { partitionKey } from '../support/stores.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const REQUESTS = 10_000;
/** An error answer is a code and a short message: it may quote a little of the input, never all of it. */
const MAX_ERROR_BODY = 1_024;
const TOKEN = 'fuzz-token-5d1c0a9e7b';

function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const PATHS = [
  '/healthcheck',
  '/api/v1/component/sync',
  '/component/sync',
  '/monitor-spark-job',
  '/api/v1/metric/sync-delay',
  '/metric/sync-delay',
  '/service-details',
  '/pipeline/health',
  '/api/v1/spark/replay',
  '/api/v1/spark/status',
  '/metrics',
  '/openapi.json',
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
const TENANTS = ['ABC', 'abc', '', ' ', 'NOPE', 'ABC\u0000', 'A'.repeat(5000), '../ABC', '%41BC', 'ÄBC', 'ABC, ABC'];
const long = (r: Rng) => 'x'.repeat(r.int(8_000));
const VALUES: ((r: Rng) => unknown)[] = [
  () => null,
  () => true,
  () => false,
  () => 0,
  () => -1,
  () => 1.5,
  () => 1e308,
  () => -1e308,
  () => '',
  () => 'application',
  () => 'x'.repeat(1000),
  (r) => 'y'.repeat(20_000 + r.int(40_000)), // a long string value in a body (under the 64 KiB cap)
  () => [],
  () => ({}),
  () => [1, 'a'],
  () => ({ a: { b: {} } }),
  () => '\u0000',
  () => '\ud800',
];
const KEYS = [
  'componentType',
  'force',
  'driverCores',
  'driverMemoryInGb',
  'startingOffsetsTimestamp',
  'resumeToSubscribePatternTimestamp',
  '__proto__',
  'constructor',
  'x',
];

/** Characters a request line may not carry raw, percent-encoded (as a client library would send them). */
const escapeRaw = (s: string) => s.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));

function randomPath(r: Rng): string {
  const base =
    r.next() < 0.7
      ? r.pick(PATHS)
      : '/' +
        Array.from({ length: r.int(4) }, () => r.pick(['api', 'v1', '..', '%2e%2e', 'spark', '%00', 'x'.repeat(r.int(300)), long(r), '😀', '?', '#'])).join(
          '/',
        );
  // Values are percent-encoded, except for a few malformed escapes (a lone surrogate, a cut-off escape).
  const encode = (v: unknown) => (/[\ud800-\udfff]/.test(String(v)) ? '%ED%A0%80' : encodeURIComponent(String(v)));
  const value = () => (r.next() < 0.05 ? r.pick(['%', '%E0%A4%A', '%zz', '%ED%A0%80']) : r.next() < 0.05 ? long(r) : encode(r.pick(VALUES)(r)));
  const query = r.next() < 0.5 ? '' : '?' + Array.from({ length: r.int(4) }, () => `${r.pick(KEYS)}=${value()}`).join('&');
  return escapeRaw(base + query).slice(0, 12_000);
}

function randomBody(r: Rng): string | Buffer | undefined {
  switch (r.int(11)) {
    case 0:
      return undefined;
    case 1:
      return JSON.stringify(Object.fromEntries(Array.from({ length: r.int(5) }, () => [r.pick(KEYS), r.pick(VALUES)(r)])));
    case 2:
      return JSON.stringify(r.pick(VALUES)(r));
    case 3:
      return JSON.stringify({ startingOffsetsTimestamp: r.int(2e12), resumeToSubscribePatternTimestamp: r.int(2e12) });
    case 4:
      return '{"componentType":"application"'.slice(0, r.int(30)); // truncated JSON
    case 5:
      return Buffer.from(Array.from({ length: r.int(200) }, () => r.int(256))); // binary, invalid UTF-8
    case 6:
      return 'x'.repeat(64 * 1024 + r.int(10_000)); // over the cap
    case 7:
      return '['.repeat(r.int(5000)); // deep nesting
    case 8:
      return JSON.stringify(Object.fromEntries(Array.from({ length: 2_000 + r.int(2_000) }, (_, i) => [`k${i}-${'z'.repeat(r.int(10))}`, i]))); // many keys
    case 9:
      return JSON.stringify({ componentType: 'c'.repeat(r.int(60_000)) }); // a long wrong value
    default:
      return JSON.stringify({ driverCores: r.pick(VALUES)(r), driverMemoryInGb: r.pick(VALUES)(r) });
  }
}

/** Header names in any case, values with bytes above ASCII, repeated lines (sent as separate header lines). */
function randomHeaders(r: Rng, token: string | undefined): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const name = (n: string) => r.pick([n, n.toUpperCase(), n.toLowerCase(), n.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase())]);
  const tenant = () =>
    r.next() < 0.6
      ? 'ABC'
      : r
          .pick(TENANTS)
          // eslint-disable-next-line no-control-regex -- NUL is what a fuzzed header must not carry
          .replace(/[\u0000\r\n]/g, '')
          .replace(/[^\t\x20-\x7e]/g, 'Ä');
  if (r.next() < 0.85) headers[name('x-tenant-name')] = r.next() < 0.1 ? [tenant(), tenant()] : tenant();
  if (r.next() < 0.3)
    headers[name('content-type')] = r.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']);
  if (r.next() < 0.3) {
    const wrong = ['Bearer x', 'Basic', '', `Bearer ${token ?? 'none'}x`, `bearer  ${'t'.repeat(r.int(4000))}`, 'Bearer \u00ff\u00fe'];
    headers[name('authorization')] = r.next() < 0.2 ? [r.pick(wrong), r.pick(wrong)] : r.pick(wrong);
  }
  if (r.next() < 0.1) headers[`x-junk-${r.int(100)}`] = 'v'.repeat(r.int(6000));
  return headers;
}

interface Answer {
  status: number;
  body: string;
  contentType: string;
}

/** One request over its own TCP connection; the answer's status, content type and (first MiB of) body. */
function send(port: number, method: string, path: string, headers: OutgoingHttpHeaders, body: string | Buffer | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        if (size < 1 << 20) chunks.push(d);
        size += d.length;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.end(body);
  });
}

/** Every row of every table but the migrations' own, as text, for before/after comparisons. */
async function snapshot(db: Db, ignoreColumns: string[] = []): Promise<Record<string, string[]>> {
  const tables = (await db.raw(
    "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'orchestrator_migrations%' order by name",
  )) as { name: string }[];
  const out: Record<string, string[]> = {};
  for (const { name } of tables) {
    const rows = (await db(name).select()) as Record<string, unknown>[];
    out[name] = rows.map((row) => JSON.stringify(Object.fromEntries(Object.entries(row).filter(([k]) => !ignoreColumns.includes(k))))).sort();
  }
  return out;
}

/** Rows a daemon starts with: discovered services (present in its store as well) and a pending replay. */
async function seed(t: TestOrchestrator): Promise<void> {
  const services = [
    ['prod', 'orders', 'application'],
    ['prod', 'billing', 'application'],
    ['stag', 'orders', 'application'],
  ];
  for (const [env, service, component] of services) {
    const file = join(t.dir, 'store', partitionKey(env!, service!, component!));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'x');
  }
  await t.orchestrator
    .db('service_details')
    .insert(
      services.map(([env, serviceName, componentName]) => ({ env, serviceName, componentName, retentionDays: 3, tenant: 'ABC', lastCheckedAt: new Date(0) })),
    );
  const future = Date.now() + 86_400_000;
  await t.orchestrator.db('spark_submit_status').insert({
    tenant: 'ABC',
    startingOffsetsTimestamp: future,
    resumeToSubscribePatternTimestamp: future + 1,
    isSubmittedForOffsetsTimestamp: false,
    isResumedToSubscribePattern: false,
    createdAt: new Date(0),
  });
}

const daemonConfig = (auth: string) => `${auth}
      tenants = [{
        name = "ABC"
        objectStore.local.path = "{{dir}}/store"
        kafka { kafkaBrokersHost = "127.0.0.1", kafkaBrokerPort = 59990 }
        vector { host = "127.0.0.1", apiPort = 59991 }
        delayMetrics.app { sampleEnv = prod, sampleServiceName = svc, sampleComponentName = application }
        spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 59992, sparkMasterRestPort = 59993, sparkJarPath = "file:///app.jar" }
      }]
      loop { discoverySeconds = 3600, delaySampleSeconds = 3600, sparkPollSeconds = 3600 }`;

/** Sends the generated requests; fails at the first 5xx, socket error or error answer quoting its input. */
async function fuzz(port: number, seed: number, token: string | undefined) {
  const r = prng(seed);
  const statuses = new Map<number, number>();
  const okReplays: string[] = [];
  let largestError = { size: 0, what: '' };
  for (let i = 0; i < REQUESTS; i++) {
    const method = r.next() < 0.8 ? r.pick(['GET', 'POST']) : r.pick(METHODS);
    const path = randomPath(r);
    const headers = randomHeaders(r, token);
    const body = method === 'GET' || method === 'HEAD' ? undefined : randomBody(r);
    const what = `request ${i} (${method} ${path.slice(0, 80)}${path.length > 80 ? '…' : ''}, body ${body?.length ?? 0} bytes) [seed ${seed}]`;
    let answer: Answer;
    try {
      answer = await send(port, method, path, headers, body);
    } catch (err) {
      throw new Error(`${what} failed: ${(err as Error).message}`);
    }
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    if (answer.status >= 500) throw new Error(`${what} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    if (answer.status >= 400 && method !== 'HEAD') {
      const size = Buffer.byteLength(answer.body);
      if (size > largestError.size) largestError = { size, what: `${what}: ${answer.body.slice(0, 200)}` };
      if (size > MAX_ERROR_BODY)
        throw new Error(`${what} answered ${answer.status} with a ${size}-byte error body (limit ${MAX_ERROR_BODY}): ${answer.body.slice(0, 300)}…`);
      let parsed: { error?: { code?: unknown; message?: unknown } };
      try {
        parsed = JSON.parse(answer.body) as typeof parsed;
      } catch {
        throw new Error(`${what} answered ${answer.status} without the JSON envelope: ${answer.body.slice(0, 300)}`);
      }
      if (typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string')
        throw new Error(`${what}: not the error envelope: ${answer.body.slice(0, 300)}`);
    }
    if (answer.status === 200 && method === 'POST' && path.startsWith('/api/v1/spark/replay')) okReplays.push(answer.body);
  }
  return { statuses, okReplays, largestError };
}

describe.each([
  { name: 'without an auth token', auth: '', token: undefined },
  { name: `with http.authToken set`, auth: `http.authToken = "${TOKEN}"`, token: TOKEN },
])('fuzzing the HTTP API through real sockets, $name', ({ auth, token }) => {
  let t: TestOrchestrator;

  beforeAll(async () => {
    t = await startTestOrchestrator(daemonConfig(auth), { quietTicks: true, listen: true });
    await seed(t);
  });
  afterAll(async () => t?.stop());

  it(`answers ${REQUESTS.toLocaleString('en')} generated requests without a 5xx, an error quoting its input, or a row changed (seed ${SEED})`, async () => {
    // A sync through the fuzzer (no token needed without one) touches lastCheckedAt of the services it finds again: not a change.
    const before = await snapshot(t.orchestrator.db, ['lastCheckedAt']);
    const started = Date.now();
    const { statuses, okReplays, largestError } = await fuzz(t.orchestrator.port, SEED, token);
    const after = await snapshot(t.orchestrator.db, ['lastCheckedAt']);
    console.log(
      `fuzz ${token ? 'with' : 'without'} a token: ${REQUESTS} requests in ${Date.now() - started} ms, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}, ` +
        `largest error body ${largestError.size} bytes (${largestError.what.slice(0, 160)}), replays recorded ${okReplays.length}`,
    );
    // Every kind of answer was exercised.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining(token ? [200, 400, 401, 404] : [200, 400, 404, 413]));
    if (token) {
      // Without the token no POST gets past the door: nothing may change.
      expect(okReplays).toEqual([]);
      expect(after).toEqual(before);
    } else {
      // The only rows added are the replays answered 200 (valid generated bodies); nothing else changed.
      const { spark_submit_status: replaysAfter, ...restAfter } = after;
      const { spark_submit_status: replaysBefore, ...restBefore } = before;
      expect(restAfter).toEqual(restBefore);
      expect(replaysAfter!.length - replaysBefore!.length).toBe(okReplays.length);
      expect(replaysAfter).toEqual(expect.arrayContaining(replaysBefore!));
    }
    expect((await send(t.orchestrator.port, 'GET', '/healthcheck', {}, undefined)).status).toBe(200);
  }, 300_000);

  it('survives truncated, oversized and garbage requests written to the socket', async () => {
    const port = t.orchestrator.port;
    const raw = (payload: string | Buffer, closeAfterMs = 300) =>
      new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        let answer = '';
        socket.on('data', (d) => (answer += d.toString('latin1')));
        socket.on('error', () => resolve(answer));
        socket.on('close', () => resolve(answer));
        socket.write(payload);
        setTimeout(() => socket.destroy(), closeAfterMs);
      });
    const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
    const post = (headers: string, body: string | Buffer) =>
      Buffer.concat([Buffer.from(`POST /monitor-spark-job HTTP/1.1\r\nHost: x\r\nX-Tenant-Name: ABC\r\n${auth}${headers}\r\n`), Buffer.from(body)]);
    const answers = await Promise.all([
      raw(post('Content-Length: 100\r\n', '{"driverCores":')), // truncated: the client goes away
      raw(post('Content-Length: 200000\r\n', 'x'.repeat(70_000))), // declared and sent too big
      raw(post('Transfer-Encoding: chunked\r\n', '5\r\n{"dri\r\nZZ\r\n')), // broken chunking
      raw(post('Content-Length: 4\r\n', Buffer.from([0xff, 0xfe, 0xfd, 0xfc]))), // invalid UTF-8
      raw('GARBAGE / HTTP/9.9\r\n\r\n'),
      raw(`GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      raw('GET /healthcheck HTTP/1.1\r\nHost: x\r\n' + 'X-Pad: y\r\n'.repeat(5000) + '\r\n'),
      raw(`GET /service-details HTTP/1.1\r\nHost: x\r\nX-Tenant-Name: ABC\r\nx-tenant-name: ABC\r\n\r\n`), // repeated: joined, unknown
      raw(`GET /service-details HTTP/1.1\r\nHost: x\r\nX-TENANT-NAME: ${'Q'.repeat(8000)}\r\n\r\n`),
    ]);
    for (const answer of answers) expect(answer).not.toMatch(/^HTTP\/1\.1 5\d\d/);
    expect(answers[1]).toMatch(/^HTTP\/1\.1 413/);
    expect(answers[3]).toMatch(/^HTTP\/1\.1 400/);
    expect(answers[7]).toMatch(/^HTTP\/1\.1 400[\s\S]*INVALID_TENANT/);
    expect(answers[8]).toMatch(/^HTTP\/1\.1 400[\s\S]*INVALID_TENANT/);
    expect(answers[8]!.length).toBeLessThan(MAX_ERROR_BODY + 512);
    expect((await fetch(`http://127.0.0.1:${port}/healthcheck`)).status).toBe(200);
  });
});
