import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expositionText } from '../../src/metrics-exposition.js';
import { Metrics } from '../../src/metrics.js';
import { Redactor } from '../../src/secrets.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import { oneTenant, startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';

/** Label values to escape, not ASCII, empty; none of them a secret or shaped like a credential. */
const AWKWARD_TENANTS = ['plain', 'quo"te', 'back\\slash', 'new\nline', 'all\\"\n\\n', 'ünïcödé-日本', 'emoji-🚀', ''];

function feed(metrics: Metrics, tenants: readonly string[]): void {
  metrics.initTenants(tenants);
  tenants.forEach((tenant, i) => {
    const event = (e: Record<string, unknown>) => metrics.record({ at: 1_764_900_000_123, tenant, ...e } as unknown as OrchestratorEvent);
    event({ type: 'spark.polled', masterStatus: 'ALIVE', aliveDrivers: i, action: 'none' });
    event({ type: 'spark.submitted', purpose: 'keep-alive' });
    event({ type: 'discovery.synced', onboarded: 2, removed: 1, present: 4, durationMs: 1_500 + i * 7_000 });
    event({ type: 'delay.sampled', appLogsDelayMinutes: 2.5 });
    event({ type: 'stream.retrying', stream: 'spark"poll\\' });
    metrics.serviceDelay.set({ tenant, env: 'prod', service: `svc "${i}"`, component: 'application' }, i);
  });
}

describe('expositionText() with a scrub: secrets masked in label values and HELP texts, nothing else touched', () => {
  it("is prom-client's text byte for byte when no label value or HELP text holds a secret", async () => {
    const metrics = new Metrics({ processMetrics: false });
    feed(metrics, AWKWARD_TENANTS);
    const redactor = new Redactor(['not-in-any-label', ...Array.from({ length: 100 }, (_, i) => `another-secret-${i}`)]);
    expect(await expositionText(metrics.registry, { scrub: (s) => redactor.scrub(s) })).toBe(await metrics.registry.metrics());
  });

  it('masks a secret inside a label value (before escaping) and in HELP, never in a sample value, a bucket bound or a name', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'spark_total', help: 'Counted for s3cr3t-pass users', labelNames: ['tenant', 'note'], registers: [registry] });
    c.inc({ tenant: 'team-s3cr3t-pass', note: 'plain' }, 12_345);
    c.inc({ tenant: 'quoted', note: 'q"uo\\te"1' }, 2);
    new Gauge({ name: 'g', help: 'a gauge', labelNames: ['tenant'], registers: [registry] }).set({ tenant: 'x' }, 12_345.5);
    const h = new Histogram({ name: 'h', help: 'h', labelNames: ['tenant'], buckets: [1, 12_345], registers: [registry] });
    h.observe({ tenant: 'team-s3cr3t-pass' }, 12_345);
    // Secrets: one inside a label value, one with characters the text escapes, and ones that are also a
    // number of the text, a metric name's part and a label name.
    const redactor = new Redactor(['s3cr3t-pass', 'q"uo\\te"', '12345', 'spark', 'tenant']);
    const text = await expositionText(registry, { scrub: (s) => redactor.scrub(s) });

    expect(text).toContain('# HELP spark_total Counted for [redacted] users');
    expect(text).toContain('spark_total{tenant="team-[redacted]",note="plain"} 12345\n');
    expect(text).toContain('spark_total{tenant="quoted",note="[redacted]1"} 2\n');
    expect(text).toContain('g{tenant="x"} 12345.5\n');
    expect(text).toContain('h_bucket{le="12345",tenant="team-[redacted]"} 1\n');
    expect(text).toContain('h_sum{tenant="team-[redacted]"} 12345\n');
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('uo\\\\te');
    // Everything but the masked label values and HELP text is prom-client's.
    const unmasked = (await registry.metrics())
      .replaceAll('team-s3cr3t-pass', 'team-[redacted]')
      .replaceAll('q\\"uo\\\\te\\"1', '[redacted]1')
      .replace('Counted for s3cr3t-pass users', 'Counted for [redacted] users');
    expect(text).toBe(unmasked);
    // Scrubbing the whole text instead cuts the numbers and the names.
    expect(redactor.scrub(await registry.metrics())).toContain('[redacted]_total{[redacted]="team-[redacted]",note="plain"} [redacted]\n');
  });

  it('scrubs each distinct string label value once per build, and every HELP text', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const tenants = Array.from({ length: 20 }, (_, i) => `t${i}`);
    feed(metrics, tenants);
    const calls = new Map<string, number>();
    const scrub = (s: string) => (calls.set(s, (calls.get(s) ?? 0) + 1), s);
    await expositionText(metrics.registry, { scrub });
    const helps = metrics.registry.getMetricsAsArray().map((m) => (m as unknown as { help: string }).help);
    for (const help of helps) expect(calls.get(help), help).toBeGreaterThanOrEqual(1);
    for (const tenant of tenants) expect(calls.get(tenant), tenant).toBe(1);
    expect([...calls].filter(([s, n]) => n !== 1 && !helps.includes(s))).toEqual([]);
    // The next build scrubs again (a reload may have taught the redactor new secrets).
    await expositionText(metrics.registry, { scrub });
    for (const tenant of tenants) expect(calls.get(tenant), tenant).toBe(2);
  });
});

describe('GET /metrics of a daemon', () => {
  let t: TestOrchestrator;
  beforeAll(async () => {
    // The tenant's name holds its S3A secret key; the auth token is a part of many metric names.
    t = await startTestOrchestrator(oneTenant('team-Sup3rS3cretKey', 'spark.s3aSecretKey = "Sup3rS3cretKey"'), {
      quietTicks: true,
      config: (c) => ({ ...c, http: { ...c.http, authToken: '_total' } }),
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('masks the secret in the label values and leaves the metric names whole', async () => {
    const res = await t.orchestrator.app.request('/metrics');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('Sup3rS3cretKey');
    expect(text).toContain('logwise_spark_crashloop{tenant="team-[redacted]"} 0');
    expect(text).toMatch(/^logwise_spark_submissions_total\{/m);
    expect(text).not.toContain('logwise_spark_submissions[redacted]');
  });
});
