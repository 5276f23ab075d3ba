/**
 * The Spark poll stream among many replicas (SPEC §4.5): it checks the lease right before each
 * effect (kill, state cleanup, submit, replay flag), so a run that began as the holder stops
 * mid-way once the lease is lost, and the holder of the next term carries the action out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { EventInput } from '../../streams/events.js';
import { NotLeaderError } from '../../streams/leadership.js';
import { directSparkStream, handContext, MemoryReplays, memoryStore, MemorySubmissions, simulatedTenant } from '../support/spark-stream.js';
import { waitFor } from '../support/spark.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const STATE = ['checkpoint/offsets/0', 'logs/_spark_metadata/0'];

async function setup() {
  const { sim, client, tenant } = await simulatedTenant(cleanups, { sim: { killDelayMs: null } });
  const lease = { acting: true };
  const events: EventInput[] = [];
  const replays = new MemoryReplays();
  const store = memoryStore([...STATE, 'logs/env=prod/x']);
  const stream = directSparkStream(handContext('ABC', { emit: (e) => events.push(e), lease }), {
    tenant: tenant,
    master: client,
    store,
    replays,
    submissions: new MemorySubmissions(),
    otherTenantMainClasses: [],
    intervalMs: 1000,
    submitGraceMs: 5_000,
    killWait: { timeoutMs: 5_000, pollMs: 20 },
    soleWriter: false,
  });
  return { sim, stream, events, replays, store, lease };
}

describe('the Spark poll stream and the lease', () => {
  it('a replay whose lease is lost during the kill wait cleans nothing and submits nothing; the next term carries it out', async () => {
    const { sim, stream, events, replays, store, lease } = await setup();
    expect((await stream.poll()).action).toBe('submit');
    const first = sim.createRequests.length;
    const replay = await replays.insert('ABC', Date.now() - 1_000, Date.now() + 60_000);

    // The kill is accepted but the driver stays in activedrivers until its worker reports.
    const run = stream.poll().catch((e: unknown) => e);
    await waitFor(() => sim.killRequests.length === 1, 'the kill request');
    lease.acting = false;
    sim.finishPendingKills();
    expect(await run).toBeInstanceOf(NotLeaderError);

    expect(sim.createRequests.length).toBe(first);
    expect(STATE.every((k) => store.keys.has(k))).toBe(true);
    expect(events.some((e) => e.type === 'spark.state-cleaned')).toBe(false);
    expect(replays.rows[0]).toMatchObject({ isSubmittedForOffsetsTimestamp: false });

    // Holder again (a later term): the replay is carried out once, from its row.
    lease.acting = true;
    const result = await stream.poll();
    expect(result.action).toBe('submit');
    expect(sim.createRequests.length).toBe(first + 1);
    expect(STATE.some((k) => store.keys.has(k))).toBe(false);
    expect(replays.rows[0]).toMatchObject({ id: replay.id, isSubmittedForOffsetsTimestamp: true });
  });

  it('submits nothing, and kills nothing, while not the holder (the master is still read)', async () => {
    const { sim, stream, lease } = await setup();
    lease.acting = false;
    expect(await stream.poll().catch((e: unknown) => e)).toBeInstanceOf(NotLeaderError);
    expect(sim.createRequests).toHaveLength(0);
    expect(sim.counts().json).toBeGreaterThan(0);
    // Two drivers of the tenant (one started by hand): the holder would kill one; a non-holder does not.
    sim.addDriverByHand({ mainClass: 'com.logwise.spark.MainApplication' });
    sim.addDriverByHand({ mainClass: 'com.logwise.spark.MainApplication' });
    expect(await stream.poll().catch((e: unknown) => e)).toBeInstanceOf(NotLeaderError);
    expect(sim.killRequests).toHaveLength(0);
  });
});

class FailingSubmissions extends MemorySubmissions {
  failing = false;
  override async record(s: SubmissionRecord) {
    if (this.failing) throw new Error('database unavailable');
    await super.record(s);
  }
}

/**
 * Replicas of one tenant (fresh stream state each, as another process or a restart has) on one
 * simulator and shared stores; each has its own lease flag and events.
 */
async function replicaSetup(opts: { submitGraceMs?: number } = {}) {
  const { sim, client, tenant } = await simulatedTenant(cleanups, { sim: { killDelayMs: 50 } });
  const replays = new MemoryReplays();
  const submissions = new FailingSubmissions();
  const store = memoryStore([...STATE, 'logs/env=prod/x']);
  const replica = () => {
    const lease = { acting: true };
    const events: EventInput[] = [];
    const stream = directSparkStream(handContext('ABC', { emit: (e) => events.push(e), lease }), {
      tenant: tenant,
      master: client,
      store,
      replays,
      submissions,
      otherTenantMainClasses: [],
      intervalMs: 1000,
      submitGraceMs: opts.submitGraceMs ?? 5_000,
      killWait: { timeoutMs: 5_000, pollMs: 20 },
      soleWriter: false,
    });
    return { stream, lease, events };
  };
  const replayCreates = () =>
    sim.createRequests.filter((r) => ((r.body as { appArgs?: string[] }).appArgs ?? []).some((a) => a.startsWith('kafka.startingOffsetsTimestamp=')));
  return { sim, replays, submissions, store, replica, replayCreates };
}

