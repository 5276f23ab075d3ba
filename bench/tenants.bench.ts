/**
 * Many tenants (issue 7, targets 2 and 3): the daemon as operators run it (`npm run build`,
 * then `node dist/src/main.js --config <file>` in a child process of its own) supervising
 * 1,000 tenants at the default intervals (Spark poll 15 s, discovery 300 s, delay sample 60 s)
 * on ONE Spark master simulator that holds one running driver per tenant, with a local object
 * store per tenant and SQLite.
 *
 *   node --import tsx bench/tenants.bench.ts [--quick] [--tenants N] [--settle SECONDS] [--window SECONDS]
 *        [--deaths N] [--profile DIR] [--heap-snapshot] [--keep] [--no-build]
 *
 * --quick   100 tenants with every interval divided by 10 (poll 1.5 s, discovery 30 s, delay
 *           6 s): the same polls per second as 1,000 tenants at 15 s, a 10 s window; under a
 *           minute in all.
 * --profile DIR  the daemon runs with --cpu-prof and writes its profile to DIR when it stops
 * --heap-snapshot  the daemon writes a heap snapshot at the end of the window (use with --keep)
 * --deaths N  driver deaths in the recovery phase (default 60; quick 15)
 * --keep    keep the temporary directory (config, daemon log, SQLite file, stores)
 * --no-build  run dist/ as it is (default: `node scripts/build-if-needed.mjs` first)
 *
 * Phases:
 *  1. start: the daemon submits one driver per tenant (all tenants share the main class, as
 *     they run the same Spark job; each owns its driver by the submission id it recorded);
 *  2. settle: every tenant has a RUNNING driver, two more polls have passed, and the daemon
 *     has run 5 minutes (the target is for a daemon 5 minutes after its start: the first
 *     submissions and the first runs of every stream are behind it; quick: 8 s);
 *  3. idle window (300 s, one discovery interval: every tenant syncs once, samples its delay
 *     5 times and polls 20 times): the daemon's CPU (utime + stime from /proc/<pid>/stat),
 *     its RSS at the end (VmRSS; VmHWM as a figure), its event-loop delay p99 as an operator
 *     reads it (`logwise_nodejs_eventloop_lag_p99_seconds` on GET /metrics, prom-client's
 *     monitorEventLoopDelay, reset at every scrape: scraped every 15 s like Prometheus
 *     would), and the polls actually made (`logwise_events_total{type="spark.polled"}`);
 *  4. poll spread: each tenant's last poll time (GET /api/v1/spark/status → lastPoll.at)
 *     modulo the interval, i.e. where in the interval each tenant polls;
 *  5. recovery: drivers of random tenants die (FAILED) at random moments, about one per
 *     second (so a handful of tenants recover at once, each at a random point of its
 *     interval), at the default 15 s interval; death → the master accepting that tenant's
 *     resubmission, as a ratio of the poll interval.
 *
 * The simulator runs in this process (its CPU is not the daemon's); the daemon logs to a
 * file at the default level (info).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SparkMasterSimulator, type SimDriverView } from '../test/spark-sim/master-simulator.js';
import { flagValue, hasFlag, progress, reportResult, type BenchResult, type TargetFigure } from './harness.js';
import { seededRandom as mulberry32 } from '../test/support/seeded-random.js';

const NAME = 'tenants';
const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const quick = hasFlag('--quick');
const TENANTS = Number(flagValue('--tenants') ?? (quick ? 100 : 1000));
/** Quick divides every interval by 10, so that 100 tenants make as many polls per second as 1,000. */
const SPEEDUP = quick ? 10 : 1;
const POLL_MS = 15_000 / SPEEDUP;
const DISCOVERY_S = 300 / SPEEDUP;
const DELAY_S = 60 / SPEEDUP;
const WINDOW_MS = Number(flagValue('--window') ?? (quick ? 10 : 300)) * 1000;
/** How often /metrics is scraped during the window (Prometheus' usual 15 s). */
const SCRAPE_MS = quick ? 5_000 : 15_000;
const DEATHS = Number(flagValue('--deaths') ?? (quick ? 15 : 60));
/** Deaths fall at random moments over this span (about one per second). */
const DEATH_SPAN_MS = quick ? 10_000 : 60_000;
const SERVICES_PER_TENANT = 5;
/** The window starts this long after the daemon's start at the earliest (the target: "after 5 minutes"). */
const SETTLE_MS = Number(flagValue('--settle') ?? (quick ? 8 : 300)) * 1000;
const MAIN_CLASS = 'com.logwise.spark.MainApplication';

