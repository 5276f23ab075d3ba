/**
 * The Spark stream's own rules, driven directly (no loop, no database): the bounded kill
 * wait, cleanup failures, what counts as an ambiguous create, tenants sharing a master.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { TenantConfig } from '../../src/config/schema.js';
import type { ObjectStore } from '../../src/objectstore/object-store.js';
import type { CreateSubmissionRequest } from '../../src/spark/types.js';
import { SparkProtocolError, SparkSubmissionRejected, SparkTimeoutError, SparkUnreachableError } from '../../src/spark/errors.js';
import type { EventInput } from '../../streams/events.js';
import { createMayHaveSucceeded, KillWaitTimeoutError, StateCleanupError } from '../../streams/spark/act.js';
import { memoryStringToMb, requestedSize } from '../../streams/spark/driver-size.js';
import { otherTenantMainClasses } from '../../streams/spark/ownership.js';
import { DriverOwners } from '../../streams/spark/driver-owners.js';
import type { SubmissionStore } from '../../streams/spark/ports.js';
import { directSparkStream, handContext, MemoryReplays, memoryStore, MemorySubmissions, simulatedTenant } from '../support/spark-stream.js';

const MAIN = 'com.logwise.spark.MainApplication';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(
  opts: { killDelayMs?: number | null; store?: ObjectStore; soleWriter?: boolean; otherTenantMainClasses?: string[]; submissions?: SubmissionStore } = {},
) {
  const { sim, client, tenant } = await simulatedTenant(cleanups, { sim: { killDelayMs: opts.killDelayMs === undefined ? 50 : opts.killDelayMs } });
  const events: EventInput[] = [];
  const replays = new MemoryReplays();
  const records = new MemorySubmissions();
  const submissions = opts.submissions ?? records;
  const store = opts.store ?? memoryStore(['checkpoint/offsets/0', 'logs/_spark_metadata/0', 'logs/env=prod/x']);
  const stream = directSparkStream(handContext('ABC', { emit: (e) => events.push(e) }), {
    tenant,
    master: client,
    store,
    replays,
    submissions,
    otherTenantMainClasses: opts.otherTenantMainClasses ?? [],
    soleWriter: opts.soleWriter ?? false,
    intervalMs: 1000,
    submitGraceMs: 5_000,
    killWait: { timeoutMs: 300, pollMs: 20 },
  });
  return { sim, stream, events, replays, submissions: records, store, tenant };
}

describe('the Spark stream', () => {
  it('fails the run when a killed driver does not leave activedrivers in time, and goes on at the next poll', async () => {
    const { sim, stream, events, replays, store } = await setup({ killDelayMs: null });
    const first = await stream.poll();
    expect(first.action).toBe('submit');
    await replays.insert('ABC', Date.now() - 1_000, Date.now() + 60_000);

    const err = await stream.poll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KillWaitTimeoutError);
    expect((err as Error).message).toContain(first.submissionId!);
    expect(events.filter((e) => e.type === 'spark.waiting').at(-1)).toMatchObject({ reason: expect.stringContaining('still listed in activedrivers') });
    expect(events.some((e) => e.type === 'spark.state-cleaned')).toBe(false);
    expect(sim.createRequests).toHaveLength(1);
    expect((store as ReturnType<typeof memoryStore>).keys.has('checkpoint/offsets/0')).toBe(true);
    expect(stream.status().lastError?.message).toContain('still listed in activedrivers');

    // The worker reports: the next poll kills nothing more, cleans and submits from the timestamp.
    sim.finishPendingKills();
    const next = await stream.poll();
    expect(next.action).toBe('submit');
    expect(sim.createRequests).toHaveLength(2);
    expect((sim.createRequests[1]!.body as { appArgs: string[] }).appArgs.some((a) => a.startsWith('kafka.startingOffsetsTimestamp='))).toBe(true);
    expect([...(store as ReturnType<typeof memoryStore>).keys]).toEqual(['logs/env=prod/x']);
    expect((await replays.latest('ABC'))?.isSubmittedForOffsetsTimestamp).toBe(true);
    // The killed driver leaving was not a death.
    expect(stream.status().restarts).toBe(0);
  });

  it('submits nothing over a half-cleaned state', async () => {
    const store = memoryStore(['checkpoint/offsets/0', 'checkpoint/offsets/1', 'logs/_spark_metadata/0'], new Set(['checkpoint/offsets/1']));
    const { sim, stream, replays, events } = await setup({ store });
    await replays.insert('ABC', Date.now() - 1_000, Date.now() + 60_000);
    const err = await stream.poll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateCleanupError);
    expect((err as Error).message).toContain('checkpoint/offsets/1: AccessDenied');
    expect(sim.createRequests).toEqual([]);
    expect(events.some((e) => e.type === 'spark.submitted')).toBe(false);
    expect((await replays.latest('ABC'))?.isSubmittedForOffsetsTimestamp).toBe(false);
  });

  it('kills duplicates of the tenant, keeping the newest, without counting them as deaths', async () => {
    const { sim, stream, events } = await setup();
    const older = sim.addDriverByHand({ mainClass: MAIN, supervise: true });
    await new Promise((r) => setTimeout(r, 5));
    const newer = sim.addDriverByHand({ mainClass: MAIN, supervise: true });
    const run = await stream.poll();
    expect(run.action).toBe('kill-duplicates');
    expect(events.find((e) => e.type === 'spark.adopted')).toMatchObject({ submissionIds: expect.arrayContaining([older, newer]) });
    expect(sim.killRequests.map((k) => k.id)).toEqual([older]);
    await new Promise((r) => setTimeout(r, 100));
    expect((await stream.poll()).action).toBe('none');
    expect(stream.status()).toMatchObject({ restarts: 0, drivers: { alive: [expect.objectContaining({ id: newer })] } });
  });

  it.each([true, false])(
    'reads what the tenant owns at the first poll only when it is the sole writer (%s), and knows its drivers either way',
    async (soleWriter) => {
      // The main class is shared with another tenant: only the recorded ids tell the tenant's drivers.
      const { sim, stream, submissions } = await setup({ soleWriter, otherTenantMainClasses: [MAIN] });
      const before = sim.addDriverByHand({ mainClass: MAIN, supervise: true });
      await submissions.record({
        tenant: 'ABC',
        submissionId: before,
        masterUrl: sim.masterUrl,
        reason: 'keep-alive',
        startingOffsetsTimestamp: null,
        submittedAt: new Date(),
      });
      sim.addDriverByHand({ mainClass: MAIN, supervise: true }); // the other tenant's
      expect((await stream.poll()).action).toBe('none');
      expect((await stream.poll()).action).toBe('none');
      sim.killDriverProcess(before, 'FAILED');
      const resubmitted = await stream.poll();
      expect(resubmitted).toMatchObject({ action: 'submit' });
      expect((await stream.poll()).action).toBe('none');
      expect(stream.status().drivers.alive.map((d) => d.id)).toEqual([resubmitted.submissionId]);
      // With replicas: the first poll, and the one that found no driver of its own alive.
      expect(submissions.reads).toBe(soleWriter ? 1 : 2);
    },
  );

  it('learns whose the other drivers of its main class are once, and reads its records again when one turns out to be its own', async () => {
    const records = new MemorySubmissions();
    const { sim, stream } = await setup({ otherTenantMainClasses: [MAIN], submissions: new DriverOwners(records) });
    const record = (tenant: string, submissionId: string) =>
      records.record({ tenant, submissionId, masterUrl: sim.masterUrl, reason: 'keep-alive', startingOffsetsTimestamp: null, submittedAt: new Date() });
    const own = sim.addDriverByHand({ mainClass: MAIN, supervise: true });
    await record('ABC', own);
    await record('XYZ', sim.addDriverByHand({ mainClass: MAIN, supervise: true }));
    for (let i = 0; i < 3; i++) expect((await stream.poll()).action).toBe('none');
    // The first poll read the records; whose the other driver is was asked once.
    expect(records.reads).toBe(1);
    expect(records.ownerQueries).toBe(1);

    // A driver nobody recorded is asked about at every poll (a record may land late) ...
    const late = sim.addDriverByHand({ mainClass: MAIN, supervise: true });
    expect((await stream.poll()).action).toBe('none');
    expect((await stream.poll()).action).toBe('none');
    expect(records.ownerQueries).toBe(3);
    expect(records.reads).toBe(1);
    // ... and once it is recorded as the tenant's (another holder's create), the records are read and it is the tenant's.
    await record('ABC', late);
    expect((await stream.poll()).action).toBe('kill-duplicates');
    expect(records.reads).toBe(2);
    expect(sim.killRequests.map((k) => k.id)).toEqual([own]);
  });

  it('treats a create as possibly done when no answer came after sending, or a 5xx came', () => {
    expect(createMayHaveSucceeded(new SparkUnreachableError('reset', { maybeProcessed: true }))).toBe(true);
    expect(createMayHaveSucceeded(new SparkTimeoutError('slow', { timeoutMs: 5 }))).toBe(true);
    expect(createMayHaveSucceeded(new SparkProtocolError('jetty', { status: 500 }))).toBe(true);
    expect(createMayHaveSucceeded(new SparkUnreachableError('refused', { maybeProcessed: false }))).toBe(false);
    expect(createMayHaveSucceeded(new SparkProtocolError('bad request', { status: 400 }))).toBe(false);
    expect(createMayHaveSucceeded(new SparkSubmissionRejected('Current state is not alive: STANDBY'))).toBe(false);
    expect(createMayHaveSucceeded(new RangeError('driverCores'))).toBe(false);
  });

  it('knows the main classes of the other tenants on the same masters', async () => {
    const config = await parseConfig(`tenants = [
      { name = A, objectStore.local.path = "/a", kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m1,m2", sparkJarPath = "j", mainClass = "x.A" } }
      { name = B, objectStore.local.path = "/b", kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "M2", sparkJarPath = "j", mainClass = "x.B" } }
      { name = C, objectStore.local.path = "/c", kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m3", sparkJarPath = "j", mainClass = "x.C" } }
      { name = D, objectStore.local.path = "/d", kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m1", sparkJarPath = "j", mainClass = "x.A" } }
    ]`);
    const tenants: TenantConfig[] = config.tenants;
    expect(otherTenantMainClasses(tenants, 'A')).toEqual(['x.B', 'x.A']);
    expect(otherTenantMainClasses(tenants, 'B')).toEqual(['x.A']);
    expect(otherTenantMainClasses(tenants, 'C')).toEqual([]);
  });

  it('reads the driver size of a request as the master reports it', () => {
    expect(memoryStringToMb('1G')).toBe(1024);
    expect(memoryStringToMb('512m')).toBe(512);
    expect(memoryStringToMb('2gb')).toBe(2048);
    expect(memoryStringToMb('1048576')).toBe(1);
    expect(memoryStringToMb('lots')).toBeUndefined();
    const req: Omit<CreateSubmissionRequest, 'sparkProperties'> = {
      action: 'CreateSubmissionRequest',
      clientSparkVersion: '3',
      appResource: '',
      mainClass: MAIN,
      appArgs: [],
      environmentVariables: {},
    };
    expect(requestedSize({ ...req, sparkProperties: { 'spark.driver.cores': '2', 'spark.driver.memory': '3G' } })).toEqual({ cores: 2, memoryMb: 3072 });
    expect(requestedSize({ ...req, sparkProperties: {} })).toEqual({ cores: 1, memoryMb: 1024 });
  });
});
