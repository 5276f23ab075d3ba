/**
 * The cost of building GET /metrics at N tenants, in-process: `Metrics.text()` against prom-client's
 * own exposition (the per-metric build with turns of the loop between metrics, and `registry.metrics()`
 * in one go), CPU ms per scrape and the longest synchronous slice; and the cost of `record()` per event.
 *
 *   node --import tsx bench/metrics-text.ts [--tenants 1000] [--scrapes 9] [--services 3]
 */
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../src/metrics.js';
import type { OrchestratorEvent } from '../streams/events.js';
import { filledMetrics, longestBlockMs } from './filled-metrics.js';
import { Redactor } from '../src/secrets.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const TENANTS = flag('--tenants', 1000);
const SCRAPES = flag('--scrapes', 9);
const SERVICES = flag('--services', 3);

interface Scrape {
  cpuMs: number;
  wallMs: number;
  longestSliceMs: number;
  bytes: number;
}

/** One build; a setImmediate spinner measures the longest stretch the loop could not turn. */
async function measure(build: () => Promise<string>): Promise<Scrape> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let text = '';
  const longest = await longestBlockMs(async () => (text = await build()));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, longestSliceMs: longest, bytes: text.length };
}

/** prom-client's own text one metric at a time, with a turn of the loop between two (the way to compare against). */
async function promClientPerMetric(metrics: Metrics): Promise<string> {
  const parts: string[] = [];
  for (const metric of metrics.registry.getMetricsAsArray()) {
    parts.push(await metrics.registry.getSingleMetricAsString(metric.name));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return `${parts.join('\n\n')}\n`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const { metrics, tenants } = filledMetrics(TENANTS, SERVICES);
  const redactor = new Redactor([]);
  const builds: Record<string, () => Promise<string>> = {
    'prom-client, a turn between metrics': () => promClientPerMetric(metrics),
    'prom-client registry.metrics()': () => metrics.registry.metrics(),
    'Metrics.text()': () => metrics.text(),
    'Metrics.text() + redactor.scrub': async () => redactor.scrub(await metrics.text()),
  };
  // Warm up every path (JIT) before measuring; then interleave them so load changes hit all alike.
  for (const build of Object.values(builds)) for (let i = 0; i < 3; i++) await build();
  const runs = new Map<string, Scrape[]>(Object.keys(builds).map((k) => [k, []]));
  for (let i = 0; i < SCRAPES; i++) for (const [name, build] of Object.entries(builds)) runs.get(name)!.push(await measure(build));
  console.log(`${TENANTS} tenants, ${SERVICES} services each; ${SCRAPES} scrapes each, medians`);
  for (const [name, rs] of runs) {
    console.log(
      `${name.padEnd(36)} cpu ${round(median(rs.map((r) => r.cpuMs)))} ms  wall ${round(median(rs.map((r) => r.wallMs)))} ms  ` +
        `longest slice ${round(median(rs.map((r) => r.longestSliceMs)))} ms (max ${round(Math.max(...rs.map((r) => r.longestSliceMs)))})  ${rs[0]!.bytes} bytes`,
    );
  }

  // Per event: what a spark.polled costs in record() (67 a second at 1,000 tenants).
  const N = 200_000;
  const polled = tenants.map(
    (tenant) => ({ type: 'spark.polled', tenant, at: Date.now(), masterStatus: 'ALIVE', aliveDrivers: 1, action: 'none' }) as OrchestratorEvent,
  );
  const perEvent: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) metrics.record(polled[i % polled.length]!);
    perEvent.push(((performance.now() - t0) * 1000) / N);
  }
  console.log(`record(spark.polled): ${round(median(perEvent))} µs per event (median of 5 × ${N})`);
}

await main();
