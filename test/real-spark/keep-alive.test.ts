/**
 * Keep-alive against a real Spark 3.5 standalone master and worker (a private cluster on ports
 * 31000-31003): the daemon (in process, Spark stream only, polling every second) keeps exactly
 * one driver of its tenant alive.
 *
 * In every scenario a sampler reads the master's `/json/` every 150 ms from start to end: the
 * master never lists two alive (SUBMITTED or RUNNING) drivers of the tenant's main class, and
 * the submissions (`spark.submitted` events, drivers the master knows of the class) are exactly
 * those the scenario calls for. "Within two polls": the submission comes from the first or the
 * second poll that ends after the sampler saw the driver gone.
 *
 * What real Spark does here (checked on this cluster, see the FailAfter case): the daemon always
 * submits with `spark.driver.supervise=true`, so a driver that exits non-zero on a live worker
 * is restarted in place by the worker under the same id while the master keeps listing it
 * RUNNING; FAILED never shows. The daemon sees nothing to do, and cannot count those restarts
 * as deaths (no crash-loop backoff for them).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../src/common/sleep.js';
import { SparkMasterClient } from '../../src/spark/master-client.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import { AliveSampler, killDriverJvms, realSparkTenant, startPrivateSpark, type PrivateSpark, type RealMaster } from '../support/real-spark.js';
import { startSparkOrchestrator, waitFor, type SparkHarness } from '../support/spark.js';

const POLL_MS = 1_000;
/** Slack on "within two polls" in wall time: a poll reads the master and creates (tens of ms), on a loaded machine more. */
const SLACK_MS = 1_500;

