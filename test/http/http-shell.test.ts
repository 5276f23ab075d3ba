import { request as httpRequest } from 'node:http';
import { of, throwError } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamDefinition } from '../../streams/tenant-loop.js';
import { toHttpError } from '../../src/http/errors.js';
import { oneTenant, startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';

/** Streams whose commands answer at once, so the shell's own behaviour is what is tested. */
const echoStreams = (): StreamDefinition[] => [
  {
    name: 'discovery',
    intervalMs: 3_600_000,
    tick: { command: 'sync', args: { force: false } },
    commands: {
      sync: (args) => of({ onboarded: args.force ? 2 : 1, removed: 0, present: 0, ignoredFolders: 0 }),
    },
  },
  {
    name: 'delay',
    intervalMs: 3_600_000,
    tick: { command: 'sample-delay', args: { maxAgeMs: 0 } },
    commands: { 'sample-delay': () => throwError(() => new Error('S3 is down')) },
  },
];

describe('HTTP shell', () => {
  let t: TestOrchestrator;
  const call = (path: string, init: RequestInit & { tenant?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    if (init.tenant !== null) headers.set('X-Tenant-Name', init.tenant ?? 'ABC');
    return t.orchestrator.app.request(path, { ...init, headers });
  };
  const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, any> });

  beforeAll(async () => {
    t = await startTestOrchestrator(oneTenant(), { streams: echoStreams, listen: true });
  });
  afterAll(async () => t?.stop());

  it('answers /healthcheck with each check', async () => {
    expect(await json(await call('/healthcheck', { tenant: null }))).toEqual({
      status: 200,
      // As the Java orchestrator: checks by name (the database's: sqlite here, mysql in production).
      body: { data: { status: 'UP', checks: { sqlite: { status: 'UP', type: 'sqlite' } } } },
    });
  });

  it('runs a sync through the loop and answers with the reference message', async () => {
    const res = await json(await call('/api/v1/component/sync?componentType=application', { method: 'POST' }));
    expect(res).toEqual({
      status: 200,
      body: { data: { success: true, message: 'Successfully synced componentType: application for tenant: ABC', onboarded: 1, removed: 0 } },
    });
    // The alias, with the component type and force in a JSON body sent as a form, as `curl -d` does.
    const alias = await json(
      await call('/component/sync', {
        method: 'POST',
        body: '{"componentType":"application","force":true}',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    );
    expect(alias.body.data).toMatchObject({ success: true, onboarded: 2 });
  });

  it('answers the delay with null and 200 when the sample fails, as the reference', async () => {
    expect(await json(await call('/api/v1/metric/sync-delay'))).toEqual({ status: 200, body: { data: { tenant: 'ABC', appLogsDelayMinutes: null } } });
  });

  it.each([
    ['a missing tenant header', '/api/v1/component/sync?componentType=application', { method: 'POST', tenant: null }, 400, 'MISSING_TENANT'],
    ['an empty tenant header', '/service-details', { tenant: '  ' }, 400, 'MISSING_TENANT'],
    ['an unknown tenant', '/service-details', { tenant: 'NOPE' }, 400, 'INVALID_TENANT'],
    ['an unknown tenant on a POST', '/monitor-spark-job', { method: 'POST', tenant: 'NOPE' }, 400, 'INVALID_TENANT'],
    ['a wrong componentType', '/api/v1/component/sync?componentType=infra', { method: 'POST' }, 400, 'INVALID_COMPONENT_TYPE'],
    ['no componentType', '/api/v1/component/sync', { method: 'POST' }, 400, 'INVALID_COMPONENT_TYPE'],
    ['a componentType of the wrong type', '/api/v1/component/sync', { method: 'POST', body: '{"componentType":7}' }, 400, 'INVALID_REQUEST'],
    ['malformed JSON', '/api/v1/component/sync', { method: 'POST', body: '{"componentType":' }, 400, 'INVALID_JSON'],
    ['a JSON array body', '/monitor-spark-job', { method: 'POST', body: '[1,2]' }, 400, 'INVALID_REQUEST'],
    ['a JSON string body', '/monitor-spark-job', { method: 'POST', body: '"x"' }, 400, 'INVALID_REQUEST'],
    ['a null body', '/monitor-spark-job', { method: 'POST', body: 'null' }, 400, 'INVALID_REQUEST'],
    ['driver cores as a string', '/monitor-spark-job', { method: 'POST', body: '{"driverCores":"4"}' }, 400, 'INVALID_REQUEST'],
    ['negative driver memory', '/monitor-spark-job', { method: 'POST', body: '{"driverMemoryInGb":-1}' }, 400, 'INVALID_REQUEST'],
    ['a replay without timestamps', '/api/v1/spark/replay', { method: 'POST', body: '{}' }, 400, 'INVALID_REQUEST'],
    [
      'a replay that resumes before it starts',
      '/api/v1/spark/replay',
      { method: 'POST', body: '{"startingOffsetsTimestamp":2000,"resumeToSubscribePatternTimestamp":1000}' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'a replay with a text timestamp',
      '/api/v1/spark/replay',
      { method: 'POST', body: '{"startingOffsetsTimestamp":"yesterday","resumeToSubscribePatternTimestamp":1000}' },
      400,
      'INVALID_REQUEST',
    ],
    ['a body over 64 KiB', '/monitor-spark-job', { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(70_000) }) }, 413, 'PAYLOAD_TOO_LARGE'],
    ['an unknown path', '/api/v1/nothing-here', {}, 404, 'NOT_FOUND'],
    ['a GET on a POST route', '/api/v1/spark/replay', {}, 404, 'NOT_FOUND'],
  ] as const)('answers %s with %i and the envelope', async (_name, path, init, status, code) => {
    const res = await json(await call(path, init as RequestInit & { tenant?: string | null }));
    expect(res.status).toBe(status);
    // `cause` as the Java orchestrator's error bodies.
    expect(res.body).toEqual({ error: { code, message: expect.any(String), cause: res.body.error.message } });
  });

  it('names the field and the problem in a validation error', async () => {
    const res = await json(await call('/monitor-spark-job', { method: 'POST', body: '{"driverCores":"4"}' }));
    expect(res.body.error.message).toBe('body.driverCores: expected a number');
    const replay = await json(
      await call('/api/v1/spark/replay', { method: 'POST', body: '{"startingOffsetsTimestamp":2000,"resumeToSubscribePatternTimestamp":1000}' }),
    );
    expect(replay.body.error.message).toBe('body.resumeToSubscribePatternTimestamp: must be later than startingOffsetsTimestamp');
  });

  it('answers 501 with the envelope for a capability this tenant does not run, never a fake success', async () => {
    // These echo streams have no Spark stream.
    for (const [path, method] of [
      ['/api/v1/spark/status', 'GET'],
      ['/api/v1/spark/replay', 'POST'],
    ] as const) {
      const res = await json(
        await call(path, { method, body: method === 'POST' ? '{"startingOffsetsTimestamp":1,"resumeToSubscribePatternTimestamp":2}' : undefined }),
      );
      expect(res.status, path).toBe(501);
      expect(res.body.error.code).toBe('NOT_IMPLEMENTED');
    }
  });

  it('caps a chunked body without Content-Length at 64 KiB over a real socket', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: t.orchestrator.port,
          method: 'POST',
          path: '/monitor-spark-job',
          headers: { 'x-tenant-name': 'ABC', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(10_000));
      req.end();
    });
    expect(status).toBe(413);
  });

  it('reads X-Tenant-Name from the socket as from a Fetch request: any case, repeated ones joined (and so refused)', async () => {
    const get = (headers: Record<string, string | string[]>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: t.orchestrator.port, path: '/service-details', headers }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    expect((await get({ 'X-TENANT-NAME': 'ABC' })).status).toBe(200);
    expect((await get({ 'x-tenant-name': '  ABC ' })).status).toBe(200);
    expect(JSON.parse((await get({})).body).error.code).toBe('MISSING_TENANT');
    // Two header lines.
    const repeated = await get({ 'X-Tenant-Name': ['ABC', 'ABC'] });
    expect(repeated.status).toBe(400);
    expect(JSON.parse(repeated.body).error).toMatchObject({ code: 'INVALID_TENANT', message: 'unknown tenant "ABC, ABC"' });
    const fetched = await call('/service-details', {
      tenant: null,
      headers: [
        ['X-Tenant-Name', 'ABC'],
        ['X-Tenant-Name', 'ABC'],
      ],
    });
    expect(((await fetched.json()) as { error: { message: string } }).error.message).toBe('unknown tenant "ABC, ABC"');
  });

  it('survives invalid UTF-8 and binary bodies with a 400', async () => {
    const res = await call('/monitor-spark-job', { method: 'POST', body: Buffer.from([0x7b, 0xff, 0xfe, 0x22, 0x7d]) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INVALID_JSON');
  });

  it('describes every route in /openapi.json', async () => {
    const doc = (await (await call('/openapi.json', { tenant: null })).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const [path, method] of [
      ['/healthcheck', 'get'],
      ['/api/v1/component/sync', 'post'],
      ['/component/sync', 'post'],
      ['/monitor-spark-job', 'post'],
      ['/api/v1/metric/sync-delay', 'get'],
      ['/metric/sync-delay', 'get'],
      ['/service-details', 'get'],
      ['/pipeline/health', 'get'],
      ['/api/v1/spark/replay', 'post'],
      ['/api/v1/spark/status', 'get'],
      ['/api/v1/events', 'get'],
      ['/metrics', 'get'],
      ['/openapi.json', 'get'],
      ['/docs', 'get'],
    ]) {
      expect(doc.paths[path!]?.[method!], `${method} ${path}`).toBeDefined();
    }
  });
});

