/**
 * The Spark poll stream among many replicas (SPEC §4.5): it checks the lease right before each
 * effect (kill, state cleanup, submit, replay flag), so a run that began as the holder stops
 * mid-way once the lease is lost, and the holder of the next term carries the action out.
 */
import { asyncScheduler } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ReplayRow } from '../../src/db/spark-submit-status.js';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { DeleteResult, ObjectStore } from '../../src/objectstore/object-store.js';
import { SparkMasterClient } from '../../src/spark/master-client.js';
import type { EventInput } from '../../streams/events.js';
import { sparkPollStream, type ReplayStore, type SubmissionStore } from '../../streams/spark-poll.js';
import { NotLeaderError } from '../../streams/tenant-loop.js';
import { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import { waitFor } from '../support/spark.js';

class MemoryReplays implements ReplayStore {
  rows: ReplayRow[] = [];
  async insert(tenant: string, startingOffsetsTimestamp: number, resumeToSubscribePatternTimestamp: number): Promise<ReplayRow> {
    const row = { id: this.rows.length + 1, tenant, startingOffsetsTimestamp, resumeToSubscribePatternTimestamp, isSubmittedForOffsetsTimestamp: false, isResumedToSubscribePattern: false, createdAt: new Date() };
    this.rows.push(row);
    return { ...row };
  }
  async latest(tenant: string) {
    const row = this.rows.filter((r) => r.tenant === tenant).at(-1);
    return row ? { ...row } : undefined;
  }
  async markSubmitted(id: number) {
    const row = this.rows.find((r) => r.id === id)!;
    const changed = !row.isSubmittedForOffsetsTimestamp;
    row.isSubmittedForOffsetsTimestamp = true;
    return changed;
  }
  async markResumed(id: number) {
    const row = this.rows.find((r) => r.id === id)!;
    const changed = !row.isResumedToSubscribePattern;
    row.isResumedToSubscribePattern = true;
    return changed;
  }
}

class MemorySubmissions implements SubmissionStore {
  rows: SubmissionRecord[] = [];
  async record(s: SubmissionRecord) {
    this.rows.push(s);
  }
  async recent(tenant: string) {
    return this.rows.filter((r) => r.tenant === tenant).reverse();
  }
}

function memoryStore(keys: string[]): ObjectStore & { keys: Set<string> } {
  const all = new Set(keys);
  return {
    keys: all,
    stats: { listCalls: 0, deleteCalls: 0, retries: 0 },
    async listPrefixes() {
      return [];
    },
    async listKeys(prefix: string) {
      return [...all].filter((k) => k.startsWith(prefix)).sort();
    },
    async deleteKeys(ks: readonly string[]): Promise<DeleteResult> {
      for (const k of ks) all.delete(k);
      return { deleted: ks.length, errors: [] };
    },
    async ping() {},
    describe: () => 'memory:',
    close() {},
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const STATE = ['checkpoint/offsets/0', 'logs/_spark_metadata/0'];

async function setup() {
  const sim = await new SparkMasterSimulator({ killDelayMs: null }).start();
  const client = new SparkMasterClient({ hosts: [sim.host], webUiPort: sim.uiPort, restPort: sim.restPort, timeoutMs: 2_000 });
  cleanups.push(() => sim.stop(), () => client.close());
  const config = await parseConfig(`tenants = [{
    name = "ABC", objectStore.local.path = "/nowhere", kafka.kafkaBrokersHost = "k"
    spark { sparkMasterHost = "${sim.host}", sparkMasterWebUiPort = ${sim.uiPort}, sparkMasterRestPort = ${sim.restPort}, sparkJarPath = "file:///a.jar" }
  }]`);
  const lease = { acting: true };
  const events: EventInput[] = [];
  const replays = new MemoryReplays();
  const store = memoryStore([...STATE, 'logs/env=prod/x']);
  const stream = sparkPollStream(
    {
      tenant: 'ABC',
      now: () => Date.now(),
      emit: (e) => events.push(e),
      scheduler: asyncScheduler,
      isActing: () => lease.acting,
      assertActing: () => {
        if (!lease.acting) throw new NotLeaderError('ABC', 'other-replica');
      },
    },
    { tenant: config.tenants[0]!, master: client, store, replays, submissions: new MemorySubmissions(), otherTenantMainClasses: [], intervalMs: 1000, submitGraceMs: 5_000, killWait: { timeoutMs: 5_000, pollMs: 20 } },
  );
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
