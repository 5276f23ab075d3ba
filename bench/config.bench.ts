/**
 * Loading a config of many tenants written out in full (issue 19): 1,000 and 10,000 tenants
 * in the reference's application-default.conf format (~35 keys, ~1.6 KB each; the generator
 * is test/support/reference-config.ts), each load in a fresh `node` process with default
 * settings (no --stack-size, no heap flags) running the built loader (`dist/src/config/load.js`:
 * loadConfig, the function start-up, reload and `logwise config check` call): read, parse,
 * substitute, validate.
 *
 *   node --import tsx bench/config.bench.ts [--quick] [--runs N] [--no-build]
 *
 * --quick     one load of each size (default: the median of 5)
 * --runs N    loads of each size
 * --no-build  run dist/ as it is (default: `node scripts/build-if-needed.mjs` first)
 *
 * Figures per load, from the child: the wall time of loadConfig, and the extra memory it
 * took: its peak RSS (VmHWM) after the load minus its RSS just before (the loader imported).
 * Targets: 1,000 tenants ≤ 1 s and ≤ 100 MB extra; 10,000 tenants ≤ 10 s.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { referenceTenants } from '../test/support/reference-config.js';
import { buildDaemon, ROOT } from './daemon.js';
import { hasFlag, intFlag, MB, median, progress, reportResult, type BenchResult, type TargetFigure } from './harness.js';

const quick = hasFlag('--quick');
const RUNS = intFlag('--runs') ?? (quick ? 1 : 5);
const SIZES = [1_000, 10_000];

/** What the child prints: one JSON line. */
interface Load {
  ms: number;
  tenants: number;
  rssBeforeBytes: number;
  peakRssBytes: number;
}

/** The child: plain node, default settings, the built loader. */
const CHILD = `
import { readFileSync } from 'node:fs';
const status = () => readFileSync('/proc/self/status', 'utf8');
const kb = (name, text) => Number(new RegExp('^' + name + ':\\\\s+(\\\\d+) kB$', 'm').exec(text)[1]) * 1024;
const { loadConfig } = await import(process.argv[1]);
const rssBeforeBytes = kb('VmRSS', status());
const t0 = performance.now();
const config = await loadConfig(process.argv[2]);
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ ms, tenants: config.tenants.length, rssBeforeBytes, peakRssBytes: kb('VmHWM', status()) }) + '\\n');
`;

function loadOnce(file: string): Load {
  const loader = pathToFileURL(join(ROOT, 'dist', 'src', 'config', 'load.js')).href;
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, loader, file], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (res.status !== 0) throw new Error(`the loading process exited with ${res.status ?? res.signal}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(res.stdout.trim().split('\n').at(-1)!) as Load;
}

async function main(): Promise<void> {
  if (!hasFlag('--no-build')) buildDaemon();
  const dir = mkdtempSync(join(os.tmpdir(), 'lw-bench-config-'));
  const targets: TargetFigure[] = [];
  const figures: Record<string, number> = {};
  const info: Record<string, unknown> = { runs: RUNS, node: process.version };
  try {
    for (const n of SIZES) {
      const text = referenceTenants(n);
      const file = join(dir, `tenants-${n}.conf`);
      writeFileSync(file, text);
      const loads: Load[] = [];
      for (let i = 0; i < RUNS; i++) {
        const load = loadOnce(file);
        if (load.tenants !== n) throw new Error(`${n} tenants written, ${load.tenants} loaded`);
        loads.push(load);
        progress(
          'config',
          `${n} tenants (${(text.length / MB).toFixed(1)} MB): ${load.ms.toFixed(0)} ms, +${((load.peakRssBytes - load.rssBeforeBytes) / MB).toFixed(1)} MB`,
        );
      }
      const ms = median(loads.map((l) => l.ms));
      const extraMb = median(loads.map((l) => (l.peakRssBytes - l.rssBeforeBytes) / MB));
      const key = `config.load.${n}`;
      targets.push({ name: `${key}.wall`, value: Math.round(ms), unit: 'ms', op: '<=', limit: n <= 1_000 ? 1_000 : 10_000, kind: 'timing' });
      if (n === 1_000) targets.push({ name: `${key}.extraMemory`, value: Number(extraMb.toFixed(1)), unit: 'MB', op: '<=', limit: 100, kind: 'timing' });
      else figures[`${key}.extraMemoryMB`] = Number(extraMb.toFixed(1));
      figures[`${key}.fileMB`] = Number((Buffer.byteLength(text) / MB).toFixed(2));
      figures[`${key}.peakRssMB`] = Number((median(loads.map((l) => l.peakRssBytes)) / MB).toFixed(1));
      figures[`${key}.baselineRssMB`] = Number((median(loads.map((l) => l.rssBeforeBytes)) / MB).toFixed(1));
      info[`loads${n}`] = loads;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const result: BenchResult = {
    name: 'config',
    quick,
    scale: `reference-format tenants = ${SIZES.map((n) => n.toLocaleString('en')).join(' and ')}, ${RUNS} load${RUNS > 1 ? 's' : ''} each`,
    targets,
    figures,
    info,
  };
  reportResult(result);
}

await main();
