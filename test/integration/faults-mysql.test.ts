/**
 * Fault test (real processes, real sockets): MariaDB dies in the middle of a Spark submission
 * and in the middle of a discovery sync.
 *
 * The daemon runs as its own process against a PRIVATE MariaDB server (own datadir, port and
 * socket; never the shared one on 3306), which the test SIGKILLs and starts again on the same
 * datadir (InnoDB crash recovery). Spark is the master simulator (in this process, real HTTP);
 * the object store is a local folder.
 *
 * What must hold (SPEC §1, §3, §4.1, §4.2, §4.5):
 *  - the daemon stays up and keeps serving; `/healthcheck` answers 503 with the database DOWN
 *    while MariaDB is dead or hung (at once, never waiting on it), 200 once it is back; requests
 *    that need the database answer 503 DATABASE_UNAVAILABLE, never 500 with the driver's text;
 *  - the failing streams retry with backoff (delays capped at `loop.backoff.maxSeconds`);
 *  - mid-submission: the driver the master accepted while the database was dead is recorded once
 *    the database is back, and is not submitted again (one create in all);
 *  - mid-sync: no service row is lost (the rows committed before the kill are all there; the
 *    insert the kill interrupted is rolled back, not half applied) and the sync completes;
 *  - the loop resumes within 2 × the maximum backoff once MariaDB answers (plus, for a sync,
 *    the time a sync takes), also when the outage outlived this process's tenant lease.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import { daemonConfig } from '../support/daemon-config.js';
import { firstSuccess, startDaemonProcess, type DaemonProcess } from '../support/faults.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-services.js';
import { acceptedCreates, MAIN_CLASS, sleep, sparkTenant, waitFor } from '../support/spark.js';
import { partitionKey } from '../support/stores.js';

const MAX_BACKOFF_S = 1;
const MAX_BACKOFF_MS = MAX_BACKOFF_S * 1000;
const LEASE_S = 6;
const DATABASE = 'lw_faults';
const layout = (envs: string[], services: number) =>
  envs.flatMap((env) => Array.from({ length: services }, (_, i) => ['application', 'worker'].map((c) => partitionKey(env, `svc-${i}`, c)))).flat();
const INITIAL = layout(['prod', 'stag', 'dev'], 30);
/** Partitions added before the interrupted sync: its insert is large enough to be caught running. */
const BATCH_SERVICES = 1_500;