describe('a replay step whose create went through but whose flag was not written (SPEC §4.3)', () => {
  it('the same process: the lease is lost before the flag write and taken again; the step is not redone', async () => {
    const { sim, replays, replica, replayCreates } = await replicaSetup();
    const a = replica();
    expect((await a.stream.poll()).action).toBe('submit');
    const d1 = sim.activeDrivers()[0]!.id;
    await replays.insert('ABC', Date.now() - 1_000, Date.now() + 600_000);

    // The master starts the replay driver; the lease is gone by the time its answer arrives.
    sim.holdNext(1, 'create', { processFirst: true });
    const run = a.stream.poll().catch((e: unknown) => e);
    await waitFor(() => sim.createRequests.length === 2, 'the replay create');
    const d2 = sim.createRequests[1]!.submissionId!;
    a.lease.acting = false;
    sim.releaseHeld(true);
    expect(await run).toBeInstanceOf(NotLeaderError);
    expect(replays.rows[0]).toMatchObject({ isSubmittedForOffsetsTimestamp: false });

    a.lease.acting = true;
    const next = await a.stream.poll();
    expect([next.action, next.reason]).toEqual(['none', expect.stringContaining(d2)]);
    expect(replayCreates()).toHaveLength(1);
    expect(sim.killRequests.map((k) => k.id)).toEqual([d1]);
    expect(replays.rows[0]).toMatchObject({ isSubmittedForOffsetsTimestamp: true });
    expect(a.events.filter((e) => e.type === 'spark.replay-started')).toHaveLength(1);
    expect(a.events.filter((e) => e.type === 'spark.state-cleaned')).toHaveLength(1);
  });

  it.each([
    ['recorded', false],
    ['not recorded either', true],
  ] as const)(
    "another replica takes over (the create %s): it recognises the step's driver on the master and sets the flag, no kill, no second create",
    async (_, recordFails) => {
      const { sim, replays, submissions, replica, replayCreates } = await replicaSetup();
      const a = replica();
      const b = replica();
      b.lease.acting = false;
      await a.stream.poll();
      const d1 = sim.activeDrivers()[0]!.id;
      const startingOffsetsTimestamp = Date.now() - 1_000;
      await replays.insert('ABC', startingOffsetsTimestamp, Date.now() + 600_000);

      // A's create is carried out; A stops acting (its database stalled past the lease, or it died) before it hears back.
      sim.holdNext(1, 'create', { processFirst: true });
      const run = a.stream.poll().catch((e: unknown) => e);
      await waitFor(() => sim.createRequests.length === 2, 'the replay create');
      const d2 = sim.createRequests[1]!.submissionId!;
      a.lease.acting = false;
      submissions.failing = recordFails;
      sim.releaseHeld(true);
      await run;
      submissions.failing = false;
      expect(replays.rows[0]).toMatchObject({ isSubmittedForOffsetsTimestamp: false });

      // B holds the lease now; it knows nothing of A's create but what A wrote before sending it.
      b.lease.acting = true;
      const first = await b.stream.poll();
      await b.stream.poll();
      expect(first.action).toBe('none');
      expect(replayCreates()).toHaveLength(1);
      expect(sim.killRequests.map((k) => k.id)).toEqual([d1]);
      expect(sim.activeDrivers().map((d) => [d.id, d.state])).toEqual([[d2, 'RUNNING']]);
      expect(replays.rows[0]).toMatchObject({ isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: false });
      expect(b.events.filter((e) => e.type === 'spark.replay-started')).toEqual([{ type: 'spark.replay-started', replayId: 1, startingOffsetsTimestamp }]);
      expect(b.events.filter((e) => e.type === 'spark.killed' || e.type === 'spark.state-cleaned')).toEqual([]);
      expect(submissions.rows.filter((r) => r.submissionId === d2).map((r) => [r.reason, r.startingOffsetsTimestamp])).toEqual([
        ['replay-start', startingOffsetsTimestamp],
      ]);
    },
  );

  it("another replica takes over while the step's create is unanswered: no new step within the grace period, then the step once", async () => {
    const { sim, replays, replica, replayCreates } = await replicaSetup({ submitGraceMs: 1_500 });
    const a = replica();
    const b = replica();
    b.lease.acting = false;
    await a.stream.poll();
    await replays.insert('ABC', Date.now() - 1_000, Date.now() + 600_000);

    // A's create reaches the master, which holds it without carrying it out (yet).
    sim.holdNext(1, 'create');
    const run = a.stream.poll().catch((e: unknown) => e);
    await waitFor(() => sim.counts().create === 2, 'the held replay create');
    a.lease.acting = false;
    b.lease.acting = true;
    const begun = Date.now();
    const waiting = await b.stream.poll();
    expect(waiting.action).toBe('wait');
    expect(waiting.reason).toMatch(/replay #1 is due to start, but a create for that step was begun .* ago and its outcome is not known/);
    sim.releaseHeld(false);
    await run;
    expect(sim.createRequests).toHaveLength(1);

    await waitFor(async () => (await b.stream.poll()).action === 'submit', 'the step after the grace period', 5_000, 100);
    expect(Date.now() - begun).toBeGreaterThanOrEqual(1_000);
    expect(replayCreates()).toHaveLength(1);
    expect(replays.rows[0]).toMatchObject({ isSubmittedForOffsetsTimestamp: true });
    await b.stream.poll();
    expect(replayCreates()).toHaveLength(1);
  });
});
