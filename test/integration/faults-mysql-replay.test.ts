/**
 * Fault test (real processes, real sockets): the database stalls between a replay step's create
 * and the write of its flag (SPEC §4.3: "a step whose create went through but whose flag write
 * did not is recognised, not redone").
 *
 * The daemon runs as its own process against a PRIVATE MariaDB server (own datadir and port,
 * never the shared one on 3306, nor the one of faults-mysql.test.ts), which the test pauses with
 * SIGSTOP (requests in flight wait, nothing fails fast) while the master simulator (in this
 * process, real HTTP) holds the replay's create. The outage is longer than the tenant lease:
 * the daemon stops acting while its writes wait, and takes the lease again once MariaDB is back.
 *
 * What must hold: the replay's first step (kill, clean, submit from the timestamp, set
 * isSubmittedForOffsetsTimestamp) happens exactly once: one kill, one state cleanup, one create
 * with the timestamp, the flag set once; the replay driver is never killed.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import { daemonConfig } from '../support/daemon-config.js';
import { startDaemonProcess, type DaemonProcess } from '../support/faults.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-services.js';
import { acceptedCreates, aliveOf, sleep, sparkTenant, waitFor } from '../support/spark.js';

const LEASE_S = 3;
const DATABASE = 'lw_faults_replay';
const STATE_KEYS = ['checkpoint/metadata', 'checkpoint/offsets/0', 'logs/_spark_metadata/0'];
/** A private server of its own: faults-mysql.test.ts (and others) may run theirs on 3316 meanwhile. */
const PORT = Number(process.env.FAULTS_REPLAY_MARIADB_PORT ?? 3327);

