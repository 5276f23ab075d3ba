import { connect } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Subject } from 'rxjs';
import { eventStream } from '../../src/http/events-sse.js';
import { Metrics } from '../../src/metrics.js';
import { Redactor } from '../../src/secrets.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';
import { partitionKey, localFolder, type TestStore } from '../support/stores.js';

/** Every sample line of the Prometheus text format: name{labels} value. */
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/;

describe('metrics and the event stream', () => {
  let store: TestStore;
  let t: TestOrchestrator;
  const base = () => `http://127.0.0.1:${t.orchestrator.port}`;
  const sync = () =>
    fetch(`${base()}/api/v1/component/sync?componentType=application`, { method: 'POST', headers: { 'X-Tenant-Name': 'ABC' } }).then((r) => r.json());

  beforeAll(async () => {
    store = localFolder();
    const now = new Date(Date.now() - 5 * 60_000).toISOString();
    await store.put(['a', 'b', 'c'].map((s) => partitionKey('prod', s, 'application', now)));
    t = await startTestOrchestrator(
      `tenants = [{
        name = "ABC"
        ${store.hocon}
        delayMetrics.app { sampleEnv = prod, sampleServiceName = a, sampleComponentName = application }
        kafka.kafkaBrokersHost = "127.0.0.1:1"
        spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 59998, sparkMasterRestPort = 59997, sparkJarPath = "file:///app.jar" }
      }, {
        name = "XYZ"
        objectStore.local.path = "{{dir}}/xyz"
        kafka.kafkaBrokersHost = "127.0.0.1:1"
        spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 59998, sparkMasterRestPort = 59997, sparkJarPath = "file:///app.jar" }
      }]
      loop { discoverySeconds = 3600, delaySampleSeconds = 3600, sparkPollSeconds = 3600 }`,
      { quietTicks: true, listen: true },
    );
  });
  afterAll(async () => {
    await t?.stop();
    await store?.destroy();
  });

  it('serves valid Prometheus text with the loop’s series after a run', async () => {
    await sync();
    await fetch(`${base()}/api/v1/metric/sync-delay`, { headers: { 'X-Tenant-Name': 'ABC' } });
    const res = await fetch(`${base()}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
    for (const line of samples) expect(line).toMatch(SAMPLE);
    expect(text).toContain('logwise_services_known{tenant="ABC"} 3');
    expect(text).toContain('logwise_services_onboarded_total{tenant="ABC"} 3');
    expect(text).toMatch(/logwise_discovery_sync_duration_seconds_count\{tenant="ABC"\} 1/);
    expect(text).toMatch(/logwise_log_sync_delay_minutes\{tenant="ABC"\} [45]/);
    expect(text).toContain('logwise_events_total{tenant="ABC",type="discovery.synced"} 1');
    expect(text).toMatch(/^logwise_process_resident_memory_bytes \d+/m);
    // Every family is documented and typed.
    expect(text).toMatch(/# HELP logwise_services_known /);
    expect(text).toMatch(/# TYPE logwise_services_onboarded_total counter/);
  });

  it('streams events as SSE, filtered by tenant and type prefix', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base()}/api/v1/events?tenant=ABC&type=discovery.`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const received = (async () => {
      while (!text.includes('event: discovery.synced')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    await fetch(`${base()}/api/v1/metric/sync-delay`, { headers: { 'X-Tenant-Name': 'ABC' } });
    await fetch(`${base()}/api/v1/component/sync?componentType=application`, { method: 'POST', headers: { 'X-Tenant-Name': 'XYZ' } });
    await sync();
    await received;
    controller.abort();
    const events = text
      .split('\n\n')
      .filter((block) => block.startsWith('event: '))
      .map(
        (block) =>
          JSON.parse(
            block
              .split('\n')
              .find((l) => l.startsWith('data: '))!
              .slice(6),
          ) as { type: string; tenant: string },
      );
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.tenant === 'ABC' && e.type.startsWith('discovery.'))).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'discovery.synced', tenant: 'ABC', present: 3 });
  });

  it('counts a connected client while it listens', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base()}/api/v1/events`, { signal: controller.signal });
    await res.body!.getReader().read();
    expect(await (await fetch(`${base()}/metrics`)).text()).toMatch(/^logwise_sse_clients 1$/m);
    controller.abort();
  });
});

describe('a slow event-stream client', () => {
  it('loses events beyond its bounded buffer and never holds up the emitter', async () => {
    const events$ = new Subject<OrchestratorEvent>();
    const metrics = new Metrics({ processMetrics: false });
    const handler = eventStream({ events$, redactor: new Redactor([]), metrics, bufferSize: 100 });
    const app = new Hono().get('/events', (c) => handler({}, c));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const port = (server.address() as { port: number }).port;
    // A client that sends its request and then never reads a byte.
    const socket = connect(port, '127.0.0.1');
    socket.pause();
    socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));

    // 20,000 events of ~2 KB: far more than the socket buffers and the client's buffer hold.
    const pad = 'x'.repeat(2000);
    for (let i = 0; i < 20_000; i++) {
      events$.next({ type: 'spark.waiting', tenant: 'ABC', at: i, reason: pad });
      // Let the writer run between bursts, as the loop's events arrive over time.
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    const text = await metrics.text();
    const dropped = Number(/logwise_sse_dropped_events_total (\d+)/.exec(text)?.[1]);
    expect(dropped).toBeGreaterThan(10_000);
    expect(dropped).toBeLessThan(20_000);
    socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }, 30_000);
});
