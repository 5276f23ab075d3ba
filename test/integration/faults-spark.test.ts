/**
 * Fault test (real processes, real sockets): the Spark master dies in the middle of a submission
 * and in the middle of a replay.
 *
 * The daemon runs as its own process (MariaDB: a database of its own on the shared server; the
 * object store: a local folder). The master is the simulator run as its own process
 * (`test/spark-sim/cli.ts`), SIGKILLed and started again on the same ports. A restarted
 * simulator knows no drivers, like a Spark master restarted without recovery
 * (`spark.deploy.recoveryMode=NONE`: a real one also tells the re-registering workers to kill
 * the drivers it does not know).
 *
 * What must hold (SPEC §4.2, §4.3):
 *  - the daemon stays up; `/pipeline/health` shows the Spark check DOWN and
 *    `/api/v1/spark/status` the master UNREACHABLE while it is dead; the Spark stream retries
 *    with backoff (delays capped at `loop.backoff.maxSeconds`) and polls again within
 *    2 × the maximum backoff once the master answers;
 *  - mid-submission: a create whose outcome is unknown (the master died holding it) is not
 *    retried blindly: no new submission before `submitGraceSeconds` after it, then exactly one;
 *  - mid-replay (the master dies while the daemon waits for the killed driver to leave
 *    `activedrivers`): the replay continues on the restarted master, and each step happens
 *    exactly once: one kill, one state cleanup, one submission with the timestamp, then at the
 *    resume time one kill, one cleanup, one normal submission; both flags set once.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshMysqlDatabase, type TestDatabase } from '../support/databases.js';
import { startDaemonProcess, startSimulatorProcess, type DaemonProcess, type SimLine, type SimulatorProcess } from '../support/faults.js';
import { JAR, MAIN_CLASS, sleep, waitFor } from '../support/spark.js';

const MAX_BACKOFF_MS = 1_000;
/** Long enough for the restarted simulator (a `node --import tsx` start, seconds on a loaded machine) to be up before it ends. */
const GRACE_MS = 10_000;
const STATE_KEYS = ['checkpoint/metadata', 'checkpoint/offsets/0', 'checkpoint/commits/0', 'logs/_spark_metadata/0'];

