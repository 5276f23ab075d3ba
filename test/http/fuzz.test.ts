/**
 * Bad input never gets a 5xx and never crashes the daemon: 10,000 generated requests (random
 * paths, methods, headers, bodies, huge bodies, invalid UTF-8, wrong types, unknown tenants),
 * plus truncated and oversized bodies over real sockets. Seeded: a failure prints its seed.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);

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
const TENANTS = ['ABC', 'abc', '', ' ', 'NOPE', 'ABC\u0000', 'A'.repeat(5000), '../ABC', '%41BC', 'ÄBC'];
const VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, '', 'application', 'x'.repeat(1000), [], {}, [1, 'a'], { a: { b: {} } }, '\u0000', '\ud800'];
const KEYS = ['componentType', 'force', 'driverCores', 'driverMemoryInGb', 'startingOffsetsTimestamp', 'resumeToSubscribePatternTimestamp', '__proto__', 'constructor', 'x'];

function randomPath(r: ReturnType<typeof prng>): string {
  const base = r.next() < 0.7 ? r.pick(PATHS) : '/' + Array.from({ length: r.int(4) }, () => r.pick(['api', 'v1', '..', '%2e%2e', 'spark', '%00', 'x'.repeat(r.int(300)), '😀', '?', '#'])).join('/');
  // Values are percent-encoded, except for a few malformed escapes (a lone surrogate, a cut-off escape).
  const encode = (v: unknown) => (/[\ud800-\udfff]/.test(String(v)) ? '%ED%A0%80' : encodeURIComponent(String(v)));
  const value = () => (r.next() < 0.05 ? r.pick(['%', '%E0%A4%A', '%zz', '%ED%A0%80']) : encode(r.pick(VALUES)));
  const query = r.next() < 0.5 ? '' : '?' + Array.from({ length: r.int(4) }, () => `${r.pick(KEYS)}=${value()}`).join('&');
  return base + query;
}

function randomBody(r: ReturnType<typeof prng>): string | Uint8Array | undefined {
  switch (r.int(9)) {
    case 0:
      return undefined;
    case 1:
      return JSON.stringify(Object.fromEntries(Array.from({ length: r.int(5) }, () => [r.pick(KEYS), r.pick(VALUES)])));
    case 2:
      return JSON.stringify(r.pick(VALUES));
    case 3:
      return JSON.stringify({ startingOffsetsTimestamp: r.int(2e12), resumeToSubscribePatternTimestamp: r.int(2e12) });
    case 4:
      return '{"componentType":"application"'.slice(0, r.int(30)); // truncated JSON
    case 5:
      return new Uint8Array(Array.from({ length: r.int(200) }, () => r.int(256))); // binary, invalid UTF-8
    case 6:
      return 'x'.repeat(64 * 1024 + r.int(10_000)); // over the cap
    case 7:
      return '['.repeat(r.int(5000)); // deep nesting
    default:
      return JSON.stringify({ driverCores: r.pick(VALUES), driverMemoryInGb: r.pick(VALUES) });
  }
}

describe('fuzzing the HTTP API', () => {
  let t: TestOrchestrator;

  beforeAll(async () => {
    t = await startTestOrchestrator(
      `tenants = [{
        name = "ABC"
        objectStore.local.path = "{{dir}}/store"
        kafka { kafkaBrokersHost = "127.0.0.1", kafkaBrokerPort = 59990 }
        vector { host = "127.0.0.1", apiPort = 59991 }
        delayMetrics.app { sampleEnv = prod, sampleServiceName = svc, sampleComponentName = application }
        spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 59992, sparkMasterRestPort = 59993, sparkJarPath = "file:///app.jar" }
      }]
      loop { discoverySeconds = 3600, delaySampleSeconds = 3600, sparkPollSeconds = 3600 }`,
      { quietTicks: true, listen: true },
    );
  });
  afterAll(async () => t?.stop());

  it(`answers 10,000 generated requests without a 5xx (seed ${SEED})`, async () => {
    const r = prng(SEED);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      const method = r.next() < 0.8 ? r.pick(['GET', 'POST']) : r.pick(METHODS);
      const path = randomPath(r);
      const headers: Record<string, string> = {};
      if (r.next() < 0.85) headers['x-tenant-name'] = r.next() < 0.6 ? 'ABC' : r.pick(TENANTS).replace(/[\u0000\r\n]/g, '');
      if (r.next() < 0.3) headers['content-type'] = r.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']);
      if (r.next() < 0.1) headers['authorization'] = r.pick(['Bearer x', 'Basic', '']);
      const body = method === 'GET' || method === 'HEAD' ? undefined : randomBody(r);
      let res: Response;
      try {
        res = await t.orchestrator.app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
      } catch (err) {
        throw new Error(`request ${i} (${method} ${path.slice(0, 80)}) threw: ${(err as Error).message} [seed ${SEED}]`);
      }
      await res.body?.cancel();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) throw new Error(`request ${i}: ${method} ${path.slice(0, 80)} answered ${res.status} [seed ${SEED}]`);
    }
    // Every kind of answer was exercised, and the daemon is still healthy.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 400, 404, 413]));
    expect((await t.orchestrator.app.request('/healthcheck')).status).toBe(200);
  }, 240_000);

  it('survives truncated, oversized and garbage requests on real sockets', async () => {
    const port = t.orchestrator.port;
    const raw = (payload: string | Buffer, closeAfterMs = 200) =>
      new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        let answer = '';
        socket.on('data', (d) => (answer += d.toString('latin1')));
        socket.on('error', () => resolve(answer));
        socket.on('close', () => resolve(answer));
        socket.write(payload);
        setTimeout(() => socket.destroy(), closeAfterMs);
      });
    const post = (headers: string, body: string | Buffer) =>
      Buffer.concat([Buffer.from(`POST /monitor-spark-job HTTP/1.1\r\nHost: x\r\nX-Tenant-Name: ABC\r\n${headers}\r\n`), Buffer.from(body)]);
    const answers = await Promise.all([
      raw(post('Content-Length: 100\r\n', '{"driverCores":')), // truncated: the client goes away
      raw(post('Content-Length: 200000\r\n', 'x'.repeat(70_000))), // declared and sent too big
      raw(post('Transfer-Encoding: chunked\r\n', '5\r\n{"dri\r\nZZ\r\n')), // broken chunking
      raw(post('Content-Length: 4\r\n', Buffer.from([0xff, 0xfe, 0xfd, 0xfc]))), // invalid UTF-8
      raw('GARBAGE / HTTP/9.9\r\n\r\n'),
      raw(`GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      raw('GET /healthcheck HTTP/1.1\r\nHost: x\r\n' + 'X-Pad: y\r\n'.repeat(5000) + '\r\n'),
    ]);
    for (const answer of answers) expect(answer).not.toMatch(/^HTTP\/1\.1 5\d\d/);
    expect(answers[1]).toMatch(/^HTTP\/1\.1 413/);
    expect(answers[3]).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(`http://127.0.0.1:${port}/healthcheck`)).status).toBe(200);
  });
});
