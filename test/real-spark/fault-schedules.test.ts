/**
 * Fault schedules on a REAL Spark 3.5 standalone cluster, checked by the oracle of the
 * simulator's randomized schedules (test/support/fault-oracle.ts, rules listed there).
 *
 * Ports 30000–30011: the private cluster of this file on 30000–30003 (master, web UI, REST,
 * worker UI), and on 30011 a recording proxy in front of the master's REST server, through which
 * the daemon sends its creates and kills (its `/json/` reads go to the master directly). The
 * proxy reads the master's `/json/` right before it forwards each create or kill (what the
 * master listed when it handled it), forwards it, and records the master's answer even when the
 * client has given up: the oracle sees every create and kill the master served.
 *
 * The daemon's side is the real command queue: a `TenantLoop` with the tenant's Spark stream,
 * one `loop.dispatch('monitor', {})` a second (its own ticks never fire). Its clock is the wall
 * clock read at the start of each poll and held during it, so the oracle and the daemon agree on
 * whether a replay step was due at a poll.
 *
 * Faults made real: a driver killed from outside (a REST kill by another client → KILLED), the
 * worker SIGKILLed (the master retires the supervised driver as RELAUNCHING and launches a
 * replacement under a new id; the worker is started again), the master SIGSTOPped for a few
 * seconds (the daemon's calls time out), also right when a create reaches it (the master carries
 * the create out after SIGCONT, the client timed out long before: an ambiguous create), and a
 * replay. On real Spark a supervised driver that exits non-zero is restarted in place and never
 * shows FAILED, so a death here is a kill from outside.
 *
 * Besides the oracle, a sampler reads `/json/` every 150 ms: never two alive drivers of the class.
 */
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drivenSparkLoop } from '../support/spark-stream.js';
import { parseConfig } from '../../src/config/load.js';
import type { TenantConfig } from '../../src/config/schema.js';
import { SparkSubmissionsRepository } from '../../src/db/spark-submissions.js';
import { SparkSubmitStatusRepository } from '../../src/db/spark-submit-status.js';
import { LocalObjectStore } from '../../src/objectstore/local-object-store.js';
import { SparkMasterClient } from '../../src/spark/master-client.js';
import type { SparkRunResult } from '../../streams/commands.js';
import { freshSqliteDatabase, type TestDatabase } from '../support/databases.js';
import { FaultOracle, type OracleDriver } from '../support/fault-oracle.js';
import {
  AliveSampler,
  killDriverJvms,
  realSparkTenant,
  startPrivateSpark,
  type MasterDriver,
  type MasterState,
  type PrivateSpark,
  type RealMaster,
} from '../support/real-spark.js';
import { sleep, waitFor } from '../support/spark.js';

const BASE_PORT = 30000; // master 30000, web UI 30001, REST 30002, worker UI 30003 (30004–30007 reserved by startPrivateSpark for HA)
const PROXY_REST_PORT = 30011;
const POLL_MS = 1_000;
const GRACE_MS = 6_000;
const CLIENT_TIMEOUT_MS = 1_500;
const CRASH_LOOP = { threshold: 5, windowMs: 10 * 60_000, baseBackoffMs: 30_000, maxBackoffMs: 10 * 60_000, stableMs: 5 * 60_000 };
const NEVER_MS = 1_000_000_000;
/**
 * How long the master stays SIGSTOPped once a create reached it: longer than the client's
 * timeout (the create's answer is lost), well shorter than the grace period, so that the outcome
 * does not hang on which the master serves first after SIGCONT, the queued create or the daemon's
 * next `/json/` read once the grace period is over (with a 6 s stop it served the create first
 * in 3 tries out of 3). A 3 s grace left 0.5 s after SIGCONT: too little on a loaded machine,
 * where the next poll came after it once (a second create beside the queued one).
 */
const STOP_AT_CREATE_MS = 2_500;

const isAlive = (d: MasterDriver) => d.state === 'SUBMITTED' || d.state === 'RUNNING';
const toOracle = (d: MasterDriver): OracleDriver => ({ id: d.id, mainClass: d.mainclass, startTime: Number(d.starttime) });

interface Schedule {
  name: string;
  run(s: ScheduleContext): Promise<void>;
}

