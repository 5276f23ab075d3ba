/**
 * HTTP throughput: `GET /api/v1/metric/sync-delay` (with X-Tenant-Name) and `GET /healthcheck`
 * of the real daemon, as a ratio of a bare `@hono/node-server` hello-world measured in the same
 * run (target ≥ 0.8 each), and their p99 latencies as a ratio of the hello-world's (target ≤ 2
 * each; autocannon's latencies are whole milliseconds).
 *
 *   node --import tsx bench/http.bench.ts [--quick] [--connections N] [--seconds S] [--rounds R] [--profile DIR] [--node-args "FLAGS"]
 *
 * --quick   1 s warm-up, 4 rounds of 1 s per run (about 30 s with the start-up)
 * default   3 s warm-up, 12 rounds of 3 s per run (about 2 minutes)
 * --profile DIR   run both servers with --cpu-prof, the profiles written into DIR/daemon and DIR/hello when they stop
 * --node-args "FLAGS"   more flags for the daemon's node (space-separated: `--trace-deopt`, `--log-ic --logfile=F`)
 *
 * The daemon runs as operators run it: compiled (`node scripts/build-if-needed.mjs`), then
 * `node <DAEMON_NODE_ARGS> dist/src/main.js --config <generated HOCON>` (as `npm start` runs
 * it) in a child process, on MariaDB (a fresh database) with one tenant whose bucket on the Ceph
 * RGW holds minute partitions of its sample service; credentials come from the environment,
 * logs are JSON at info level. The hello-world (`app.get('/', c => c.text(…))` served by
 * `@hono/node-server`) runs in another child process.
 * autocannon runs in this process against each in turn, with the same connections and duration;
 * each round runs both endpoints (in alternating order) between two runs of the hello-world, and
 * the ratio of a round is the endpoint's req/s over the mean of those two (so a neighbour loading
 * the machine for a while weighs on both sides). The figure is the median over the rounds.
 *
 * Besides: a hello-world route answering the same JSON as sync-delay (`/json`, same process as
 * the hello-world: what the size of the answer costs, the load generator included), CPU time
 * per request of each server process (/proc), the delay samples the daemon
 * took during the sync-delay load (from its own log lines: a sample lists S3, a request served
 * from the recent sample does not) and the log lines it wrote while under load.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freshMysqlDatabase } from '../test/support/databases.js';
import {
  createTestBucket,
  emptyAndDeleteBucket,
  putObjects,
  s3TestAccessKeyId,
  s3TestEndpoint,
  s3TestRegion,
  s3TestSecretAccessKey,
  testS3Client,
} from '../test/support/s3.js';
import { DAEMON_NODE_ARGS } from '../test/support/start-command.js';
import { partitionKey } from '../test/support/stores.js';
import { flagValue, hasFlag, intFlag, median, progress, reportResult, type BenchResult, type TargetFigure } from './harness.js';

const NAME = 'http';
const TENANT = 'BENCH';
const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const quick = hasFlag('--quick');
const CONNECTIONS = intFlag('--connections') ?? 32;
const SECONDS = intFlag('--seconds') ?? (quick ? 1 : 3);
const ROUNDS = intFlag('--rounds') ?? (quick ? 4 : 12);
const WARMUP_SECONDS = quick ? 1 : 3;
const RATIO_TARGET = 0.8;
const P99_RATIO_TARGET = 2;
const SAMPLE = { env: 'prod', service: 'checkout', component: 'application' };

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------- child processes

interface Server {
  name: string;
  child: ChildProcess;
  port: number;
  /** JSON log lines the process wrote (the daemon's), parsed. */
  lines: Record<string, unknown>[];
}

/** Starts `args` with node and resolves once `ready` picks the port out of a stdout line. */
function startServer(name: string, args: string[], env: NodeJS.ProcessEnv, ready: (line: Record<string, unknown>) => number | undefined): Promise<Server> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within 60 s; stderr: ${stderr}`));
    }, 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready; stderr: ${stderr}`));
    });
    // The pipe is read to the end, so a chatty process never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(line);
      const port = ready(line);
      if (port !== undefined) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ name, child, port, lines });
      }
    });
  });
}

function stopServer(server: Server | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
    server.child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    server.child.kill('SIGTERM');
  });
}

const HELLO_WORLD = `
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
const app = new Hono();
app.get('/', (c) => c.text('Hello Hono!'));
// Not the baseline: the same bytes as the daemon's sync-delay answer, to tell the cost of the answer's size from the daemon's own.
app.get('/json', (c) => c.json({ data: { tenant: 'BENCH', appLogsDelayMinutes: 5 } }));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => console.log(JSON.stringify({ port: info.port })));
process.on('SIGTERM', () => { server.close(); server.closeAllConnections?.(); process.exit(0); });
`;

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** User + system CPU time of a process, in ms (Linux /proc). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

