/**
 * The conformance scenario (test/spark-conformance/scenario.ts) against a fresh private real
 * Spark cluster: its transcript must still be the recorded fixture (a changed Spark, or a
 * scenario changed without re-recording, shows here), and the simulator, run right after, must
 * give the same transcript as this live master.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrivateSpark } from '../support/real-spark.js';
import { expectConformance, loadFixture } from '../spark-conformance/compare.js';
import { runScenario, type Transcript } from '../spark-conformance/scenario.js';
import { realTarget, startRealCluster, startSimTarget } from '../spark-conformance/targets.js';

const BASE_PORT = 30100; // ports 30100-30107

let cluster: PrivateSpark | undefined;
let real: Transcript | undefined;

beforeAll(async () => {
  cluster = await startRealCluster(BASE_PORT);
});
afterAll(async () => {
  await cluster?.down();
});

describe('conformance of a real Spark 3.5 master', () => {
  it('answers the scenario as recorded in test/fixtures/spark-3.5', async () => {
    real = await runScenario(realTarget(cluster!));
    expectConformance(
      real,
      loadFixture(),
      'the recorded fixture (re-record with `node --import tsx test/spark-conformance/record.ts` if Spark changed on purpose)',
    );
  });

  it('the simulator answers the scenario as this live master did', async () => {
    expect(real, 'the real run above failed').toBeDefined();
    const { sim, target } = await startSimTarget();
    try {
      expectConformance(await runScenario(target), real!, 'the live real master');
    } finally {
      await sim.stop();
    }
  });
});
