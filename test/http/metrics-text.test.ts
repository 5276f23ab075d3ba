import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import type { OrchestratorEvent } from '../../streams/events.js';

describe('Metrics.text()', () => {
  it("counts the lease keeper's statements at each scrape (logwise_lease_statements_total)", async () => {
    const metrics = new Metrics({ processMetrics: false });
    let sent = 5;
    metrics.leaseStatements = () => sent;
    expect(await metrics.text()).toMatch(/^logwise_lease_statements_total 5$/m);
    sent = 12;
    expect(await metrics.text()).toMatch(/^logwise_lease_statements_total 12$/m);
  });

  it("is prom-client's exposition text, built with turns of the event loop between metrics", async () => {
    const metrics = new Metrics();
    const tenants = Array.from({ length: 200 }, (_, i) => `t${i}`);
    metrics.initTenants(tenants);
    for (const tenant of tenants) {
      const at = Date.now();
      metrics.record({ type: 'spark.polled', tenant, at, masterStatus: 'ALIVE', aliveDrivers: 1, action: 'none' } as OrchestratorEvent);
      metrics.record({
        type: 'discovery.synced',
        tenant,
        at,
        onboarded: 1,
        removed: 0,
        present: 4,
        ignoredFolders: 0,
        listCalls: 3,
        retries: 0,
        durationMs: 12,
      } as OrchestratorEvent);
    }
    let turns = 0;
    let done = false;
    const spin = () => {
      turns++;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    const text = await metrics.text();
    done = true;
    expect(turns).toBeGreaterThan(10);
    // The process metrics (CPU, memory, event-loop lag) move between two reads: compare the others.
    const ours = (t: string) =>
      t
        .split('\n\n')
        .filter((block) => !/^# HELP logwise_(process|nodejs)_/.test(block))
        .join('\n\n');
    expect(ours(text)).toBe(ours(await metrics.registry.metrics()));
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toMatch(/^logwise_discovery_sync_duration_seconds_count\{tenant="t199"\} 1$/m);
  });
});
