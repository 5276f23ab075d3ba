/**
 * The master client shares its state reads among the tenants of a master (issue 7): a read in
 * flight is joined, a read younger than `stateMaxAgeMs` is reused, a kill (or a
 * failover) makes the next caller read anew. Against the Spark master simulator over HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SparkUnreachableError } from '../../src/spark/errors.js';
import { SparkMasterClient, type SparkMasterClientOptions } from '../../src/spark/master-client.js';
import { parseMasterState } from '../../src/spark/master-state-schema.js';
import { sharingUnchanged } from '../../src/spark/master-state.js';
import type { CreateSubmissionRequest, MasterState } from '../../src/spark/types.js';
import { SparkMasterSimulator, type MasterSimulatorOptions } from '../spark-sim/master-simulator.js';
import { acceptedCreates, aliveOf, MAIN_CLASS, sleep, sparkTenant, startSparkOrchestrator, waitFor } from '../support/spark.js';

let sims: SparkMasterSimulator[] = [];
let clients: SparkMasterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(sims.map((s) => s.stop()));
  sims = [];
  clients = [];
});

async function startSim(opts: MasterSimulatorOptions = {}): Promise<SparkMasterSimulator> {
  const sim = new SparkMasterSimulator({ killDelayMs: null, ...opts });
  sims.push(sim);
  return sim.start();
}

function clientFor(sim: SparkMasterSimulator, opts: Partial<SparkMasterClientOptions> = {}): SparkMasterClient {
  const c = new SparkMasterClient({ hosts: [sim.host], webUiPort: sim.uiPort, restPort: sim.restPort, timeoutMs: 2_000, ...opts });
  clients.push(c);
  return c;
}

function submission(): CreateSubmissionRequest {
  return {
    action: 'CreateSubmissionRequest',
    clientSparkVersion: '3.5.1',
    appResource: 's3a://jars/logwise.jar',
    mainClass: 'com.logwise.spark.MainApplication',
    appArgs: ['kafka.cluster.dns=kafka:9092'],
    environmentVariables: {},
    sparkProperties: { 'spark.app.name': 'logwise', 'spark.driver.supervise': 'true' },
  };
}

const reads = (sim: SparkMasterSimulator) => sim.counts().json;

describe('shared master state reads', () => {
  it('callers that arrive while a read is in flight share it (also with max age 0)', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    sim.delayResponses(100);
    const states = await Promise.all(Array.from({ length: 10 }, () => client.masterState()));
    expect(reads(sim)).toBe(1);
    for (const s of states) expect(s).toBe(states[0]);
    // Max age 0: a caller after the read has ended reads anew.
    await client.masterState();
    expect(reads(sim)).toBe(2);
  });

  it('a state younger than stateMaxAgeMs is answered again; an older one is read anew', async () => {
    const sim = await startSim();
    const client = clientFor(sim, { stateMaxAgeMs: 300 });
    const first = await client.masterState();
    expect(await client.masterState()).toBe(first);
    expect(reads(sim)).toBe(1);
    await sleep(350);
    sim.addDriverByHand({ mainClass: 'com.a.Main' });
    const second = await client.masterState();
    expect(second).not.toBe(first);
    expect(second.activeDrivers).toHaveLength(1);
    expect(reads(sim)).toBe(2);
  });

  it('a kill makes the next caller read anew, and that read shows it; a create does not', async () => {
    const sim = await startSim();
    const client = clientFor(sim, { stateMaxAgeMs: 60_000 });
    const beforeCreate = await client.masterState();
    expect(beforeCreate.activeDrivers).toHaveLength(0);
    // 1,000 tenants submitting at start would each force a read: the shared state stands.
    const { submissionId } = await client.createSubmission(submission());
    expect(await client.masterState()).toBe(beforeCreate);
    client.invalidateState();
    const afterCreate = await client.masterState();
    expect(afterCreate.activeDrivers.map((d) => d.id)).toEqual([submissionId]);
    expect(reads(sim)).toBe(2);

    sim.setKillDelay(0);
    expect((await client.killSubmission(submissionId)).accepted).toBe(true);
    await sleep(20);
    const afterKill = await client.masterState();
    expect(reads(sim)).toBe(3);
    expect(afterKill.activeDrivers).toHaveLength(0);
    expect(afterKill.completedDrivers.map((d) => [d.id, d.state])).toEqual([[submissionId, 'KILLED']]);
  });

  it('a read in flight during a kill is not handed to callers that ask after the kill', async () => {
    const sim = await startSim({ killDelayMs: 0 });
    const client = clientFor(sim, { stateMaxAgeMs: 60_000 });
    const { submissionId } = await client.createSubmission(submission());
    client.invalidateState();
    sim.delayResponses(150);
    // This read is carried out by the master before the kill (both wait 150 ms, it came first),
    // and ends while the kill is in flight: it must not be kept for later callers.
    const before = client.masterState();
    await sleep(10);
    expect((await client.killSubmission(submissionId)).accepted).toBe(true);
    expect((await before).activeDrivers.map((d) => d.id)).toEqual([submissionId]);
    await sleep(20);
    const after = await client.masterState();
    expect(after.activeDrivers).toHaveLength(0);
    expect(reads(sim)).toBe(3); // the create's discovery of the ALIVE master, before, after
  });

  it('a failed read is not reused: the next caller reads again', async () => {
    const sim = await startSim();
    const client = clientFor(sim, { stateMaxAgeMs: 60_000 });
    await sim.refuseConnections(true);
    await expect(client.masterState()).rejects.toBeInstanceOf(SparkUnreachableError);
    await sim.refuseConnections(false);
    expect((await client.masterState()).status).toBe('ALIVE');
  });

  it("a caller's signal ends its own wait, not the read the others share", async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    sim.delayResponses(150);
    const ac = new AbortController();
    const mine = client.masterState({ signal: ac.signal });
    const theirs = client.masterState();
    setTimeout(() => ac.abort(new Error('shutting down')), 20);
    await expect(mine).rejects.toThrow('shutting down');
    expect((await theirs).status).toBe('ALIVE');
    expect(reads(sim)).toBe(1);
  });

  it('the shared state is frozen: no caller can change what the others see', async () => {
    const sim = await startSim();
    sim.addDriverByHand({ mainClass: 'com.a.Main' });
    const client = clientFor(sim, { stateMaxAgeMs: 60_000 });
    const state = await client.masterState();
    expect(Object.isFrozen(state)).toBe(true);
    expect(Object.isFrozen(state.activeDrivers)).toBe(true);
    expect(Object.isFrozen(state.activeDrivers[0])).toBe(true);
    expect(() => (state.activeDrivers as unknown[]).push({})).toThrow(TypeError);
  });

  it('when the remembered ALIVE master stops answering, the next call rediscovers instead of trusting the shared state', async () => {
    const a = await startSim({ host: '127.0.0.1', status: 'STANDBY' });
    const b = await startSim({ host: '127.0.0.2', uiPort: a.uiPort, restPort: a.restPort });
    const client = new SparkMasterClient({
      hosts: ['127.0.0.1', '127.0.0.2'],
      webUiPort: a.uiPort,
      restPort: a.restPort,
      timeoutMs: 1_000,
      stateMaxAgeMs: 60_000,
    });
    clients.push(client);
    expect((await client.masterState()).webUiUrl).toBe(b.uiUrl);
    await b.refuseConnections(true);
    a.setStatus('ALIVE');
    // A status call (not a kill, which forgets the shared state anyway) finds b gone.
    await expect(client.submissionStatus('driver-20240101000000-0000')).rejects.toBeInstanceOf(SparkUnreachableError);
    expect(client.aliveHost).toBeUndefined();
    await client.createSubmission(submission());
    expect(a.createRequests).toHaveLength(1);
  });
});

describe('sharingUnchanged: what a new read has not changed is the previous read', () => {
  const doc = (drivers: { id: string; state: string }[], coresused = 1) => ({
    status: 'ALIVE',
    url: 'spark://m:7077',
    aliveworkers: 1,
    cores: 8,
    coresused,
    activedrivers: drivers.map((d) => ({ ...d, starttime: '1', worker: 'w', mainclass: 'com.a.Main', cores: 1, memory: 1024, submitdate: 'x' })),
    completeddrivers: [],
  });
  const parse = (d: unknown) => parseMasterState(d, 'http://m:8080');

  it('hands out the previous state when nothing changed, so lookups built over it are kept', async () => {
    const first = sharingUnchanged(
      parse(
        doc([
          { id: 'a', state: 'RUNNING' },
          { id: 'b', state: 'RUNNING' },
        ]),
      ),
      undefined,
    );
    expect(Object.isFrozen(first) && Object.isFrozen(first.activeDrivers) && Object.isFrozen(first.activeDrivers[0])).toBe(true);
    expect(
      sharingUnchanged(
        parse(
          doc([
            { id: 'a', state: 'RUNNING' },
            { id: 'b', state: 'RUNNING' },
          ]),
        ),
        first,
      ),
    ).toBe(first);
  });

  it('reuses the drivers that did not change, and only those', () => {
    const first = sharingUnchanged(
      parse(
        doc([
          { id: 'a', state: 'RUNNING' },
          { id: 'b', state: 'RUNNING' },
        ]),
      ),
      undefined,
    );
    const second = sharingUnchanged(
      parse(
        doc([
          { id: 'b', state: 'RUNNING' },
          { id: 'a', state: 'SUBMITTED' },
          { id: 'c', state: 'RUNNING' },
        ]),
      ),
      first,
    );
    expect(second).not.toBe(first);
    expect(second.activeDrivers.map((d) => [d.id, d.state])).toEqual([
      ['b', 'RUNNING'],
      ['a', 'SUBMITTED'],
      ['c', 'RUNNING'],
    ]);
    expect(second.activeDrivers[0]).toBe(first.activeDrivers[1]);
    expect(second.activeDrivers[1]).not.toBe(first.activeDrivers[0]);
    expect(Object.isFrozen(second) && Object.isFrozen(second.activeDrivers) && second.activeDrivers.every((d) => Object.isFrozen(d))).toBe(true);
    // Only a figure changed: a new state around the same driver list.
    const third: MasterState = sharingUnchanged(
      parse(
        doc(
          [
            { id: 'b', state: 'RUNNING' },
            { id: 'a', state: 'SUBMITTED' },
            { id: 'c', state: 'RUNNING' },
          ],
          2,
        ),
      ),
      second,
    );
    expect(third).not.toBe(second);
    expect(third.coresUsed).toBe(2);
    expect(third.activeDrivers).toBe(second.activeDrivers);
  });
});

describe('tenants on one master (the orchestrator wiring)', () => {
  it('share its reads, each submits exactly one driver, and a death is resubmitted within the interval', async () => {
    const sim = await startSim({ killDelayMs: 50, workers: [{ cores: 64, memoryMb: 65_536 }] });
    const TENANTS = 40;
    // One main class for all (the same Spark job): each tenant owns its driver by the id it recorded.
    const tenants = Array.from({ length: TENANTS }, (_, i) => sparkTenant(sim, { name: `T${i}`, extra: `kafka { kafkaBrokersHost = "kafka-${i}" }` }));
    const h = await startSparkOrchestrator({ tenants, pollSeconds: 1, graceSeconds: 5 });
    try {
      await waitFor(() => aliveOf(sim).filter((d) => d.state === 'RUNNING').length === TENANTS, `${TENANTS} running drivers`, 20_000);
      await sleep(2_500);
      expect(aliveOf(sim)).toHaveLength(TENANTS);
      expect(acceptedCreates(sim)).toHaveLength(TENANTS);
      const polls = h.eventsOf('spark.polled').length;
      // 40 polls a second on a 200 ms max age: far fewer reads than polls.
      expect(reads(sim)).toBeLessThan(polls / 2);

      const victim = aliveOf(sim)[7]!;
      const before = acceptedCreates(sim).length;
      const diedAt = Date.now();
      sim.killDriverProcess(victim.id, 'FAILED');
      await waitFor(() => acceptedCreates(sim).length > before, 'the resubmission', 5_000, 5);
      expect(acceptedCreates(sim).at(-1)!.at - diedAt).toBeLessThanOrEqual(1_200);
      await sleep(1_200);
      expect(aliveOf(sim)).toHaveLength(TENANTS);
    } finally {
      await h.stop();
    }
  }, 60_000);
  it('wakes a tenant whose driver died at any read of the master that shows it, not at its next tick', async () => {
    const sim = await startSim();
    const OTHER = 'com.other.Main';
    const tenants = [sparkTenant(sim, { name: 'ABC' }), sparkTenant(sim, { name: 'XYZ', mainClass: OTHER })];
    // A 300 s poll whose first ticks fall at the end of their interval: only commands and wakeups run here.
    const h = await startSparkOrchestrator({ tenants, pollSeconds: 300, graceSeconds: 5, quietTicks: true });
    try {
      await h.monitor(undefined, 'ABC');
      await h.monitor(undefined, 'XYZ');
      await waitFor(
        () =>
          aliveOf(sim)
            .concat(aliveOf(sim, OTHER))
            .filter((d) => d.state === 'RUNNING').length === 2,
        'two running drivers',
        5_000,
      );
      // The shared read's max age is 3 s at a 300 s poll: each monitor below reads the master anew.
      await sleep(3_100);
      await h.monitor(undefined, 'ABC');
      const [victim] = aliveOf(sim);
      await waitFor(async () => (await h.status('ABC')).drivers.alive.some((d: { id: string }) => d.id === victim!.id), 'ABC to see its driver alive', 5_000);
      const before = acceptedCreates(sim).length;
      sim.killDriverProcess(victim!.id, 'FAILED');
      await sleep(3_100);
      // Nobody has read the master since: nothing happened yet.
      expect(acceptedCreates(sim)).toHaveLength(before);
      // Another tenant's run reads it, and ABC's run follows at once.
      await h.monitor(undefined, 'XYZ');
      await waitFor(() => acceptedCreates(sim).length > before, "ABC's resubmission", 3_000, 5);
      expect(
        acceptedCreates(sim)
          .slice(before)
          .map((c) => (c.body as { mainClass?: string }).mainClass),
      ).toEqual([MAIN_CLASS]);
    } finally {
      await h.stop();
    }
  }, 30_000);
});
