/**
 * The cost of `Redactor.scrub` by the number of configured secrets, in-process: over the GET /metrics
 * text of N tenants (megabytes), over a log line, and the whole scrape as the daemon builds it (the
 * text scrubbed after the build, or label values and HELP texts scrubbed by the formatter).
 * Not registered in bench/run.ts.
 *
 *   node --import tsx bench/redactor-scrub.ts [--tenants 1000] [--reps 7] [--counts 0,10,100,2000]
 */
import { performance } from 'node:perf_hooks';
import { expositionText } from '../src/metrics-exposition.js';
import { Redactor } from '../src/secrets.js';
import { filledMetrics, longestBlockMs } from './filled-metrics.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const TENANTS = Number(flag('--tenants', '1000'));
const REPS = Number(flag('--reps', '7'));
const COUNTS = flag('--counts', '0,10,100,2000').split(',').map(Number);

/** A seeded generator, so every run scrubs the same secrets. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}
const random = prng(17);
const pick = (alphabet: string, n: number) => Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** What `Redactor.fromConfig` collects per tenant (access key ids, secret keys, some passwords), `count` of them. */
function configSecrets(count: number): string[] {
  const kinds = [() => `AKIA${pick(UPPER, 16)}`, () => pick(B64, 40), () => pick(B64, 12 + Math.floor(random() * 20))];
  return Array.from({ length: count }, (_, i) => kinds[i % kinds.length]!());
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 1000) / 1000;

function timeMs(fn: () => unknown, reps: number): number {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function timeAsyncMs(fn: () => Promise<unknown>, reps: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const cpu0 = process.cpuUsage();
    await fn();
    const cpu = process.cpuUsage(cpu0);
    times.push((cpu.user + cpu.system) / 1000);
  }
  return median(times);
}

async function main(): Promise<void> {
  const { metrics } = filledMetrics(TENANTS, 3);
  const text = await metrics.text();
  const line = JSON.stringify({
    level: 30,
    time: Date.now(),
    tenant: 'tenant-0042',
    msg: 'spark.submit-failed',
    error: 'The master answered 500: {"action":"CreateSubmissionResponse","message":"Malformed request","serverSparkVersion":"3.5.1"}',
  });
  console.log(`${TENANTS} tenants: metrics text ${text.length} chars; log line ${line.length} chars; medians of ${REPS}`);
  for (let i = 0; i < 2; i++) await metrics.text();
  console.log(`the build alone (Metrics.text()): cpu ${round(await timeAsyncMs(() => metrics.text(), REPS))} ms per scrape`);
  for (const count of COUNTS) {
    const secrets = configSecrets(count);
    const redactor = new Redactor(secrets);
    // Three of them quoted in the text, some twice: the path that masks.
    const quoted = secrets.length >= 3 ? `${text}# ${secrets[0]} ${secrets[1]}${secrets[2]} ${secrets[0]}\n` : text;
    for (let i = 0; i < 2; i++) redactor.scrub(text); // warm-up
    const clean = timeMs(() => redactor.scrub(text), REPS);
    const masked = timeMs(() => redactor.scrub(quoted), REPS);
    const n = 20_000;
    const perLine = timeMs(() => {
      for (let i = 0; i < n; i++) redactor.scrub(line);
    }, 5);
    const wholeText = await timeAsyncMs(async () => redactor.scrub(await metrics.text()), REPS);
    const byFormatter = () => expositionText(metrics.registry, { scrub: (s) => redactor.scrub(s) });
    const perValue = await timeAsyncMs(byFormatter, REPS);
    const blocks = { wholeText: [] as number[], perValue: [] as number[] };
    for (let i = 0; i < 3; i++) {
      blocks.wholeText.push(await longestBlockMs(async () => redactor.scrub(await metrics.text())));
      blocks.perValue.push(await longestBlockMs(byFormatter));
    }
    console.log(
      `${String(count).padStart(5)} secrets: scrub(metrics text) ${round(clean)} ms, with 3 quoted ${round(masked)} ms; scrub(log line) ${round((perLine * 1000) / n)} µs\n` +
        `               scrape: text then scrub cpu ${round(wholeText)} ms, longest block ${round(median(blocks.wholeText))} ms; ` +
        `scrubbed by the formatter cpu ${round(perValue)} ms, longest block ${round(median(blocks.perValue))} ms`,
    );
  }
}

await main();
