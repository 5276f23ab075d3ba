import { createRequire } from 'node:module';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

/**
 * How often the event-loop monitor's timer runs. prom-client's default (10 ms) wakes an idle
 * daemon 100 times a second, and a wakeup is the largest cost of an idle daemon (BENCHMARKS.md
 * §2): at 100 ms a scrape every 15 s still holds 150 samples.
 */
export const EVENT_LOOP_RESOLUTION_MS = 100;

/** prom-client's default metric that is replaced here (the others are registered as prom-client makes them). */
const REPLACED = 'eventLoopLag';

/**
 * prom-client's default process metrics (CPU, memory, heap, handles, GC, ...) under `prefix`,
 * with its event-loop metrics replaced by ones of the same names that report the delay itself:
 * prom-client reports the monitor's timer interval plus the delay (an idle loop reads 10 ms),
 * these report how late the loop ran the timer (an idle loop reads about 0), sampled every
 * EVENT_LOOP_RESOLUTION_MS and reset at every scrape, as prom-client's are.
 */
export function registerProcessMetrics(registry: Registry, prefix: string): void {
  const require = createRequire(import.meta.url);
  for (const name of collectDefaultMetrics.metricsList) {
    if (name === REPLACED) continue;
    const register = require(`prom-client/lib/metrics/${name}`) as (registry: Registry, config: { prefix: string }) => void;
    register(registry, { prefix });
  }
  registerEventLoopDelay(registry, prefix, EVENT_LOOP_RESOLUTION_MS);
}

function registerEventLoopDelay(registry: Registry, prefix: string, resolutionMs: number): void {
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const resolutionNs = resolutionMs * 1e6;
  /** Nanoseconds of the monitor's record → seconds late (a timer never runs early; rounding can make a record a hair short). */
  const late = (ns: number) => (Number.isFinite(ns) && ns > resolutionNs ? (ns - resolutionNs) / 1e9 : 0);
  const figures: [name: string, help: string, read: (h: IntervalHistogram) => number][] = [
    ['min', 'The shortest event-loop delay since the last scrape', (h) => late(h.min)],
    ['max', 'The longest event-loop delay since the last scrape', (h) => late(h.max)],
    ['mean', 'The mean event-loop delay since the last scrape', (h) => late(h.mean)],
    ['stddev', 'The standard deviation of the event-loop delay since the last scrape', (h) => h.stddev / 1e9],
    ['p50', 'The median event-loop delay since the last scrape', (h) => late(h.percentile(50))],
    ['p90', 'The 90th percentile of the event-loop delay since the last scrape', (h) => late(h.percentile(90))],
    ['p99', 'The 99th percentile of the event-loop delay since the last scrape', (h) => late(h.percentile(99))],
  ];
  // As prom-client: one gauge's collect sets them all, and this one is how long the scrape itself
  // kept the loop (set when the loop next gets to run, so it is read at the next scrape).
  const lag = new Gauge({
    name: `${prefix}nodejs_eventloop_lag_seconds`,
    help: 'Lag of event loop in seconds.',
    registers: [registry],
    collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
      // Scrapes closer together than the resolution: no sample since the last one, its figures stay.
      if (histogram.count === 0) return;
      for (const { gauge, read } of gauges) gauge.set(read(histogram));
      histogram.reset();
    },
  });
  // Registered after `lag`: a scrape reads the metrics in that order, so `lag`'s collect has set these.
  const gauges = figures.map(([name, help, read]) => ({
    gauge: new Gauge({ name: `${prefix}nodejs_eventloop_lag_${name}_seconds`, help, registers: [registry] }),
    read,
  }));
}
