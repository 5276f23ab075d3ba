/**
 * Recovery time: a driver's death → the master accepting the resubmission, as a ratio of the
 * poll interval (target p95 ≤ 1.2). One tenant on the Spark master simulator over real HTTP,
 * the daemon's own Spark poll stream, SQLite.
 *
 *   node --import tsx bench/recovery.bench.ts [--quick]
 */
import { hasFlag, progress, reportResult, type BenchResult } from './harness.js';
import { acceptedCreates, observedSimulator, sleep, sparkTenant, startSparkOrchestrator, waitFor } from '../test/support/spark.js';

const quick = hasFlag('--quick');
const POLL_SECONDS = quick ? 0.5 : 1;
const DEATHS = quick ? 8 : 30;

function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function main(): Promise<void> {
  const { sim } = await observedSimulator();
  const h = await startSparkOrchestrator({ tenants: [sparkTenant(sim)], pollSeconds: POLL_SECONDS, graceSeconds: 1, crashLoop: { threshold: 1_000_000 } });
  const ratios: number[] = [];
  try {
    for (let i = 0; i < DEATHS; i++) {
      // The newest submission's driver runs, and the loop has seen it alive.
      const id = await waitFor(
        () => {
          const newest = acceptedCreates(sim).at(-1)?.submissionId;
          return newest && sim.activeDrivers().some((d) => d.id === newest && d.state === 'RUNNING') ? newest : null;
        },
        'a running driver',
        30_000,
      );
      await waitFor(async () => (await h.status()).drivers.alive.some((d: { id: string }) => d.id === id), `the loop to see ${id} alive`, 30_000);
      // The death falls at a random point of the poll interval.
      await sleep(Math.random() * POLL_SECONDS * 1000);
      const accepted = acceptedCreates(sim).length;
      const diedAt = performance.now();
      sim.killDriverProcess(id, 'FAILED');
      await waitFor(() => acceptedCreates(sim).length > accepted, 'the resubmission', 30_000, 5);
      const ratio = (performance.now() - diedAt) / (POLL_SECONDS * 1000);
      ratios.push(ratio);
      progress('recovery', `death ${i + 1}/${DEATHS}: ${ratio.toFixed(2)} × the poll interval`);
    }
  } finally {
    await h.stop();
    await sim.stop();
  }
  const result: BenchResult = {
    name: 'recovery',
    quick,
    scale: `1 tenant, poll every ${POLL_SECONDS} s, ${DEATHS} driver deaths`,
    targets: [{ name: 'recovery.p95', value: Number(percentile(ratios, 95).toFixed(3)), unit: '× poll interval', op: '<=', limit: 1.2, kind: 'timing' }],
    figures: {
      'recovery.median': Number(percentile(ratios, 50).toFixed(3)),
      'recovery.max': Number(Math.max(...ratios).toFixed(3)),
      'recovery.pollSeconds': POLL_SECONDS,
    },
    info: { ratios },
  };
  reportResult(result);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`recovery benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
