/**
 * Fault test (real processes, real sockets): the Ceph RGW dies in the middle of a discovery sync.
 *
 * The daemon runs as its own process (`node --import tsx src/main.ts`) against a PRIVATE Ceph
 * cluster (its own ports and data dir, never the shared RGW on 7480), the shared MariaDB (a
 * database of its own) and the Spark master simulator. radosgw is frozen while a sync waits for
 * its listings, then SIGKILLed; later it is started again on the same monitor and OSD, so the
 * bucket is still there.
 *
 * What must hold (SPEC §4.1, §1, §3):
 *  - the sync in flight answers an error; the daemon stays up and keeps serving;
 *  - `/pipeline/health` shows the object store (`s3`) DOWN while radosgw is dead;
 *  - the discovery stream retries with backoff (delays capped at `loop.backoff.maxSeconds`);
 *  - no service row is deleted because of the outage (a failed listing deletes nothing);
 *  - once radosgw answers again, a tick's sync completes within 2 × the maximum backoff (plus
 *    the time a healthy sync takes), and `s3` is UP again.
 * (`s3` is the health check without a sample service: the store must answer a listing.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import { freshMysqlDatabase, type TestDatabase } from '../support/databases.js';
import { firstSuccess, startDaemonProcess, startPrivateCeph, type DaemonProcess, type HttpAnswer, type PrivateCeph } from '../support/faults.js';
import { putObjects, s3TestAccessKeyId, s3TestSecretAccessKey, uniqueBucketName } from '../support/s3.js';
import { sleep, sparkTenant } from '../support/spark.js';
import { partitionKey } from '../support/stores.js';

const MIN_BACKOFF_S = 0.2;
/**
 * Above the S3 store's own per-request retry pauses (up to 1.6 s with its defaults: each failing
 * sync attempt retries every listing 5 times in ~3 s), so that the bound below is the loop's.
 */
const MAX_BACKOFF_S = 2;
const MAX_BACKOFF_MS = MAX_BACKOFF_S * 1000;
const ENVS = ['prod', 'stag', 'dev'];
const SERVICES = 25;
const COMPONENTS = ['application', 'worker'];
const LAYOUT = ENVS.flatMap((env) => Array.from({ length: SERVICES }, (_, i) => COMPONENTS.map((c) => partitionKey(env, `svc-${i}`, c)))).flat();
const PARTITIONS = LAYOUT.length;

interface Row {
  id: number;
  env: string;
  serviceName: string;
  componentName: string;
  lastCheckedAt: Date;
}

/** A row without its lastCheckedAt (which every sync moves). */
const identities = (rs: Row[]) => rs.map(({ lastCheckedAt: _, ...r }) => r);