// ---------------------------------------------------------------- load

interface Target {
  name: 'hello' | 'hello_json' | 'healthcheck' | 'sync_delay';
  server: Server;
  path: string;
  headers: Record<string, string>;
  /** What a correct answer holds (checked once before the load; autocannon checks the status of every answer). */
  expect: (status: number, body: string) => boolean;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  cpuMsPerKReq: number;
  /** The load generator's (this process's) CPU time per 1,000 requests. */
  clientCpuMsPerKReq: number;
}

async function load(t: Target, seconds: number): Promise<Run> {
  const cpuBefore = cpuMsOf(t.server.child.pid!);
  const clientCpu = process.cpuUsage();
  const result = await autocannon({
    url: `http://127.0.0.1:${t.server.port}${t.path}`,
    headers: t.headers,
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
  });
  const cpu = cpuMsOf(t.server.child.pid!) - cpuBefore;
  const clientUsed = process.cpuUsage(clientCpu);
  const requests = result.requests.total;
  return {
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuMsPerKReq: requests > 0 ? (cpu * 1000) / requests : 0,
    clientCpuMsPerKReq: requests > 0 ? (clientUsed.user + clientUsed.system) / requests : 0,
  };
}

async function check(t: Target): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${t.server.port}${t.path}`, { headers: t.headers });
  const body = await res.text();
  if (!t.expect(res.status, body)) throw new Error(`${t.name}: GET ${t.path} answered ${res.status} ${body.slice(0, 300)}`);
}

// ---------------------------------------------------------------- the run

async function main(): Promise<BenchResult> {
  const loadAtStart = os.loadavg().map((v) => round(v, 2));
  progress(NAME, `${quick ? 'quick: ' : ''}${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per run after ${WARMUP_SECONDS} s of warm-up`);

  progress(NAME, 'building the daemon (node scripts/build-if-needed.mjs) ...');
  const build = spawnSync(process.execPath, ['scripts/build-if-needed.mjs'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (build.status !== 0) throw new Error(`the build failed (exit ${build.status ?? build.signal})`);

  // The sample service wrote its last minute partition five minutes ago (and every minute of the half hour before).
  const s3 = testS3Client();
  const bucket = await createTestBucket('lw-bench-http', s3);
  const now = Date.now();
  const keys = Array.from({ length: 30 }, (_, i) => partitionKey(SAMPLE.env, SAMPLE.service, SAMPLE.component, new Date(now - (5 + i) * 60_000).toISOString()));
  await putObjects(s3, bucket, keys, 8);
  const expectedDelay = 5;

  const mysql = await freshMysqlDatabase('bench_http');
  const dir = mkdtempSync(join(os.tmpdir(), 'lw-bench-http-'));
  const configFile = join(dir, 'application.conf');
  writeFileSync(
    configFile,
    `http { port = 0, host = "127.0.0.1" }
database {
  client = mysql
  host = "${mysql.config.host}"
  port = ${mysql.config.port}
  user = "${mysql.config.user}"
  password = "${mysql.config.password}"
  database = "${mysql.config.database}"
}
tenants = [{
  name = "${TENANT}"
  objectStore.aws { region = "${s3TestRegion}", bucket = "${bucket}", endpointOverride = "${s3TestEndpoint}" }
  # No Spark master here: the Spark poll reports it unreachable and backs off, as with npm start.
  kafka.kafkaBrokersHost = "127.0.0.1:1"
  spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkMasterRestPort = 1, sparkJarPath = "file:///app.jar" }
  delayMetrics.app { sampleEnv = "${SAMPLE.env}", sampleServiceName = "${SAMPLE.service}", sampleComponentName = "${SAMPLE.component}" }
}]
`,
  );

  let daemon: Server | undefined;
  let hello: Server | undefined;
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: s3TestAccessKeyId,
      AWS_SECRET_ACCESS_KEY: s3TestSecretAccessKey,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    };
    delete env.NODE_OPTIONS; // the daemon runs as operators run it, without tsx
    progress(NAME, `starting the daemon: node ${[...DAEMON_NODE_ARGS, ''].join(' ')}dist/src/main.js --config <generated> ...`);
    const profileDir = flagValue('--profile');
    const profiling = (who: string) => (profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, who)] : []);
    const nodeArgs = flagValue('--node-args')?.split(' ').filter(Boolean) ?? [];
    daemon = await startServer(
      'the daemon',
      [...DAEMON_NODE_ARGS, ...profiling('daemon'), ...nodeArgs, 'dist/src/main.js', '--config', configFile],
      env,
      (l) => (l.msg === 'orchestrator listening' && typeof l.port === 'number' ? l.port : undefined),
    );
    progress(NAME, `daemon on port ${daemon.port} (pid ${daemon.child.pid}); hello-world ...`);
    hello = await startServer('the hello-world', [...profiling('hello'), '--input-type=module', '-e', HELLO_WORLD], env, (l) =>
      typeof l.port === 'number' ? l.port : undefined,
    );
    progress(NAME, `hello-world on port ${hello.port} (pid ${hello.child.pid})`);

    const targets: Target[] = [
      { name: 'hello', server: hello, path: '/', headers: {}, expect: (s, b) => s === 200 && b === 'Hello Hono!' },
      { name: 'hello_json', server: hello, path: '/json', headers: { 'X-Tenant-Name': TENANT }, expect: (s, b) => s === 200 && b.startsWith('{"data":') },
      {
        name: 'healthcheck',
        server: daemon,
        path: '/healthcheck',
        headers: {},
        expect: (s, b) => s === 200 && (JSON.parse(b) as { data?: { status?: string } }).data?.status === 'UP',
      },
      {
        name: 'sync_delay',
        server: daemon,
        path: '/api/v1/metric/sync-delay',
        headers: { 'X-Tenant-Name': TENANT },
        expect: (s, b) => {
          const minutes = (JSON.parse(b) as { data?: { appLogsDelayMinutes?: unknown } }).data?.appLogsDelayMinutes;
          // The delay grows while the benchmark runs (a full run under load lasts more than the 2 minutes' slack).
          const elapsedMinutes = Math.ceil((Date.now() - now) / 60_000);
          return s === 200 && typeof minutes === 'number' && minutes >= expectedDelay && minutes <= expectedDelay + 2 + elapsedMinutes;
        },
      },
    ];
    for (const t of targets) await check(t);

    progress(NAME, `warm-up: ${WARMUP_SECONDS} s per server ...`);
    for (const t of targets) await load(t, WARMUP_SECONDS);

    const runs: Record<Target['name'], Run[]> = { hello: [], hello_json: [], healthcheck: [], sync_delay: [] };
    const ratios: Record<'hello_json' | 'healthcheck' | 'sync_delay', number[]> = { hello_json: [], healthcheck: [], sync_delay: [] };
    const p99Ratios: Record<'hello_json' | 'healthcheck' | 'sync_delay', number[]> = { hello_json: [], healthcheck: [], sync_delay: [] };
    let samplesDuringLoad = 0;
    let listCallsDuringLoad = 0;
    let syncDelayRequests = 0;
    const linesBefore = daemon.lines.length;
    const measure = async (t: Target): Promise<Run> => {
      const from = daemon!.lines.length;
      const run = await load(t, SECONDS);
      if (run.non2xx > 0 || run.errors > 0) throw new Error(`${t.name}: ${run.non2xx} non-2xx answers and ${run.errors} errors under load`);
      if (t.name === 'sync_delay') {
        syncDelayRequests += run.requests;
        for (const l of daemon!.lines.slice(from)) {
          if (l.event === 'delay.sampled') {
            samplesDuringLoad += 1;
            listCallsDuringLoad += Number(l.listCalls ?? 0);
          }
        }
      }
      runs[t.name].push(run);
      return run;
    };
    const [helloTarget, ...endpoints] = targets as [Target, ...Target[]];
    // Each round: the hello-world, the others (their order rotating), the hello-world again. A
    // ratio in a round is over the mean of the two hello-world runs around it, so a neighbour
    // loading the machine for a while weighs on both sides.
    let helloBefore = await measure(helloTarget);
    const syncVsJson: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order = endpoints.map((_, i) => endpoints[(i + r) % endpoints.length]!);
      const inRound: Partial<Record<Target['name'], Run>> = {};
      for (const t of order) inRound[t.name] = await measure(t);
      const helloAfter = await measure(helloTarget);
      const helloRps = (helloBefore.rps + helloAfter.rps) / 2;
      // p99s as the req/s: over the mean of the hello-world's two runs around them (at least 1 ms: a whole-millisecond 0 would divide by zero).
      const helloP99 = Math.max(1, (helloBefore.p99 + helloAfter.p99) / 2);
      for (const name of ['hello_json', 'healthcheck', 'sync_delay'] as const) {
        ratios[name].push(inRound[name]!.rps / helloRps);
        p99Ratios[name].push(inRound[name]!.p99 / helloP99);
      }
      syncVsJson.push(inRound.sync_delay!.rps / inRound.hello_json!.rps);
      progress(
        NAME,
        `round ${r + 1}/${ROUNDS}: hello ${Math.round(helloBefore.rps)}…${Math.round(helloAfter.rps)} req/s, healthcheck ${Math.round(inRound.healthcheck!.rps)} (${ratios.healthcheck.at(-1)!.toFixed(2)}), sync-delay ${Math.round(inRound.sync_delay!.rps)} (${ratios.sync_delay.at(-1)!.toFixed(2)}), hello-world JSON ${Math.round(inRound.hello_json!.rps)} (${ratios.hello_json.at(-1)!.toFixed(2)}); load ${os.loadavg()[0]!.toFixed(2)}`,
      );
      helloBefore = helloAfter;
    }
    for (const t of targets) await check(t); // still answering correctly after the load
    const logLinesUnderLoad = daemon.lines.length - linesBefore;

    const med = (name: Target['name'], f: (r: Run) => number) => median(runs[name].map(f));
    const targetsOut: TargetFigure[] = [
      {
        name: 'http.healthcheck.ratio',
        value: round(median(ratios.healthcheck), 3),
        unit: '× hello-world req/s',
        op: '>=',
        limit: RATIO_TARGET,
        limitNote: 'median of rounds',
      },
      {
        name: 'http.sync_delay.ratio',
        value: round(median(ratios.sync_delay), 3),
        unit: '× hello-world req/s',
        op: '>=',
        limit: RATIO_TARGET,
        limitNote: 'median of rounds',
      },
      // Target 3 is throughput and latency: the p99 was reported but never judged.
      {
        name: 'http.healthcheck.p99_ratio',
        value: round(median(p99Ratios.healthcheck), 3),
        unit: '× hello-world p99',
        op: '<=',
        limit: P99_RATIO_TARGET,
        limitNote: 'median of rounds',
      },
      {
        name: 'http.sync_delay.p99_ratio',
        value: round(median(p99Ratios.sync_delay), 3),
        unit: '× hello-world p99',
        op: '<=',
        limit: P99_RATIO_TARGET,
        limitNote: 'median of rounds',
      },
    ];
    const figures: Record<string, number> = {};
    for (const name of ['hello', 'hello_json', 'healthcheck', 'sync_delay'] as const) {
      figures[`${name}.rps`] = Math.round(med(name, (r) => r.rps));
      figures[`${name}.p50_ms`] = med(name, (r) => r.p50);
      figures[`${name}.p99_ms`] = med(name, (r) => r.p99);
      figures[`${name}.p99_ms_max`] = Math.max(...runs[name].map((r) => r.p99));
      figures[`${name}.cpu_ms_per_1000_req`] = round(
        med(name, (r) => r.cpuMsPerKReq),
        1,
      );
      figures[`${name}.client_cpu_ms_per_1000_req`] = round(
        med(name, (r) => r.clientCpuMsPerKReq),
        1,
      );
    }
    figures['sync_delay.samples_during_load'] = samplesDuringLoad;
    figures['sync_delay.list_calls_during_load'] = listCallsDuringLoad;
    figures['sync_delay.requests_during_load'] = syncDelayRequests;
    figures['daemon.log_lines_under_load'] = logLinesUnderLoad;
    figures['hello_json.ratio'] = round(median(ratios.hello_json), 3);
    figures['hello_json.p99_ratio'] = round(median(p99Ratios.hello_json), 3);
    // The daemon's own cost: sync-delay against a hello-world that answers the same bytes.
    figures['sync_delay.ratio_vs_hello_json'] = round(median(syncVsJson), 3);
    for (const [name, values] of Object.entries(ratios) as ['hello_json' | 'healthcheck' | 'sync_delay', number[]][]) {
      figures[`${name}.ratio_min`] = round(Math.min(...values), 3);
      figures[`${name}.ratio_max`] = round(Math.max(...values), 3);
      // Less sensitive to the neighbours: the hello-world's CPU time per request over the endpoint's.
      figures[`${name}.cpu_ratio`] = round(figures['hello.cpu_ms_per_1000_req']! / figures[`${name}.cpu_ms_per_1000_req`]!, 3);
    }
    return {
      name: NAME,
      quick,
      scale: `${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS} s per run`,
      targets: targetsOut,
      figures,
      info: {
        node: process.version,
        cpus: os.cpus().length,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)),
        database: 'MariaDB (mysql client)',
        ratios,
        p99Ratios,
        runs,
      },
    };
  } finally {
    await Promise.all([stopServer(daemon), stopServer(hello)]);
    await mysql.drop().catch(() => undefined);
    await emptyAndDeleteBucket(bucket, s3).catch(() => undefined);
    s3.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (result) => {
    reportResult(result);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`http benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
