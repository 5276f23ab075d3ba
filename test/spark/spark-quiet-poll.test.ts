/**
 * Quiet polls (streams/spark/quiet-poll.ts) through the real master client over the simulator:
 * a tick that would find what the last run found is recorded without a read, and every change
 * that matters (a death once read, a replay row, an error) makes the next poll a full run.
 */
import { firstValueFrom, from } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReplayRow } from '../../src/db/spark-submit-status.js';
import type { EventInput } from '../../streams/events.js';
import { directSparkStream, handContext, MemoryReplays, memoryStore, MemorySubmissions, simulatedTenant } from '../support/spark-stream.js';

const GRACE_MS = 5_000;

/** Replay rows whose shared read is always fresh: `latestIfFresh` answers like `latest`. */
class FreshReplays extends MemoryReplays {
  latestIfFresh(tenant: string): ReplayRow | null {
    const row = this.rows.filter((r) => r.tenant === tenant).at(-1);
    return row ? { ...row } : null;
  }
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function settledStream() {
  // A state read is shared for a minute: the test decides when the next one happens (invalidateState).
  const { sim, client, tenant } = await simulatedTenant(cleanups, { sim: { killDelayMs: 0 }, client: { stateMaxAgeMs: 60_000 } });
  const events: EventInput[] = [];
  const clock = { now: Date.now() };
  const replays = new FreshReplays();
  const submissions = new MemorySubmissions();
  const stream = directSparkStream(handContext('ABC', { now: () => clock.now, emit: (e) => events.push(e) }), {
    tenant: tenant,
    master: client,
    store: memoryStore(['checkpoint/offsets/0']),
    replays,
    submissions,
    otherTenantMainClasses: [],
    soleWriter: false,
    intervalMs: 1000,
    submitGraceMs: GRACE_MS,
    killWait: { timeoutMs: 1_000, pollMs: 20 },
  });
  const quietTick = stream.definition.quietTick!;
  const jsonReads = () => sim.requests.filter((r) => r.endpoint === 'json').length;

  // Submit, then (past the grace period) a run that sees the driver RUNNING and decides none.
  const first = await stream.poll();
  expect(first.action).toBe('submit');
  expect(quietTick()).toBe(false);
  clock.now += GRACE_MS;
  client.invalidateState();
  expect((await stream.poll()).action).toBe('none');
  return { sim, client, stream, events, clock, replays, submissions, quietTick, jsonReads, driverId: first.submissionId! };
}

describe('quiet polls of the Spark stream', () => {
  it('records a tick that would find what the last run found, without reading anything', async () => {
    const { stream, events, clock, submissions, quietTick, jsonReads } = await settledStream();
    const reads = jsonReads();
    const recordReads = submissions.reads;
    const polled = events.filter((e) => e.type === 'spark.polled').length;

    clock.now += 1_000;
    expect(quietTick()).toBe(true);
    expect(quietTick()).toBe(true);

    expect(jsonReads()).toBe(reads);
    expect(submissions.reads).toBe(recordReads);
    const quiet = events.filter((e) => e.type === 'spark.polled').slice(polled);
    expect(quiet).toEqual([
      { type: 'spark.polled', masterStatus: 'ALIVE', aliveDrivers: 1, action: 'none', durationMs: 0 },
      { type: 'spark.polled', masterStatus: 'ALIVE', aliveDrivers: 1, action: 'none', durationMs: 0 },
    ]);
    expect(stream.status().lastPoll).toMatchObject({ at: new Date(clock.now).toISOString(), outcome: 'none', durationMs: 0 });
  });

  it('a poll that reads the unchanged master again skips the reconcile too', async () => {
    const { stream, client, submissions, quietTick, jsonReads } = await settledStream();
    client.invalidateState();
    expect(quietTick()).toBe(false); // no fresh state: the tick must read
    const reads = jsonReads();
    const recordReads = submissions.reads;
    expect(await stream.poll()).toMatchObject({ action: 'none' });
    expect(jsonReads()).toBe(reads + 1);
    expect(submissions.reads).toBe(recordReads);
    expect(quietTick()).toBe(true);
  });

  it('ends at the first read that shows the driver dead: that poll resubmits', async () => {
    const { sim, client, stream, quietTick, driverId } = await settledStream();
    sim.killDriverProcess(driverId, 'FAILED');
    // Until a read shows it (the shared state is younger than its max age), the ticks stay quiet.
    expect(quietTick()).toBe(true);
    client.invalidateState();
    expect(quietTick()).toBe(false);
    const next = await stream.poll();
    expect(next.action).toBe('submit');
    expect(next.submissionId).not.toBe(driverId);
    expect(quietTick()).toBe(false); // a submit settles nothing
  });

  it('ends when a replay row appears (inserted by another replica): that poll starts the replay', async () => {
    const { clock, replays, stream, quietTick, driverId } = await settledStream();
    await replays.insert('ABC', clock.now - 60_000, clock.now + 600_000);
    expect(quietTick()).toBe(false);
    const next = await stream.poll();
    expect(next).toMatchObject({ action: 'submit' });
    expect(next.submissionId).not.toBe(driverId);
    expect(replays.rows[0]!.isSubmittedForOffsetsTimestamp).toBe(true);
  });

  it('ends after a failed run and after the replay command', async () => {
    const { sim, client, stream, clock, quietTick } = await settledStream();
    sim.failNext(1, { endpoint: 'json' });
    client.invalidateState();
    await expect(stream.poll()).rejects.toThrow();
    expect(quietTick()).toBe(false);
    client.invalidateState();
    expect((await stream.poll()).action).toBe('none');
    expect(quietTick()).toBe(true);

    const replay = stream.definition.commands.replay!({
      startingOffsetsTimestamp: clock.now + 600_000,
      resumeToSubscribePatternTimestamp: clock.now + 900_000,
    });
    await firstValueFrom(from(replay));
    expect(quietTick()).toBe(false);
  });
});
