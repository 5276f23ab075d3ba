/** What the /metrics micro-benchmarks share (bench/metrics-text.ts, bench/redactor-scrub.ts): a daemon's metrics after a while, and how long the loop was held. */
import { performance } from 'node:perf_hooks';
import { Metrics } from '../src/metrics.js';
import type { OrchestratorEvent } from '../streams/events.js';

/** The series a daemon holds after a while with `count` idle tenants of `services` services each (what tenants.bench.ts runs). */
export function filledMetrics(count: number, services: number): { metrics: Metrics; tenants: string[] } {
  const metrics = new Metrics();
  const tenants = Array.from({ length: count }, (_, i) => `tenant-${String(i).padStart(4, '0')}`);
  metrics.initTenants(tenants);
  const at = Date.now();
  for (const tenant of tenants) {
    const events = [
      { type: 'loop.started', tenant, at },
      { type: 'lease.acquired', tenant, at },
      { type: 'layout.detected', tenant, at },
      { type: 'spark.submitted', tenant, at, purpose: 'keep-alive' },
      { type: 'spark.polled', tenant, at, masterStatus: 'ALIVE', aliveDrivers: 1, action: 'none' },
      { type: 'spark.waiting', tenant, at },
      { type: 'discovery.synced', tenant, at, onboarded: 1, removed: 0, present: 4, ignoredFolders: 0, listCalls: 3, retries: 0, durationMs: 140 },
      { type: 'discovery.onboarded', tenant, at },
      { type: 'delay.sampled', tenant, at, appLogsDelayMinutes: 3 },
      { type: 'delay.service-sampled', tenant, at },
    ];
    for (let round = 0; round < 20; round++) for (const e of events) metrics.record(e as unknown as OrchestratorEvent);
    for (let s = 0; s < services; s++) metrics.serviceDelay.set({ tenant, env: 'prod', service: `svc${s}`, component: 'application' }, 2 + s);
  }
  return { metrics, tenants };
}

/** The longest stretch the loop could not turn during `fn` (a setImmediate spinner). */
export async function longestBlockMs(fn: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  let spinning = true;
  const spin = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  await fn();
  spinning = false;
  return Math.max(longest, performance.now() - last);
}
