import { Counter, Gauge, Histogram, Registry, Summary, type OpenMetricsContentType } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { ExpositionBodies, expositionPieces, expositionText } from '../../src/metrics-exposition.js';
import { Metrics } from '../../src/metrics.js';
import type { OrchestratorEvent } from '../../streams/events.js';

/** Tenant names whose label values need escaping (backslash, double quote, newline) or are not ASCII. */
const AWKWARD_TENANTS = ['plain', 'quo"te', 'back\\slash', 'new\nline', 'all\\"\n\\n', 'ünïcödé-日本', 'emoji-🚀', ''];

function event(e: Record<string, unknown>): OrchestratorEvent {
  return { at: 1_764_900_000_123, ...e } as unknown as OrchestratorEvent;
}

function feed(metrics: Metrics, tenants: readonly string[]): void {
  metrics.initTenants(tenants);
  tenants.forEach((tenant, i) => {
    metrics.record(event({ type: 'spark.polled', tenant, masterStatus: i % 2 ? 'ALIVE' : 'STANDBY', aliveDrivers: i, action: 'none' }));
    metrics.record(event({ type: 'spark.submitted', tenant, purpose: 'keep-alive' }));
    metrics.record(event({ type: 'discovery.synced', tenant, onboarded: 2, removed: 1, present: 4, durationMs: 1_500 + i * 7_000 }));
    metrics.record(event({ type: 'discovery.synced', tenant, onboarded: 0, removed: 0, present: 6, durationMs: 80 }));
    metrics.record(event({ type: 'delay.sampled', tenant, appLogsDelayMinutes: 2.5 }));
    if (i % 3 === 0) metrics.record(event({ type: 'delay.failed', tenant })); // NaN gauge
    metrics.record(event({ type: 'stream.retrying', tenant, stream: 'spark"poll\\' }));
    metrics.record(event({ type: 'command.failed', tenant, command: 'spark\nsubmit' }));
    metrics.record(event({ type: 'spark.crashloop', tenant, backoffMs: 30_000 }));
    metrics.serviceDelay.set({ tenant, env: 'prod', service: `svc "${i}"`, component: 'application' }, i);
  });
  metrics.sseDropped.inc(3);
  metrics.sseClients.set(Number.POSITIVE_INFINITY);
}

