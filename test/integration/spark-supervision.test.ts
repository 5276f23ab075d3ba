/**
 * The Spark poll stream in the running daemon against the protocol-faithful master simulator,
 * over real HTTP, with a real database (SPEC §4.2). Intervals are short (0.2–0.5 s); every wait
 * is a bounded poll for a condition, never a fixed sleep that the assertion depends on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SparkSubmissionsRepository } from '../../src/db/spark-submissions.js';
import type { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import {
  acceptedCreates,
  aliveOf,
  MAIN_CLASS,
  JAR,
  observedSimulator,
  sleep,
  sparkTenant,
  startSparkOrchestrator,
  waitFor,
  type SparkHarness,
} from '../support/spark.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function simulator(opts: Parameters<typeof observedSimulator>[0] = {}) {
  const o = await observedSimulator(opts);
  cleanups.push(() => o.sim.stop());
  return o;
}

async function daemon(opts: Parameters<typeof startSparkOrchestrator>[0]): Promise<SparkHarness> {
  const h = await startSparkOrchestrator(opts);
  cleanups.push(() => h.stop());
  return h;
}

/** Waits until the loop has completed `n` more polls of the tenant than it had when called. */
async function polls(h: SparkHarness, n: number, tenant = 'ABC') {
  const start = h.eventsOf('spark.polled', tenant).length;
  await waitFor(() => h.eventsOf('spark.polled', tenant).length >= start + n, `${n} polls of ${tenant}`, 20_000);
}

/** The driver the master started for the accepted create number `index` (0-based). */
async function acceptedDriver(sim: SparkMasterSimulator, index: number): Promise<string> {
  const rec = await waitFor(() => acceptedCreates(sim)[index], `accepted create #${index + 1}`);
  return rec.submissionId!;
}

/** Until the loop's status lists `id` among the tenant's alive drivers (it has seen it alive). */
async function seenAlive(h: SparkHarness, id: string, tenant = 'ABC') {
  await waitFor(async () => (await h.status(tenant)).drivers.alive.some((d: { id: string }) => d.id === id), `the loop to see ${id} alive`);
}