interface ScheduleContext {
  /** One poll through the loop (at least POLL_MS after the last one started). */
  poll(): Promise<SparkRunResult | Error>;
  /** Polls until `condition` holds (checked after each poll), at most `timeoutMs`. */
  pollUntil(what: string, condition: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
  polls(n: number): Promise<void>;
  /** The tenant's one alive driver, RUNNING and its JVM up. */
  runningDriver(): Promise<MasterDriver>;
  killFromOutside(id: string): Promise<void>;
  loseWorker(): Promise<void>;
  restartWorker(): Promise<void>;
  /** SIGSTOP the master now for `ms`, polling meanwhile. */
  stopMaster(ms: number): Promise<void>;
  /** SIGSTOP the master when the next create reaches the proxy, before it is forwarded; SIGCONT after `ms`. */
  stopMasterAtNextCreate(ms: number): void;
  /** SIGKILL the worker as soon as the master accepted the daemon's next kill (before the daemon gets the answer). */
  loseWorkerAtNextKill(): void;
  replay(startInMs: number, resumeAfterMs: number): Promise<void>;
  oracle: FaultOracle;
  note(line: string): void;
}

describe('fault schedules on a real Spark cluster, checked by the oracle', () => {
  let spark: PrivateSpark;
  let master: RealMaster;
  let mainClass: string;
  let db: TestDatabase;
  let dir: string;
  let store: LocalObjectStore;
  let proxy: RecordingProxy;
  let client: SparkMasterClient;
  let scheduleIndex = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    spark = await startPrivateSpark({ basePort: BASE_PORT });
    master = spark.master;
    mainClass = master.env.SPARK_TEST_MAIN_CLASS!;
    await master.killAll(); // a driver left by an earlier run would be adopted
    dir = mkdtempSync(join(tmpdir(), 'lw-real-faults-'));
    store = new LocalObjectStore({ path: join(dir, 'store') });
    db = await freshSqliteDatabase();
    proxy = await RecordingProxy.start(PROXY_REST_PORT, master);
    client = new SparkMasterClient({ hosts: [master.host], webUiPort: master.uiPort, restPort: PROXY_REST_PORT, timeoutMs: CLIENT_TIMEOUT_MS });
    console.log(`real fault schedules: private cluster ready in ${Date.now() - t0} ms`);
  });