describe('expositionText()', () => {
  it("is byte for byte prom-client's registry.metrics() for the daemon's metrics, escapes included", async () => {
    const metrics = new Metrics({ processMetrics: false });
    feed(metrics, AWKWARD_TENANTS);
    const text = await metrics.text();
    expect(text).toBe(await metrics.registry.metrics());
    // The escapes are there (not only equal to prom-client's): label values escape backslash, quote and newline.
    expect(text).toContain('logwise_spark_submissions_total{tenant="all\\\\\\"\\n\\\\n",purpose="keep-alive"} 1');
    expect(text).toContain('logwise_discovery_sync_duration_seconds_bucket{le="+Inf",tenant="ünïcödé-日本"} 2');
    expect(text).toContain('logwise_discovery_sync_duration_seconds_bucket{le="0.1",tenant="quo\\"te"} 1');
    expect(text).toMatch(/^logwise_log_sync_delay_minutes\{tenant="plain"\} Nan$/m);
    expect(text).toMatch(/^logwise_sse_clients \+Inf$/m);
  });

  it('stays equal from one scrape to the next as series change, appear and go', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const tenants = Array.from({ length: 40 }, (_, i) => `t${i}`);
    feed(metrics, [...tenants, ...AWKWARD_TENANTS]);
    expect(await metrics.text()).toBe(await metrics.registry.metrics());

    // Values move, a tenant goes, new ones come (one reusing a gone tenant's name), the per-service gauge is rebuilt.
    feed(metrics, ['t3', 'late "one"']);
    await metrics.forgetTenant('t5');
    await metrics.forgetTenant('new\nline');
    metrics.serviceDelay.reset();
    metrics.serviceDelay.set({ tenant: 't1', env: 'prod', service: 'svc0', component: 'application' }, 9);
    const second = await metrics.text();
    expect(second).toBe(await metrics.registry.metrics());
    expect(second).not.toContain('tenant="t5"');
    expect(second).toContain('logwise_service_log_delay_minutes{tenant="t1",env="prod",service="svc0",component="application"} 9');

    await metrics.forgetTenant('t5');
    feed(metrics, ['t5']);
    expect(await metrics.text()).toBe(await metrics.registry.metrics());
  });

  it('gives what prom-client gives for other shapes: summaries, histograms (empty, collected), no labels, partial and reordered labels, numbers as label values, HELP escapes', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'back\\slash and\nnewline in "help"', labelNames: ['a', 'b'], registers: [registry] });
    c.inc({ a: 'x', b: 'y' });
    c.inc({ b: 'y2', a: 'x2' }, 2); // another key order: prom-client writes the labels in the object's order
    c.inc({ a: 'only-a' });
    c.inc({ a: 7 as unknown as string, b: 'n' });
    new Gauge({ name: 'g', help: 'no labels', registers: [registry] }).set(-Infinity);
    new Gauge({ name: 'g_empty', help: 'never set', labelNames: ['x'], registers: [registry] });
    const h = new Histogram({ name: 'h', help: 'h', labelNames: ['x', 'y'], buckets: [0.005, 1, 1e3], registers: [registry] });
    h.observe({ y: '2', x: '1' }, 0.004);
    h.observe(5_000);
    h.observe({ x: 'q"' }, 1);
    // Histograms are read from their own counts: an empty one, and one filled by its collect callback.
    new Histogram({ name: 'h_empty', help: 'never observed', labelNames: ['x'], registers: [registry] });
    new Histogram({
      name: 'h_collected',
      help: 'observed when collected',
      buckets: [1],
      registers: [registry],
      collect() {
        this.reset();
        this.observe(0.5);
      },
    });
    const s = new Summary({ name: 's', help: 's', labelNames: ['x'], percentiles: [0.5, 0.99], registers: [registry] });
    for (let i = 0; i < 50; i++) s.observe({ x: 'a\\b' }, i);
    expect(await expositionText(registry)).toBe(await registry.metrics());
    c.inc({ a: 'x', b: 'y' }, 0.5);
    expect(await expositionText(registry)).toBe(await registry.metrics());
  });

  it('sends the text as a UTF-8 body built from small pieces, never one string of megabytes', async () => {
    const metrics = new Metrics({ processMetrics: false });
    feed(metrics, [...Array.from({ length: 1_000 }, (_, i) => `t${i}`), ...AWKWARD_TENANTS]);
    const text = await metrics.registry.metrics();
    expect(text.length).toBeGreaterThan(1_000_000);
    // The histograms are written from their own counts, without prom-client's per-sample objects.
    expect(text).toContain('logwise_discovery_sync_duration_seconds_bucket{le="0.1",tenant="t999"}');
    const perSample = vi.spyOn(Histogram.prototype as unknown as { getForPromString(): unknown }, 'getForPromString');
    expect(Buffer.from(await metrics.body()).toString('utf8')).toBe(text);
    expect(perSample).not.toHaveBeenCalled();
    perSample.mockRestore();
    const pieces = await expositionPieces(metrics.registry);
    expect(pieces.join('')).toBe(text);
    // No piece near V8's large-object size (128 KB): none is a megabyte string kept until a full collection.
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(64 * 1024);
    // The next body reserves the last one's length: a registry grown since still comes out whole.
    feed(
      metrics,
      Array.from({ length: 200 }, (_, i) => `later-${i}`),
    );
    expect(Buffer.from(await metrics.body()).toString('utf8')).toBe(await metrics.registry.metrics());
  });

  it('keeps the memory a build writes into: a body handed out stays as it was through later builds, and builds under way at once each come out whole', async () => {
    const metrics = new Metrics({ processMetrics: false });
    feed(
      metrics,
      Array.from({ length: 300 }, (_, i) => `t${i}`),
    );
    const firstText = await metrics.registry.metrics();
    const first = await metrics.body();
    const firstCopy = Buffer.from(first);
    // A smaller registry's text written into the same memory must not show through the first body.
    await metrics.forgetTenant('t0');
    const secondText = await metrics.registry.metrics();
    expect(secondText).not.toBe(firstText);
    expect(Buffer.from(await metrics.body()).toString('utf8')).toBe(secondText);
    expect(Buffer.compare(first, firstCopy)).toBe(0);
    expect(Buffer.from(first).toString('utf8')).toBe(firstText);
    // Two builds at once (each gives the loop turns while it runs): neither writes into the other's memory.
    const masked = { sliceMs: 0, scrub: (text: string) => text.replace(/t1/g, '**') };
    const [a, b] = await Promise.all([metrics.body({ sliceMs: 0 }), metrics.body(masked)]);
    expect(Buffer.from(a).toString('utf8')).toBe(secondText);
    expect(Buffer.from(b).toString('utf8')).toBe(await expositionText(metrics.registry, masked));
    expect(Buffer.from(b).toString('utf8')).not.toBe(secondText);
  });

  it("keeps counters' and histograms' label text between builds, and stays prom-client's text as series go, come back with their labels in another order, or are reset", async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['a', 'b'], registers: [registry] });
    const h = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['a', 'b'], buckets: [1], registers: [registry] });
    const g = new Gauge({ name: 'g', help: 'g', labelNames: ['a', 'b'], registers: [registry] });
    const bodies = new ExpositionBodies(registry);
    const body = async () => Buffer.from(await bodies.build()).toString('utf8');
    c.inc({ a: 'x', b: 'y' });
    c.inc({ a: 'p', b: 'q' }, 2);
    h.observe({ a: 'x', b: 'y' }, 0.5);
    g.set({ a: 'x', b: 'y' }, 1);
    expect(await body()).toBe(await registry.metrics());
    // Values move under kept text.
    c.inc({ a: 'x', b: 'y' }, 5);
    h.observe({ a: 'x', b: 'y' }, 3);
    g.set({ b: 'y', a: 'x' }, 2);
    expect(await body()).toBe(await registry.metrics());
    // The same series (same hash) made again from labels in another order: prom-client writes the new order.
    c.remove({ a: 'x', b: 'y' });
    c.inc({ b: 'y', a: 'x' });
    h.remove({ a: 'x', b: 'y' });
    h.observe({ b: 'y', a: 'x' }, 0.5);
    const reordered = await body();
    expect(reordered).toBe(await registry.metrics());
    expect(reordered).toContain('c_total{b="y",a="x"} 1');
    expect(reordered).toContain('h_seconds_count{b="y",a="x"} 1');
    c.reset();
    h.reset();
    c.inc({ a: 'z', b: 'w' });
    expect(await body()).toBe(await registry.metrics());
  });

  it('uses kept label text only under the masking it was made with: a new generation of the scrub masks the secrets it learned', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['tenant'], registers: [registry] });
    c.inc({ tenant: 'acme-s3cr3t-key' });
    const bodies = new ExpositionBodies(registry);
    let secrets: string[] = [];
    const scrub = (text: string) => secrets.reduce((out, secret) => out.replaceAll(secret, '****'), text);
    const body = async (scrubGeneration: number) => Buffer.from(await bodies.build({ scrub, scrubGeneration })).toString('utf8');
    expect(await body(0)).toContain('c_total{tenant="acme-s3cr3t-key"} 1');
    // A reload learned a secret: the scrub's generation moves on, and the text kept before is not used.
    secrets = ['s3cr3t'];
    const masked = await body(1);
    expect(masked).toContain('c_total{tenant="acme-****-key"} 1');
    expect(masked).not.toContain('s3cr3t');
    // Another scrub function starts afresh too.
    expect(Buffer.from(await bodies.build()).toString('utf8')).toContain('acme-s3cr3t-key');
    expect(await body(1)).not.toContain('s3cr3t');
  });

  it('gives an empty registry as prom-client does, and leaves OpenMetrics to prom-client', async () => {
    const empty = new Registry();
    expect(await expositionText(empty)).toBe(await empty.metrics());
    const open = new Registry<OpenMetricsContentType>();
    open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    new Counter({ name: 'o_total', help: 'o', labelNames: ['t'], registers: [open] }).inc({ t: 'x' });
    expect(await expositionText(open)).toBe(await open.metrics());
  });

  it('lets the event loop turn inside a big metric, not only between metrics', async () => {
    const registry = new Registry();
    const g = new Gauge({ name: 'big', help: 'many series', labelNames: ['tenant'], registers: [registry] });
    for (let i = 0; i < 20_000; i++) g.set({ tenant: `t${i}` }, i);
    let turns = 0;
    let done = false;
    const spin = () => {
      turns++;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    // A slice of 0 ms: a turn at every look at the clock (every 64 samples).
    const text = await expositionText(registry, { sliceMs: 0 });
    done = true;
    expect(turns).toBeGreaterThanOrEqual(20_000 / 64 - 1);
    expect(text).toBe(await registry.metrics());
  });
});