describe('the Ceph RGW dies in the middle of a discovery sync', () => {
  let ceph: PrivateCeph;
  let bucket: string;
  let tdb: TestDatabase;
  let sim: SparkMasterSimulator;
  let dir: string;
  let daemon: DaemonProcess;

  const rows = async (): Promise<Row[]> =>
    (await tdb.db('service_details').where({ tenant: 'ABC' }).orderBy('id')).map((r: Record<string, unknown>) => ({
      id: Number(r.id),
      env: String(r.env),
      serviceName: String(r.serviceName),
      componentName: String(r.componentName),
      lastCheckedAt: r.lastCheckedAt as Date,
    }));
  const s3Check = async () => {
    const res = await daemon.request('GET', '/pipeline/health');
    expect(res.status).toBe(200);
    return (res.body.data.checks as { name: string; status: string; message?: string }[]).find((c) => c.name === 's3')!;
  };
  const sync = () => daemon.request('POST', '/api/v1/component/sync?componentType=application');

  beforeAll(async () => {
    ceph = await startPrivateCeph();
    bucket = uniqueBucketName('faults-s3');
    await ceph.client.send(new CreateBucketCommand({ Bucket: bucket }));
    await putObjects(ceph.client, bucket, LAYOUT, 32);
    tdb = await freshMysqlDatabase('faults_s3');
    sim = new SparkMasterSimulator();
    await sim.start();
    dir = mkdtempSync(join(tmpdir(), 'lw-faults-s3-'));
    const db = tdb.config;
    daemon = await startDaemonProcess({
      dir,
      env: { AWS_ACCESS_KEY_ID: s3TestAccessKeyId, AWS_SECRET_ACCESS_KEY: s3TestSecretAccessKey },
      config: `
http { port = 0, host = "127.0.0.1" }
database { client = mysql, host = "${db.host}", port = ${db.port}, user = "${db.user}", password = "${db.password}", database = "${db.database}", poolMax = 4 }
loop {
  sparkPollSeconds = 1
  discoverySeconds = 2
  delaySampleSeconds = 3600
  submitGraceSeconds = 5
  backoff { minSeconds = ${MIN_BACKOFF_S}, maxSeconds = ${MAX_BACKOFF_S} }
}
tenants = [${sparkTenant(sim, { store: ceph.hocon(bucket) })}]
`,
    });
  }, 180_000);

  afterAll(async () => {
    if (daemon && !daemon.exited) await daemon.kill();
    await sim?.stop();
    await tdb?.drop();
    if (ceph) {
      try {
        ceph.resumeRgw();
      } catch {
        // radosgw is not running
      }
      // The whole private cluster goes, its bucket with it.
      await ceph.stop();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('answers the sync in flight with an error, shows s3 DOWN, deletes nothing, retries with backoff and resumes once radosgw is back', async () => {
    // ---- healthy: the first tick onboards every partition; two more syncs give the time a healthy sync takes
    await daemon.waitForEvent('discovery.synced', 'the first sync', { timeoutMs: 30_000, pred: (l) => l.onboarded === PARTITIONS });
    const before = await rows();
    expect(before).toHaveLength(PARTITIONS);
    let healthySyncMs = 0;
    for (let i = 0; i < 2; i++) {
      const res = await sync();
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ success: true, onboarded: 0, removed: 0 });
    }
    // (The first sync, cold and inserting every row, is left out.)
    for (const e of daemon.events('discovery.synced').slice(1)) healthySyncMs = Math.max(healthySyncMs, Number(e.durationMs));
    expect((await s3Check()).status).toBe('UP');

    // ---- radosgw is frozen while a sync waits for its listings, then killed. A sync that got
    // all its answers before the freeze is not "in the middle": try again, freezing earlier.
    let answer: Promise<HttpAnswer> | undefined;
    let killedAt = 0;
    let frozeAfterMs = 0;
    for (const fraction of [0.4, 0.2, 0]) {
      let settled = false;
      const pending = sync();
      pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      frozeAfterMs = Math.round(healthySyncMs * fraction);
      await sleep(frozeAfterMs);
      ceph.pauseRgw();
      await sleep(300); // an answer already on its way is delivered; none can come after
      if (!settled) {
        killedAt = Date.now();
        await ceph.killRgw();
        answer = pending;
        break;
      }
      ceph.resumeRgw();
      await pending;
    }
    expect(answer, 'radosgw was never frozen while a sync waited for it').toBeDefined();

    const failed = await answer!;
    expect(failed.status).toBe(502);
    expect(failed.body.error).toMatchObject({ code: 'OBJECT_STORE_ERROR' });
    expect(String(failed.body.error.message)).toContain(bucket);

    // ---- while radosgw is dead: s3 DOWN, the daemon serves, the stream backs off, nothing is deleted
    const down = await s3Check();
    expect(down.status).toBe('DOWN');
    expect((await daemon.request('GET', '/healthcheck')).status).toBe(200);
    const retrying = () => daemon.events('stream.retrying').filter((e) => e.stream === 'discovery' && e.time >= killedAt);
    await daemon.waitForLine(() => retrying().length >= 2, 'two retries of the discovery stream', 30_000);
    for (const e of retrying()) expect(Number(e.delayMs)).toBeLessThanOrEqual(MAX_BACKOFF_MS);
    expect(retrying().map((e) => e.attempt)).toEqual(retrying().map((_, i) => i + 1));
    expect(daemon.events('discovery.failed').filter((e) => e.time >= killedAt).length).toBeGreaterThanOrEqual(2);
    expect(identities(await rows())).toEqual(identities(before));
    expect(daemon.exited).toBe(false);

    // ---- radosgw is back on the same cluster: a tick's sync completes within 2 × the maximum backoff
    const restarted = ceph.restartRgw();
    const backAt = await firstSuccess(() => ceph.answers(500), 'radosgw to answer again', 60_000);
    await restarted;
    const resumed = await daemon.waitForEvent('discovery.synced', 'a sync after radosgw is back', { since: backAt, timeoutMs: 20_000 });
    const resumeMs = resumed.time - backAt;
    const outageMs = backAt - killedAt;
    console.log(
      `faults-s3-sync: froze radosgw ${frozeAfterMs} ms into a sync (healthy sync ${healthySyncMs} ms), outage ${outageMs} ms, ` +
        `${retrying().length} retries (delays ${retrying()
          .map((e) => e.delayMs)
          .join(', ')} ms), resumed ${resumeMs} ms after radosgw answered ` +
        `(limit ${2 * MAX_BACKOFF_MS} + ${healthySyncMs} ms), rows ${before.length} before / ${(await rows()).length} after`,
    );
    expect(resumeMs).toBeLessThanOrEqual(2 * MAX_BACKOFF_MS + healthySyncMs);
    expect(resumed).toMatchObject({ onboarded: 0, removed: 0, present: PARTITIONS });

    // ---- nothing lost: the same rows (same ids), each checked again after the outage
    const after = await rows();
    expect(identities(after)).toEqual(identities(before));
    for (const r of after) expect(r.lastCheckedAt.getTime()).toBeGreaterThanOrEqual(Math.floor(killedAt / 1000) * 1000);
    expect(daemon.events('discovery.removed')).toEqual([]);
    expect(daemon.events('discovery.guarded')).toEqual([]);
    expect((await s3Check()).status).toBe('UP');
    const ok = await sync();
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ success: true, onboarded: 0, removed: 0 });

    // ---- the daemon never went down, and stops cleanly
    expect(daemon.exited).toBe(false);
    // The one error line is the HTTP layer's report of the failed sync request.
    expect(daemon.lines.filter((l) => l.level === 'fatal' || l.level === 'error').map((l) => `${l.msg} ${l.path ?? ''}`)).toEqual([
      'request failed /api/v1/component/sync',
    ]);
    expect(await daemon.stop()).toBe(0);
  }, 120_000);
});
