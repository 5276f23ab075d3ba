/**
 * The many-tenants workload (bench/tenants.bench.ts): each tenant's local store, the daemon's
 * config for SQLite or MySQL, which tenant a driver runs for, and what an operator reads from
 * the running daemon (/metrics, the Spark status).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SparkMasterSimulator, SimDriverView } from '../test/spark-sim/master-simulator.js';

export const MAIN_CLASS = 'com.logwise.spark.MainApplication';
const SERVICES_PER_TENANT = 5;

export interface Intervals {
  pollMs: number;
  discoveryS: number;
  delayS: number;
}

export function tenantName(i: number): string {
  return `t${String(i).padStart(4, '0')}`;
}

function kafkaHost(i: number): string {
  return `kafka-${i}.internal`;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const round = (v: number, digits = 3) => Number(v.toFixed(digits));

/** The most points of `phases` (in [0, period)) in any window of `width` on the circle of length `period`. */
export function maxInWindow(phases: readonly number[], width: number, period: number): number {
  if (phases.length === 0) return 0;
  const s = [...phases].sort((a, b) => a - b);
  const doubled = [...s, ...s.map((p) => p + period)];
  let best = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    if (j < i) j = i;
    while (j + 1 < doubled.length && doubled[j + 1]! - doubled[i]! < width) j++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

/** Each tenant's local store: a few services, and a recent minute partition of the sample service. */
export function seedStores(dir: string, tenants: number): void {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const minute = `year=${now.getUTCFullYear()}/month=${pad(now.getUTCMonth() + 1)}/day=${pad(now.getUTCDate())}/hour=${pad(now.getUTCHours())}/minute=${pad(now.getUTCMinutes())}`;
  for (let i = 0; i < tenants; i++) {
    for (let s = 0; s < SERVICES_PER_TENANT; s++) {
      const folder = join(dir, tenantName(i), 'logs', 'env=prod', `service_name=svc${s}`, 'component_name=application', ...(s === 0 ? minute.split('/') : []));
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'part-00000.json'), '{}\n');
    }
  }
}

export function configText(opts: { port: number; storesDir: string; sim: SparkMasterSimulator; tenants: number; database: string; every: Intervals }): string {
  const tenants = Array.from(
    { length: opts.tenants },
    (_, i) => `{
    name = "${tenantName(i)}"
    objectStore.local.path = "${opts.storesDir}/${tenantName(i)}"
    kafka { kafkaBrokersHost = "${kafkaHost(i)}" }
    spark {
      sparkMasterHost = "${opts.sim.host}"
      sparkMasterWebUiPort = ${opts.sim.uiPort}
      sparkMasterRestPort = ${opts.sim.restPort}
      sparkJarPath = "s3a://jars/logwise-spark.jar"
      mainClass = "${MAIN_CLASS}"
    }
    delayMetrics.app { sampleEnv = "prod", sampleServiceName = "svc0", sampleComponentName = "application" }
  }`,
  );
  return `http { port = ${opts.port}, host = "127.0.0.1" }
${opts.database}
loop {
  sparkPollSeconds = ${opts.every.pollMs / 1000}
  discoverySeconds = ${opts.every.discoveryS}
  delaySampleSeconds = ${opts.every.delayS}
  submitGraceSeconds = 60
  backoff { minSeconds = 1, maxSeconds = 300 }
}
tenants = [
  ${tenants.join(',\n  ')}
]
`;
}

/** The tenant a driver (or create request) runs for, from its `kafka.cluster.dns=` argument. */
export function tenantOfArgs(appArgs: unknown): number | undefined {
  if (!Array.isArray(appArgs)) return undefined;
  for (const a of appArgs) {
    const m = typeof a === 'string' ? /^kafka\.cluster\.dns=kafka-(\d+)\.internal$/.exec(a) : null;
    if (m) return Number(m[1]);
  }
  return undefined;
}

export function runningByTenant(sim: SparkMasterSimulator): Map<number, SimDriverView[]> {
  const out = new Map<number, SimDriverView[]>();
  for (const d of sim.activeDrivers()) {
    if (d.state !== 'RUNNING' && d.state !== 'SUBMITTED') continue;
    const t = tenantOfArgs(d.appArgs);
    if (t === undefined) continue;
    out.set(t, [...(out.get(t) ?? []), d]);
  }
  return out;
}

export interface Scrape {
  at: number;
  /** V8 heap used and total, external memory, RSS (MB), as the daemon reports them. */
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
  rssMB: number;
  lagP99Ms: number;
  lagMeanMs: number;
  lagMaxMs: number;
  polled: number;
  leaseStatements: number;
  bytes: number;
  durationMs: number;
}

/** GET /metrics as Prometheus would scrape it (which also resets the event-loop delay histogram). */
export async function scrape(base: string): Promise<Scrape> {
  const t0 = performance.now();
  const res = await fetch(`${base}/metrics`);
  const text = await res.text();
  const durationMs = performance.now() - t0;
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  const gauge = (name: string) => {
    const m = new RegExp(`^logwise_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text);
    if (!m) throw new Error(`GET /metrics has no logwise_nodejs_eventloop_lag_${name}_seconds`);
    return Number(m[1]) * 1000;
  };
  const mb = (name: string) => round(Number(new RegExp(`^logwise_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1e6, 1);
  const sum = (re: RegExp) => {
    let total = 0;
    for (const m of text.matchAll(re)) total += Number(m[1]);
    return total;
  };
  return {
    at: Date.now(),
    heapUsedMB: mb('nodejs_heap_size_used_bytes'),
    heapTotalMB: mb('nodejs_heap_size_total_bytes'),
    externalMB: mb('nodejs_external_memory_bytes'),
    rssMB: mb('process_resident_memory_bytes'),
    lagP99Ms: gauge('p99'),
    lagMeanMs: gauge('mean'),
    lagMaxMs: gauge('max'),
    polled: sum(/^logwise_events_total\{[^}]*type="spark\.polled"[^}]*\} (\S+)$/gm),
    leaseStatements: sum(/^logwise_lease_statements_total(?:\{[^}]*\})? (\S+)$/gm),
    bytes: text.length,
    durationMs,
  };
}

export async function sparkStatusOf(base: string, tenant: string): Promise<Record<string, any>> {
  const res = await fetch(`${base}/api/v1/spark/status`, { headers: { 'X-Tenant-Name': tenant } });
  if (!res.ok) throw new Error(`GET /api/v1/spark/status for ${tenant} answered ${res.status}`);
  return ((await res.json()) as { data: Record<string, any> }).data;
}

/** How many tenants this daemon holds the lease of, from `GET /api/v1/cluster`. */
export async function leasesHeld(base: string): Promise<number> {
  const res = await fetch(`${base}/api/v1/cluster`);
  if (!res.ok) throw new Error(`GET /api/v1/cluster answered ${res.status}`);
  const body = (await res.json()) as { data: { self: string; tenants: { actingReplica: string | null }[] } };
  return body.data.tenants.filter((t) => t.actingReplica === body.data.self).length;
}
