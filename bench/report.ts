/**
 * `npm run bench:report`: regenerates the recorded-run tables of BENCHMARKS.md from the records
 * `bench/run.ts` writes (bench/results/<name>.<full|quick>.json, see BenchRecord in
 * bench/harness.ts).
 *
 *   node --import tsx bench/report.ts [--check]
 *
 * Each table sits between two markers, each a line of its own, placed by hand where that
 * benchmark's figures belong:
 *
 *   <!-- bench:report NAME full|quick -->
 *   (generated: replaced on every run, edit nothing here)
 *   <!-- /bench:report -->
 *
 * Everything outside the markers is left as it is. The text between them depends on the record
 * alone, so a second run changes nothing; without a record, one line says there is no recorded
 * run. Each verdict is the record's own PASS or FAIL. --check changes nothing and exits 1 when
 * BENCHMARKS.md is not what the records give (2 on a malformed marker or record).
 */
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFigure, formatNumber, formatTarget, type BenchRecord } from './harness.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const DOC = join(ROOT, 'BENCHMARKS.md');
const RESULTS_DIR = join(BENCH_DIR, 'results');

/** A marker is a line of its own (a mention inside a sentence is not one). */
const BLOCK = /^(<!-- bench:report ([\w-]+) (full|quick) -->\n)([\s\S]*?)^(<!-- \/bench:report -->)$/gm;

class ReportError extends Error {}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** `2026-12-05 01:02 UTC` */
function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function load(values: number[]): string {
  return values.length > 0 ? formatNumber(values[0]!) : '?';
}

function readRecord(file: string): BenchRecord {
  let record: BenchRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as BenchRecord;
  } catch (err) {
    throw new ReportError(`${file}: ${(err as Error).message}`);
  }
  if (typeof record.name !== 'string' || !Array.isArray(record.targets) || typeof record.startedAt !== 'string') {
    throw new ReportError(`${file}: not a benchmark record (bench/run.ts writes them)`);
  }
  return record;
}

/** The text between one pair of markers (ends with a newline). */
function block(name: string, mode: 'full' | 'quick'): string {
  const rel = `bench/results/${name}.${mode}.json`;
  const file = join(ROOT, rel);
  const run = mode === 'full' ? '`npm run bench`' : '`npm run bench -- --quick`';
  if (!existsSync(file)) return `No recorded ${mode} run of ${name} (\`${rel}\` does not exist; ${run} records one).\n`;
  const r = readRecord(file);
  const runs = r.runs > 1 ? `medians of ${r.runs} runs` : '1 run';
  const args = r.args.length > 0 ? `, with \`-- ${r.args.join(' ')}\`` : '';
  const head =
    `**Recorded ${mode} run** (\`${rel}\`, table by \`npm run bench:report\`): ${when(r.startedAt)}, commit \`${r.commit}\`, ${runs}${args}; ` +
    `load average ${load(r.loadAverage.start)} → ${load(r.loadAverage.end)} (1 min, start → end); ` +
    `Node ${r.node}, ${r.machine.cores} cores, ${formatNumber(Math.round(r.machine.memoryMB / 100) / 10)} GB. ` +
    `Workload: ${r.scale || '(none recorded)'}.\n`;
  if (!r.ok) return `${head}\nThe run failed: ${r.error ?? 'no reason recorded'}. No figures were recorded.\n`;
  const v = r.verdicts;
  const rows = r.targets.map((t) => `| ${cell(t.name)} | ${t.kind} | ${cell(formatFigure(t))} | ${cell(formatTarget(t))} | ${t.verdict} |`);
  return [
    head,
    `| target | kind | figure | target value | verdict |`,
    `|---|---|---|---|---|`,
    ...rows,
    '',
    `Deterministic: ${v.deterministic.pass} PASS, ${v.deterministic.fail} FAIL. Timing: ${v.timing.pass} PASS, ${v.timing.fail} FAIL.`,
    '',
  ].join('\n');
}

function main(): number {
  const check = process.argv.includes('--check');
  const before = readFileSync(DOC, 'utf8');
  const seen = new Set<string>();
  let after: string;
  try {
    const opens = before.match(/^<!-- bench:report\b.*$/gm) ?? [];
    const closes = before.match(/^<!-- \/bench:report.*$/gm) ?? [];
    if (opens.length !== closes.length)
      throw new ReportError(`BENCHMARKS.md has ${opens.length} opening bench:report markers and ${closes.length} closing ones`);
    after = before.replace(BLOCK, (_all, open: string, name: string, mode: 'full' | 'quick', _old: string, close: string) => {
      seen.add(`${name}.${mode}`);
      return `${open}${block(name, mode)}${close}`;
    });
    if (seen.size !== opens.length)
      throw new ReportError('BENCHMARKS.md has a bench:report marker that is malformed or repeated (`<!-- bench:report NAME full|quick -->`)');
  } catch (err) {
    if (!(err instanceof ReportError)) throw err;
    process.stderr.write(`bench:report: ${err.message}\n`);
    return 2;
  }
  const recorded = existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR).filter((f) => /^[\w-]+\.(full|quick)\.json$/.test(f)) : [];
  for (const f of recorded) {
    const key = f.replace(/\.json$/, '');
    if (!seen.has(key))
      process.stderr.write(`bench:report: bench/results/${f} has no marker in BENCHMARKS.md (<!-- bench:report ${key.replace('.', ' ')} -->)\n`);
  }
  if (after === before) {
    process.stderr.write(`bench:report: BENCHMARKS.md is up to date (${seen.size} tables)\n`);
    return 0;
  }
  if (check) {
    process.stderr.write('bench:report: BENCHMARKS.md differs from bench/results/ (run `npm run bench:report`)\n');
    return 1;
  }
  const tmp = `${DOC}.bench-report.tmp`;
  writeFileSync(tmp, after);
  renameSync(tmp, DOC);
  process.stderr.write(`bench:report: ${seen.size} tables regenerated in BENCHMARKS.md\n`);
  return 0;
}

process.exitCode = main();