  afterAll(async () => {
    await client?.close();
    await proxy?.close();
    if (master) {
      sigcont(master); // never leave it stopped
      await master.killAll().catch(() => undefined);
    }
    await spark?.down();
    if (master) killDriverJvms(master);
    await db?.drop();
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const runSchedule = async (schedule: Schedule) => {
    await spark.up(); // a worker killed by an earlier schedule that failed half-way
    await master.killAll(mainClass);
    const name = `R${scheduleIndex++}`;
    const config = await parseConfig(`tenants = [${realSparkTenant(master, { name, store: `objectStore.local.path = "${join(dir, 'store')}"` })}]`);
    const tenant: TenantConfig = config.tenants[0]!;
    let clock = Date.now();
    const t0 = clock;
    const time = (at: number) => `t+${((at - t0) / 1000).toFixed(1)}s`;
    const oracle = new FaultOracle({ mainClass, shared: false, submitGraceMs: GRACE_MS, crashLoop: CRASH_LOOP, time });
    const log: string[] = [];
    const note = (line: string) => log.push(`${time(Date.now())} ${line}`);
    let oracleSeen = 0;
    const flushOracle = () => {
      for (const line of oracle.log.slice(oracleSeen)) log.push(`${time(Date.now())}   oracle: ${line}`);
      oracleSeen = oracle.log.length;
    };
    const fail = (why: string): never => {
      flushOracle();
      throw new Error(`${why}\nreal schedule "${schedule.name}":\n  ${log.join('\n  ')}`);
    };
    /** Ids killed by anyone (the daemon through the proxy, or the test from outside): while listed, they are "being killed". */
    const killed = new Set<string>();
    const aliveNotKilled = (s: MasterState) => s.activedrivers.filter((d) => isAlive(d) && !killed.has(d.id)).map(toOracle);

    proxy.observer = {
      at: () => clock,
      create: (r) => {
        const before = r.before ? aliveNotKilled(r.before).filter((d) => d.id !== r.driverId) : undefined;
        oracle.create({
          at: r.at,
          driverId: r.driverId,
          answer: r.lost ? 'lost' : r.status === 200 && r.driverId !== null ? 'ok' : 'error',
          status: r.lost ? 0 : r.status,
          faulted: r.lost,
          ...(r.body?.appArgs ? { appArgs: r.body.appArgs } : {}),
          ...(r.body?.sparkProperties ? { sparkProperties: r.body.sparkProperties } : {}),
          ...(r.before ? { masterStatus: r.before.status } : {}),
          ...(before ? { aliveBefore: before } : {}),
          ...(r.before ? { killedStillActive: r.before.activedrivers.filter((d) => killed.has(d.id)).map((d) => d.id) } : {}),
        });
        if (r.before) oracle.observeAlive(aliveNotKilled(r.before), 'before a create');
        flushOracle();
      },
      kill: (r) => {
        const s = r.before;
        const target = s ? [...s.activedrivers, ...s.completeddrivers].find((d) => d.id === r.id) : undefined;
        const targetAlive = s !== undefined && s.activedrivers.some((d) => d.id === r.id && isAlive(d)) && !killed.has(r.id);
        killed.add(r.id);
        oracle.kill({ at: r.at, id: r.id, target: target && toOracle(target), targetAlive, others: s ? aliveNotKilled(s).filter((d) => d.id !== r.id) : [] });
        flushOracle();
      },
    };

    const driven = drivenSparkLoop({
      tenant: name,
      now: () => clock,
      backoffMs: POLL_MS,
      deps: {
        tenant,
        master: client,
        store,
        replays: new SparkSubmitStatusRepository(db.db),
        submissions: new SparkSubmissionsRepository(db.db),
        otherTenantMainClasses: [],
        soleWriter: true,
        intervalMs: NEVER_MS,
        submitGraceMs: GRACE_MS,
        crashLoop: CRASH_LOOP,
        killWait: { timeoutMs: 30_000, pollMs: 250 },
      },
    });
    const { loop, events } = driven;
    const sampler = new AliveSampler(master, mainClass);
    let dispatched = 0;
    let lastPollStart = 0;

    const poll = async (): Promise<SparkRunResult | Error> => {
      await sleep(Math.max(0, lastPollStart + POLL_MS - Date.now()));
      lastPollStart = Date.now();
      clock = lastPollStart; // held during the poll: the daemon's `now` and the oracle's `at`
      dispatched++;
      let out: SparkRunResult | Error;
      try {
        out = await loop.dispatch('monitor', {});
        note(`poll: ${out.action}${out.submissionId ? ` → ${out.submissionId}` : ''}`);
      } catch (err) {
        out = err as Error;
        note(`poll failed: ${out.message.slice(0, 160)}`);
      }
      flushOracle();
      if (oracle.violations.length > 0) fail(oracle.violations[0]!);
      return out;
    };
    const pollUntil = async (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await poll();
        if (await condition()) return;
        if (Date.now() > deadline) fail(`timed out after ${timeoutMs} ms polling until ${what}`);
      }
    };
    const ownedAlive = async () => (await master.state()).activedrivers.filter((d) => isAlive(d) && d.mainclass === mainClass && !killed.has(d.id));

    const ctx: ScheduleContext = {
      oracle,
      note,
      poll,
      pollUntil,
      polls: async (n) => {
        for (let i = 0; i < n; i++) await poll();
      },
      runningDriver: async () => {
        let driver: MasterDriver | undefined;
        await pollUntil('one driver of the tenant RUNNING with its JVM up', async () => {
          const alive = await ownedAlive();
          driver = alive.length === 1 && alive[0]!.state === 'RUNNING' && master.driverStdout(alive[0]!.id).includes('RunUntilKilled') ? alive[0] : undefined;
          return driver !== undefined;
        });
        return driver!;
      },
      killFromOutside: async (id) => {
        const before = aliveNotKilled(await master.state());
        const res = await master.kill(id);
        if (res.body.success !== true) fail(`the outside kill of ${id} was refused: ${res.text}`);
        killed.add(id);
        oracle.fault(
          Date.now(),
          'outside-kill',
          `kill of ${id} by another client (REST)`,
          before,
          before.filter((d) => d.id !== id),
        );
        flushOracle();
      },
      loseWorker: async () => {
        const s = await master.state();
        const before = aliveNotKilled(s);
        const on = s.activedrivers.filter((d) => isAlive(d) && d.worker !== 'None').map((d) => d.id);
        await spark.killWorker();
        // Lost at once (RPC disconnect): each supervised driver RELAUNCHING, its replacement SUBMITTED.
        const after = await waitFor(
          async () => {
            const st = await master.state();
            return on.every((id) => st.completeddrivers.some((d) => d.id === id && d.state === 'RELAUNCHING')) ? st : undefined;
          },
          'the master to relaunch the drivers of the lost worker',
          30_000,
          100,
        );
        const replacements = after.activedrivers.filter((d) => isAlive(d) && !before.some((b) => b.id === d.id)).map((d) => d.id);
        oracle.fault(
          Date.now(),
          'worker-loss',
          `worker SIGKILLed under ${on.join(', ') || 'no driver'} (replacements ${replacements.join(', ') || 'none'})`,
          before,
          aliveNotKilled(after),
          on,
        );
        flushOracle();
      },
      restartWorker: async () => {
        await spark.up();
        note('worker started again');
      },
      stopMaster: async (ms) => {
        const until = Date.now() + ms;
        sigstop(master);
        note(`master SIGSTOPped for ${ms} ms`);
        try {
          while (Date.now() < until) await poll();
        } finally {
          sigcont(master);
          note('master SIGCONTed');
        }
      },
      stopMasterAtNextCreate: (ms) => {
        proxy.beforeNextCreate = async () => {
          sigstop(master);
          note(`master SIGSTOPped as a create reached it, for ${ms} ms`);
          setTimeout(() => {
            sigcont(master);
            note('master SIGCONTed');
          }, ms);
        };
      },
      loseWorkerAtNextKill: () => {
        proxy.afterNextKill = async (id) => {
          const s = await master.state();
          const before = aliveNotKilled(s);
          const on = s.activedrivers.filter((d) => isAlive(d) && d.worker !== 'None').map((d) => d.id);
          await spark.killWorker();
          note(`worker SIGKILLed right after the daemon's kill of ${id} reached the master`);
          // Lost at once: a driver the worker had not reported KILLED yet is relaunched under a new id.
          const after = await waitFor(
            async () => {
              const st = await master.state();
              return on.every((x) => st.completeddrivers.some((d) => d.id === x)) ? st : undefined;
            },
            'the drivers of the lost worker to leave activedrivers',
            30_000,
            100,
          );
          const relaunched = on.filter((x) => after.completeddrivers.some((d) => d.id === x && d.state === 'RELAUNCHING'));
          const fresh = after.activedrivers.filter((d) => isAlive(d) && !s.activedrivers.some((b) => b.id === d.id));
          relaunched.forEach((x, n) => {
            const r = fresh[n];
            if (r) oracle.relaunch({ id: x, mainClass }, r.id);
          });
          oracle.fault(
            Date.now(),
            'worker-loss',
            `worker SIGKILLed during the kill of ${id} (${on.map((x) => `${x} ${after.completeddrivers.find((d) => d.id === x)?.state}`).join(', ')}; replacements ${fresh.map((d) => d.id).join(', ') || 'none'})`,
            before,
            aliveNotKilled(after),
            relaunched,
          );
          flushOracle();
        };
      },
      replay: async (startInMs, resumeAfterMs) => {
        const startAt = Date.now() + startInMs;
        const resumeAt = startAt + resumeAfterMs;
        const row = await loop.dispatch('replay', { startingOffsetsTimestamp: startAt, resumeToSubscribePatternTimestamp: resumeAt });
        oracle.planReplay({ id: row.id, startingOffsetsTimestamp: startAt, resumeAt });
        flushOracle();
      },
    };

    try {
      oracle.start(Date.now(), aliveNotKilled(await master.state()));
      flushOracle();
      await schedule.run(ctx);
      // The end: a few quiet polls, then the oracle's end rules.
      await ctx.polls(2);
      oracle.finish(aliveNotKilled(await master.state()));
      flushOracle();
      if (oracle.violations.length > 0) fail(oracle.violations[0]!);
      await sampler.stop();
      if (sampler.maxAlive() > 1) fail(`the sampler saw ${sampler.maxAlive()} alive drivers of the class at once`);
      const runs = events.filter((e) => e.type === 'spark.polled' || e.type === 'spark.master-unreachable').length;
      if (runs !== dispatched) fail(`${runs} runs of the Spark stream for ${dispatched} monitor commands: a tick fired by itself`);
      const s = oracle.summary;
      console.log(
        `real schedule "${schedule.name}": ${s.started} drivers started = ${s.needs} needs + ${s.replaySteps} replay steps − ${s.merges} merges; ${s.kills} kills; ${dispatched} polls\n  ${log.join('\n  ')}`,
      );
      return s;
    } finally {
      sigcont(master);
      proxy.observer = null;
      proxy.beforeNextCreate = null;
      proxy.afterNextKill = null;
      await sampler.stop();
      await driven.stop();
    }
  };

  it('a driver killed from outside is replaced once; a create the master carries out after a SIGSTOP is not repeated', async () => {
    const s = await runSchedule({
      name: 'outside kill, then a create caught by a SIGSTOP',
      run: async (c) => {
        const first = await c.runningDriver();
        await c.polls(2);
        c.stopMasterAtNextCreate(STOP_AT_CREATE_MS);
        await c.killFromOutside(first.id);
        await c.pollUntil('the replacement', () => !c.oracle.needOutstanding);
        await c.runningDriver();
        await c.polls(3);
      },
    });
    expect(s).toMatchObject({ needs: 2, started: 2, ambiguousStarted: 1, kills: 0 });
  });

  it('worker SIGKILLed: the relaunched driver is adopted, nothing submitted, the worker comes back', async () => {
    const s = await runSchedule({
      name: 'worker SIGKILL and restart',
      run: async (c) => {
        await c.runningDriver();
        await c.loseWorker();
        await c.polls(3);
        await c.restartWorker();
        await c.runningDriver();
        await c.polls(2);
      },
    });
    expect(s).toMatchObject({ needs: 1, started: 1, kills: 0 });
  });

  it('master SIGSTOPped with a healthy driver and with none: no action while it is stopped, one submission after', async () => {
    const s = await runSchedule({
      name: 'master SIGSTOP, twice',
      run: async (c) => {
        const first = await c.runningDriver();
        await c.stopMaster(4_000);
        await c.polls(2);
        await c.killFromOutside(first.id);
        await c.stopMaster(3_000);
        await c.runningDriver();
        await c.polls(2);
      },
    });
    expect(s).toMatchObject({ needs: 2, started: 2, kills: 0 });
  });

  it('replay: killed, started from the timestamp, continued after a kill from outside, resumed through a SIGSTOP', async () => {
    const s = await runSchedule({
      name: 'replay with an outside kill and a SIGSTOP at the resume',
      run: async (c) => {
        await c.runningDriver();
        await c.replay(2_000, 16_000); // room for the start, a kill from outside and the continued driver before the resume
        await c.pollUntil('the replay start', () => c.oracle.replayState?.startedAt !== null);
        const replaying = await c.runningDriver();
        await c.killFromOutside(replaying.id);
        await c.pollUntil('the replay continued', () => !c.oracle.needOutstanding);
        c.stopMasterAtNextCreate(STOP_AT_CREATE_MS);
        await c.pollUntil('the resume', () => c.oracle.replayState?.resumedAt !== null, 40_000);
        await c.runningDriver();
      },
    });
    expect(s).toMatchObject({ needs: 2, replaySteps: 2, merges: 0, started: 4, replayContinues: 1, replayKills: 2 });
  });

  // A product bug the simulator's schedules found, made real (fixed): the worker dies while the
  // daemon's replay kill is pending and the master relaunches the driver under a new id; the
  // daemon cleans and submits nothing while the relaunch lives, adopts it, kills it, and only
  // then submits the replay driver.
  it('the worker lost during the replay kill: the relaunched driver is adopted and killed before the replay driver starts', async () => {
    await runSchedule({
      name: 'worker SIGKILL during the replay kill',
      run: async (c) => {
        await c.runningDriver();
        c.loseWorkerAtNextKill();
        await c.replay(1_000, 15_000);
        await c.pollUntil('the replay start', () => c.oracle.replayState?.startedAt !== null, 60_000);
        await c.restartWorker();
        await c.pollUntil('the resume', () => c.oracle.replayState?.resumedAt !== null, 40_000);
        await c.runningDriver();
      },
    });
  });
});

