/**
 * The benchmark runner (`npm run bench`):
 *
 *   node --import tsx bench/run.ts [--quick] [--only NAME] [--runs N] [--strict] [-- ARGS...]
 *
 * --quick      every benchmark at a small scale (the whole run a few minutes; CI smoke)
 * --only NAME  run one registered benchmark
 * --runs N     run each benchmark N times (each in a fresh process); the figures are medians
 * --strict     exit 1 when a deterministic target is missed (a count the code decides: calls,
 *              rows, statements, leases, creates); a timing target (wall, CPU, RSS, latency,
 *              ratios) that misses prints FAIL and is recorded, but does not fail the exit code
 * -- ARGS      passed to every benchmark (e.g. `-- --clean` to delete the seeded bucket)
 *
 * It brings the test services up first (`bash test/services.sh up`: MariaDB and the Ceph
 * RGW) and stops with exit code 2 if it cannot. Each benchmark runs in a child process of its
 * own (so its peak RSS is its own) and hands back a BenchResult (bench/harness.ts). stdout
 * gets exactly one line per target, `name  figure  target  kind  PASS|FAIL`, and one summary
 * line at the end (deterministic and timing PASS/FAIL counts); progress and errors go to
 * stderr. Each benchmark's record (BenchRecord: figures, targets, verdicts, date, commit, load
 * average, machine) is written to bench/results/<name>.<full|quick>.json, replacing the previous
 * record of that benchmark in that mode; those files are committed and `npm run bench:report`
 * (bench/report.ts) turns them into the tables of BENCHMARKS.md. Exit code: 2 if the harness
 * failed (services, a benchmark crashed or timed out), 1 if --strict and a deterministic target
 * was missed, else 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFigure, formatTarget, kindOf, median, passes, type BenchRecord, type BenchResult, type RecordedTarget, type TargetKind } from './harness.js';

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
  { name: 'recovery', file: 'recovery.bench.ts', timeoutMs: { full: 15 * 60_000, quick: 180_000 } },
  { name: 'http', file: 'http.bench.ts', timeoutMs: { full: 6 * 60_000, quick: 90_000 } },
  { name: 'delay', file: 'delay.bench.ts', timeoutMs: { full: 10 * 60_000, quick: 90_000 } },
  { name: 'tenants', file: 'tenants.bench.ts', timeoutMs: { full: 45 * 60_000, quick: 240_000 } },
  { name: 'config', file: 'config.bench.ts', timeoutMs: { full: 10 * 60_000, quick: 180_000 } },
  { name: 'replicas', file: 'replicas.bench.ts', timeoutMs: { full: 25 * 60_000, quick: 240_000 } },
];

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const RESULTS_DIR = join(BENCH_DIR, 'results');

/** bench/results/<name>.<full|quick>.json */
function recordFile(name: string, mode: 'full' | 'quick'): string {
  return join(RESULTS_DIR, `${name}.${mode}.json`);
}

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
  if (res.status !== 0)
    return `\`bash test/services.sh up\` failed (exit ${res.status ?? res.signal}); MariaDB and the Ceph RGW are needed (see the messages above)`;
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

/** Per target: the median over the runs (and the spread); PASS when the median meets the target. */
function summarize(runs: BenchResult[]): RecordedTarget[] {
  const names = runs[0]!.targets.map((t) => t.name);
  return names.map((name) => {
    const figures = runs.map((r) => r.targets.find((t) => t.name === name)).filter((t) => t !== undefined);
    const first = figures[0]!;
    const values = figures.map((f) => f.value);
    const value = median(values);
    const limit = median(figures.map((f) => f.limit));
    return {
      name,
      kind: kindOf(first),
      value,
      unit: first.unit,
      op: first.op,
      limit,
      ...(first.limitNote ? { limitNote: first.limitNote } : {}),
      verdict: passes({ value, op: first.op, limit }) ? 'PASS' : 'FAIL',
      ...(values.length > 1 ? { values, min: Math.min(...values), max: Math.max(...values) } : {}),
    };
  });
}

/** A JSON value with every object's keys sorted (arrays keep their order), so records diff line by line. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]),
  );
}

function git(args: string[]): string | undefined {
  const res = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

/** `git rev-parse --short HEAD`, plus `-dirty` when a tracked file differs from it (bench/results/ aside: the records themselves). */
function commitOf(): string {
  const head = git(['rev-parse', '--short', 'HEAD']);
  if (head === undefined) return 'unknown';
  const changes = git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)bench/results']);
  return changes === undefined || changes !== '' ? `${head}-dirty` : head;
}

function loadAverage(): number[] {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}

function countVerdicts(targets: RecordedTarget[]): BenchRecord['verdicts'] {
  const count = (kind: TargetKind, verdict: RecordedTarget['verdict']) => targets.filter((t) => t.kind === kind && t.verdict === verdict).length;
  return {
    deterministic: { pass: count('deterministic', 'PASS'), fail: count('deterministic', 'FAIL') },
    timing: { pass: count('timing', 'PASS'), fail: count('timing', 'FAIL') },
  };
}