// ---------------------------------------------------------------- small helpers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function tenantName(i: number): string {
  return `t${String(i).padStart(4, '0')}`;
}

function kafkaHost(i: number): string {
  return `kafka-${i}.internal`;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const round = (v: number, digits = 3) => Number(v.toFixed(digits));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => T | undefined | false | Promise<T | undefined | false>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

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

// ---------------------------------------------------------------- /proc

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: the fields after it start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function memoryMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: round((kb('VmRSS') * 1024) / 1e6, 1), hwm: round((kb('VmHWM') * 1024) / 1e6, 1) };
}

// ---------------------------------------------------------------- the workload

/** Each tenant's local store: a few services, and a recent minute partition of the sample service. */
function seedStores(dir: string): void {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const minute = `year=${now.getUTCFullYear()}/month=${pad(now.getUTCMonth() + 1)}/day=${pad(now.getUTCDate())}/hour=${pad(now.getUTCHours())}/minute=${pad(now.getUTCMinutes())}`;
  for (let i = 0; i < TENANTS; i++) {
    for (let s = 0; s < SERVICES_PER_TENANT; s++) {
      const folder = join(dir, tenantName(i), 'logs', 'env=prod', `service_name=svc${s}`, 'component_name=application', ...(s === 0 ? minute.split('/') : []));
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'part-00000.json'), '{}\n');
    }
  }
}