describe('Spark supervision against the master simulator', () => {
  it('submits exactly one driver when none is alive, with the reference request, and reports it', async () => {
    const { sim, maxAlive } = await simulator();
    const h = await daemon({ tenants: [sparkTenant(sim)], allStreams: true, backoff: { minSeconds: 1, maxSeconds: 5 } });
    const id = await acceptedDriver(sim, 0);
    await polls(h, 8);

    expect(sim.createRequests).toHaveLength(1);
    expect(aliveOf(sim).map((d) => d.id)).toEqual([id]);
    expect(maxAlive()).toBe(1);
    const body = sim.createRequests[0]!.body as Record<string, any>;
    expect(body).toMatchObject({ action: 'CreateSubmissionRequest', appResource: JAR, mainClass: MAIN_CLASS, clientSparkVersion: '3.1.2' });
    expect(body.sparkProperties).toMatchObject({
      'spark.driver.supervise': 'true',
      'spark.master': 'spark://127.0.0.1:7077',
      'spark.submit.deployMode': 'cluster',
      'spark.app.name': 'logwise',
      'spark.jars': JAR,
    });
    expect(body.appArgs).toEqual([
      'kafka.cluster.dns=kafka-1.internal',
      'kafka.maxRatePerPartition=4000',
      'kafka.startingOffsets=latest',
      'kafka.subscribePattern="^logs.*"',
      `spark.master.host="http://127.0.0.1:${sim.uiPort}"`,
      `s3.bucket="${h.t.dir}/store"`,
      's3.uri.scheme="file://"',
    ]);
    expect(body.environmentVariables['X-Tenant-Name']).toBe('ABC');

    const status = await h.status();
    expect(status).toMatchObject({
      tenant: 'ABC',
      master: { status: 'ALIVE', url: 'spark://127.0.0.1:7077', webUiUrl: sim.uiUrl, aliveWorkers: 2 },
      lastSubmission: { submissionId: id, reason: 'keep-alive', startingOffsetsTimestamp: null },
      restarts: 0,
      submissions: 1,
      crashLoop: { looping: false, deathsInWindow: 0, threshold: 5, nextSubmitAllowedAt: null },
      lastError: null,
      lastPoll: { outcome: 'none' },
    });
    expect(status.drivers.alive).toEqual([expect.objectContaining({ id, state: 'RUNNING', mainClass: MAIN_CLASS })]);
    const recorded = await new SparkSubmissionsRepository(h.t.orchestrator.db).recent('ABC');
    expect(recorded.map((r) => [r.submissionId, r.reason])).toEqual([[id, 'keep-alive']]);
    expect(h.eventsOf('spark.submitted')).toEqual([expect.objectContaining({ submissionId: id, purpose: 'keep-alive' })]);
    // Secrets never leave in events or status (there are none here, but nothing of the request does either).
    expect(JSON.stringify(status)).not.toContain('sparkProperties');
  });

  it('submits a new driver within 1.2 poll intervals of a death (measured over several deaths)', async () => {
    const POLL_MS = 800;
    const { sim, maxAlive } = await simulator();
    const h = await daemon({ tenants: [sparkTenant(sim)], pollSeconds: POLL_MS / 1000, crashLoop: { threshold: 100 } });
    const figures: number[] = [];
    let id = await acceptedDriver(sim, 0);
    for (let i = 1; i <= 5; i++) {
      await seenAlive(h, id);
      await sleep(Math.floor(Math.random() * POLL_MS)); // die at any phase of the poll cycle
      const diedAt = Date.now();
      sim.killDriverProcess(id, i % 2 ? 'FAILED' : 'ERROR');
      const rec = await waitFor(() => acceptedCreates(sim)[i], `the replacement of death #${i}`, 10_000);
      figures.push((rec.at - diedAt) / POLL_MS);
      id = rec.submissionId!;
    }
    console.log(`death → accepted submission, in poll intervals (${POLL_MS} ms): ${figures.map((f) => f.toFixed(2)).join(', ')}`);
    for (const f of figures) expect(f).toBeLessThanOrEqual(1.2);
    expect(maxAlive()).toBe(1);
    await seenAlive(h, id);
    expect(await h.status()).toMatchObject({ restarts: 5, submissions: 6, crashLoop: { looping: false } });
  });

  it('a manual monitor racing the ticks makes one submission', async () => {
    const { sim, maxAlive } = await simulator();
    sim.delayResponses(150); // runs overlap with the next ticks and with the manual commands
    const h = await daemon({ tenants: [sparkTenant(sim)], pollSeconds: 0.2 });
    const answers = await Promise.all([h.monitor({}), h.monitor(), h.monitor({}), h.monitor({ driverCores: 1 }), h.monitor({ driverCores: 1 })]);
    for (const a of answers) {
      expect(a).toEqual({ status: 200, body: { data: { success: true, message: 'Successfully monitored the spark job for tenant: ABC' } } });
    }
    await acceptedDriver(sim, 0);
    await polls(h, 6);
    expect(sim.createRequests).toHaveLength(1);
    expect(maxAlive()).toBe(1);
  });

  it('does not resubmit a driver that waits for a worker (SUBMITTED)', async () => {
    const { sim } = await simulator({ workers: [{ cores: 1, memoryMb: 512 }] });
    const h = await daemon({ tenants: [sparkTenant(sim)] });
    const id = await acceptedDriver(sim, 0);
    await polls(h, 8);
    expect(sim.createRequests).toHaveLength(1);
    expect(sim.getDriver(id)?.state).toBe('SUBMITTED');
    expect((await h.status()).drivers.alive).toEqual([expect.objectContaining({ id, state: 'SUBMITTED', worker: null })]);
    sim.addWorker({ cores: 4, memoryMb: 8192 });
    await polls(h, 3);
    expect(sim.getDriver(id)?.state).toBe('RUNNING');
    expect(sim.createRequests).toHaveLength(1);
  });

  it("does not count another tenant's driver on the same master", async () => {
    const { sim } = await simulator();
    // By hand: one with the shared main class (it belongs to nobody), one with another class.
    const shared = sim.addDriverByHand({ mainClass: MAIN_CLASS });
    const stranger = sim.addDriverByHand({ mainClass: 'com.other.StreamingJob' });
    const h = await daemon({ tenants: [sparkTenant(sim, { name: 'ABC' }), sparkTenant(sim, { name: 'XYZ' })] });
    await acceptedDriver(sim, 1);
    await polls(h, 6, 'ABC');
    await polls(h, 6, 'XYZ');
    expect(sim.createRequests).toHaveLength(2);
    const byTenant = sim.createRequests.map((r) => (r.body as Record<string, any>).environmentVariables['X-Tenant-Name']).sort();
    expect(byTenant).toEqual(['ABC', 'XYZ']);
    const repo = new SparkSubmissionsRepository(h.t.orchestrator.db);
    const abc = (await repo.recent('ABC')).map((r) => r.submissionId);
    const xyz = (await repo.recent('XYZ')).map((r) => r.submissionId);
    expect(abc).toHaveLength(1);
    expect(xyz).toHaveLength(1);
    expect(abc[0]).not.toBe(xyz[0]);
    for (const id of [shared, stranger]) expect([...abc, ...xyz]).not.toContain(id);
    expect(h.eventsOf('spark.adopted')).toEqual([]);
    expect((await h.status('ABC')).drivers.alive.map((d: { id: string }) => d.id)).toEqual(abc);
    expect(sim.getDriver(shared)?.state).toBe('RUNNING');
    expect(sim.killRequests).toEqual([]);
  });

  it('waits while the master is STANDBY, then submits once when it is ALIVE', async () => {
    const { sim } = await simulator({ status: 'STANDBY' });
    const h = await daemon({ tenants: [sparkTenant(sim)] });
    await polls(h, 6);
    expect(sim.createRequests).toEqual([]);
    expect(h.eventsOf('spark.waiting').at(-1)?.reason).toContain('STANDBY');
    expect((await h.status()).master.status).toBe('STANDBY');
    sim.setStatus('ALIVE');
    await acceptedDriver(sim, 0);
    await polls(h, 6);
    expect(sim.createRequests).toHaveLength(1);
    expect(aliveOf(sim)).toHaveLength(1);
  });

  it('retries 500s, refusals and dropped connections with backoff, never starting a duplicate', async () => {
    const { sim, maxAlive } = await simulator();
    await sim.refuseConnections(true);
    const h = await daemon({ tenants: [sparkTenant(sim)], graceSeconds: 1, backoff: { minSeconds: 0.1, maxSeconds: 0.4 } });

    // Refused: the stream reports the master unreachable and backs off.
    await waitFor(() => h.eventsOf('stream.retrying').filter((e) => e.stream === 'spark').length >= 3, 'three retries while refused');
    const retries = h.eventsOf('stream.retrying').filter((e) => e.stream === 'spark');
    expect(retries.slice(0, 3).map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(h.eventsOf('spark.master-unreachable')[0]?.error).toContain('connection refused');
    const down = await h.status();
    expect(down.master.status).toBe('UNREACHABLE');
    expect(down.lastError.message).toContain('connection refused');
    await sim.refuseConnections(false);
    let id = await acceptedDriver(sim, 0);
    await seenAlive(h, id);

    // 500s and drops on /json/: retried, nothing submitted.
    sim.failNext(3, { endpoint: 'json' });
    await waitFor(() => sim.requests.filter((r) => r.endpoint === 'json' && r.status === 500).length === 3, 'three 500s');
    sim.dropNext(2, 'json');
    await waitFor(() => sim.requests.filter((r) => r.endpoint === 'json' && r.status === 0).length === 2, 'two drops');
    await polls(h, 3);
    expect(acceptedCreates(sim)).toHaveLength(1);

    // A create that fails with a 500 AFTER the master started the driver, then one whose
    // connection drops after it did: the next polls find the driver instead of submitting again.
    let accepted = 1;
    for (const fault of ['500 after processing', 'drop after processing'] as const) {
      if (fault === '500 after processing') sim.failNext(1, { endpoint: 'create', processFirst: true });
      else sim.dropNext(1, 'create', { processFirst: true });
      sim.killDriverProcess(id, 'FAILED');
      id = await acceptedDriver(sim, accepted++);
      await waitFor(() => h.eventsOf('spark.submitted').some((e) => e.submissionId === id), `${fault}: the loop to find ${id}`);
      await polls(h, 8); // past the grace period
      expect(acceptedCreates(sim), fault).toHaveLength(accepted);
      expect(
        aliveOf(sim).map((d) => d.id),
        fault,
      ).toEqual([id]);
    }
    expect(h.eventsOf('spark.submit-failed')).toHaveLength(2);

    // 500s before the master acts: a 5xx may hide a started driver, so each is treated as
    // ambiguous (no new create within the grace period); later polls retry until one is accepted.
    sim.failNext(2, { endpoint: 'create' });
    sim.killDriverProcess(id, 'ERROR');
    id = await acceptedDriver(sim, accepted++);
    await polls(h, 5);
    // Three 500s on create in all: the one answered after processing above, and these two.
    expect(sim.requests.filter((r) => r.endpoint === 'create' && r.status === 500)).toHaveLength(3);
    expect(h.eventsOf('spark.submit-failed')).toHaveLength(4);
    expect(aliveOf(sim).map((d) => d.id)).toEqual([id]);
    expect(acceptedCreates(sim)).toHaveLength(accepted);
    expect(maxAlive()).toBe(1);
  });

  it('spaces submissions out when the driver crash-loops, and shows it in the status', async () => {
    const { sim, maxAlive } = await simulator();
    const crashLoop = { threshold: 5, windowMs: 60_000, baseBackoffMs: 1_500, maxBackoffMs: 6_000, stableMs: 60_000 };
    const h = await daemon({ tenants: [sparkTenant(sim)], pollSeconds: 0.2, crashLoop });
    const gaps: number[] = [];
    let id = await acceptedDriver(sim, 0);
    for (let death = 1; death <= 6; death++) {
      await seenAlive(h, id);
      const diedAt = Date.now();
      sim.killDriverProcess(id, 'FAILED');
      const rec = await waitFor(() => acceptedCreates(sim)[death], `the submission after death #${death}`, 20_000);
      gaps.push(rec.at - diedAt);
      id = rec.submissionId!;
      if (death === 5) {
        const looping = await h.status();
        expect(looping.crashLoop).toMatchObject({ looping: true, deathsInWindow: 5, backoffMs: 1_500 });
      }
    }
    // Four quick replacements, then 1.5 s and 3 s of backoff.
    for (const gap of gaps.slice(0, 4)) expect(gap).toBeLessThan(1_000);
    expect(gaps[4]).toBeGreaterThanOrEqual(1_500);
    expect(gaps[5]).toBeGreaterThanOrEqual(3_000);
    expect(h.eventsOf('spark.crashloop').map((e) => [e.deaths, e.backoffMs])).toEqual([
      [5, 1_500],
      [6, 3_000],
    ]);
    const crashloop = h.eventsOf('spark.crashloop')[1]!;
    expect(crashloop.nextSubmitAt).toBeGreaterThan(crashloop.at);
    // The master has accepted the 7th create; the loop counts it once its answer is processed.
    const status = await waitFor(
      async () => {
        const s = await h.status();
        return s.submissions === 7 ? s : undefined;
      },
      'the status to count the 7th submission',
      5_000,
    );
    expect(status).toMatchObject({ restarts: 6, submissions: 7, crashLoop: { looping: true, deathsInWindow: 6, backoffMs: 3_000, threshold: 5 } });
    expect(Date.parse(status.crashLoop.nextSubmitAllowedAt)).toBe(crashloop.nextSubmitAt);
    expect(h.eventsOf('spark.waiting').some((e) => e.reason.includes('crash-looping'))).toBe(true);
    expect(maxAlive()).toBe(1);
  }, 40_000);

  it('applies the driver overrides of /monitor-spark-job to the submission it makes', async () => {
    const { sim } = await simulator();
    const h = await daemon({ tenants: [sparkTenant(sim)], pollSeconds: 3600, quietTicks: true });
    expect((await h.monitor({ driverCores: 2, driverMemoryInGb: 3 })).status).toBe(200);
    const id = await acceptedDriver(sim, 0);
    const props = (sim.createRequests[0]!.body as Record<string, any>).sparkProperties;
    expect(props).toMatchObject({ 'spark.driver.cores': '2', 'spark.driver.memory': '3G' });
    expect(sim.getDriver(id)).toMatchObject({ cores: 2, memoryMb: 3072 });
    // Overrides apply to the submission they came with only: a later monitor changes nothing.
    await h.monitor({ driverCores: 4 });
    await h.monitor();
    await waitFor(() => h.eventsOf('spark.polled').length >= 3, 'three monitor runs');
    expect(sim.createRequests).toHaveLength(1);
  });

  it('submits to the ALIVE master of an HA pair', async () => {
    const standby = await simulator({ status: 'STANDBY' });
    const active = await simulator({ host: '127.0.0.2', uiPort: standby.sim.uiPort, restPort: standby.sim.restPort });
    const h = await daemon({ tenants: [sparkTenant([standby.sim, active.sim])] });
    const id = await acceptedDriver(active.sim, 0);
    await polls(h, 5);
    expect(standby.sim.createRequests).toEqual([]);
    expect(active.sim.createRequests).toHaveLength(1);
    const body = active.sim.createRequests[0]!.body as Record<string, any>;
    expect(body.sparkProperties['spark.master']).toBe('spark://127.0.0.2:7077,127.0.0.1:7077');
    expect(body.appArgs).toContain(`spark.master.host="http://127.0.0.2:${active.sim.uiPort}"`);
    expect((await h.status()).master).toMatchObject({ status: 'ALIVE', webUiUrl: active.sim.uiUrl });
    expect(aliveOf(active.sim).map((d) => d.id)).toEqual([id]);
  });
});
