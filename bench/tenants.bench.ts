/**
 * Many tenants (issue 7, targets 2 and 3; issue 17, targets 2 and 4): the daemon as operators run it (`npm run build`,
 * then `node dist/src/main.js --config <file>` in a child process of its own) supervising
 * 1,000 tenants at the default intervals (Spark poll 15 s, discovery 300 s, delay sample 60 s)
 * on ONE Spark master simulator that holds one running driver per tenant, with a local object
 * store per tenant; once on MySQL (a fresh database on the MariaDB of the tests, the daemon
 * holding every tenant's lease, renewing them as replicas do) and once on SQLite, one after the
 * other, each with a daemon, a simulator and figures of its own (`tenants.mysql.*`,
 * `tenants.sqlite.*`).
 *
 *   node --import tsx bench/tenants.bench.ts [--quick] [--db mysql|sqlite|both] [--tenants N] [--settle SECONDS]
 *        [--window SECONDS] [--deaths N] [--profile DIR] [--heap-snapshot] [--node-args "ARGS"] [--keep] [--no-build]
 *
 * --quick   100 tenants with every interval divided by 10 (poll 1.5 s, discovery 30 s, delay
 *           6 s): the same polls per second as 1,000 tenants at 15 s, a 10 s window; under a
 *           minute in all.
 * --db      which databases (default both)
 * --profile DIR  the daemon runs with --cpu-prof and writes its profile to DIR/<db> when it stops
 * --heap-snapshot  the daemon writes a heap snapshot at the end of the window (use with --keep)
 * --node-args "ARGS"  more node options for the daemon (e.g. "--perf-basic-prof" to read it with perf)
 * --deaths N  driver deaths in the recovery phase (default 60; quick 15)
 * --keep    keep the temporary directory (config, daemon log, SQLite file, stores)
 * --no-build  run dist/ as it is (default: `node scripts/build-if-needed.mjs` first)
 *
 * Phases:
 *  1. start: the daemon submits one driver per tenant (all tenants share the main class, as
 *     they run the same Spark job; each owns its driver by the submission id it recorded);
 *  2. settle: every tenant has a RUNNING driver (on MySQL: and this daemon holds every lease,
 *     from GET /api/v1/cluster), two more polls have passed, and the daemon
 *     has run 5 minutes (the target is for a daemon 5 minutes after its start: the first
 *     submissions and the first runs of every stream are behind it; quick: 8 s), scraped every
 *     15 s meanwhile as Prometheus would scrape it from its start;
 *  3. idle window (300 s, one discovery interval: every tenant syncs once, samples its delay
 *     5 times and polls 20 times): the daemon's CPU (utime + stime from /proc/<pid>/stat),
 *     its RSS at the end (VmRSS; VmHWM as a figure), its event-loop delay p99 as an operator
 *     reads it (`logwise_nodejs_eventloop_lag_p99_seconds` on GET /metrics: how late the loop
 *     ran a timer due every 100 ms (src/process-metrics.ts), reset at every scrape: scraped
 *     every 15 s like Prometheus would), the polls actually made
 *     (`logwise_events_total{type="spark.polled"}`) and, on MySQL, the lease keeper's
 *     statements (`logwise_lease_statements_total`);
 *  4. poll spread: each tenant's last poll time (GET /api/v1/spark/status → lastPoll.at)
 *     modulo the interval, i.e. where in the interval each tenant polls;
 *  5. recovery: drivers of random tenants die (FAILED) at random moments, about one per
 *     second (so a handful of tenants recover at once, each at a random point of its
 *     interval), at the default 15 s interval; death → the master accepting that tenant's
 *     resubmission, as a ratio of the poll interval (crash-loop protection on, at its defaults:
 *     a tenant dies at most once here, far below its threshold).
 *
 * The simulator runs in this process (its CPU is not the daemon's); the daemon logs to a
 * file at the default level (info).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SparkMasterSimulator } from '../test/spark-sim/master-simulator.js';
import { freshMysqlDatabase } from '../test/support/databases.js';
import { effectiveQuantumMs, TICK_QUANTUM_MS } from '../streams/tick-grid.js';
import { seededRandom as mulberry32 } from '../test/support/seeded-random.js';
import { EVENT_LOOP_RESOLUTION_MS } from '../src/process-metrics.js';
import { buildDaemon, cpuMsOf, freePort, memoryOf, startDaemon, waitFor, type Daemon } from './daemon.js';
import { flagValue, hasFlag, progress, reportResult, type BenchResult, type TargetFigure } from './harness.js';
import {
  configText,
  leasesHeld,
  maxInWindow,
  percentile,
  round,
  runningByTenant,
  scrape,
  seedStores,
  sparkStatusOf,
  tenantName,
  tenantOfArgs,
  type Scrape,
} from './tenants-workload.js';

const NAME = 'tenants';
const quick = hasFlag('--quick');
const TENANTS = Number(flagValue('--tenants') ?? (quick ? 100 : 1000));
/** Quick divides every interval by 10, so that 100 tenants make as many polls per second as 1,000. */
const SPEEDUP = quick ? 10 : 1;
const EVERY = { pollMs: 15_000 / SPEEDUP, discoveryS: 300 / SPEEDUP, delayS: 60 / SPEEDUP };
const POLL_MS = EVERY.pollMs;
const WINDOW_MS = Number(flagValue('--window') ?? (quick ? 10 : 300)) * 1000;
/** How often /metrics is scraped during the window (Prometheus' usual 15 s). */
const SCRAPE_MS = quick ? 5_000 : 15_000;
const DEATHS = Number(flagValue('--deaths') ?? (quick ? 15 : 60));
/** Deaths fall at random moments over this span (about one per second). */
const DEATH_SPAN_MS = quick ? 10_000 : 60_000;
/** The window starts this long after the daemon's start at the earliest (the target: "after 5 minutes"). */
const SETTLE_MS = Number(flagValue('--settle') ?? (quick ? 8 : 300)) * 1000;
const MB = 1e6;