describe('keep-alive on a real Spark master', () => {
  let spark: PrivateSpark;
  let master: RealMaster;
  let h: SparkHarness | undefined;
  let daemonStopped = false;
  let sampler: AliveSampler | undefined;
  /** Ids the master knew before the scenario (earlier scenarios' drivers of the same class). */
  let knownBefore = new Set<string>();

  const classes = () => ({
    runUntilKilled: master.env.SPARK_TEST_MAIN_CLASS!,
    finishAfter: master.env.SPARK_TEST_FINISH_CLASS!,
    failAfter: master.env.SPARK_TEST_FAIL_CLASS!,
  });

  /** A daemon for one tenant of `mainClass`, and a sampler of that class on the master. */
  const start = async (mainClass: string, opts: { appName?: string; quietTicks?: boolean } = {}) => {
    knownBefore = new Set((await master.drivers()).map((d) => d.id));
    sampler = new AliveSampler(master, mainClass);
    h = await startSparkOrchestrator({
      tenants: [realSparkTenant(master, { mainClass, ...(opts.appName ? { appName: opts.appName } : {}) })],
      pollSeconds: POLL_MS / 1000,
      graceSeconds: 3,
      backoff: { minSeconds: 0.5, maxSeconds: 2 },
      ...(opts.quietTicks ? { quietTicks: true } : {}),
    });
    daemonStopped = false;
    return h;
  };
  const stopDaemon = async () => {
    if (h && !daemonStopped) await h.stop();
    daemonStopped = true;
  };
  /** Drivers of the class the master learnt of during the scenario, oldest first. */
  const newDrivers = async (mainClass: string) => (await master.drivers(mainClass)).filter((d) => !knownBefore.has(d.id));
  const submitted = () => h!.eventsOf('spark.submitted');
  /** The `n`th submission (0-based); on timeout the error says what the daemon's last poll saw. */
  const nthSubmission = async (n: number, what: string, timeoutMs = 15_000) => {
    try {
      return await waitFor(() => submitted()[n], what, timeoutMs);
    } catch (err) {
      const st = await h!.status();
      throw new Error(`${(err as Error).message}; last poll: ${JSON.stringify(st.lastPoll)}; last error: ${JSON.stringify(st.lastError)}`);
    }
  };
  const polledAfter = (t: number) => h!.eventsOf('spark.polled').filter((e) => e.at > t);
  /** Waits until `n` more polls have ended after now. */
  const waitPolls = async (n: number) => {
    const since = Date.now();
    await waitFor(() => polledAfter(since).length >= n, `${n} polls`, n * POLL_MS + 10_000);
  };
  /**
   * When the sampler first read the master without `id` alive. The daemon's poll can see the
   * driver gone and submit before the sampler's next read, so this waits for that read.
   */
  const sampledGoneAt = (id: string) => waitFor(() => sampler!.goneAt(id), `the sampler reading ${id} gone`, 5_000, 50);
  /** The submission made after `goneAt` came from the first or second poll that ended after it. */
  const expectReplacedWithinTwoPolls = (goneAt: number, replacement: OrchestratorEvent) => {
    const pollsBefore = polledAfter(goneAt).filter((e) => e.at < replacement.at);
    expect(pollsBefore.length, `polls that ended between the death and the submission: ${pollsBefore.length}`).toBeLessThanOrEqual(1);
    expect(replacement.at - goneAt).toBeLessThanOrEqual(2 * POLL_MS + SLACK_MS);
  };

  beforeAll(async () => {
    spark = await startPrivateSpark({ basePort: 31000 });
    master = spark.master;
    await master.killAll(); // a driver left by an earlier run would be adopted
  });

  afterEach(async () => {
    await stopDaemon();
    h = undefined;
    await sampler?.stop();
    sampler = undefined;
    await master.killAll();
  });

  afterAll(async () => {
    await spark?.down();
    if (master) killDriverJvms(master);
  });

  it('submits one driver, and replaces a driver killed from outside within two polls', async () => {
    const mainClass = classes().runUntilKilled;
    await start(mainClass);
    const first = await nthSubmission(0, 'the first submission');
    await waitFor(async () => (await master.alive(mainClass)).some((d) => d.id === first.submissionId && d.state === 'RUNNING'), 'the first driver RUNNING');
    await waitFor(() => master.driverStdout(first.submissionId).includes('RunUntilKilled'), 'the first driver JVM up');
    await waitPolls(3);
    expect(submitted()).toHaveLength(1);
    // Quiet polls rest on this: two reads of the unchanged real master, a second apart (its
    // /json/ differs in worker heartbeats), hand out the same state object.
    const client = new SparkMasterClient({ hosts: [master.host], webUiPort: master.uiPort, restPort: master.restPort, timeoutMs: 5_000 });
    try {
      const before = await client.masterState();
      await sleep(1_000);
      expect(await client.masterState()).toBe(before);
    } finally {
      await client.close();
    }

    const killedAt = Date.now();
    expect((await master.kill(first.submissionId)).body.success).toBe(true);
    const second = await nthSubmission(1, 'the replacement', 15_000);
    const goneAt = await sampledGoneAt(first.submissionId);
    expect(goneAt).toBeGreaterThan(killedAt);
    expectReplacedWithinTwoPolls(goneAt, second);
    await waitFor(async () => (await master.alive(mainClass)).some((d) => d.id === second.submissionId && d.state === 'RUNNING'), 'the replacement RUNNING');
    await waitPolls(3);

    expect(submitted().map((e) => e.submissionId)).toEqual([first.submissionId, second.submissionId]);
    const known = await newDrivers(mainClass);
    expect(known.map((d) => [d.id, d.state])).toEqual([
      [first.submissionId, 'KILLED'],
      [second.submissionId, 'RUNNING'],
    ]);
    expect(sampler!.maxAlive()).toBe(1);
  });

  it('replaces a driver that FINISHED (exit 0) within two polls', async () => {
    const mainClass = classes().finishAfter;
    await start(mainClass, { appName: 'finish-after-5' });
    const first = await nthSubmission(0, 'the first submission');
    const second = await nthSubmission(1, 'the replacement of the finished driver', 30_000);
    // Stopped at once, so the replacement's own end (5 s later) is not part of the count.
    await stopDaemon();
    const goneAt = await sampledGoneAt(first.submissionId);
    expectReplacedWithinTwoPolls(goneAt, second);

    expect(submitted().map((e) => e.submissionId)).toEqual([first.submissionId, second.submissionId]);
    const known = await newDrivers(mainClass);
    expect(known.map((d) => d.id)).toEqual([first.submissionId, second.submissionId]);
    expect(known[0]!.state).toBe('FINISHED');
    expect(['SUBMITTED', 'RUNNING']).toContain(known[1]!.state);
    expect(master.driverStdout(first.submissionId)).toContain('FinishAfter');
    expect(sampler!.maxAlive()).toBe(1);
  });

  it('a driver that FAILS (exit 1) is restarted in place by the worker (supervise=true): same id RUNNING, no resubmission', async () => {
    const mainClass = classes().failAfter;
    await start(mainClass, { appName: 'fail-after-2' });
    const first = await nthSubmission(0, 'the first submission');
    const id = first.submissionId;
    // Three launches of the one id: it exited 1 at least twice and the worker started it again.
    await waitFor(
      () =>
        master
          .driverStderr(id)
          .split('\n')
          .filter((l) => l.startsWith('Launch Command: ')).length >= 3,
      'two restarts in place',
      40_000,
      200,
    );
    await waitPolls(2);
    await sampler!.stop();

    expect(master.launchCommand(id)).toContain('-Dspark.driver.supervise=true');
    expect(submitted()).toHaveLength(1);
    // Every read of the master listed exactly this driver, RUNNING (once it was launched).
    const since = sampler!.samples.findIndex((s) => s.alive.length > 0);
    const listed = sampler!.samples.slice(since).filter((s) => s.status !== null);
    expect(listed.length).toBeGreaterThan(20);
    expect(listed.every((s) => s.alive.length === 1 && s.alive[0]!.id === id && s.alive[0]!.state === 'RUNNING')).toBe(true);
    const known = await newDrivers(mainClass);
    expect(known.map((d) => [d.id, d.state])).toEqual([[id, 'RUNNING']]);
    const status = await master.rest('GET', `/v1/submissions/status/${id}`);
    expect(status.body).toMatchObject({ success: true, driverState: 'RUNNING' });
    // The daemon sees one healthy driver: no death, no crash-loop, no kill.
    expect((await h!.status()).restarts).toBe(0);
    expect(h!.eventsOf('spark.crashloop')).toHaveLength(0);
    expect(h!.eventsOf('spark.killed')).toHaveLength(0);
    expect(sampler!.maxAlive()).toBe(1);
  });

  it('a driver queued in SUBMITTED (more memory than the worker offers) counts as alive: no second submission', async () => {
    const mainClass = classes().runUntilKilled;
    await start(mainClass, { quietTicks: true });
    const res = await h!.monitor({ driverMemoryInGb: 8 });
    expect(res.status).toBe(200);
    const first = await nthSubmission(0, 'the 8 GB submission');
    const listed = await waitFor(async () => (await master.alive(mainClass)).find((d) => d.id === first.submissionId), 'the driver listed');
    expect(listed).toMatchObject({ state: 'SUBMITTED', memory: 8192, worker: 'None' });
    const since = Date.now();
    await waitPolls(5);

    expect(submitted()).toHaveLength(1);
    const polls = polledAfter(since);
    expect(polls.every((e) => e.aliveDrivers === 1 && e.action === 'none')).toBe(true);
    expect((await newDrivers(mainClass)).map((d) => [d.id, d.state])).toEqual([[first.submissionId, 'SUBMITTED']]);
    expect(sampler!.samples.filter((s) => s.alive.length > 0).every((s) => s.alive[0]!.state === 'SUBMITTED')).toBe(true);
    expect(master.launchedDrivers()).not.toContain(first.submissionId);
    expect(sampler!.maxAlive()).toBe(1);
  });

  it('/monitor-spark-job overrides reach the real driver: 2 cores, 1 GB', async () => {
    const mainClass = classes().runUntilKilled;
    await start(mainClass, { quietTicks: true });
    expect((await h!.monitor({ driverCores: 2, driverMemoryInGb: 1 })).status).toBe(200);
    const first = await nthSubmission(0, 'the submission with overrides');
    const driver = await waitFor(
      async () => (await master.alive(mainClass)).find((d) => d.id === first.submissionId && d.state === 'RUNNING'),
      'the driver RUNNING',
    );
    expect(driver).toMatchObject({ cores: 2, memory: 1024 });
    await waitFor(() => master.launchCommand(first.submissionId).length > 0, 'the launch command');
    const command = master.launchCommand(first.submissionId);
    expect(command).toContain('-Dspark.driver.cores=2');
    expect(command).toContain('-Dspark.driver.memory=1G');
    expect(command).toContain('-Xmx1024M');
    await waitPolls(2);
    expect(submitted()).toHaveLength(1);
    expect(sampler!.maxAlive()).toBe(1);
  });
});
