/**
 * Timestamp-based reprocessing (SPEC §4.2, §4.3) against a REAL Spark 3.5 standalone master and
 * worker (a private cluster of this file, ports 32000–32007), with the state cleanup on the REAL
 * Ceph RGW. The job is `RunUntilKilled` (a driver without SparkContext that prints its
 * arguments), so the worker's driver logs show what each submission really launched.
 *
 * What must hold, each checked against what the master itself reports:
 *  - the replay kills the running driver, waits until the master no longer lists it in
 *    `activedrivers`, then deletes `checkpoint/` and `logs/_spark_metadata/` (and nothing
 *    else: look-alike keys outside them survive), then submits; the driver the worker
 *    launched carries `kafka.startingOffsetsTimestamp=<ts>` in its real command line;
 *  - at the resume time: kill, wait, clean, a normal submission (no timestamp);
 *  - each step exactly once (events, the master's driver list, the kill requests in its log),
 *    and never two drivers of the tenant alive at once (the master's `/json/` read every 50 ms);
 *  - the same with the daemon as a process SIGKILLed after the replay submission and started
 *    again on its SQLite file: the new process resumes once and does not redo the replay.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed, vi } from 'vitest';
import { startDaemonProcess, type DaemonLine, type DaemonProcess } from '../support/faults.js';
import {
  listObjects,
  sampleAlive,
  startRealOrchestrator,
  watchWorkerProcesses,
  type AliveSampler,
  type RealOrchestrator,
  type WorkerProcesses,
} from '../support/real-pipeline.js';
import { realSparkTenant, startPrivateSpark, type PrivateSpark, type RealMaster } from '../support/real-spark.js';
import {
  createTestBucket,
  emptyAndDeleteBucket,
  putObjects,
  s3TestAccessKeyId,
  s3TestEndpoint,
  s3TestRegion,
  s3TestSecretAccessKey,
  testS3Client,
} from '../support/s3.js';
import { waitFor } from '../support/spark.js';
import { partitionKey } from '../support/stores.js';

const BASE_PORT = 32000;
const STATE_KEYS = [
  'checkpoint/metadata',
  'checkpoint/offsets/0',
  'checkpoint/offsets/1',
  'checkpoint/commits/0',
  'checkpoint/sources/0/0',
  ...Array.from({ length: 20 }, (_, i) => `checkpoint/state/0/${i % 4}/${i + 1}.delta`),
  'logs/_spark_metadata/0',
  'logs/_spark_metadata/1',
  'logs/_spark_metadata/2.compact',
];
/** Outside the two folders (some only look alike): must survive every cleanup. */
const KEPT_KEYS = [
  partitionKey('prod', 'orders', 'api'),
  partitionKey('prod', 'orders', 'api', '2026-11-27T03:01:00Z'),
  partitionKey('dev', 'billing', 'worker'),
  'logs/env=prod/_spark_metadata/0',
  'logs/_spark_metadata_old/0',
  'checkpoints-backup/metadata',
  'checkpoint.txt',
];
/** What a replay job would write meanwhile (cleaned again at the resume). */
const REPLAY_STATE_KEYS = ['checkpoint/metadata', 'checkpoint/offsets/0', 'logs/_spark_metadata/0'];

/** Events of anything that failed: none is expected. */
const FAILURE_EVENTS: string[] = ['stream.retrying', 'command.failed', 'spark.submit-failed', 'spark.master-unreachable', 'spark.crashloop', 'spark.waiting'];

const keysOf = async (client: ReturnType<typeof testS3Client>, bucket: string) => (await listObjects(client, bucket)).map((o) => o.key);

/** `Asked to kill driver <id>` lines of the master's log (one per kill request it received). */
function killRequests(master: RealMaster, fromOffset: number): string[] {
  const file = join(master.env.SPARK_TEST_DIR!, 'log', 'master.log');
  if (!existsSync(file)) return [];
  return [
    ...readFileSync(file, 'utf8')
      .slice(fromOffset)
      .matchAll(/Asked to kill driver (driver-\S+)/g),
  ].map((m) => m[1]!);
}
function masterLogSize(master: RealMaster): number {
  const file = join(master.env.SPARK_TEST_DIR!, 'log', 'master.log');
  return existsSync(file) ? readFileSync(file, 'utf8').length : 0;
}

