/**
 * What a benchmark (a `*.bench.ts` file run by `bench/run.ts` in a child process of its own)
 * and the runner share: the result format, the peak-RSS probe and small helpers.
 *
 * A benchmark reports its figures by writing one BenchResult as JSON to the file named by
 * BENCH_RESULT_FILE (set by the runner); run by hand, it prints the JSON to stdout instead.
 * Progress goes to stderr, so the runner's stdout holds only its one line per target.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/**
 * What a target's figure depends on. `deterministic`: counts the code decides, whatever the
 * machine's speed (calls sent, rows written, statements, leases per replica, creates and kills);
 * `bench/run.ts --strict` fails the run when one misses. `timing`: wall time, CPU, RSS, latency,
 * throughput ratios, anything a loaded or slower machine moves; a miss prints FAIL and is
 * recorded, without failing the exit code. When in doubt a target is `timing` (the default).
 */
export type TargetKind = 'deterministic' | 'timing';

/** One figure with a target: `value op limit` must hold (op '=' for exact counts, '<=' for upper bounds, '>=' for lower ones such as throughput ratios). */
export interface TargetFigure {
  /** e.g. "discovery.sync.wall" */
  name: string;
  value: number;
  unit: string;
  op: '<=' | '>=' | '=';
  limit: number;
  /** How the limit was set, shown after it (e.g. "minimum counted with the SDK"). */
  limitNote?: string;
  /** `timing` when absent (see TargetKind). */
  kind?: TargetKind;
}

export function kindOf(t: Pick<TargetFigure, 'kind'>): TargetKind {
  return t.kind ?? 'timing';
}

export interface BenchResult {
  name: string;
  quick: boolean;
  /** The workload in words, e.g. "10 envs × 1,000 services × 10 components = 100,000 partitions". */
  scale: string;
  targets: TargetFigure[];
  /** Figures without a target (phases, set-up times, baselines), for the JSON and BENCHMARKS.md. */
  figures: Record<string, number>;
  info: Record<string, unknown>;
}

/** A target's verdict, exactly as printed and recorded: the benchmark's own, never a softer word. */
export type Verdict = 'PASS' | 'FAIL';

/** One target in a BenchRecord: over --runs N, `value` is the median and the verdict is the median's. */
export interface RecordedTarget {
  name: string;
  kind: TargetKind;
  value: number;
  unit: string;
  op: TargetFigure['op'];
  limit: number;
  limitNote?: string;
  verdict: Verdict;
  /** With --runs N > 1: every run's value, and their range. */
  values?: number[];
  min?: number;
  max?: number;
}

/**
 * What `bench/run.ts` writes to bench/results/<name>.<full|quick>.json, one file per benchmark
 * and mode, overwritten by the next run of that benchmark in that mode; committed, and read by
 * `bench/report.ts` for the tables of BENCHMARKS.md. Keys in a fixed order, the benchmark's own
 * figures and info with their keys sorted, so that two records diff line by line.
 */
export interface BenchRecord {
  name: string;
  mode: 'full' | 'quick';
  /** The workload in words (the first run's BenchResult.scale). */
  scale: string;
  /** False when a run crashed, timed out or wrote no result: `error` says why, there are no targets. */
  ok: boolean;
  error?: string;
  startedAt: string;
  finishedAt: string;
  /** `git rev-parse --short HEAD`, `-dirty` when tracked files (bench/results/ aside) differ from it; "unknown" without git. */
  commit: string;
  /** How many fresh runs the figures are medians of (`--runs N`). */
  runs: number;
  /** Arguments after `--`, passed to the benchmark (empty for the registered workload). */
  args: string[];
  node: string;
  machine: { cores: number; cpuModel: string; memoryMB: number };
  /** os.loadavg() (1, 5, 15 min) when the benchmark's first run started and when its last ended. */
  loadAverage: { start: number[]; end: number[] };
  verdicts: { deterministic: { pass: number; fail: number }; timing: { pass: number; fail: number } };
  targets: RecordedTarget[];
  /** Per run: the benchmark's figures without a target and its info. */
  perRun: { figures: Record<string, number>; info: Record<string, unknown> }[];
}

/** A figure as printed and reported: `1,234`, `0.79`; `n/a` when there is none (a JSON NaN is null). */
export function formatNumber(v: number | null): string {
  if (v === null || Number.isNaN(v)) return 'n/a';
  return Number.isInteger(v) ? v.toLocaleString('en') : v.toLocaleString('en', { maximumFractionDigits: 2 });
}

/** `21.2 s`, or `21.2 s (median of 3, 16.6–23.2)` over --runs N. */
export function formatFigure(t: Pick<RecordedTarget, 'value' | 'unit' | 'values' | 'min' | 'max'>): string {
  const spread = t.values !== undefined && t.values.length > 1 ? ` (median of ${t.values.length}, ${formatNumber(t.min!)}–${formatNumber(t.max!)})` : '';
  return `${formatNumber(t.value)} ${t.unit}${spread}`;
}

/** `≤ 20 s (how the limit was set)`. */
export function formatTarget(t: Pick<RecordedTarget, 'op' | 'limit' | 'unit' | 'limitNote'>): string {
  return `${{ '<=': '≤', '>=': '≥', '=': '=' }[t.op]} ${formatNumber(t.limit)} ${t.unit}${t.limitNote ? ` (${t.limitNote})` : ''}`;
}

export function passes(t: Pick<TargetFigure, 'value' | 'op' | 'limit'>): boolean {
  if (t.op === '=') return t.value === t.limit;
  return t.op === '>=' ? t.value >= t.limit : t.value <= t.limit;
}

/**
 * Peak resident set size of this process in bytes: VmHWM from /proc/self/status (Linux),
 * else `process.resourceUsage().maxRSS` (KiB).
 */
export function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS * 1024;
}

export const MB = 1_000_000;

export function hasFlag(flag: string): boolean {
  return process.argv.includes(flag);
}

export function flagValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** A positive integer flag (`--services 200`), or undefined when absent. */
export function intFlag(flag: string): number | undefined {
  const v = flagValue(flag);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} wants a positive integer, got ${v}`);
  return n;
}

/** Progress for people, on stderr. */
export function progress(bench: string, message: string): void {
  process.stderr.write(`[${bench}] ${message}\n`);
}

export function reportResult(result: BenchResult): void {
  const file = process.env.BENCH_RESULT_FILE;
  const json = JSON.stringify(result, null, 2);
  if (file) writeFileSync(file, json);
  else process.stdout.write(`${json}\n`);
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Milliseconds since `start` (a performance.now() value). */
export function since(start: number): number {
  return performance.now() - start;
}