describe('the Spark master dies in the middle of a submission and of a replay', () => {
  let tdb: TestDatabase;
  let dir: string;
  let store: string;
  let daemon: DaemonProcess;
  const sims: SimulatorProcess[] = [];
  let ports: { uiPort: number; restPort: number };

  const startSim = async (args: string[]) => {
    const sim = await startSimulatorProcess({ ...(ports ?? { uiPort: 0, restPort: 0 }), args });
    ports ??= { uiPort: sim.uiPort, restPort: sim.restPort };
    sims.push(sim);
    return sim;
  };
  const sparkCheck = async () => {
    const res = await daemon.request('GET', '/pipeline/health');
    expect(res.status).toBe(200);
    return (res.body.data.checks as { name: string; status: string; message?: string }[]).find((c) => c.name === 'spark')!;
  };
  const status = async () => (await daemon.request('GET', '/api/v1/spark/status')).body.data as Record<string, any>;
  const submissions = async () =>
    (await tdb.db('spark_submissions').where({ tenant: 'ABC' }).orderBy('id')).map((r: Record<string, unknown>) => ({
      id: String(r.submissionId),
      reason: String(r.reason),
      ts: r.startingOffsetsTimestamp === null ? null : Number(r.startingOffsetsTimestamp),
    }));
  const sparkRetries = (since: number) => daemon.events('stream.retrying').filter((e) => e.stream === 'spark' && e.time >= since);
  const startingOffsetsArg = (line: SimLine) => (line.appArgs ?? []).find((a) => a.startsWith('kafka.startingOffsetsTimestamp='));

  beforeAll(async () => {
    tdb = await freshMysqlDatabase('faults_spark');
    dir = mkdtempSync(join(tmpdir(), 'lw-faults-spark-'));
    store = join(dir, 'store');
    mkdirSync(store);
  }, 60_000);

  afterAll(async () => {
    if (daemon && !daemon.exited) await daemon.kill();
    for (const sim of sims) await sim.kill();
    await tdb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('mid-submission: the create the master died holding is not retried before the grace period, then submitted once', async () => {
    // The first create reaches the master, which never answers it: it is killed holding it.
    const simA = await startSim(['--hold-next', 'create']);
    const db = tdb.config;
    daemon = await startDaemonProcess({
      dir,
      config: `
http { port = 0, host = "127.0.0.1" }
database { client = mysql, host = "${db.host}", port = ${db.port}, user = "${db.user}", password = "${db.password}", database = "${db.database}", poolMax = 4 }
loop {
  sparkPollSeconds = 0.5
  submitGraceSeconds = ${GRACE_MS / 1000}
  discoverySeconds = 3600
  delaySampleSeconds = 3600
  backoff { minSeconds = 0.2, maxSeconds = ${MAX_BACKOFF_MS / 1000} }
}
tenants = [{
  name = "ABC"
  objectStore.local.path = "${store}"
  kafka { kafkaBrokersHost = "127.0.0.1", kafkaBrokerPort = 1 } # refused at once: the health answers fast
  spark {
    sparkMasterHost = "127.0.0.1"
    sparkMasterWebUiPort = ${ports.uiPort}
    sparkMasterRestPort = ${ports.restPort}
    sparkJarPath = "${JAR}"
    mainClass = "${MAIN_CLASS}"
  }
}]
`,
    });
    const held = await simA.waitForLine((l) => l.endpoint === 'create' && l.held === true, 'the first create to reach the master', 30_000);
    const createdAt = Date.parse(held.time!);
    const killedAt = Date.now(); // (the daemon may notice before the exit reaches this process)
    await simA.kill();

    const failed = await daemon.waitForEvent('spark.submit-failed', 'the create to fail');
    expect(String(failed.error)).toContain('the master may have started the driver');

    // ---- while the master is dead
    await daemon.waitForLine(() => sparkRetries(killedAt).length >= 2, 'two retries of the Spark stream', 15_000);
    expect((await sparkCheck()).status).toBe('DOWN');
    await waitFor(async () => (await status()).master.status === 'UNREACHABLE', 'the status to show the master unreachable', 5_000);
    expect(daemon.events('spark.submitted')).toEqual([]);
    // When the daemon sent the create whose answer never came (its grace period counts from there).
    const unanswered = (await status()).lastSubmission;
    expect(unanswered).toMatchObject({ submissionId: null, reason: 'keep-alive' });
    const unansweredAt = Date.parse(unanswered.at);

    // ---- the master is back (without the driver it may have started), before the grace period is over
    const simB = await startSim(['--kill-delay', '60000']);
    const backAt = simB.startedAt;
    // (Its first poll, within 2 × the maximum backoff, must fall inside the grace period for this test to mean anything.)
    expect(backAt, 'the restarted master came up too late').toBeLessThan(unansweredAt + GRACE_MS - 2 * MAX_BACKOFF_MS);
    const resumed = await daemon.waitForEvent('spark.polled', 'a poll of the restarted master', { since: backAt, timeoutMs: 10_000 });
    const resumeMs = resumed.time - backAt;
    expect(resumed.action).toBe('wait');

    // Exactly one submission, once the grace period is over.
    const create = await simB.waitForLine(
      (l) => l.endpoint === 'create' && typeof l.submissionId === 'string',
      'the submission after the grace period',
      GRACE_MS + 10_000,
    );
    const submittedAt = Date.parse(create.time!);
    const driverId = create.submissionId!;
    const retries = sparkRetries(killedAt);
    console.log(
      `faults-spark mid-submission: master dead ${backAt - killedAt} ms, ${retries.length} retries (delays ${retries.map((e) => e.delayMs).join(', ')} ms), ` +
        `first poll ${resumeMs} ms after it listened again (limit ${2 * MAX_BACKOFF_MS} ms), new create ${submittedAt - createdAt} ms after the unanswered one ` +
        `(grace ${GRACE_MS} ms)`,
    );
    expect(resumeMs).toBeLessThanOrEqual(2 * MAX_BACKOFF_MS);
    for (const e of retries) expect(Number(e.delayMs)).toBeLessThanOrEqual(MAX_BACKOFF_MS);
    expect(retries.map((e) => e.attempt)).toEqual(retries.map((_, i) => i + 1));
    expect(submittedAt).toBeGreaterThanOrEqual(unansweredAt + GRACE_MS);
    expect(daemon.events('spark.waiting').some((e) => String(e.reason).includes('no new submission before'))).toBe(true);

    const polled = daemon.events('spark.polled').length;
    await daemon.waitForLine(() => daemon.events('spark.polled').length >= polled + 6, 'six more polls', 15_000);
    expect(simB.requests('create')).toHaveLength(1);
    expect((await simB.state()).activedrivers.map((d) => [d.id, d.state])).toEqual([[driverId, 'RUNNING']]);
    expect(await submissions()).toEqual([{ id: driverId, reason: 'keep-alive', ts: null }]);
    expect((await sparkCheck()).status).toBe('UP');
    expect(daemon.exited).toBe(false);
  }, 90_000);

  it('mid-replay: the master dies while the daemon waits for the killed driver; every replay step happens exactly once', async () => {
    const simB = sims.at(-1)!;
    const [d1] = (await submissions()).map((s) => s.id);
    for (const key of STATE_KEYS) {
      mkdirSync(dirname(join(store, key)), { recursive: true });
      writeFileSync(join(store, key), key);
    }
    const startingOffsetsTimestamp = Date.now() - 3_600_000;
    const resumeAt = Date.now() + 14_000;
    const res = await daemon.request('POST', '/api/v1/spark/replay', { body: { startingOffsetsTimestamp, resumeToSubscribePatternTimestamp: resumeAt } });
    expect(res.status).toBe(200);
    const replayId = res.body.data.id as number;

    // The master accepts the kill (which takes it a minute to carry out); once the daemon has the
    // answer it waits for the driver to leave `activedrivers`, and the master dies meanwhile.
    await daemon.waitForEvent('spark.killed', 'the kill of the running driver', { pred: (e) => (e.submissionIds as string[]).includes(d1!) });
    expect(simB.requests('kill').map((l) => [l.path, l.status])).toEqual([[`/v1/submissions/kill/${d1}`, 200]]);
    const killedAt = Date.now();
    await simB.kill();
    await sleep(500);
    expect((await sparkCheck()).status).toBe('DOWN');
    expect(daemon.events('spark.state-cleaned')).toEqual([]);
    await sleep(1_000);
    expect(daemon.events('spark.state-cleaned')).toEqual([]);

    // ---- the master is back, without the killed driver: the replay goes on
    const simC = await startSim(['--kill-delay', '300']);
    const backAt = simC.startedAt;
    const replayCreate = await simC.waitForLine((l) => l.endpoint === 'create' && typeof l.submissionId === 'string', 'the replay submission', 15_000);
    const d2 = replayCreate.submissionId!;
    const resumeMs = Date.parse(replayCreate.time!) - backAt;
    expect(startingOffsetsArg(replayCreate)).toBe(`kafka.startingOffsetsTimestamp=${startingOffsetsTimestamp}`);
    await daemon.waitForEvent('spark.replay-started', 'the replay to be recorded as started');
    expect(STATE_KEYS.filter((k) => existsSync(join(store, k)))).toEqual([]);
    expect(existsSync(join(store, 'checkpoint')) ? readdirSync(join(store, 'checkpoint'), { recursive: true }) : []).toEqual([]);

    // The replay job writes new state; at the resume time it is killed, cleaned and resubmitted normally.
    for (const key of STATE_KEYS.slice(0, 2)) {
      mkdirSync(dirname(join(store, key)), { recursive: true });
      writeFileSync(join(store, key), key);
    }
    const resumed = await daemon.waitForEvent('spark.resumed', 'the resume', { timeoutMs: resumeAt - Date.now() + 20_000 });
    expect(resumed.time).toBeGreaterThanOrEqual(resumeAt);
    // (The simulator's own log of the requests may reach this process after the daemon's.)
    await simC.waitForLine(() => simC.requests('create').length >= 2, 'the simulator to log the resume submission', 5_000);
    const creates = simC.requests('create');
    expect(creates.map((l) => [l.submissionId === d2, startingOffsetsArg(l) ?? null])).toEqual([
      [true, `kafka.startingOffsetsTimestamp=${startingOffsetsTimestamp}`],
      [false, null],
    ]);
    const d3 = creates[1]!.submissionId!;
    expect(simC.requests('kill').map((l) => l.path)).toEqual([`/v1/submissions/kill/${d2}`]);

    // ---- and nothing more
    const polled = daemon.events('spark.polled').length;
    await daemon.waitForLine(() => daemon.events('spark.polled').length >= polled + 6, 'six more polls', 15_000);
    console.log(
      `faults-spark mid-replay: master dead ${backAt - killedAt} ms while the daemon waited for ${d1} to go; replay submission ${resumeMs} ms after the ` +
        `master listened again (limit ${2 * MAX_BACKOFF_MS} ms); kills ${simB.requests('kill').length}+${simC.requests('kill').length}, ` +
        `cleanups ${daemon.events('spark.state-cleaned').length}, creates ${simC.requests('create').length}`,
    );
    expect(resumeMs).toBeLessThanOrEqual(2 * MAX_BACKOFF_MS);
    expect(simB.requests('kill')).toHaveLength(1);
    expect(simC.requests('kill')).toHaveLength(1);
    expect(simC.requests('create')).toHaveLength(2);
    expect(daemon.events('spark.killed').map((e) => [e.submissionIds, e.reason])).toEqual([
      [[d1], 'replay-start'],
      [[d2], 'replay-resume'],
    ]);
    expect(daemon.events('spark.state-cleaned').map((e) => e.deleted)).toEqual([STATE_KEYS.length, 2]);
    expect(daemon.events('spark.replay-started').map((e) => e.replayId)).toEqual([replayId]);
    expect(daemon.events('spark.resumed').map((e) => e.replayId)).toEqual([replayId]);
    const row = await tdb.db('spark_submit_status').where({ id: replayId }).first();
    expect([Boolean(row.isSubmittedForOffsetsTimestamp), Boolean(row.isResumedToSubscribePattern)]).toEqual([true, true]);
    expect(await submissions()).toEqual([
      { id: d1, reason: 'keep-alive', ts: null },
      { id: d2, reason: 'replay-start', ts: startingOffsetsTimestamp },
      { id: d3, reason: 'replay-resume', ts: null },
    ]);
    expect((await simC.state()).activedrivers.map((d) => [d.id, d.state])).toEqual([[d3, 'RUNNING']]);

    // ---- the daemon never went down, and stops cleanly
    expect(daemon.exited).toBe(false);
    expect(daemon.lines.filter((l) => l.level === 'fatal')).toEqual([]);
    expect(await daemon.stop()).toBe(0);
  }, 90_000);
});