describe('MariaDB stalls between a replay step and its flag', () => {
  let db: PrivateMariaDb;
  let sim: SparkMasterSimulator;
  let dir: string;
  let store: string;
  let daemon: DaemonProcess;
  const held: string[] = [];

  const query = <T>(sql: string, args: unknown[] = []) => db.query<T>(DATABASE, sql, args);
  /** The daemon's config on `database` here, the tenant's store in `storeDir`. */
  const config = (database: string, storeDir: string) =>
    daemonConfig({
      database: db.hocon(database),
      leaseSeconds: LEASE_S,
      loop: { sparkPollSeconds: 0.5, discoverySeconds: 3600, delaySampleSeconds: 3600, submitGraceSeconds: 2, backoff: { minSeconds: 0.2, maxSeconds: 1 } },
      tenants: [sparkTenant(sim, { store: `objectStore.local.path = "${storeDir}"` })],
    });
  const startingOffsetsArg = (body: unknown) => ((body as { appArgs?: string[] }).appArgs ?? []).find((a) => a.startsWith('kafka.startingOffsetsTimestamp='));

  beforeAll(async () => {
    db = await startPrivateMariaDb({ port: PORT, name: 'mariadb-faults-replay' });
    await db.createDatabase(DATABASE);
    sim = new SparkMasterSimulator({ killDelayMs: 200, onRequest: (r) => r.held && held.push(r.endpoint) });
    await sim.start();
    dir = mkdtempSync(join(tmpdir(), 'lw-faults-replay-'));
    store = join(dir, 'store');
    mkdirSync(store);
    daemon = await startDaemonProcess({ dir, config: config(DATABASE, store) });
  }, 120_000);

  afterAll(async () => {
    if (daemon && !daemon.exited) await daemon.kill();
    await sim?.stop();
    await db?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('the lease is lost while the flag write waits and taken again: the step is recognised, not redone', async () => {
    const d1 = (await waitFor(() => acceptedCreates(sim)[0], 'the first submission', 30_000)).submissionId!;
    await daemon.waitForEvent('spark.polled', 'a poll that sees the driver alive', { pred: (e) => e.action === 'none' });
    for (const key of STATE_KEYS) {
      mkdirSync(dirname(join(store, key)), { recursive: true });
      writeFileSync(join(store, key), key);
    }

    // The replay's create is carried out, its answer held until the test lets it go.
    sim.holdNext(1, 'create', { processFirst: true });
    const startingOffsetsTimestamp = Date.now() - 3_600_000;
    const res = await daemon.request('POST', '/api/v1/spark/replay', {
      body: { startingOffsetsTimestamp, resumeToSubscribePatternTimestamp: Date.now() + 600_000 },
    });
    expect(res.status).toBe(200);
    const replayId = res.body.data.id as number;
    await waitFor(() => held.includes('create'), 'the replay create to reach the master', 20_000);
    const d2 = acceptedCreates(sim)[1]!.submissionId!;
    expect(startingOffsetsArg(acceptedCreates(sim)[1]!.body)).toBe(`kafka.startingOffsetsTimestamp=${startingOffsetsTimestamp}`);

    // MariaDB stops 0.3 s before the answer arrives, and stays stopped longer than the lease.
    const pausedAt = Date.now();
    db.pause();
    await sleep(300);
    sim.releaseHeld(true);
    await sleep(7_000);
    db.resume();
    const resumedAt = Date.now();

    // ---- the flag is set, the daemon acts again, and nothing is done twice
    await waitFor(
      async () => (await query<{ f: number }>('select isSubmittedForOffsetsTimestamp f from spark_submit_status where id = ?', [replayId]))[0]?.f === 1,
      'the flag to be set',
      20_000,
    );
    await daemon.waitForEvent('lease.acquired', 'the lease to be taken again', { since: pausedAt, timeoutMs: 15_000 });
    await daemon.waitForEvent('spark.polled', 'a poll after the database is back', { since: resumedAt, timeoutMs: 15_000, pred: (e) => e.action === 'none' });
    const polled = daemon.events('spark.polled').length;
    await daemon.waitForLine(() => daemon.events('spark.polled').length >= polled + 8, 'eight more polls', 20_000);

    const replayCreates = sim.createRequests.filter((r) => startingOffsetsArg(r.body) !== undefined);
    const replayKills = daemon.events('spark.killed').filter((e) => e.reason === 'replay-start');
    console.log(
      `faults-mysql-replay: lease lost ${daemon.events('lease.lost').filter((e) => e.time >= pausedAt).length}x, ` +
        `creates ${sim.createRequests.length} (with the timestamp ${replayCreates.length}), kills ${sim.killRequests.length} ` +
        `(replay-start ${replayKills.length}), state cleanups ${daemon.events('spark.state-cleaned').length}, ` +
        `spark.submitted ${daemon.events('spark.submitted').length}, replay driver ${d2} ${sim.getDriver(d2)?.state}, alive ${aliveOf(sim)
          .map((d) => d.id)
          .join(',')}`,
    );
    expect(daemon.events('lease.lost').filter((e) => e.time >= pausedAt).length, 'the outage did not outlive the lease').toBeGreaterThanOrEqual(1);
    expect(replayCreates).toHaveLength(1);
    expect(sim.createRequests).toHaveLength(2);
    expect(sim.killRequests.map((k) => k.id)).toEqual([d1]);
    expect(replayKills.map((e) => e.submissionIds)).toEqual([[d1]]);
    expect(daemon.events('spark.state-cleaned')).toHaveLength(1);
    expect(daemon.events('spark.submitted').map((e) => e.submissionId)).toEqual([d1, d2]);
    expect(daemon.events('spark.replay-started').map((e) => e.replayId)).toEqual([replayId]);
    expect(aliveOf(sim).map((d) => d.id)).toEqual([d2]);
    expect(STATE_KEYS.filter((k) => existsSync(join(store, k)))).toEqual([]);
    const recorded = await query<{ submissionId: string; reason: string }>('select submissionId, reason from spark_submissions where tenant = ? order by id', [
      'ABC',
    ]);
    expect(recorded.map((r) => [r.submissionId, r.reason])).toEqual([
      [d1, 'keep-alive'],
      [d2, 'replay-start'],
    ]);
    expect(daemon.exited).toBe(false);
    expect(await daemon.stop()).toBe(0);
  }, 120_000);

  it('the replica dies between the create and the flag write: the one that takes over recognises the step, not redoes it', async () => {
    const database = `${DATABASE}_b`;
    await db.createDatabase(database);
    await sim.reset();
    held.length = 0;
    const storeB = join(dir, 'store-b');
    mkdirSync(storeB);
    const replicaConfig = config(database, storeB);
    const dirA = join(dir, 'a');
    const dirB = join(dir, 'b');
    mkdirSync(dirA);
    mkdirSync(dirB);
    const a = await startDaemonProcess({ dir: dirA, config: replicaConfig });
    const b = await startDaemonProcess({ dir: dirB, config: replicaConfig });
    try {
      const d1 = (await waitFor(() => acceptedCreates(sim)[0], 'the first submission', 30_000)).submissionId!;
      await a.waitForEvent('spark.polled', 'a poll of the holder that sees the driver alive', { pred: (e) => e.action === 'none' });
      expect(b.events('spark.submitted')).toEqual([]);
      for (const key of STATE_KEYS) {
        mkdirSync(dirname(join(storeB, key)), { recursive: true });
        writeFileSync(join(storeB, key), key);
      }

      sim.holdNext(1, 'create', { processFirst: true });
      const startingOffsetsTimestamp = Date.now() - 3_600_000;
      const res = await a.request('POST', '/api/v1/spark/replay', {
        body: { startingOffsetsTimestamp, resumeToSubscribePatternTimestamp: Date.now() + 600_000 },
      });
      expect(res.status).toBe(200);
      const replayId = res.body.data.id as number;
      await waitFor(() => held.includes('create'), 'the replay create to reach the master', 20_000);
      const d2 = acceptedCreates(sim)[1]!.submissionId!;

      // The master has started the replay driver; the holder dies before it hears back.
      const killedAt = Date.now();
      await a.kill();
      sim.releaseHeld(true);

      const acquired = await b.waitForEvent('lease.acquired', 'the other replica to take the lease', { since: killedAt, timeoutMs: LEASE_S * 1000 + 10_000 });
      await b.waitForEvent('spark.replay-started', 'the step to be recognised', { timeoutMs: 15_000 });
      const polled = b.events('spark.polled').length;
      await b.waitForLine(() => b.events('spark.polled').length >= polled + 8, 'eight more polls of the new holder', 20_000);

      const replayCreates = sim.createRequests.filter((r) => startingOffsetsArg(r.body) !== undefined);
      console.log(
        `faults-mysql-replay (holder killed): takeover ${acquired.time - killedAt} ms after the kill; creates ${sim.createRequests.length} ` +
          `(with the timestamp ${replayCreates.length}), kills ${sim.killRequests.length}, state cleanups ${a.events('spark.state-cleaned').length}+${b.events('spark.state-cleaned').length}, ` +
          `replay driver ${d2} ${sim.getDriver(d2)?.state}, alive ${aliveOf(sim)
            .map((d) => d.id)
            .join(',')}`,
      );
      expect(replayCreates).toHaveLength(1);
      expect(sim.createRequests).toHaveLength(2);
      expect(sim.killRequests.map((k) => k.id)).toEqual([d1]);
      expect(b.events('spark.killed')).toEqual([]);
      expect(b.events('spark.state-cleaned')).toEqual([]);
      expect(b.events('spark.replay-started').map((e) => e.replayId)).toEqual([replayId]);
      expect(aliveOf(sim).map((d) => d.id)).toEqual([d2]);
      const row = (await query<{ f: number }>(`select isSubmittedForOffsetsTimestamp f from \`${database}\`.spark_submit_status where id = ?`, [replayId]))[0];
      expect(row?.f).toBe(1);
      const recorded = await query<{ submissionId: string; reason: string }>(
        `select submissionId, reason from \`${database}\`.spark_submissions where tenant = ? order by id`,
        ['ABC'],
      );
      expect(recorded.map((r) => [r.submissionId, r.reason])).toEqual([
        [d1, 'keep-alive'],
        [d2, 'replay-start'],
      ]);
      expect(await b.stop()).toBe(0);
    } finally {
      if (!a.exited) await a.kill();
      if (!b.exited) await b.kill();
    }
  }, 120_000);
});
