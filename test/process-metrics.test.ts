import { setTimeout as sleep } from 'node:timers/promises';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { EVENT_LOOP_RESOLUTION_MS, registerProcessMetrics } from '../src/process-metrics.js';

const names = (registry: Registry) => registry.getMetricsAsArray().map((m) => m.name);

function valueOf(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in\n${text}`);
  return Number(m[1]);
}

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('process metrics', () => {
  it("are prom-client's default metrics, by the same names", () => {
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs, prefix: 'p_' });
    const ours = new Registry();
    registerProcessMetrics(ours, 'p_');
    expect([...names(ours)].sort()).toEqual([...names(theirs)].sort());
    expect(names(ours)).toContain('p_nodejs_eventloop_lag_p99_seconds');
  });

  it("report the event loop's delay without the monitor's own interval: an idle loop reads about 0, a blocked one the time it was held", async () => {
    const registry = new Registry();
    registerProcessMetrics(registry, 'p_');
    await sleep(EVENT_LOOP_RESOLUTION_MS * 12);
    const idle = await registry.metrics();
    // prom-client's monitor would read the interval itself here (0.1 s at this resolution).
    expect(valueOf(idle, 'p_nodejs_eventloop_lag_p50_seconds')).toBeLessThan(0.02);
    expect(valueOf(idle, 'p_nodejs_eventloop_lag_min_seconds')).toBeLessThan(0.02);

    // Reset at the scrape: the block below is in the next scrape only.
    await sleep(EVENT_LOOP_RESOLUTION_MS * 2);
    blockFor(3 * EVENT_LOOP_RESOLUTION_MS);
    await sleep(EVENT_LOOP_RESOLUTION_MS * 3);
    const blocked = await registry.metrics();
    // The monitor's timer fell due somewhere in the 300 ms block and ran at its end: at least 200 ms late.
    expect(valueOf(blocked, 'p_nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0.19);
    expect(valueOf(blocked, 'p_nodejs_eventloop_lag_max_seconds')).toBeLessThan(1);
    expect(valueOf(blocked, 'p_nodejs_eventloop_lag_min_seconds')).toBeLessThan(0.05);
  });
});