/** The driver's real arguments once its JVM runs (the worker's `Launch Command:` line and the app's own print of them). */
async function launched(master: RealMaster, id: string): Promise<{ command: string[]; stdout: string }> {
  await waitFor(
    () => master.launchCommand(id).length > 0 && master.driverStdout(id).includes('RunUntilKilled started'),
    `driver ${id} to run and print its arguments`,
    30_000,
    100,
  );
  return { command: master.launchCommand(id), stdout: master.driverStdout(id) };
}

describe('replay on a real Spark master with the state in Ceph', () => {
  let cluster: PrivateSpark;
  let master: RealMaster;
  let mainClass: string;
  const client = testS3Client();
  const buckets: string[] = [];
  let h: RealOrchestrator | undefined;
  let daemon: DaemonProcess | undefined;
  let sampler: AliveSampler | undefined;
  let procs: WorkerProcesses | undefined;
  let dir: string;

  beforeAll(async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3TestAccessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3TestSecretAccessKey);
    dir = mkdtempSync(join(tmpdir(), 'lw-real-replay-'));
    const t0 = Date.now();
    cluster = await startPrivateSpark({ basePort: BASE_PORT });
    master = cluster.master;
    mainClass = master.env.SPARK_TEST_MAIN_CLASS!;
    // A cluster left running by an earlier run may still run its drivers.
    await master.killAll(mainClass);
    procs = watchWorkerProcesses(master.workDir);
    console.log(`replay: private cluster ready in ${Date.now() - t0} ms`);
  });

  afterAll(async () => {
    await procs?.stop();
    if (procs) console.log(`replay: peak RSS of the driver JVMs ${procs.peak().mb} MB (${procs.peak().detail})`);
    await sampler?.stop();
    await h?.stop().catch(() => undefined);
    if (daemon && !daemon.exited) await daemon.kill();
    await master?.killAll(mainClass).catch(() => undefined);
    await cluster?.down();
    for (const b of buckets) await emptyAndDeleteBucket(b, client);
    client.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    vi.unstubAllEnvs();
  });

  // A failed test must not leave its daemon supervising the driver into the next one.
  afterEach(async () => {
    await sampler?.stop();
    sampler = undefined;
    await h?.stop().catch(() => undefined);
    h = undefined;
    if (daemon && !daemon.exited) await daemon.kill();
    daemon = undefined;
    await master?.killAll(mainClass).catch(() => undefined);
  });

  const newBucket = async (label: string) => {
    const bucket = await createTestBucket(label, client);
    buckets.push(bucket);
    await putObjects(client, bucket, [...STATE_KEYS, ...KEPT_KEYS], 16);
    return bucket;
  };
  const storeHocon = (bucket: string) => `objectStore.aws { region = "${s3TestRegion}", bucket = "${bucket}", endpointOverride = "${s3TestEndpoint}" }`;

  it('in-process daemon: kill, wait until gone, clean, submit with the timestamp, then resume; each once, never two alive', async () => {
    const t0 = Date.now();
    const bucket = await newBucket('real-replay');
    const known = new Set((await master.drivers()).map((d) => d.id));
    const logFrom = masterLogSize(master);
    sampler = sampleAlive(master, mainClass, { ignore: known });
    h = await startRealOrchestrator({
      tenants: [realSparkTenant(master, { store: storeHocon(bucket) })],
      loop: { sparkPollSeconds: 0.5, submitGraceSeconds: 30 },
    });
    const ev = h.eventsOf;
    const events = h.events;
    onTestFailed(async () => {
      console.log(
        `events:\n${events
          .filter((e) => e.type !== 'spark.polled')
          .map((e) => `${new Date(e.at).toISOString()} ${JSON.stringify(e)}`)
          .join('\n')}`,
      );
      console.log(`drivers: ${JSON.stringify((await master.drivers(mainClass)).map((d) => [d.id, d.state]))}`);
    });

    // ---- the keep-alive driver
    const first = await waitFor(() => ev('spark.submitted')[0], 'the keep-alive submission', 30_000);
    expect(first.purpose).toBe('keep-alive');
    const d1 = first.submissionId;
    const l1 = await launched(master, d1);
    expect(l1.command.some((a) => a.startsWith('kafka.startingOffsetsTimestamp='))).toBe(false);
    expect(l1.stdout).toContain('arg kafka.startingOffsets=latest');
    expect((await keysOf(client, bucket)).length).toBe(STATE_KEYS.length + KEPT_KEYS.length); // nothing cleaned for a keep-alive

    // ---- the replay
    const startingOffsetsTimestamp = Date.now() - 3_600_000;
    const resumeAt = Date.now() + 20_000;
    const requestedAt = Date.now();
    const res = await h.post('/api/v1/spark/replay', { startingOffsetsTimestamp, resumeToSubscribePatternTimestamp: resumeAt }, 'ABC');
    expect(res.status).toBe(200);
    const replayId = res.body.data.id as number;
    const started = await waitFor(() => ev('spark.replay-started')[0], 'the replay to start', 45_000, 50);
    expect(started).toMatchObject({ replayId, startingOffsetsTimestamp });
    const [killed1] = ev('spark.killed');
    const [cleaned1] = ev('spark.state-cleaned');
    const second = ev('spark.submitted')[1]!;
    expect(killed1).toMatchObject({ submissionIds: [d1], reason: 'replay-start' });
    expect(cleaned1!.deleted).toBe(STATE_KEYS.length);
    expect(second).toMatchObject({ purpose: 'replay-start', startingOffsetsTimestamp });
    const d2 = second.submissionId;
    // The master listed d1 in activedrivers until after the kill, and no longer when the state was cleaned.
    const d1LastActive = sampler.lastSeenActive(d1)!;
    expect(d1LastActive).toBeGreaterThanOrEqual(killed1!.at - 1_000);
    expect(cleaned1!.at).toBeGreaterThan(d1LastActive);
    // ... and the driver's JVM had exited.
    expect(procs!.lastSeen(d1)).toBeDefined();
    expect(cleaned1!.at).toBeGreaterThan(procs!.lastSeen(d1)!);
    expect(second.at).toBeGreaterThanOrEqual(cleaned1!.at);
    expect((await master.state()).completeddrivers.find((d) => d.id === d1)?.state).toBe('KILLED');
    // Only the two folders were emptied.
    expect(await keysOf(client, bucket)).toEqual([...KEPT_KEYS].sort());
    // What the worker really launched.
    const l2 = await launched(master, d2);
    expect(l2.command).toContain(`kafka.startingOffsetsTimestamp=${startingOffsetsTimestamp}`);
    expect(l2.stdout).toContain(`arg kafka.startingOffsetsTimestamp=${startingOffsetsTimestamp}`);
    const replayStartedMs = started.at - requestedAt;

    // ---- the replay job writes state of its own; at the resume time it is killed, cleaned and resubmitted normally
    await putObjects(client, bucket, REPLAY_STATE_KEYS, 4);
    const resumed = await waitFor(() => ev('spark.resumed')[0], 'the resume', resumeAt - Date.now() + 45_000, 50);
    expect(resumed.replayId).toBe(replayId);
    const killed2 = ev('spark.killed')[1]!;
    const cleaned2 = ev('spark.state-cleaned')[1]!;
    const third = ev('spark.submitted')[2]!;
    expect(killed2.at).toBeGreaterThanOrEqual(resumeAt);
    expect(killed2).toMatchObject({ submissionIds: [d2], reason: 'replay-resume' });
    expect(cleaned2.deleted).toBe(REPLAY_STATE_KEYS.length);
    expect(cleaned2.at).toBeGreaterThan(sampler.lastSeenActive(d2)!);
    expect(cleaned2.at).toBeGreaterThan(procs!.lastSeen(d2)!);
    expect(third.purpose).toBe('replay-resume');
    expect(third.startingOffsetsTimestamp).toBeUndefined();
    const d3 = third.submissionId;
    const l3 = await launched(master, d3);
    expect(l3.command.some((a) => a.startsWith('kafka.startingOffsetsTimestamp='))).toBe(false);
    expect(l3.stdout).toContain('arg kafka.startingOffsets=latest');
    expect(await keysOf(client, bucket)).toEqual([...KEPT_KEYS].sort());

    // ---- and nothing more, several polls later
    const polls = ev('spark.polled').length;
    await waitFor(() => ev('spark.polled').length >= polls + 6, 'six more polls', 15_000);
    expect(ev('spark.submitted').map((e) => [e.submissionId, e.purpose])).toEqual([
      [d1, 'keep-alive'],
      [d2, 'replay-start'],
      [d3, 'replay-resume'],
    ]);
    expect(ev('spark.killed').map((e) => [e.submissionIds, e.reason])).toEqual([
      [[d1], 'replay-start'],
      [[d2], 'replay-resume'],
    ]);
    expect(ev('spark.state-cleaned')).toHaveLength(2);
    expect(ev('spark.replay-started')).toHaveLength(1);
    expect(ev('spark.resumed')).toHaveLength(1);
    expect(h.events.filter((e) => FAILURE_EVENTS.includes(e.type))).toEqual([]);
    const ours = (await master.drivers(mainClass)).filter((d) => !known.has(d.id));
    expect(ours.map((d) => [d.id, d.state])).toEqual([
      [d1, 'KILLED'],
      [d2, 'KILLED'],
      [d3, 'RUNNING'],
    ]);
    expect(killRequests(master, logFrom)).toEqual([d1, d2]);
    const status = (await h.get('/api/v1/spark/status', 'ABC')).body.data;
    expect(status.replay).toMatchObject({ id: replayId, isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: true });
    expect(status.drivers.alive.map((d: { id: string }) => d.id)).toEqual([d3]);

    await h.stop();
    h = undefined;
    await sampler.stop();
    console.log(
      `replay in-process: ${sampler.samples} reads of /json/ (${sampler.errors} failed), most alive at once ${sampler.maxAlive}; ` +
        `replay started ${replayStartedMs} ms after the request, kill→clean ${cleaned1!.at - killed1!.at} ms (resume ${cleaned2.at - killed2.at} ms); ${Date.now() - t0} ms`,
    );
    expect(sampler.overlaps).toEqual([]);
    expect(sampler.maxAlive).toBe(1);
    sampler = undefined;
    await master.killAll(mainClass);
  }, 150_000);

  it('daemon as a process, SIGKILLed after the replay submission and restarted on its SQLite file: resumes once, never redoes the replay', async () => {
    const t0 = Date.now();
    const bucket = await newBucket('real-replay-restart');
    const known = new Set((await master.drivers()).map((d) => d.id));
    const logFrom = masterLogSize(master);
    sampler = sampleAlive(master, mainClass, { ignore: known });
    const config = `
http { port = 0, host = "127.0.0.1" }
database { client = sqlite, filename = "${dir}/daemon.sqlite" }
loop {
  sparkPollSeconds = 0.5
  submitGraceSeconds = 30
  discoverySeconds = 3600
  delaySampleSeconds = 3600
  backoff { minSeconds = 0.5, maxSeconds = 2 }
}
tenants = [${realSparkTenant(master, { store: storeHocon(bucket) })}]
`;
    const env = { AWS_ACCESS_KEY_ID: s3TestAccessKeyId, AWS_SECRET_ACCESS_KEY: s3TestSecretAccessKey };
    const a = await startDaemonProcess({ dir, config, env });
    daemon = a;
    let b: DaemonProcess | undefined;
    onTestFailed(async () => {
      for (const [name, d] of [
        ['first', a],
        ['restarted', b],
      ] as const) {
        if (!d) continue;
        const lines = d.lines.filter((l) => typeof l.event === 'string' && l.event !== 'spark.polled');
        console.log(`${name} daemon events:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
      }
      console.log(`drivers: ${JSON.stringify((await master.drivers(mainClass)).map((d) => [d.id, d.state]))}`);
    });
    const first = await a.waitForEvent('spark.submitted', 'the keep-alive submission', { timeoutMs: 30_000 });
    const d1 = String(first.submissionId);
    await launched(master, d1);

    const startingOffsetsTimestamp = Date.now() - 7_200_000;
    const resumeAt = Date.now() + 25_000;
    const res = await a.request('POST', '/api/v1/spark/replay', { body: { startingOffsetsTimestamp, resumeToSubscribePatternTimestamp: resumeAt } });
    expect(res.status).toBe(200);
    const replayId = res.body.data.id as number;
    await a.waitForEvent('spark.replay-started', 'the replay to start', { timeoutMs: 45_000 });
    const d2 = String(a.events('spark.submitted')[1]!.submissionId);
    // Crash right after the replay submission (its flag is written before the event is logged).
    await a.kill();
    daemon = undefined;
    expect(a.events('spark.submitted').map((e) => [e.submissionId, e.purpose, e.startingOffsetsTimestamp ?? null])).toEqual([
      [d1, 'keep-alive', null],
      [d2, 'replay-start', startingOffsetsTimestamp],
    ]);
    expect(a.events('spark.killed').map((e) => [e.submissionIds, e.reason])).toEqual([[[d1], 'replay-start']]);
    const [cleanedA] = a.events('spark.state-cleaned');
    expect(cleanedA!.deleted).toBe(STATE_KEYS.length);
    expect(cleanedA!.time).toBeGreaterThan(sampler.lastSeenActive(d1)!);
    expect(cleanedA!.time).toBeGreaterThan(procs!.lastSeen(d1)!);
    expect(await keysOf(client, bucket)).toEqual([...KEPT_KEYS].sort());
    const l2 = await launched(master, d2);
    expect(l2.command).toContain(`kafka.startingOffsetsTimestamp=${startingOffsetsTimestamp}`);
    await putObjects(client, bucket, REPLAY_STATE_KEYS, 4);

    // ---- the restarted daemon: nothing before the resume time, then the resume once
    b = await startDaemonProcess({ dir, config, env });
    daemon = b;
    const restartedAt = Date.now();
    await b.waitForEvent('spark.polled', 'a first poll of the restarted daemon', { timeoutMs: 30_000 });
    expect(Date.now(), 'the restarted daemon polled only after the resume time; the test shows nothing').toBeLessThan(resumeAt);
    const resumed = await b.waitForEvent('spark.resumed', 'the resume', { timeoutMs: resumeAt - Date.now() + 45_000 });
    expect(resumed.replayId).toBe(replayId);
    const polls = b.events('spark.polled').length;
    await b.waitForLine(() => b.events('spark.polled').length >= polls + 6, 'six more polls', 15_000);
    const kills = b.events('spark.killed');
    expect(kills.map((e) => [e.submissionIds, e.reason])).toEqual([[[d2], 'replay-resume']]);
    expect(kills[0]!.time).toBeGreaterThanOrEqual(resumeAt);
    const subs = b.events('spark.submitted');
    expect(subs.map((e) => [e.purpose, e.startingOffsetsTimestamp ?? null])).toEqual([['replay-resume', null]]);
    const d3 = String(subs[0]!.submissionId);
    const cleaned = b.events('spark.state-cleaned');
    expect(cleaned.map((e) => e.deleted)).toEqual([REPLAY_STATE_KEYS.length]);
    expect(cleaned[0]!.time).toBeGreaterThan(sampler.lastSeenActive(d2)!);
    expect(cleaned[0]!.time).toBeGreaterThan(procs!.lastSeen(d2)!);
    expect(b.events('spark.replay-started')).toEqual([]);
    expect(b.events('spark.resumed')).toHaveLength(1);
    expect([...a.events(), ...b.events()].filter((e) => FAILURE_EVENTS.includes(String(e.event)))).toEqual([]);
    const l3 = await launched(master, d3);
    expect(l3.command.some((x) => x.startsWith('kafka.startingOffsetsTimestamp='))).toBe(false);
    expect(await keysOf(client, bucket)).toEqual([...KEPT_KEYS].sort());
    const ours = (await master.drivers(mainClass)).filter((d) => !known.has(d.id));
    expect(ours.map((d) => [d.id, d.state])).toEqual([
      [d1, 'KILLED'],
      [d2, 'KILLED'],
      [d3, 'RUNNING'],
    ]);
    expect(killRequests(master, logFrom)).toEqual([d1, d2]);
    const status = (await b.request('GET', '/api/v1/spark/status')).body.data;
    expect(status.replay).toMatchObject({ id: replayId, isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: true });
    expect(status.drivers.alive.map((d: { id: string }) => d.id)).toEqual([d3]);
    expect(b.lines.filter((l: DaemonLine) => l.level === 'fatal' || l.level === 'error')).toEqual([]);
    expect(await b.stop()).toBe(0);
    daemon = undefined;

    await sampler.stop();
    console.log(
      `replay restart: daemon restarted ${restartedAt - t0} ms into the test, resumed ${resumed.time - resumeAt} ms after the resume time; ` +
        `${sampler.samples} reads of /json/, most alive at once ${sampler.maxAlive}; ${Date.now() - t0} ms`,
    );
    expect(sampler.overlaps).toEqual([]);
    expect(sampler.maxAlive).toBe(1);
    sampler = undefined;
    await master.killAll(mainClass);
  }, 150_000);
});
