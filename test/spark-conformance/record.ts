/**
 * Re-records the real Spark master's conformance transcript (test/fixtures/spark-3.5/) from a
 * private cluster of its own:
 *
 *   node --import tsx test/spark-conformance/record.ts [--base-port 30150] [--sim] [--out FILE]
 *
 * `--sim` runs the scenario against the simulator instead and prints it (to diff by hand).
 * The cluster is stopped afterwards.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runScenario } from './scenario.js';
import { FIXTURE, SPARK_VERSION, WORKER, realTarget, startRealCluster, startSimTarget } from './targets.js';

const { values } = parseArgs({
  options: { 'base-port': { type: 'string', default: '30150' }, sim: { type: 'boolean', default: false }, out: { type: 'string' } },
});

async function main(): Promise<void> {
  if (values.sim) {
    const { sim, target } = await startSimTarget();
    try {
      const transcript = await runScenario(target);
      const text = `${JSON.stringify({ master: 'simulator', ...transcript }, null, 2)}\n`;
      if (values.out) writeFileSync(values.out, text);
      else process.stdout.write(text);
    } finally {
      await sim.stop();
    }
    return;
  }
  const started = Date.now();
  const cluster = await startRealCluster(Number(values['base-port']));
  try {
    const target = realTarget(cluster);
    if (target.clientSparkVersion !== SPARK_VERSION)
      console.warn(`note: the cluster runs Spark ${target.clientSparkVersion}, the tests expect ${SPARK_VERSION}`);
    const transcript = await runScenario(target);
    const out = values.out ?? fileURLToPath(FIXTURE);
    const fixture = {
      recorded: { spark: target.clientSparkVersion, at: new Date().toISOString().slice(0, 10), worker: WORKER, by: 'test/spark-conformance/record.ts' },
      ...transcript,
    };
    writeFileSync(out, `${JSON.stringify(fixture, null, 2)}\n`);
    console.log(`${transcript.steps.length} steps written to ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await cluster.down();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