describe('the API page', () => {
  it('serves Swagger UI, which renders /openapi.json (test/browser/dashboard.test.ts opens it)', async () => {
    const t = await startTestOrchestrator(oneTenant(), { streams: echoStreams });
    const res = await t.orchestrator.app.request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(await (await t.orchestrator.app.request('/docs/assets/init.js')).text()).toContain("url: '/openapi.json'");
    await t.stop();
  });
});

describe('HTTP shell with an auth token', () => {
  let t: TestOrchestrator;
  beforeAll(async () => {
    t = await startTestOrchestrator(`http.authToken = "tok-0123456789abcdef"\n${oneTenant()}`, { streams: echoStreams, listen: true });
  });
  afterAll(async () => t?.stop());
  const post = (authorization?: string) =>
    t.orchestrator.app.request('/api/v1/component/sync?componentType=application', {
      method: 'POST',
      headers: { 'X-Tenant-Name': 'ABC', ...(authorization ? { authorization } : {}) },
    });

  it('refuses a POST without the right bearer token, with 401 and the envelope', async () => {
    for (const auth of [undefined, 'Bearer wrong', 'Bearer tok-0123456789abcdeX', 'Basic dG9rOg==', 'Bearer ']) {
      const res = await post(auth);
      expect(res.status, String(auth)).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'missing or wrong bearer token', cause: 'missing or wrong bearer token' } });
    }
    expect((await post('Bearer tok-0123456789abcdef')).status).toBe(200);
  });

  it('over a real socket, accepts the token in any header case and refuses repeated Authorization lines (joined, as Fetch does)', async () => {
    const postOverSocket = (headers: Record<string, string | string[]>) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: t.orchestrator.port,
            method: 'POST',
            path: '/api/v1/component/sync?componentType=application',
            headers: { 'X-Tenant-Name': 'ABC', ...headers },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await postOverSocket({ AUTHORIZATION: 'Bearer tok-0123456789abcdef' })).toBe(200);
    expect(await postOverSocket({ authorization: ['Bearer tok-0123456789abcdef', 'Bearer tok-0123456789abcdef'] })).toBe(401);
    expect(await postOverSocket({})).toBe(401);
  });

  it('keeps reads open when protectReads is off', async () => {
    const res = await t.orchestrator.app.request('/service-details', { headers: { 'X-Tenant-Name': 'ABC' } });
    expect(res.status).toBe(200);
  });
});