function configText(opts: { port: number; dir: string; sim: SparkMasterSimulator }): string {
  const tenants = Array.from(
    { length: TENANTS },
    (_, i) => `{
    name = "${tenantName(i)}"
    objectStore.local.path = "${opts.dir}/stores/${tenantName(i)}"
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
database { client = sqlite, filename = "${opts.dir}/orchestrator.sqlite" }
loop {
  sparkPollSeconds = ${POLL_MS / 1000}
  discoverySeconds = ${DISCOVERY_S}
  delaySampleSeconds = ${DELAY_S}
  submitGraceSeconds = 60
  backoff { minSeconds = 1, maxSeconds = 300 }
}
tenants = [
  ${tenants.join(',\n  ')}
]
`;
}

/** The tenant a driver (or create request) runs for, from its `kafka.cluster.dns=` argument. */
function tenantOfArgs(appArgs: unknown): number | undefined {
  if (!Array.isArray(appArgs)) return undefined;
  for (const a of appArgs) {
    const m = typeof a === 'string' ? /^kafka\.cluster\.dns=kafka-(\d+)\.internal$/.exec(a) : null;
    if (m) return Number(m[1]);
  }
  return undefined;
}

function runningByTenant(sim: SparkMasterSimulator): Map<number, SimDriverView[]> {
  const out = new Map<number, SimDriverView[]>();
  for (const d of sim.activeDrivers()) {
    if (d.state !== 'RUNNING' && d.state !== 'SUBMITTED') continue;
    const t = tenantOfArgs(d.appArgs);
    if (t === undefined) continue;
    out.set(t, [...(out.get(t) ?? []), d]);
  }
  return out;
}

// ---------------------------------------------------------------- the daemon

interface Daemon {
  child: ChildProcess;
  pid: number;
  base: string;
  logFile: string;
  exited: Promise<number | null>;
}

function build(): void {
  if (hasFlag('--no-build')) {
    progress(NAME, '--no-build: running dist/ as it is');
    return;
  }
  progress(NAME, 'building (node scripts/build-if-needed.mjs) ...');
  const res = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-if-needed.mjs')], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (res.status !== 0) throw new Error(`the build failed (exit ${res.status ?? res.signal})`);
}

async function startDaemon(dir: string, sim: SparkMasterSimulator): Promise<Daemon> {
  const port = await freePort();
  const configFile = join(dir, 'tenants.conf');
  writeFileSync(configFile, configText({ port, dir, sim }));
  const logFile = join(dir, 'daemon.log');
  const fd = openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info' };
  delete env.LOG_FORMAT;
  delete env.NODE_OPTIONS;
  // --profile DIR: the daemon writes a CPU profile there when it stops (for finding hot spots).
  const profileDir = flagValue('--profile');
  const nodeArgs = [
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
    ...(hasFlag('--heap-snapshot') ? ['--heapsnapshot-signal=SIGUSR2'] : []),
  ];
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'dist', 'src', 'main.js'), '--config', configFile], {
    cwd: dir,
    stdio: ['ignore', fd, fd],
    env,
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitFor('the daemon to answer /healthcheck', 120_000, async () => (await fetch(`${base}/healthcheck`)).ok, 200),
    exited.then((code) => {
      throw new Error(`the daemon exited with ${code} before it answered; its log: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }),
  ]);
  return { child, pid: child.pid!, base, logFile, exited };
}

async function stopDaemon(d: Daemon): Promise<number | null> {
  if (d.child.exitCode !== null) return d.child.exitCode;
  d.child.kill('SIGTERM');
  const code = await Promise.race([d.exited, sleep(15_000).then(() => 'timeout' as const)]);
  if (code === 'timeout') {
    d.child.kill('SIGKILL');
    return d.exited;
  }
  return code;
}

interface Scrape {
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
  bytes: number;
  durationMs: number;
}

async function scrape(d: Daemon): Promise<Scrape> {
  const t0 = performance.now();
  const res = await fetch(`${d.base}/metrics`);
  const text = await res.text();
  const durationMs = performance.now() - t0;
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  const gauge = (name: string) => {
    const m = new RegExp(`^logwise_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text);
    if (!m) throw new Error(`GET /metrics has no logwise_nodejs_eventloop_lag_${name}_seconds`);
    return Number(m[1]) * 1000;
  };
  const mb = (name: string) => round(Number(new RegExp(`^logwise_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1e6, 1);
  let polled = 0;
  for (const m of text.matchAll(/^logwise_events_total\{[^}]*type="spark\.polled"[^}]*\} (\S+)$/gm)) polled += Number(m[1]);
  return {
    at: Date.now(),
    heapUsedMB: mb('nodejs_heap_size_used_bytes'),
    heapTotalMB: mb('nodejs_heap_size_total_bytes'),
    externalMB: mb('nodejs_external_memory_bytes'),
    rssMB: mb('process_resident_memory_bytes'),
    lagP99Ms: gauge('p99'),
    lagMeanMs: gauge('mean'),
    lagMaxMs: gauge('max'),
    polled,
    bytes: text.length,
    durationMs,
  };
}

async function statusOf(d: Daemon, tenant: string): Promise<Record<string, any>> {
  const res = await fetch(`${d.base}/api/v1/spark/status`, { headers: { 'X-Tenant-Name': tenant } });
  if (!res.ok) throw new Error(`GET /api/v1/spark/status for ${tenant} answered ${res.status}`);
  return ((await res.json()) as { data: Record<string, any> }).data;
}

// ---------------------------------------------------------------- phases

async function recovery(sim: SparkMasterSimulator): Promise<{ ratios: number[]; unrecovered: number; duplicates: number }> {
  const random = Math.random;
  const deathTimes = Array.from({ length: DEATHS }, () => random() * DEATH_SPAN_MS).sort((a, b) => a - b);
  const recovering = new Map<number, number>(); // tenant → died at (epoch ms)
  const ratios: number[] = [];
  let cursor = sim.createRequests.length;
  const t0 = Date.now();
  let next = 0;
  const deadline = t0 + DEATH_SPAN_MS + 4 * POLL_MS + 10_000;
  while ((next < deathTimes.length || recovering.size > 0) && Date.now() < deadline) {
    // Accepted creates since the last look: a recovering tenant's resubmission ends its recovery.
    while (cursor < sim.createRequests.length) {
      const rec = sim.createRequests[cursor++]!;
      if (rec.submissionId === undefined) continue;
      const t = tenantOfArgs((rec.body as { appArgs?: unknown } | undefined)?.appArgs);
      if (t === undefined || !recovering.has(t)) continue;
      ratios.push((rec.at - recovering.get(t)!) / POLL_MS);
      recovering.delete(t);
    }
    const elapsed = Date.now() - t0;
    while (next < deathTimes.length && deathTimes[next]! <= elapsed) {
      next++;
      const running = runningByTenant(sim);
      const candidates = [...running.entries()].filter(([t, ds]) => !recovering.has(t) && ds.length === 1 && ds[0]!.state === 'RUNNING');
      if (candidates.length === 0) continue;
      const [t, [driver]] = candidates[Math.floor(random() * candidates.length)]!;
      const diedAt = Date.now();
      sim.killDriverProcess(driver!.id, 'FAILED');
      recovering.set(t, diedAt);
    }
    await sleep(5);
  }
  const duplicates = [...runningByTenant(sim).values()].filter((ds) => ds.length > 1).length;
  return { ratios, unrecovered: recovering.size, duplicates };
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg();
  build();
  const dir = mkdtempSync(join(os.tmpdir(), 'lw-bench-tenants-'));
  progress(NAME, `seeding ${TENANTS} local stores under ${dir} ...`);
  seedStores(join(dir, 'stores'));
  // A cluster big enough for one 1-core, 1 GiB driver per tenant: workers of 32 cores, 128 GiB.
  const workers = Math.ceil((TENANTS * 1.25) / 32);
  const sim = new SparkMasterSimulator({ workers: Array.from({ length: workers }, () => ({ cores: 32, memoryMb: 131_072 })) });
  await sim.start();
  let daemon: Daemon | undefined;
  try {
    const startedAt = Date.now();
    daemon = await startDaemon(dir, sim);
    const d = daemon;
    const upMs = Date.now() - startedAt;
    progress(NAME, `daemon pid ${d.pid} up in ${(upMs / 1000).toFixed(1)} s; waiting for ${TENANTS} running drivers ...`);

    // ---- settle
    let runningTenants = 0;
    await waitFor(
      `a running driver for each of ${TENANTS} tenants`,
      120_000 + 4 * POLL_MS,
      () => {
        const running = runningByTenant(sim);
        runningTenants = [...running.values()].filter((ds) => ds.some((x) => x.state === 'RUNNING')).length;
        return runningTenants === TENANTS;
      },
      250,
    ).catch((err: Error) => {
      const warnings = readFileSync(d.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"level":"warn"'));
      throw new Error(
        `${err.message}: ${runningTenants} had one; the daemon logged ${warnings.length} warnings, the last: ${warnings.at(-1)?.slice(0, 300) ?? 'none'}`,
      );
    });
    const allRunningMs = Date.now() - startedAt;
    const startupMasterReads = sim.requests.filter((r) => r.endpoint === 'json').length;
    const startupRssPeakMB = memoryMb(d.pid).hwm;
    const settleMs = Math.max(2 * POLL_MS, SETTLE_MS - (Date.now() - startedAt));
    progress(NAME, `all ${TENANTS} drivers running after ${(allRunningMs / 1000).toFixed(1)} s; settling for ${(settleMs / 1000).toFixed(0)} s ...`);
    await sleep(settleMs);

    // ---- idle window
    progress(NAME, `idle window of ${WINDOW_MS / 1000} s (scraping /metrics every ${SCRAPE_MS / 1000} s) ...`);
    const first = await scrape(d); // resets the event-loop histogram: the window starts clean
    const jsonBefore = sim.requests.length;
    const cpu0 = cpuSeconds(d.pid);
    const w0 = Date.now();
    const scrapes: Scrape[] = [];
    const cpuSlices: number[] = [];
    let lastCpu = cpu0;
    let lastAt = w0;
    while (Date.now() - w0 < WINDOW_MS) {
      await sleep(Math.min(SCRAPE_MS, WINDOW_MS - (Date.now() - w0)));
      const cpu = cpuSeconds(d.pid);
      const now = Date.now();
      cpuSlices.push(((cpu - lastCpu) / ((now - lastAt) / 1000)) * 100);
      lastCpu = cpu;
      lastAt = now;
      scrapes.push(await scrape(d));
    }
    const cpu1 = cpuSeconds(d.pid);
    const w1 = Date.now();
    if (hasFlag('--heap-snapshot')) {
      // Written into the daemon's working directory (the temporary one, kept with --keep).
      d.child.kill('SIGUSR2');
      progress(NAME, `heap snapshot requested (written to ${dir})`);
    }
    const windowS = (w1 - w0) / 1000;
    const idleCpu = ((cpu1 - cpu0) / windowS) * 100;
    const mem = memoryMb(d.pid);
    const masterRequests = sim.requests.slice(jsonBefore).filter((r) => r.at >= w0 && r.at <= w1);
    const jsonRequests = masterRequests.filter((r) => r.endpoint === 'json');
    const jsonTimes = jsonRequests.map((r) => r.at);
    const polled = scrapes.at(-1)!.polled - first.polled;
    const expectedPolls = (TENANTS * (scrapes.at(-1)!.at - first.at)) / POLL_MS;
    const lagP99s = scrapes.map((s) => s.lagP99Ms);
    progress(
      NAME,
      `idle: CPU ${idleCpu.toFixed(2)} % of a core, RSS ${mem.rss} MB (peak ${mem.hwm}), event-loop p99 per scrape ${lagP99s.map((v) => v.toFixed(1)).join(' ')} ms; ${polled} polls (${expectedPolls.toFixed(0)} expected), ${jsonRequests.length} master reads`,
    );

    // ---- poll spread: where in the interval each tenant polls
    const phases: number[] = [];
    const names = Array.from({ length: TENANTS }, (_, i) => tenantName(i));
    for (let i = 0; i < names.length; i += 8) {
      const batch = await Promise.all(names.slice(i, i + 8).map((n) => statusOf(d, n)));
      for (const s of batch) if (s.lastPoll?.at) phases.push(Date.parse(s.lastPoll.at) % POLL_MS);
    }
    const window = POLL_MS / 100;
    const spreadMax = maxInWindow(phases, window, POLL_MS);
    // The limit: what uniformly random phases reach 99 times in 100 (Monte Carlo, seeded). A
    // daemon that ticks every tenant in step would put all of them in one slice; one that spreads
    // them at random lands around the uniform mean (N / 100) plus the scan statistic's excess.
    const rng = mulberry32(7);
    const trials = Array.from({ length: 1000 }, () =>
      maxInWindow(
        Array.from({ length: phases.length }, () => rng() * POLL_MS),
        window,
        POLL_MS,
      ),
    );
    const spreadLimit = percentile(trials, 99);
    const master100ms = maxInWindow(
      jsonTimes.map((t) => t - w0),
      100,
      Number.POSITIVE_INFINITY,
    );

    // ---- recovery
    progress(NAME, `recovery: ${DEATHS} driver deaths of random tenants over ${DEATH_SPAN_MS / 1000} s at a ${POLL_MS / 1000} s poll ...`);
    const rec = await recovery(sim);
    progress(
      NAME,
      `recovery: p95 ${percentile(rec.ratios, 95).toFixed(2)} × the interval, ${rec.unrecovered} unrecovered, ${rec.duplicates} tenants with two drivers`,
    );

    const exitCode = await stopDaemon(d);
    const log = readFileSync(d.logFile, 'utf8').split('\n').filter(Boolean);
    const levels: Record<string, number> = {};
    for (const line of log) {
      const level = /"level":"(\w+)"/.exec(line)?.[1] ?? 'other';
      levels[level] = (levels[level] ?? 0) + 1;
    }
    const targets: TargetFigure[] = [
      { name: 'tenants.idleCpu', value: round(idleCpu, 2), unit: '% of a core', op: '<=', limit: 3, kind: 'timing' },
      { name: 'tenants.rss', value: mem.rss, unit: 'MB', op: '<=', limit: 300, limitNote: 'VmRSS at the end of the window', kind: 'timing' },
      {
        name: 'tenants.eventLoopDelayP99',
        value: round(Math.max(...lagP99s), 1),
        unit: 'ms',
        op: '<=',
        limit: 20,
        limitNote: `worst of the ${lagP99s.length} scrapes of nodejs_eventloop_lag_p99 (monitorEventLoopDelay, 10 ms resolution included)`,
        kind: 'timing',
      },
      {
        name: 'tenants.pollSpread',
        value: spreadMax,
        unit: 'polls in the busiest 1 % of the interval',
        op: '<=',
        limit: spreadLimit,
        limitNote: `p99 of uniformly random phases; uniform mean ${(phases.length / 100).toFixed(1)}, all in step ${phases.length}`,
        kind: 'timing',
      },
      {
        name: 'tenants.pollsMissed',
        value: round(Math.max(0, (100 * (expectedPolls - polled)) / expectedPolls), 2),
        unit: '% of the polls due in the window',
        op: '<=',
        limit: 2,
        kind: 'timing',
      },
      { name: 'tenants.recovery.p95', value: round(percentile(rec.ratios, 95)), unit: '× poll interval', op: '<=', limit: 1.2, kind: 'timing' },
      {
        name: 'tenants.recovery.unrecovered',
        value: rec.unrecovered + rec.duplicates,
        unit: 'tenants',
        op: '=',
        limit: 0,
        limitNote: 'deaths not resubmitted, plus tenants left with two drivers',
        kind: 'deterministic',
      },
    ];
    const result: BenchResult = {
      name: NAME,
      quick,
      scale: `${TENANTS} tenants on one master (${TENANTS} running drivers, ${workers} workers), poll ${POLL_MS / 1000} s, discovery ${DISCOVERY_S} s, delay ${DELAY_S} s, ${WINDOW_MS / 1000} s idle window, ${DEATHS} deaths = ${TENANTS} tenants`,
      targets,
      figures: {
        'tenants.startupMs': upMs,
        'tenants.allRunningMs': allRunningMs,
        'tenants.startupMasterReads': startupMasterReads,
        'tenants.startupRssPeakMB': startupRssPeakMB,
        'tenants.windowSeconds': round(windowS, 1),
        'tenants.windowStartSeconds': round((w0 - startedAt) / 1000, 1),
        'tenants.idleCpuWorstSlice': round(Math.max(...cpuSlices), 2),
        'tenants.rssPeakMB': mem.hwm,
        // RSS follows V8's heap between two major collections: the largest the scrapes saw.
        'tenants.rssMaxInWindowMB': Math.max(...scrapes.map((s) => s.rssMB)),
        'tenants.eventLoopDelayP99Median': round(percentile(lagP99s, 50), 1),
        'tenants.eventLoopDelayMaxWorst': round(Math.max(...scrapes.map((s) => s.lagMaxMs)), 1),
        'tenants.pollsPerSecond': round(polled / ((scrapes.at(-1)!.at - first.at) / 1000), 1),
        'tenants.masterReadsPerSecond': round(jsonRequests.length / windowS, 2),
        'tenants.masterReadsMaxIn100ms': master100ms,
        'tenants.masterRequestsInWindow': masterRequests.length,
        'tenants.metricsScrapeMs': round(
          percentile(
            scrapes.map((s) => s.durationMs),
            50,
          ),
          1,
        ),
        'tenants.metricsBytes': scrapes.at(-1)!.bytes,
        'tenants.recovery.median': round(percentile(rec.ratios, 50)),
        'tenants.recovery.max': round(Math.max(...rec.ratios)),
        'tenants.recovery.deaths': rec.ratios.length,
        'tenants.pollSeconds': POLL_MS / 1000,
      },
      info: {
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: os.loadavg(),
        cpus: os.cpus().length,
        cpuSlices: cpuSlices.map((v) => round(v, 2)),
        eventLoopP99PerScrape: lagP99s.map((v) => round(v, 2)),
        metricsScrapeMsPerScrape: scrapes.map((s) => round(s.durationMs, 1)),
        memoryPerScrapeMB: scrapes.map((s) => ({ rss: s.rssMB, heapUsed: s.heapUsedMB, heapTotal: s.heapTotalMB, external: s.externalMB })),
        spreadMonteCarlo: { median: percentile(trials, 50), p99: spreadLimit, max: Math.max(...trials) },
        recoveryRatios: rec.ratios.map((v) => round(v)),
        daemonLogLines: levels,
        daemonExitCode: exitCode,
      },
    };
    reportResult(result);
  } finally {
    if (daemon) await stopDaemon(daemon).catch(() => undefined);
    await sim.stop();
    if (!hasFlag('--keep')) rmSync(dir, { recursive: true, force: true });
    else progress(NAME, `kept ${dir}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`tenants benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
