/**
 * What a benchmark (a `*.bench.ts` file run by `bench/run.ts` in a child process of its own)
 * and the runner share: the result format, the peak-RSS probe and small helpers.
 *
 * A benchmark reports its figures by writing one BenchResult as JSON to the file named by
 * BENCH_RESULT_FILE (set by the runner); run by hand, it prints the JSON to stdout instead.
 * Progress goes to stderr, so the runner's stdout holds only its one line per target.
 */
import { readFileSync, writeFileSync } from 'node:fs';

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