describe('HTTP shell when the database is down', () => {
  it('answers /healthcheck with 503 and the failing check, in a few words (not the driver text)', async () => {
    const t = await startTestOrchestrator(oneTenant());
    await t.orchestrator.db.destroy();
    // The next background ping finds the pool gone.
    await new Promise((r) => setTimeout(r, 600));
    const res = await t.orchestrator.app.request('/healthcheck');
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string; checks: Record<string, unknown> } };
    expect(body.error.code).toBe('UNHEALTHY');
    expect(body.error.message).toBe('database: unavailable (connection pool closed)');
    expect(body.error.checks).toEqual({ sqlite: { status: 'DOWN', type: 'sqlite', message: 'unavailable (connection pool closed)' } });
    await t.stop(); // (destroying the pool again is harmless)
  });

  it('pings in the background about twice a second whatever the number of requests, and answers without waiting for one', async () => {
    const t = await startTestOrchestrator(oneTenant());
    let pings = 0;
    t.orchestrator.db.on('query', (q: { sql: string }) => {
      if (/^select 1$/i.test(q.sql.trim())) pings += 1;
    });
    const startedAt = Date.now();
    let requests = 0;
    while (Date.now() - startedAt < 1_200) {
      const statuses = await Promise.all(Array.from({ length: 50 }, async () => (await t.orchestrator.app.request('/healthcheck')).status));
      expect(statuses).toEqual(Array(50).fill(200));
      requests += 50;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(requests).toBeGreaterThan(500);
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(pings).toBeLessThanOrEqual(3);
    await t.orchestrator.db.destroy();
    // The ping before still answers …
    expect((await t.orchestrator.app.request('/healthcheck')).status).toBe(200);
    // … and within the next interval a new one finds the database gone.
    await new Promise((r) => setTimeout(r, 600));
    expect((await t.orchestrator.app.request('/healthcheck')).status).toBe(503);
    await t.stop(); // (destroying the pool again is harmless)
  });
});

