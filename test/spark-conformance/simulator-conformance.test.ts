/**
 * The simulator proven against the real thing: the conformance scenario (scenario.ts) run
 * against the in-process simulator must give the transcript recorded from a real Spark 3.5.7
 * master (test/fixtures/spark-3.5/, re-recorded by record.ts). No JVM here;
 * test/real-spark/conformance.test.ts checks the recording is still what Spark does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectConformance, loadFixture } from './compare.js';
import { runScenario } from './scenario.js';
import { SPARK_VERSION, WORKER, startSimTarget, type SimTarget } from './targets.js';

let started: SimTarget | undefined;
afterEach(async () => {
  await started?.sim.stop();
  started = undefined;
});

describe('the Spark master simulator against the recorded Spark 3.5.7 master', () => {
  it('the fixture was recorded from the Spark version and worker the simulator is set up as', () => {
    const fixture = loadFixture();
    expect(fixture.recorded.spark).toBe(SPARK_VERSION);
    expect(fixture.recorded.worker).toEqual(WORKER);
  });

  it('answers the conformance scenario as the real master did, step by step', async () => {
    started = await startSimTarget();
    const transcript = await runScenario(started.target);
    expectConformance(transcript, loadFixture(), 'the recorded real master');
  });
});