describe('MariaDB dies in the middle of a submission and of a sync', () => {
  let db: PrivateMariaDb;
  let sim: SparkMasterSimulator;
  let dir: string;
  let store: string;
  let daemon: DaemonProcess;
  const held: string[] = [];

  const put = (keys: readonly string[], root = store) => {
    for (const key of keys) {
      mkdirSync(dirname(join(root, key)), { recursive: true });
      writeFileSync(join(root, key), key);
    }
  };
  /** Adds a whole env folder at once (written aside, then renamed in): a listing sees all of it or none. */
  const putEnv = (env: string, keys: readonly string[]) => {
    const staging = join(dir, `staging-${env}`);
    put(keys, staging);
    renameSync(join(staging, 'logs', `env=${env}`), join(store, 'logs', `env=${env}`));
  };
  const query = <T>(sql: string, args: unknown[] = []) => db.query<T>(DATABASE, sql, args);
  const healthStatus = async () => (await daemon.request('GET', '/healthcheck', { timeoutMs: 10_000 })).status;
  /** Retries of a stream logged since `since`: attempts count up from 1, delays never above the maximum. */
  const expectBackoff = (stream: string, since: number) => {
    const retries = daemon.events('stream.retrying').filter((e) => e.stream === stream && e.time >= since);
    expect(retries.length, `retries of the ${stream} stream`).toBeGreaterThanOrEqual(1);
    for (const e of retries) expect(Number(e.delayMs)).toBeLessThanOrEqual(MAX_BACKOFF_MS);
    expect(retries.map((e) => e.attempt)).toEqual(retries.map((_, i) => i + 1));
    return retries;
  };

  beforeAll(async () => {
    db = await startPrivateMariaDb();
    await db.createDatabase(DATABASE);
    sim = new SparkMasterSimulator({ killDelayMs: 200, onRequest: (r) => r.held && held.push(r.endpoint) });
    await sim.start();
    // The first create is carried out but its answer is held: the test decides when it arrives.
    sim.holdNext(1, 'create', { processFirst: true });
    dir = mkdtempSync(join(tmpdir(), 'lw-faults-mysql-'));
    store = join(dir, 'store');
    put(INITIAL);
    daemon = await startDaemonProcess({
      dir,
      config: daemonConfig({
        database: db.hocon(DATABASE),
        leaseSeconds: LEASE_S,
        loop: {
          sparkPollSeconds: 0.5,
          discoverySeconds: 5,
          delaySampleSeconds: 3600,
          submitGraceSeconds: 2,
          backoff: { minSeconds: 0.2, maxSeconds: MAX_BACKOFF_S },
        },
        tenants: [sparkTenant(sim, { store: `objectStore.local.path = "${store}"` })],
      }),
    });
  }, 120_000);

  afterAll(async () => {
    if (daemon && !daemon.exited) await daemon.kill();
    await sim?.stop();
    await db?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('mid-submission: the accepted driver is recorded once the database is back and never submitted twice', async () => {
    await waitFor(() => held.includes('create'), 'the first create to reach the master', 30_000);
    const [create] = acceptedCreates(sim);
    const driverId = create!.submissionId!;

    // The master has started the driver; the database dies before the daemon hears back.
    const killedAt = Date.now(); // (the daemon may notice before the exit reaches this process)
    await db.kill();
    sim.releaseHeld(true);
    await daemon.waitForEvent('spark.submitted', 'the late answer to be taken', { pred: (e) => e.submissionId === driverId });

    // ---- while the database is dead (about 3 s: this process's lease may lapse meanwhile or not)
    await waitFor(async () => (await healthStatus()) === 503, '/healthcheck to report the database DOWN', 10_000);
    const health = await daemon.request('GET', '/healthcheck');
    expect(health.body.error).toMatchObject({ code: 'UNHEALTHY' });
    expect(String(health.body.error.message)).toMatch(/^database: /);
    // (Fewer once the lease has lapsed: a replica that does not act skips its ticks.)
    await daemon.waitForLine(
      () => daemon.events('stream.retrying').filter((e) => e.stream === 'spark' && e.time >= killedAt).length >= 2,
      'two retries of the Spark stream',
      15_000,
    );
    await sleep(Math.max(0, killedAt + 2_500 - Date.now())); // longer than submitGraceSeconds
    expect(acceptedCreates(sim)).toHaveLength(1);
    expect(sim.createRequests).toHaveLength(1);
    expect(daemon.exited).toBe(false);

    // ---- the database is back on the same datadir
    const restarted = db.start();
    const backAt = await firstSuccess(() => db.answers(500), 'MariaDB to answer again', 30_000);
    await restarted;
    const outageMs = backAt - killedAt;
    const resumed = await daemon.waitForEvent('spark.polled', 'a poll after the database is back', {
      since: backAt,
      timeoutMs: 20_000,
      pred: (e) => e.action === 'none',
    });
    const resumeMs = resumed.time - backAt;
    const retries = expectBackoff('spark', killedAt);
    console.log(
      `faults-mysql mid-submission: outage ${outageMs} ms (lease ${LEASE_S} s, kept: ${daemon.events('lease.lost').length === 0}), ${retries.length} retries ` +
        `(delays ${retries.map((e) => e.delayMs).join(', ')} ms), resumed ${resumeMs} ms after MariaDB answered (limit ${2 * MAX_BACKOFF_MS} ms), ` +
        `creates ${sim.createRequests.length}`,
    );
    expect(resumeMs).toBeLessThanOrEqual(2 * MAX_BACKOFF_MS);
    // UP from the next background ping (one every half second).
    await waitFor(async () => (await healthStatus()) === 200, '/healthcheck to be UP again', 2_000);

    // ---- recorded once, submitted once
    await waitFor(async () => (await query('select * from spark_submissions where tenant = ?', ['ABC'])).length > 0, 'the submission to be recorded');
    const recorded = await query<{ submissionId: string; reason: string }>('select submissionId, reason from spark_submissions where tenant = ?', ['ABC']);
    expect(recorded.map((r) => [r.submissionId, r.reason])).toEqual([[driverId, 'keep-alive']]);
    const polled = daemon.events('spark.polled').length;
    await daemon.waitForLine(() => daemon.events('spark.polled').length >= polled + 6, 'six more polls', 15_000);
    expect(sim.createRequests).toHaveLength(1);
    expect(sim.activeDrivers().map((d) => [d.id, d.mainClass])).toEqual([[driverId, MAIN_CLASS]]);
    expect((await daemon.request('GET', '/api/v1/spark/status')).body.data).toMatchObject({
      drivers: { alive: [{ id: driverId }] },
      lastSubmission: { submissionId: driverId },
      submissions: 1,
    });
  }, 90_000);

  it('a hung database (SIGSTOP): /healthcheck answers at once from the last settled ping, DOWN once the ping in flight is over its budget', async () => {
    await waitFor(async () => (await healthStatus()) === 200, '/healthcheck to be UP', 10_000);
    const samples: { at: number; ms: number; status: number; code?: string; message?: string }[] = [];
    const probe = async (since: number) => {
      const t0 = performance.now();
      // A probe as an orchestrator's liveness check sends it: a short timeout of its own.
      const res = await daemon.request('GET', '/healthcheck', { timeoutMs: 5_000 });
      samples.push({ at: Date.now() - since, ms: performance.now() - t0, status: res.status, code: res.body.error?.code, message: res.body.error?.message });
    };
    const pausedAt = Date.now();
    db.pause();
    try {
      while (Date.now() - pausedAt < 5_000) {
        await probe(pausedAt);
        await sleep(50);
      }
    } finally {
      db.resume();
    }
    const resumedAt = Date.now();
    const during = samples.splice(0);
    await waitFor(
      async () => {
        await probe(resumedAt);
        return samples.at(-1)!.status === 200;
      },
      '/healthcheck to be UP again after SIGCONT',
      15_000,
    );
    const ms = during.map((s) => s.ms).sort((a, b) => a - b);
    const firstDown = during.find((s) => s.status !== 200);
    console.log(
      `faults-mysql hung database: ${during.length} probes while SIGSTOPped, answer time median ${ms[ms.length >> 1]!.toFixed(1)} ms, ` +
        `max ${ms.at(-1)!.toFixed(1)} ms; first DOWN ${firstDown ? `${firstDown.at} ms after SIGSTOP (${firstDown.status} ${firstDown.code}: ${firstDown.message})` : 'never'}; ` +
        `UP again ${samples.at(-1)!.at} ms after SIGCONT`,
    );
    expect(ms.at(-1)!, 'the slowest /healthcheck answer while the database hung (ms)').toBeLessThanOrEqual(300);
    expect(firstDown, '/healthcheck reported the hung database DOWN').toBeDefined();
    // The ping budget (2 s) plus the interval between pings (0.5 s) and a probe's period.
    expect(firstDown!.at).toBeLessThanOrEqual(3_000);
    expect(during.filter((s) => s.at > firstDown!.at).every((s) => s.status === 503)).toBe(true);
    expect(firstDown).toMatchObject({ status: 503, code: 'UNHEALTHY', message: expect.stringMatching(/^database: no answer to a ping for \d+ ms/) });
    expect(daemon.exited).toBe(false);
  }, 60_000);

  it('a dead database: requests that need it answer 503 DATABASE_UNAVAILABLE naming the database, never 500 with the driver text', async () => {
    await waitFor(async () => (await daemon.request('GET', '/api/v1/spark/status')).body.data?.lease?.isThisProcess === true, 'the lease to be held', 20_000);
    const answers: { path: string; status: number; code?: string; message?: string }[] = [];
    const ask = async (method: 'GET' | 'POST', path: string) => {
      const res = await daemon.request(method, path, { timeoutMs: 15_000 });
      answers.push({ path, status: res.status, code: res.body.error?.code, message: res.body.error?.message });
    };
    const killedAt = Date.now();
    await db.kill();
    // Right away, before this process's lease can lapse (it acts for about a lease after its last renewal).
    while (Date.now() - killedAt < 1_500) {
      await Promise.all([ask('GET', '/service-details'), ask('POST', '/api/v1/component/sync?componentType=application'), ask('GET', '/healthcheck')]);
      await sleep(100);
    }
    const restarted = db.start();
    await firstSuccess(() => db.answers(500), 'MariaDB to answer again', 30_000);
    await restarted;
    const summary = [...new Set(answers.map((a) => `${a.path} ${a.status} ${a.code}: ${a.message}`))];
    console.log(`faults-mysql dead database, answers in the first 1.5 s:\n  ${summary.join('\n  ')}`);
    const rawDriverText = /ECONN|ETIMEDOUT|PROTOCOL_|connect |127\.0\.0\.1|:\d{4}|select |insert |ER_/;
    for (const a of answers) {
      // /healthcheck may still answer from the last ping taken before the kill (pings run every half second).
      if (a.path === '/healthcheck' && a.status === 200) continue;
      expect(a.status, `${a.path}: ${a.code}: ${a.message}`).toBe(503);
      expect(a.message, a.path).not.toMatch(rawDriverText);
    }
    const reads = answers.filter((a) => a.path === '/service-details');
    expect(reads.length).toBeGreaterThan(0);
    for (const a of reads) expect(a).toMatchObject({ code: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/^the database is unavailable/) });
    for (const a of answers.filter((x) => x.path.includes('sync'))) expect(['DATABASE_UNAVAILABLE', 'NOT_LEADER']).toContain(a.code);
    expect(answers.filter((a) => a.path.includes('sync')).some((a) => a.code === 'DATABASE_UNAVAILABLE')).toBe(true);
    const health = answers.filter((x) => x.path === '/healthcheck' && x.status !== 200);
    expect(health.length).toBeGreaterThan(0);
    for (const a of health) expect(a).toMatchObject({ code: 'UNHEALTHY', message: expect.stringMatching(/^database: /) });
    // Back to normal before the next test: UP, and this process acting for the tenant again.
    await waitFor(async () => (await healthStatus()) === 200, '/healthcheck to be UP again', 15_000);
    await waitFor(
      async () => (await daemon.request('GET', '/api/v1/spark/status')).body.data?.lease?.isThisProcess === true,
      'the lease to be held again',
      30_000,
    );
    expect(daemon.exited).toBe(false);
  }, 90_000);

  it('mid-sync: the interrupted insert is rolled back, no row is lost, and the sync completes after the outage', async () => {
    await daemon.waitForEvent('discovery.synced', 'the first sync', {
      timeoutMs: 20_000,
      pred: (e) => Number(e.present) + Number(e.onboarded) === INITIAL.length,
    });
    const rows = () =>
      query<{ id: number; env: string; serviceName: string; componentName: string }>(
        'select id, env, serviceName, componentName from service_details where tenant = ? order by id',
        ['ABC'],
      );
    expect(await rows()).toHaveLength(INITIAL.length);

    // ---- new services; MariaDB is killed while the sync's insert of them runs. A sync that
    // got through before the insert was seen is not "in the middle": try again with more.
    let before: Awaited<ReturnType<typeof rows>> = [];
    let expected = 0;
    let killedAt = 0;
    for (const env of ['qa', 'perf', 'uat']) {
      before = await rows();
      const batch = layout([env], BATCH_SERVICES);
      putEnv(env, batch);
      expected = before.length + batch.length;
      const since = Date.now();
      const watcher = await db.connect();
      try {
        void daemon.request('POST', '/api/v1/component/sync?componentType=application').catch(() => undefined);
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline && !daemon.events('discovery.synced').some((e) => e.time >= since && Number(e.onboarded) > 0)) {
          const [running] = (await watcher.query(
            "select id from information_schema.processlist where id <> connection_id() and info like 'insert %into `service_details`%'",
          )) as [mysql.RowDataPacket[], unknown];
          if (running.length > 0) {
            killedAt = Date.now();
            await db.kill();
            break;
          }
        }
      } finally {
        watcher.destroy();
      }
      if (killedAt) break;
    }
    expect(killedAt, 'MariaDB was never killed while the sync inserted').toBeGreaterThan(0);

    // ---- the outage outlives the part of the lease this process may act on
    await waitFor(async () => (await healthStatus()) === 503, '/healthcheck to report the database DOWN', 10_000);
    const during = await daemon.request('POST', '/api/v1/component/sync?componentType=application', { timeoutMs: 20_000 });
    expect(during.status).toBeGreaterThanOrEqual(500);
    expect(during.body.error?.code).toEqual(expect.any(String));
    await daemon.waitForEvent('lease.lost', 'the lease to lapse', { since: killedAt, timeoutMs: LEASE_S * 1000 + 5_000 });
    expect(daemon.exited).toBe(false);

    // ---- back: the interrupted transaction is gone as a whole; the rows committed before are there
    const restarted = db.start();
    const backAt = await firstSuccess(() => db.answers(500), 'MariaDB to answer again', 30_000);
    await restarted;
    const recovered = await query<{ id: number }>('select id from service_details where tenant = ? order by id', ['ABC']);
    // All of the interrupted insert transaction, or none of it.
    expect([before.length, expected]).toContain(recovered.length);
    expect(recovered.slice(0, before.length).map((r) => r.id)).toEqual(before.map((r) => r.id));

    const resumed = await daemon.waitForEvent('discovery.synced', 'a sync after the database is back', { since: backAt, timeoutMs: 30_000 });
    const resumeMs = resumed.time - backAt;
    const syncMs = Number(resumed.durationMs);
    const retries = daemon.events('stream.retrying').filter((e) => e.stream === 'discovery' && e.time >= killedAt);
    console.log(
      `faults-mysql mid-sync: outage ${backAt - killedAt} ms, lease lost ${daemon.events('lease.lost').filter((e) => e.time >= killedAt).length}x, ${retries.length} discovery retries, ` +
        `${recovered.length} rows right after recovery (${before.length} before the kill), resumed ${resumeMs} ms after MariaDB answered ` +
        `(limit ${2 * MAX_BACKOFF_MS} + the sync's ${syncMs} ms), ${expected} rows expected`,
    );
    expect(resumeMs).toBeLessThanOrEqual(2 * MAX_BACKOFF_MS + syncMs);
    expect(Number(resumed.present) + Number(resumed.onboarded)).toBe(expected);
    expect(resumed.removed).toBe(0);

    // ---- nothing lost, nothing twice
    const after = await rows();
    expect(after).toHaveLength(expected);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(new Set(after.map((r) => `${r.env}/${r.serviceName}/${r.componentName}`)).size).toBe(expected);
    expect(daemon.events('discovery.removed')).toEqual([]);
    expect(await healthStatus()).toBe(200);
    expect(daemon.exited).toBe(false);
    expect(daemon.lines.filter((l) => l.level === 'fatal')).toEqual([]);
    expect(await daemon.stop()).toBe(0);
  }, 120_000);
});