describe('database failures in answers: 503 for an outage, in a few words, never the driver text', () => {
  const withProps = (message: string, props: Record<string, unknown>) => Object.assign(new Error(message), props);
  it.each([
    [
      'a refused connection (mysql2)',
      withProps('connect ECONNREFUSED 10.0.0.7:3306', { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', fatal: true }),
      503,
      'DATABASE_UNAVAILABLE',
      'connection refused',
    ],
    [
      'a lost connection, with the SQL knex prefixes',
      withProps("select * from `service_details` where `tenant` = 'ABC' - Connection lost: The server closed the connection.", {
        code: 'PROTOCOL_CONNECTION_LOST',
        fatal: true,
      }),
      503,
      'DATABASE_UNAVAILABLE',
      'connection lost',
    ],
    [
      'refused credentials',
      withProps("Access denied for user 'lw'@'10.0.0.8' (using password: YES)", { code: 'ER_ACCESS_DENIED_ERROR', sqlState: '28000', fatal: true }),
      503,
      'DATABASE_UNAVAILABLE',
      'access denied',
    ],
    [
      'a read-only server after a failover',
      withProps('insert into `x` - The MariaDB server is running with the --read-only option', { code: 'ER_OPTION_PREVENTS_STATEMENT', sqlState: 'HY000' }),
      503,
      'DATABASE_UNAVAILABLE',
      'server is read-only',
    ],
    [
      "knex's pool timeout",
      Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' }),
      503,
      'DATABASE_UNAVAILABLE',
      'no connection from the pool in time',
    ],
    [
      'a busy SQLite file',
      Object.assign(new Error('insert into `x` - database is locked'), { name: 'SqliteError', code: 'SQLITE_BUSY' }),
      503,
      'DATABASE_UNAVAILABLE',
      'database file busy',
    ],
    [
      'a failed write to the SQLite file',
      Object.assign(new Error('disk I/O error'), { name: 'SqliteError', code: 'SQLITE_IOERR_WRITE' }),
      503,
      'DATABASE_UNAVAILABLE',
      'I/O error on the database file',
    ],
    [
      'a statement the database rejects (a bug, not an outage)',
      withProps("select * from `nope` - Table 'lc.nope' doesn't exist", { code: 'ER_NO_SUCH_TABLE', sqlState: '42S02' }),
      500,
      'DATABASE_ERROR',
      'ER_NO_SUCH_TABLE',
    ],
    [
      'a wrapped outage',
      new Error('sync failed', { cause: withProps('connect ETIMEDOUT', { code: 'ETIMEDOUT', fatal: true }) }),
      503,
      'DATABASE_UNAVAILABLE',
      'connection timed out',
    ],
  ])('%s', (_name, error, status, code, reason) => {
    const answer = toHttpError(error);
    expect({ status: answer.status, code: answer.code }).toEqual({ status, code });
    expect(answer.message).toContain(`(${reason})`);
    expect(answer.message).not.toMatch(/10\.0\.0|select|insert|ECONN|Access denied|locked|doesn't exist/);
  });

  it('leaves the network errors of other clients (no mysql2 marks) alone', () => {
    const undici = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6066'), { code: 'ECONNREFUSED', syscall: 'connect' });
    expect(toHttpError(undici)).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
  });
});