// ---------------------------------------------------------------- the master's process

function masterPid(master: RealMaster): number {
  return Number(readFileSync(join(master.env.SPARK_TEST_RUN_DIR!, 'master.pid'), 'utf8').trim());
}
function sigstop(master: RealMaster): void {
  process.kill(masterPid(master), 'SIGSTOP');
}
function sigcont(master: RealMaster): void {
  try {
    process.kill(masterPid(master), 'SIGCONT');
  } catch {
    // not running
  }
}

// ---------------------------------------------------------------- the recording proxy

interface ProxiedCreate {
  at: number;
  status: number;
  lost: boolean;
  driverId: string | null;
  body: { appArgs?: string[]; sparkProperties?: Record<string, string> } | undefined;
  /** The master's `/json/` right before the create was forwarded (undefined when it did not answer). */
  before: MasterState | undefined;
}
interface ProxiedKill {
  at: number;
  id: string;
  before: MasterState | undefined;
}
interface ProxyObserver {
  /** The time a request is stamped with when it arrives (the poll's clock). */
  at(): number;
  create(r: ProxiedCreate): void;
  kill(r: ProxiedKill): void;
}

/**
 * Forwards the daemon's REST calls to the master; for each create and kill, reads the master's
 * `/json/` first and reports the master's answer once it came, even when the client has gone.
 */