/** Pretty-printed, keys in BenchRecord's order, written whole (a temporary file renamed over the record). */
function writeRecord(record: BenchRecord): string {
  const file = recordFile(record.name, record.mode);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const ordered: BenchRecord = {
    name: record.name,
    mode: record.mode,
    scale: record.scale,
    ok: record.ok,
    ...(record.error !== undefined ? { error: record.error } : {}),
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    commit: record.commit,
    runs: record.runs,
    args: record.args,
    node: record.node,
    machine: { cores: record.machine.cores, cpuModel: record.machine.cpuModel, memoryMB: record.machine.memoryMB },
    loadAverage: { start: record.loadAverage.start, end: record.loadAverage.end },
    verdicts: record.verdicts,
    targets: record.targets.map((t) => ({
      name: t.name,
      kind: t.kind,
      value: t.value,
      unit: t.unit,
      op: t.op,
      limit: t.limit,
      ...(t.limitNote !== undefined ? { limitNote: t.limitNote } : {}),
      verdict: t.verdict,
      ...(t.values !== undefined ? { values: t.values, min: t.min!, max: t.max! } : {}),
    })),
    perRun: record.perRun.map((r) => ({ figures: sortedKeys(r.figures) as Record<string, number>, info: sortedKeys(r.info) as Record<string, unknown> })),
  };
  const tmp = `${file}.tmp`;
  // Two spaces of indent, an array of plain numbers on one line (load averages, --runs values).
  const json = JSON.stringify(ordered, null, 2).replace(
    /\[\n\s*(-?[\d.e+-]+(?:,\n\s*-?[\d.e+-]+)*)\n\s*\]/g,
    (_all, items: string) => `[${items.split(/,\n\s*/).join(', ')}]`,
  );
  writeFileSync(tmp, `${json}\n`);
  renameSync(tmp, file);
  return file;
}

function resultLines(quick: boolean, scale: string, targets: RecordedTarget[]): string[] {
  const rows = targets.map((t) => {
    const name = quick ? `${t.name} [quick: ${scale}]` : t.name;
    const figure = formatFigure(t);
    const target = formatTarget(t);
    return [name, figure, target, t.kind, t.verdict];
  });
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell)).join('  '));
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
  const selected = BENCHMARKS.filter((b) => opts.only === undefined || b.name === opts.only);
  const mode = opts.quick ? 'quick' : 'full';

  const servicesError = servicesUp();
  if (servicesError) {
    log(`cannot run the benchmarks: ${servicesError}`);
    return 2;
  }

  const cpus = os.cpus();
  const machine = { cores: cpus.length, cpuModel: cpus[0]?.model.trim() ?? 'unknown', memoryMB: Math.round(os.totalmem() / 1e6) };
  let harnessFailed = false;
  const totals: BenchRecord['verdicts'] = { deterministic: { pass: 0, fail: 0 }, timing: { pass: 0, fail: 0 } };
  for (const bench of selected) {
    const startedAt = new Date().toISOString();
    const commit = commitOf();
    const loadAtStart = loadAverage();
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
    const targets = ok ? summarize(runs) : [];
    const verdicts = countVerdicts(targets);
    for (const kind of ['deterministic', 'timing'] as const) {
      totals[kind].pass += verdicts[kind].pass;
      totals[kind].fail += verdicts[kind].fail;
    }
    if (!ok) harnessFailed = true;
    if (ok) for (const line of resultLines(opts.quick, runs[0]!.scale.replace(/.* = /, ''), targets)) process.stdout.write(`${line}\n`);
    const file = writeRecord({
      name: bench.name,
      mode,
      scale: runs[0]?.scale ?? '',
      ok,
      ...(error !== undefined ? { error } : {}),
      startedAt,
      finishedAt: new Date().toISOString(),
      commit,
      runs: opts.runs,
      args: opts.passThrough,
      node: process.version,
      machine,
      loadAverage: { start: loadAtStart, end: loadAverage() },
      verdicts,
      targets,
      perRun: runs.map((r) => ({ figures: r.figures, info: r.info })),
    });
    log(`${bench.name}: recorded in ${file.slice(ROOT.length + 1)}`);
  }
  const { deterministic: d, timing: t } = totals;
  process.stdout.write(
    `deterministic targets: ${d.pass} PASS, ${d.fail} FAIL; timing targets: ${t.pass} PASS, ${t.fail} FAIL${harnessFailed ? '; a benchmark failed to run (see stderr)' : ''}${opts.strict ? ' (--strict: a deterministic FAIL fails the run)' : ''}\n`,
  );
  if (harnessFailed) return 2;
  return opts.strict && d.fail > 0 ? 1 : 0;
}

process.exitCode = await main();
