/**
 * HTTP as the Java orchestrator answers, with ours alongside (SPEC §3, issue 14 items 5 and 6):
 * `/service-details` under `serviceDetails`, `/healthcheck` with checks by name (and `/health`,
 * which its compose file probes), `/liveness`, `/pipeline/health` with its fields at the top,
 * `cause` in error bodies; and `/monitor-spark-job` answering at once while a poll of the
 * Spark master hangs, to the crontab's own curl command.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceDetailsRepository } from '../../src/db/service-details.js';
import { startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';
import { crontabRequests } from '../support/reference-deployment.js';
import { waitFor } from '../support/spark.js';

/** A Spark master whose web UI accepts connections and never answers: every poll hangs until its timeout. */
function hangingMaster(): Promise<{ server: Server; port: number; connections: () => number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        server,
        port,
        connections: () => sockets.length,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

describe('answers as the Java orchestrator', () => {
  let t: TestOrchestrator;
  let master: Awaited<ReturnType<typeof hangingMaster>>;
  const get = async (path: string, tenant: string | null = 'ABC') => {
    const res = await t.orchestrator.app.request(path, { headers: tenant === null ? {} : { 'X-Tenant-Name': tenant } });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body, type: res.headers.get('content-type') };
  };

  beforeAll(async () => {
    master = await hangingMaster();
    t = await startTestOrchestrator(
      `tenants = [{
        name = "ABC"
        objectStore.local.path = "{{dir}}/store"
        partitionKeys = ["env", "service_name", "component_name"]
        vector { host = "127.0.0.1", apiPort = 1 }
        kafka.kafkaBrokersHost = "127.0.0.1:1"
        spark { sparkMasterHost = "spark://127.0.0.1:7077", sparkMasterWebUiPort = ${master.port}, sparkMasterRestPort = ${master.port}, sparkJarPath = "file:///app.jar" }
      }]
      loop { sparkPollSeconds = 0.2, discoverySeconds = 3600, delaySampleSeconds = 3600 }`,
      { listen: true },
    );
    await new ServiceDetailsRepository(t.orchestrator.db).insertMany(
      'ABC',
      [
        { env: 'prod', serviceName: 'orders', componentName: 'application', retentionDays: 30 },
        { env: '', serviceName: 'checkout', componentName: '', retentionDays: 3 },
      ],
      new Date('2026-01-02T03:04:05.000Z'),
    );
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await master?.close();
  });

  it('/service-details: {"data":{"serviceDetails":[{serviceName, retentionDays, tenant, …}]}}', async () => {
    const res = await get('/service-details');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        serviceDetails: [
          { env: '', serviceName: 'checkout', componentName: '', retentionDays: 3, tenant: 'ABC', lastCheckedAt: '2026-01-02T03:04:05.000Z' },
          { env: 'prod', serviceName: 'orders', componentName: 'application', retentionDays: 30, tenant: 'ABC', lastCheckedAt: '2026-01-02T03:04:05.000Z' },
        ],
      },
    });
  });

  it('/healthcheck and /health (the compose file’s probe, `| grep UP`): {"data":{"status":"UP","checks":{…:{"status":"UP"}}}}', async () => {
    for (const path of ['/healthcheck', '/health']) {
      const res = await get(path, null);
      expect(res.status, path).toBe(200);
      expect(res.body, path).toEqual({ data: { status: 'UP', checks: { sqlite: { status: 'UP', type: 'sqlite' } } } });
      expect(JSON.stringify(res.body)).toMatch(/UP/);
    }
  });

  it('/liveness: 200 Success, without the tenant header', async () => {
    const res = await get('/liveness', null);
    expect(res).toMatchObject({ status: 200, body: 'Success' });
  });

  it('/pipeline/health: the reference’s status, message, tenant and checks[{component, check:{status, message}}] at the top, ours in data', async () => {
    const res = await get('/pipeline/health');
    expect(res.status).toBe(200);
    const { data, ...top } = res.body as {
      data: { status: string; checks: { name: string; status: string; message?: string; durationMs: number }[] };
    } & Record<string, any>;
    expect(top).toEqual({
      status: 'DOWN',
      message: 'One or more pipeline components have issues',
      tenant: 'ABC',
      checks: ['vector', 'kafka', 'spark', 's3'].map((component) => ({
        component,
        check: { status: expect.stringMatching(/^(UP|DOWN)$/), message: expect.any(String) },
      })),
    });
    expect(top.checks.find((c: { component: string }) => c.component === 'vector').check.status).toBe('DOWN');
    expect(data).toMatchObject({ status: 'DOWN', message: top.message, tenant: 'ABC' });
    expect(data.checks.map((c) => c.name)).toEqual(['vector', 'kafka', 'spark', 's3']);
    for (const c of data.checks) expect(top.checks.find((r: { component: string }) => r.component === c.name).check.status).toBe(c.status);
  });

  it('error bodies keep code and message and add cause; an unknown tenant is 400 (the reference answered 500)', async () => {
    const res = await get('/service-details', 'NOPE');
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'INVALID_TENANT', message: 'unknown tenant "NOPE"', cause: 'unknown tenant "NOPE"' } } });
  });

  it('/monitor-spark-job answers at once while a poll of the master hangs, to the crontab’s curl command', async () => {
    // A poll is in flight: the master has a connection it does not answer.
    await waitFor(() => master.connections() > 0, 'a poll to connect to the hanging master', 10_000);
    const monitor = crontabRequests().find((r) => r.url.endsWith('/monitor-spark-job'))!;
    const args = [...monitor.args.map((a) => a.replace('http://orchestrator:8080', `http://127.0.0.1:${t.orchestrator.port}`))];
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile('curl', args, { timeout: 20_000 }, (err, out) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout: out })),
      );
      const ms = Date.now() - started;
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual({ data: { success: true, message: 'Successfully monitored the spark job for tenant: ABC' } });
      expect(ms, 'the answer to the cron request (ms)').toBeLessThan(1_000);
    }
  });
});
