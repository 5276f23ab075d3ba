/**
 * Metrics and the SSE event stream of a daemon supervising a driver on the master simulator:
 * the series after a run, and a driver's death reaching an SSE client as `spark.submitted`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import { startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';
import { acceptedCreates, observedSimulator, sparkTenant, waitFor } from '../support/spark.js';

const POLL_MS = 1000;

describe('observing Spark supervision', () => {
  let sim: SparkMasterSimulator;
  let t: TestOrchestrator;
  const base = () => `http://127.0.0.1:${t.orchestrator.port}`;

  beforeAll(async () => {
    ({ sim } = await observedSimulator());
    t = await startTestOrchestrator(
      `tenants = [${sparkTenant(sim)}]
       loop { sparkPollSeconds = ${POLL_MS / 1000}, submitGraceSeconds = 1, discoverySeconds = 3600, delaySampleSeconds = 3600, backoff { minSeconds = 0.2, maxSeconds = 1 } }`,
      { listen: true },
    );
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.stop();
  });

  it('tells an SSE client of the resubmission within a poll interval of the driver’s death', async () => {
    const first = await waitFor(() => acceptedCreates(sim)[0]?.submissionId, 'the first submission');
    await waitFor(() => sim.activeDrivers().some((d) => d.id === first && d.state === 'RUNNING'), 'the driver running');

    const controller = new AbortController();
    const res = await fetch(`${base()}/api/v1/events?tenant=ABC&type=spark.submitted`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read(); // the ": connected" comment: the subscription is in place

    // Let the loop see the driver alive at least once, then the driver dies.
    await new Promise((r) => setTimeout(r, POLL_MS * 1.2));
    const diedAt = Date.now();
    sim.killDriverProcess(first, 'FAILED');
    let text = '';
    while (!text.includes('event: spark.submitted')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    const receivedAt = Date.now();
    controller.abort();
    const data = JSON.parse(/^data: (.*)$/m.exec(text)![1]!) as { submissionId: string; purpose: string };
    expect(data.submissionId).not.toBe(first);
    expect(data.purpose).toBe('keep-alive');
    // The next poll comes within one interval; the submission itself takes a few ms more.
    expect(receivedAt - diedAt).toBeLessThanOrEqual(POLL_MS + 300);
  });

  it('exports the Spark series after the run', async () => {
    // The poll after the resubmission sees the new driver alive.
    const text = await waitFor(async () => {
      const body = await (await fetch(`${base()}/metrics`)).text();
      return /^logwise_spark_alive_drivers\{tenant="ABC"\} 1$/m.test(body) ? body : null;
    }, 'the alive driver in the metrics');
    expect(text).toMatch(/^logwise_spark_submissions_total\{tenant="ABC",purpose="keep-alive"\} 2$/m);
    expect(text).toMatch(/^logwise_spark_alive_drivers\{tenant="ABC"\} 1$/m);
    expect(text).toMatch(/^logwise_spark_master_status\{tenant="ABC",status="ALIVE"\} 1$/m);
    expect(text).toMatch(/^logwise_spark_master_status\{tenant="ABC",status="STANDBY"\} 0$/m);
    expect(text).toMatch(/^logwise_spark_master_reachable\{tenant="ABC"\} 1$/m);
    const lastPoll = Number(/^logwise_spark_last_successful_poll_timestamp_seconds\{tenant="ABC"\} (\S+)$/m.exec(text)?.[1]);
    expect(Date.now() / 1000 - lastPoll).toBeLessThan(10);
    expect(text).toMatch(/^logwise_spark_crashloop\{tenant="ABC"\} 0$/m);
    expect(text).toMatch(/^logwise_spark_submissions_total\{tenant="ABC",purpose="replay-start"\} 0$/m);
  });
});
