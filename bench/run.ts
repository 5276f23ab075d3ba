/**
 * The benchmark runner (`npm run bench`):
 *
 *   node --import tsx bench/run.ts [--quick] [--only NAME] [--runs N] [--strict] [-- ARGS...]
 *
 * --quick      every benchmark at a small scale (the whole run well under 2 minutes; CI smoke)
 * --only NAME  run one registered benchmark
 * --runs N     run each benchmark N times (each in a fresh process); the figures are medians
 * --strict     exit 1 when a target is missed (otherwise a miss prints FAIL and exits 0)
 * -- ARGS      passed to every benchmark (e.g. `-- --clean` to delete the seeded bucket)
 *
 * It brings the test services up first (`bash test/services.sh up`: MariaDB and the Ceph
 * RGW) and stops with exit code 2 if it cannot. Each benchmark runs in a child process of its
 * own (so its peak RSS is its own) and hands back a BenchResult (bench/harness.ts). stdout
 * gets exactly one line per target, `name  figure  target  PASS|FAIL`; progress and errors go
 * to stderr. Results are written to bench/results/latest.json. Exit code: 2 if the harness
 * failed (services, a benchmark crashed or timed out), 1 if --strict and a target was missed,
 * else 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, passes, type BenchResult, type TargetFigure } from './harness.js';

interface Registered {
  name: string;
  /** The benchmark's file, relative to bench/. */
  file: string;
  /** A run that takes longer is killed and counts as a harness failure. */
  timeoutMs: { full: number; quick: number };
}

/** Every benchmark `npm run bench` runs, in order. */
const BENCHMARKS: Registered[] = [
  { name: 'discovery', file: 'discovery.bench.ts', timeoutMs: { full: 30 * 60_000, quick: 100_000 } },
  { name: 'recovery', file: 'recovery.bench.ts', timeoutMs: { full: 10 * 60_000, quick: 60_000 } },
  { name: 'http', file: 'http.bench.ts', timeoutMs: { full: 6 * 60_000, quick: 90_000 } },
  { name: 'delay', file: 'delay.bench.ts', timeoutMs: { full: 10 * 60_000, quick: 90_000 } },
  { name: 'tenants', file: 'tenants.bench.ts', timeoutMs: { full: 20 * 60_000, quick: 120_000 } },
  { name: 'config', file: 'config.bench.ts', timeoutMs: { full: 10 * 60_000, quick: 180_000 } },
  { name: 'replicas', file: 'replicas.bench.ts', timeoutMs: { full: 25 * 60_000, quick: 240_000 } },
];

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const RESULTS = join(BENCH_DIR, 'results', 'latest.json');

class UsageError extends Error {}