class RecordingProxy {
  observer: ProxyObserver | null = null;
  beforeNextCreate: (() => Promise<void>) | null = null;
  afterNextKill: ((id: string) => Promise<void>) | null = null;
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(
    private readonly server: http.Server,
    private readonly master: RealMaster,
  ) {}

  static async start(port: number, master: RealMaster): Promise<RecordingProxy> {
    let proxy: RecordingProxy | undefined;
    const server = http.createServer((req, res) => void proxy!.handle(req, res));
    proxy = new RecordingProxy(server, master);
    server.on('connection', (s) => {
      proxy!.sockets.add(s);
      s.on('close', () => proxy!.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, master.host, resolve));
    return proxy;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = this.observer?.at() ?? Date.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let clientGone = false;
    res.on('close', () => {
      if (!res.writableFinished) clientGone = true;
    });
    const path = req.url ?? '/';
    const isCreate = req.method === 'POST' && path.startsWith('/v1/submissions/create');
    const killId = req.method === 'POST' ? /^\/v1\/submissions\/kill\/([^/?]+)/.exec(path)?.[1] : undefined;
    let before: MasterState | undefined;
    if (isCreate || killId) before = await this.master.state().catch(() => undefined);
    if (isCreate && this.beforeNextCreate) {
      const hook = this.beforeNextCreate;
      this.beforeNextCreate = null;
      await hook();
    }
    const answer = await this.forward(req.method ?? 'GET', path, req.headers['content-type'], body);
    if (isCreate) {
      let parsed: { submissionId?: unknown; success?: unknown } = {};
      let sent: ProxiedCreate['body'];
      try {
        parsed = JSON.parse(answer.text) as typeof parsed;
      } catch {
        // not JSON
      }
      try {
        sent = JSON.parse(body.toString('utf8')) as ProxiedCreate['body'];
      } catch {
        sent = undefined;
      }
      const driverId = parsed.success === true && typeof parsed.submissionId === 'string' ? parsed.submissionId : null;
      this.observer?.create({ at, status: answer.status, lost: clientGone || res.destroyed, driverId, body: sent, before });
    } else if (killId) {
      this.observer?.kill({ at, id: decodeURIComponent(killId), before });
      if (this.afterNextKill) {
        const hook = this.afterNextKill;
        this.afterNextKill = null;
        await hook(decodeURIComponent(killId));
      }
    }
    if (clientGone || res.destroyed) return;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.raw);
  }

  /** The master's answer, however long it takes (a SIGSTOPped master answers after SIGCONT). */
  private forward(
    method: string,
    path: string,
    contentType: string | undefined,
    body: Buffer,
  ): Promise<{ status: number; headers: http.OutgoingHttpHeaders; raw: Buffer; text: string }> {
    return new Promise((resolve) => {
      const up = http.request(
        {
          host: this.master.host,
          port: this.master.restPort,
          method,
          path,
          headers: { ...(contentType ? { 'content-type': contentType } : {}), 'content-length': body.length },
        },
        (r) => {
          const parts: Buffer[] = [];
          r.on('data', (c: Buffer) => parts.push(c));
          r.on('end', () => {
            const raw = Buffer.concat(parts);
            const headers: http.OutgoingHttpHeaders = { 'content-type': r.headers['content-type'] ?? 'application/json', 'content-length': raw.length };
            resolve({ status: r.statusCode ?? 502, headers, raw, text: raw.toString('utf8') });
          });
        },
      );
      up.on('error', (err) => resolve({ status: 502, headers: { 'content-type': 'text/plain' }, raw: Buffer.from(String(err)), text: String(err) }));
      up.end(body);
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