type DatabaseKind = 'mysql' | 'sqlite';
const DATABASES: DatabaseKind[] = (() => {
  const which = flagValue('--db') ?? 'both';
  if (which === 'both') return ['mysql', 'sqlite'];
  if (which === 'mysql' || which === 'sqlite') return [which];
  throw new Error(`--db ${which}: expected mysql, sqlite or both`);
})();

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

interface Scenario {
  targets: TargetFigure[];
  figures: Record<string, number>;
  info: Record<string, unknown>;
}

/** One daemon on one database through every phase; its figures named `tenants.<db>.*`. */
async function runScenario(db: DatabaseKind, storesDir: string, dir: string): Promise<Scenario> {
  const loadAtStart = os.loadavg();
  const mysql = db === 'mysql' ? await freshMysqlDatabase('bench_tenants') : undefined;
  const database = mysql
    ? `database { client = mysql, host = "${mysql.config.host}", port = ${mysql.config.port}, user = "${mysql.config.user}", password = "${mysql.config.password}", database = "${mysql.config.database}" }`
    : `database { client = sqlite, filename = "${dir}/orchestrator.sqlite" }`;
  // A cluster big enough for one 1-core, 1 GiB driver per tenant: workers of 32 cores, 128 GiB.
  const workers = Math.ceil((TENANTS * 1.25) / 32);
  const sim = new SparkMasterSimulator({ workers: Array.from({ length: workers }, () => ({ cores: 32, memoryMb: 131_072 })) });
  await sim.start();
  const profileDir = flagValue('--profile');
  const nodeArgs = [
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, db)] : []),
    ...(hasFlag('--heap-snapshot') ? ['--heapsnapshot-signal=SIGUSR2'] : []),
    ...(flagValue('--node-args')?.split(' ').filter(Boolean) ?? []),
  ];
  let daemon: Daemon | undefined;
  const name = (figure: string) => `tenants.${db}.${figure}`;
  try {
    const startedAt = Date.now();
    const port = await freePort();
    daemon = await startDaemon({ dir, port, nodeArgs, config: configText({ port, storesDir, sim, tenants: TENANTS, database, every: EVERY }) });
    const d = daemon;
    const upMs = Date.now() - startedAt;
    progress(NAME, `${db}: daemon pid ${d.pid} up in ${(upMs / 1000).toFixed(1)} s; waiting for ${TENANTS} running drivers ...`);

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
    if (mysql) await waitFor(`the daemon to hold all ${TENANTS} leases`, 60_000, async () => (await leasesHeld(d.base)) === TENANTS, 500);
    const allRunningMs = Date.now() - startedAt;
    const startupMasterReads = sim.requests.filter((r) => r.endpoint === 'json').length;
    const startupRssPeakMB = round(memoryOf(d.pid).hwm / MB, 1);
    const settleMs = Math.max(2 * POLL_MS, SETTLE_MS - (Date.now() - startedAt));
    progress(NAME, `${db}: all ${TENANTS} drivers running after ${(allRunningMs / 1000).toFixed(1)} s; settling for ${(settleMs / 1000).toFixed(0)} s ...`);
    // Scraped meanwhile as Prometheus scrapes a daemon from its start: the window is then not the
    // first time this daemon builds its /metrics (the first builds are when V8 compiles that code).
    const settleEnd = Date.now() + settleMs;
    while (Date.now() < settleEnd) {
      await sleep(Math.min(SCRAPE_MS, settleEnd - Date.now()));
      if (settleEnd - Date.now() > 1_000) await scrape(d.base);
    }

    // ---- idle window
    progress(NAME, `${db}: idle window of ${WINDOW_MS / 1000} s (scraping /metrics every ${SCRAPE_MS / 1000} s) ...`);
    const first = await scrape(d.base); // resets the event-loop histogram: the window starts clean
    const jsonBefore = sim.requests.length;
    const cpu0 = cpuMsOf(d.pid);
    const w0 = Date.now();
    const scrapes: Scrape[] = [];
    const cpuSlices: number[] = [];
    let lastCpu = cpu0;
    let lastAt = w0;
    while (Date.now() - w0 < WINDOW_MS) {
      await sleep(Math.min(SCRAPE_MS, WINDOW_MS - (Date.now() - w0)));
      const cpu = cpuMsOf(d.pid);
      const now = Date.now();
      cpuSlices.push(((cpu - lastCpu) / (now - lastAt)) * 100);
      lastCpu = cpu;
      lastAt = now;
      scrapes.push(await scrape(d.base));
    }
    const cpu1 = cpuMsOf(d.pid);
    const w1 = Date.now();
    if (hasFlag('--heap-snapshot')) {
      // Written into the daemon's working directory (the temporary one, kept with --keep).
      d.child.kill('SIGUSR2');
      progress(NAME, `heap snapshot requested (written to ${dir})`);
    }
    const windowS = (w1 - w0) / 1000;
    const idleCpu = ((cpu1 - cpu0) / (w1 - w0)) * 100;
    const mem = memoryOf(d.pid);
    const rssMB = round(mem.rss / MB, 1);
    const masterRequests = sim.requests.slice(jsonBefore).filter((r) => r.at >= w0 && r.at <= w1);
    const jsonRequests = masterRequests.filter((r) => r.endpoint === 'json');
    const jsonTimes = jsonRequests.map((r) => r.at);
    const last = scrapes.at(-1)!;
    const polled = last.polled - first.polled;
    const expectedPolls = (TENANTS * (last.at - first.at)) / POLL_MS;
    const lagP99s = scrapes.map((s) => s.lagP99Ms);
    progress(
      NAME,
      `${db}: idle CPU ${idleCpu.toFixed(2)} % of a core, RSS ${rssMB} MB (peak ${round(mem.hwm / MB, 1)}), event-loop p99 per scrape ${lagP99s.map((v) => v.toFixed(1)).join(' ')} ms; ${polled} polls (${expectedPolls.toFixed(0)} expected), ${jsonRequests.length} master reads`,
    );

    // ---- poll spread: where in the interval each tenant polls
    const phases: number[] = [];
    const names = Array.from({ length: TENANTS }, (_, i) => tenantName(i));
    for (let i = 0; i < names.length; i += 8) {
      const batch = await Promise.all(names.slice(i, i + 8).map((n) => sparkStatusOf(d.base, n)));
      for (const s of batch) if (s.lastPoll?.at) phases.push(Date.parse(s.lastPoll.at) % POLL_MS);
    }
    const window = POLL_MS / 100;
    const spreadMax = maxInWindow(phases, window, POLL_MS);
    // The limit: what uniformly random phases reach 99 times in 100 (Monte Carlo, seeded). A
    // daemon that ticks every tenant in step would put all of them in one slice; one that spreads
    // them at random lands around the uniform mean (N / 100) plus the scan statistic's excess.
    // The random phases sit on the daemon's tick grid, as its ticks do (a tick waits for the next
    // multiple of the quantum): a window then holds whole slots of the grid, so the busiest one
    // holds more than with phases anywhere.
    const quantum = effectiveQuantumMs(TICK_QUANTUM_MS, POLL_MS);
    const onGrid = (phase: number) => (quantum > 0 ? (Math.ceil(phase / quantum) * quantum) % POLL_MS : phase);
    const rng = mulberry32(7);
    const trials = Array.from({ length: 1000 }, () =>
      maxInWindow(
        Array.from({ length: phases.length }, () => onGrid(rng() * POLL_MS)),
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
    progress(NAME, `${db}: recovery: ${DEATHS} driver deaths of random tenants over ${DEATH_SPAN_MS / 1000} s at a ${POLL_MS / 1000} s poll ...`);
    const rec = await recovery(sim);
    progress(
      NAME,
      `${db}: recovery: p95 ${percentile(rec.ratios, 95).toFixed(2)} × the interval, ${rec.unrecovered} unrecovered, ${rec.duplicates} tenants with two drivers`,
    );

    const exitCode = await d.stop();
    const levels: Record<string, number> = {};
    for (const line of d.logLines()) {
      const level = typeof line.level === 'string' ? line.level : 'other';
      levels[level] = (levels[level] ?? 0) + 1;
    }
    const targets: TargetFigure[] = [
      { name: name('idleCpu'), value: round(idleCpu, 2), unit: '% of a core', op: '<=', limit: 3, kind: 'timing' },
      { name: name('rss'), value: rssMB, unit: 'MB', op: '<=', limit: 200, limitNote: 'VmRSS at the end of the window', kind: 'timing' },
      {
        name: name('eventLoopDelayP99'),
        value: round(Math.max(...lagP99s), 1),
        unit: 'ms',
        op: '<=',
        limit: 20,
        limitNote: `worst of the ${lagP99s.length} scrapes of nodejs_eventloop_lag_p99 (how late the loop ran a timer due every ${EVENT_LOOP_RESOLUTION_MS} ms)`,
        kind: 'timing',
      },
      {
        name: name('pollSpread'),
        value: spreadMax,
        unit: 'polls in the busiest 1 % of the interval',
        op: '<=',
        limit: spreadLimit,
        limitNote: `p99 of uniformly random phases on the ${quantum} ms tick grid; uniform mean ${(phases.length / 100).toFixed(1)}, all in step ${phases.length}`,
        kind: 'timing',
      },
      {
        name: name('pollsMissed'),
        value: round(Math.max(0, (100 * (expectedPolls - polled)) / expectedPolls), 2),
        unit: '% of the polls due in the window',
        op: '<=',
        limit: 2,
        kind: 'timing',
      },
      { name: name('recovery.p95'), value: round(percentile(rec.ratios, 95)), unit: '× poll interval', op: '<=', limit: 1, kind: 'timing' },
      {
        name: name('recovery.unrecovered'),
        value: rec.unrecovered + rec.duplicates,
        unit: 'tenants',
        op: '=',
        limit: 0,
        limitNote: 'deaths not resubmitted, plus tenants left with two drivers',
        kind: 'deterministic',
      },
    ];
    const figures: Record<string, number> = {
      [name('startupMs')]: upMs,
      [name('allRunningMs')]: allRunningMs,
      [name('startupMasterReads')]: startupMasterReads,
      [name('startupRssPeakMB')]: startupRssPeakMB,
      [name('windowSeconds')]: round(windowS, 1),
      [name('windowStartSeconds')]: round((w0 - startedAt) / 1000, 1),
      [name('idleCpuWorstSlice')]: round(Math.max(...cpuSlices), 2),
      [name('rssPeakMB')]: round(mem.hwm / MB, 1),
      // RSS follows V8's heap between two major collections: the largest the scrapes saw.
      [name('rssMaxInWindowMB')]: Math.max(...scrapes.map((s) => s.rssMB)),
      [name('eventLoopDelayP99Median')]: round(percentile(lagP99s, 50), 1),
      [name('eventLoopDelayMaxWorst')]: round(Math.max(...scrapes.map((s) => s.lagMaxMs)), 1),
      [name('pollsPerSecond')]: round(polled / ((last.at - first.at) / 1000), 1),
      [name('leaseStatementsPerSecond')]: round((last.leaseStatements - first.leaseStatements) / ((last.at - first.at) / 1000), 2),
      [name('masterReadsPerSecond')]: round(jsonRequests.length / windowS, 2),
      [name('masterReadsMaxIn100ms')]: master100ms,
      [name('masterRequestsInWindow')]: masterRequests.length,
      [name('metricsScrapeMs')]: round(
        percentile(
          scrapes.map((s) => s.durationMs),
          50,
        ),
        1,
      ),
      [name('metricsBytes')]: last.bytes,
      [name('recovery.median')]: round(percentile(rec.ratios, 50)),
      [name('recovery.max')]: round(Math.max(...rec.ratios)),
      [name('recovery.deaths')]: rec.ratios.length,
    };
    const info = {
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: os.loadavg(),
      workers,
      cpuSlices: cpuSlices.map((v) => round(v, 2)),
      eventLoopP99PerScrape: lagP99s.map((v) => round(v, 2)),
      metricsScrapeMsPerScrape: scrapes.map((s) => round(s.durationMs, 1)),
      memoryPerScrapeMB: scrapes.map((s) => ({ rss: s.rssMB, heapUsed: s.heapUsedMB, heapTotal: s.heapTotalMB, external: s.externalMB })),
      spreadMonteCarlo: { median: percentile(trials, 50), p99: spreadLimit, max: Math.max(...trials) },
      recoveryRatios: rec.ratios.map((v) => round(v)),
      daemonLogLines: levels,
      daemonExitCode: exitCode,
    };
    return { targets, figures, info };
  } finally {
    if (daemon) await daemon.stop().catch(() => undefined);
    await sim.stop();
    await mysql?.drop().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  if (hasFlag('--no-build')) progress(NAME, '--no-build: running dist/ as it is');
  else buildDaemon();
  const dir = mkdtempSync(join(os.tmpdir(), 'lw-bench-tenants-'));
  try {
    progress(NAME, `seeding ${TENANTS} local stores under ${dir} ...`);
    seedStores(join(dir, 'stores'), TENANTS);
    const scenarios: Scenario[] = [];
    const info: Record<string, unknown> = { cpus: os.cpus().length };
    for (const db of DATABASES) {
      const scenarioDir = join(dir, db);
      mkdirSync(scenarioDir);
      const scenario = await runScenario(db, join(dir, 'stores'), scenarioDir);
      scenarios.push(scenario);
      info[db] = scenario.info;
    }
    const result: BenchResult = {
      name: NAME,
      quick,
      scale: `${TENANTS} tenants on one master (one running driver each) on ${DATABASES.join(' then ')}, poll ${POLL_MS / 1000} s, discovery ${EVERY.discoveryS} s, delay ${EVERY.delayS} s, ${WINDOW_MS / 1000} s idle window, ${DEATHS} deaths`,
      targets: scenarios.flatMap((s) => s.targets),
      figures: { 'tenants.pollSeconds': POLL_MS / 1000, ...Object.assign({}, ...scenarios.map((s) => s.figures)) },
      info,
    };
    reportResult(result);
  } finally {
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