interface Options {
  quick: boolean;
  only: string | undefined;
  runs: number;
  strict: boolean;
  passThrough: string[];
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { quick: false, only: undefined, runs: 1, strict: false, passThrough: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      opts.passThrough = argv.slice(i + 1);
      break;
    } else if (arg === '--quick') opts.quick = true;
    else if (arg === '--strict') opts.strict = true;
    else if (arg === '--only') {
      opts.only = argv[++i];
      if (!opts.only) throw new UsageError('--only needs a benchmark name');
      if (!BENCHMARKS.some((b) => b.name === opts.only)) {
        throw new UsageError(`unknown benchmark "${opts.only}"; registered: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
      }
    } else if (arg === '--runs') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new UsageError('--runs needs a positive integer');
      opts.runs = n;
    } else throw new UsageError(`unknown argument ${arg}`);
  }
  return opts;
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** `bash test/services.sh up`; its output goes to stderr. */
function servicesUp(): string | undefined {
  log('bringing up the test services (bash test/services.sh up) ...');
  const res = spawnSync('bash', [join(ROOT, 'test', 'services.sh'), 'up'], { cwd: ROOT, stdio: ['ignore', 2, 2], timeout: 10 * 60_000 });
  if (res.error) return `could not run \`bash test/services.sh up\`: ${res.error.message}`;
  if (res.status !== 0) return `\`bash test/services.sh up\` failed (exit ${res.status ?? res.signal}); MariaDB and the Ceph RGW are needed (see the messages above)`;
  return undefined;
}

/** One run of one benchmark in its own process; resolves with its result or rejects with why it failed. */
function runOnce(bench: Registered, opts: Options): Promise<BenchResult> {
  const dir = mkdtempSync(join(os.tmpdir(), 'lw-bench-'));
  const resultFile = join(dir, 'result.json');
  const args = ['--import', 'tsx', join(BENCH_DIR, bench.file), ...(opts.quick ? ['--quick'] : []), ...opts.passThrough];
  const timeoutMs = opts.quick ? bench.timeoutMs.quick : bench.timeoutMs.full;
  return new Promise<BenchResult>((resolve, reject) => {
    // The child's stdout goes to our stderr: our stdout is only the result lines.
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 2, 2], env: { ...process.env, BENCH_RESULT_FILE: resultFile } });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        if (timedOut) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`);
        if (code !== 0) throw new Error(`exited with ${code ?? signal}`);
        let result: BenchResult;
        try {
          result = JSON.parse(readFileSync(resultFile, 'utf8')) as BenchResult;
        } catch (err) {
          throw new Error(`wrote no result (${(err as Error).message})`);
        }
        if (result.name !== bench.name || !Array.isArray(result.targets)) throw new Error('wrote a malformed result');
        resolve(result);
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

interface TargetSummary {
  name: string;
  unit: string;
  op: TargetFigure['op'];
  limit: number;
  limitNote?: string;
  median: number;
  min: number;
  max: number;
  values: number[];
  pass: boolean;
}

/** Per target: the median over the runs (and the spread); PASS when the median meets the target. */
function summarize(runs: BenchResult[]): TargetSummary[] {
  const names = runs[0]!.targets.map((t) => t.name);
  return names.map((name) => {
    const figures = runs.map((r) => r.targets.find((t) => t.name === name)!).filter(Boolean);
    const first = figures[0]!;
    const values = figures.map((f) => f.value);
    const summary: TargetSummary = {
      name,
      unit: first.unit,
      op: first.op,
      limit: median(figures.map((f) => f.limit)),
      ...(first.limitNote ? { limitNote: first.limitNote } : {}),
      median: median(values),
      min: Math.min(...values),
      max: Math.max(...values),
      values,
      pass: false,
    };
    summary.pass = passes({ value: summary.median, op: summary.op, limit: summary.limit });
    return summary;
  });
}

function fmt(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString('en') : v.toLocaleString('en', { maximumFractionDigits: 2 });
}

function resultLines(quick: boolean, scale: string, summaries: TargetSummary[]): string[] {
  const rows = summaries.map((s) => {
    const name = quick ? `${s.name} [quick: ${scale}]` : s.name;
    const spread = s.values.length > 1 ? ` (median of ${s.values.length}, ${fmt(s.min)}–${fmt(s.max)})` : '';
    const figure = `${fmt(s.median)} ${s.unit}${spread}`;
    const target = `${{ '<=': '≤', '>=': '≥', '=': '=' }[s.op]} ${fmt(s.limit)} ${s.unit}${s.limitNote ? ` (${s.limitNote})` : ''}`;
    return [name, figure, target, s.pass ? 'PASS' : 'FAIL'];
  });
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  '));
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      log(err.message);
      log('usage: node --import tsx bench/run.ts [--quick] [--only NAME] [--runs N] [--strict] [-- ARGS...]');
      return 2;
    }
    throw err;
  }
  const startedAt = new Date();
  const selected = BENCHMARKS.filter((b) => opts.only === undefined || b.name === opts.only);
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    quick: opts.quick,
    runsPerBenchmark: opts.runs,
    node: process.version,
    host: { cpus: os.cpus().length, loadAverageAtStart: os.loadavg(), loadAverageAtEnd: [] as number[], totalMemMB: Math.round(os.totalmem() / 1e6) },
    benchmarks: [] as { name: string; ok: boolean; error?: string; summary: TargetSummary[]; runs: BenchResult[] }[],
    harnessFailed: false,
    targetsMissed: 0,
  };
  const writeReport = () => {
    report.finishedAt = new Date().toISOString();
    report.host.loadAverageAtEnd = os.loadavg();
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  };

  const servicesError = servicesUp();
  if (servicesError) {
    log(`cannot run the benchmarks: ${servicesError}`);
    report.harnessFailed = true;
    writeReport();
    return 2;
  }

  for (const bench of selected) {
    const runs: BenchResult[] = [];
    let error: string | undefined;
    for (let i = 1; i <= opts.runs; i++) {
      log(`${bench.name}${opts.quick ? ' (quick)' : ''}: run ${i} of ${opts.runs} ...`);
      try {
        runs.push(await runOnce(bench, opts));
      } catch (err) {
        error = `run ${i}: ${(err as Error).message}`;
        log(`${bench.name} failed: ${error}`);
        break;
      }
    }
    const ok = error === undefined && runs.length > 0;
    const summary = ok ? summarize(runs) : [];
    report.benchmarks.push({ name: bench.name, ok, ...(error ? { error } : {}), summary, runs });
    if (!ok) report.harnessFailed = true;
    report.targetsMissed += summary.filter((s) => !s.pass).length;
    if (ok) for (const line of resultLines(opts.quick, runs[0]!.scale.replace(/.* = /, ''), summary)) process.stdout.write(`${line}\n`);
  }
  writeReport();
  log(`results written to ${RESULTS}`);
  if (report.harnessFailed) return 2;
  return opts.strict && report.targetsMissed > 0 ? 1 : 0;
}

process.exitCode = await main();
