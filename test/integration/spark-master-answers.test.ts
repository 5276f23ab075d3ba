/**
 * What the Spark masters answer that the daemon must not act on (SPEC §4.2), the daemon's loop
 * against the master simulator over real HTTP:
 *  - a `/json/` answer without a usable driver list (missing, null, wrong types): a malformed
 *    state, handled like an unreachable master: no action, an error event, backoff;
 *  - two listed masters both ALIVE (a split brain, or two clusters listed by mistake): drivers of
 *    the tenant on either count, actions go to one master only, and a split-brain event says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import {
  acceptedCreates,
  aliveOf,
  MAIN_CLASS,
  observedSimulator,
  sleep,
  sparkTenant,
  startSparkOrchestrator,
  waitFor,
  type SparkHarness,
} from '../support/spark.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function simulator(opts: Parameters<typeof observedSimulator>[0] = {}) {
  const o = await observedSimulator(opts);
  cleanups.push(() => o.sim.stop());
  return o;
}

async function daemon(opts: Parameters<typeof startSparkOrchestrator>[0]): Promise<SparkHarness> {
  const h = await startSparkOrchestrator(opts);
  cleanups.push(() => h.stop());
  return h;
}

/** The simulator's own document, changed by `mangle`, as a fixed `/json/` answer. */
function malformedAnswer(sim: SparkMasterSimulator, mangle: (doc: Record<string, any>) => void): string {
  const doc = structuredClone(sim.stateDocument()) as Record<string, any>;
  mangle(doc);
  return JSON.stringify(doc);
}

describe('a master answer without a usable driver list', () => {
  const cases: [string, (doc: Record<string, any>) => void][] = [
    ['activedrivers missing', (d) => delete d.activedrivers],
    ['activedrivers null', (d) => (d.activedrivers = null)],
    ['activedrivers an object', (d) => (d.activedrivers = {})],
    ['completeddrivers missing', (d) => delete d.completeddrivers],
    ['a driver without its main class', (d) => delete d.activedrivers[0].mainclass],
    ['a driver whose state is not a driver state', (d) => (d.activedrivers[0].state = 'LIVELY')],
    ['a driver whose cores are text', (d) => (d.activedrivers[0].cores = 'one')],
  ];

  it.each(cases)(
    '%s: no submission, no kill, an error event and backoff, and back to normal after',
    async (_, mangle) => {
      const { sim, maxAlive } = await observedSimulator({ killDelayMs: 100 });
      cleanups.push(() => sim.stop());
      const h = await daemon({ tenants: [sparkTenant(sim)], pollSeconds: 0.2, graceSeconds: 0.5, backoff: { minSeconds: 0.1, maxSeconds: 0.4 } });
      const d1 = (await waitFor(() => acceptedCreates(sim)[0], 'the first submission')).submissionId!;
      await waitFor(() => h.eventsOf('spark.polled').some((e) => e.action === 'none'), 'a poll that sees the driver alive');

      // For 2.5 s (about 12 polls and their retries) every /json/ answer is the mangled document.
      const body = malformedAnswer(sim, mangle);
      const since = Date.now();
      sim.failNext(100_000, { endpoint: 'json', status: 200, contentType: 'text/json;charset=utf-8', body });
      await sleep(2_500);
      const during = {
        creates: sim.createRequests.length - 1,
        kills: sim.killRequests.length,
        maxAlive: maxAlive(),
        errors: h.events.filter((e) => e.type === 'spark.master-unreachable' && e.at >= since),
        retries: h.events.filter((e) => e.type === 'stream.retrying' && e.at >= since),
        actions: h.events.filter((e) => e.type === 'spark.polled' && e.at >= since + 300).map((e) => (e as { action: string }).action),
        status: (await h.status()).master.status,
      };
      sim.clearFaults();
      console.log(
        `malformed /json/ (${_}): creates ${during.creates}, kills ${during.kills}, most alive ${during.maxAlive}, error events ${during.errors.length}, ` +
          `retries ${during.retries.length}, polls that decided ${during.actions.length} (${[...new Set(during.actions)].join(', ')})`,
      );
      expect(during.creates).toBe(0);
      expect(during.kills).toBe(0);
      expect(during.maxAlive).toBe(1);
      expect(during.actions).toEqual([]);
      expect(during.errors.length).toBeGreaterThanOrEqual(1);
      expect((during.errors[0] as { error: string }).error).toMatch(/answered GET \/json\/ with an unexpected document: /);
      expect(during.retries.length).toBeGreaterThanOrEqual(1);
      expect(during.status).toBe('UNREACHABLE');

      // A usable answer again: the driver is seen alive, nothing else happens.
      await waitFor(
        () => h.events.some((e) => e.type === 'spark.polled' && e.at > Date.now() - 300 && (e as { action: string }).action === 'none'),
        'a normal poll again',
        10_000,
      );
      expect(sim.createRequests).toHaveLength(1);
      expect(aliveOf(sim).map((d) => d.id)).toEqual([d1]);
      expect(maxAlive()).toBe(1);
    },
    30_000,
  );
});

/** Two simulators on 127.0.0.1 and 127.0.0.2 sharing the same (ephemeral) ports, both ALIVE. */
async function alivePair(): Promise<[SparkMasterSimulator, SparkMasterSimulator]> {
  for (let attempt = 0; ; attempt++) {
    const a = await simulator({ killDelayMs: 100 });
    try {
      const b = await simulator({ host: '127.0.0.2', uiPort: a.sim.uiPort, restPort: a.sim.restPort, killDelayMs: 100 });
      return [a.sim, b.sim];
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
}

/**
 * Network jitter: every 300 ms the other master answers 25 ms later, so which one answers a
 * read first changes (as between two machines); a client that goes by the first ALIVE answer
 * reads each in turn.
 */
function jitter(a: SparkMasterSimulator, b: SparkMasterSimulator): void {
  let slowA = false;
  const timer = setInterval(() => {
    slowA = !slowA;
    a.delayResponses(slowA ? 25 : 0);
    b.delayResponses(slowA ? 0 : 25);
  }, 300);
  cleanups.push(async () => clearInterval(timer));
}

/** The most alive drivers of the main class on both masters together, sampled every 5 ms. */
function sampleAlive(a: SparkMasterSimulator, b: SparkMasterSimulator): { max(): number; stop(): void } {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, aliveOf(a).length + aliveOf(b).length)), 5);
  cleanups.push(async () => clearInterval(timer));
  return { max: () => max, stop: () => clearInterval(timer) };
}

describe('two listed masters both ALIVE (split brain)', () => {
  const OBSERVE_MS = 6_000;

  it('submits one driver, on one master, sees no false deaths, and says split brain', async () => {
    const [a, b] = await alivePair();
    jitter(a, b);
    const sampled = sampleAlive(a, b);
    const h = await daemon({ tenants: [sparkTenant([a, b])], pollSeconds: 0.2, graceSeconds: 0.5, backoff: { minSeconds: 0.1, maxSeconds: 0.4 } });
    await waitFor(() => acceptedCreates(a).length + acceptedCreates(b).length > 0, 'a submission');
    await sleep(OBSERVE_MS);
    const status = await h.status();
    const metrics = await (await h.t.orchestrator.app.request('/metrics')).text();
    const figures = {
      creates: [a.createRequests.length, b.createRequests.length],
      kills: [a.killRequests.length, b.killRequests.length],
      mostAlive: sampled.max(),
      deaths: status.restarts,
      crashloops: h.eventsOf('spark.crashloop').length,
      splitBrainEvents: h.eventsOf('spark.split-brain').length,
    };
    console.log(
      `split brain, no driver before: creates ${figures.creates.join('+')}, kills ${figures.kills.join('+')}, most alive on both ${figures.mostAlive}, ` +
        `false deaths ${figures.deaths}, crash loops ${figures.crashloops}, split-brain events ${figures.splitBrainEvents} (in ${OBSERVE_MS} ms at 0.2 s polls)`,
    );
    expect(figures.creates.reduce((x, y) => x + y)).toBe(1);
    expect(figures.creates).toEqual([1, 0]); // the first listed ALIVE master, and only it
    expect(figures.kills).toEqual([0, 0]);
    expect(figures.mostAlive).toBe(1);
    expect(figures.deaths).toBe(0);
    expect(figures.crashloops).toBe(0);
    expect(h.eventsOf('spark.split-brain')).toEqual([expect.objectContaining({ masters: [a.uiUrl, b.uiUrl], actingOn: a.uiUrl, driversElsewhere: [] })]);
    expect(status.master).toMatchObject({ status: 'ALIVE', webUiUrl: a.uiUrl, splitBrain: { aliveMasters: [a.uiUrl, b.uiUrl], actingOn: a.uiUrl } });
    expect(metrics).toMatch(/^logwise_spark_split_brain\{tenant="ABC"\} 1$/m);
    expect(h.t.logs.lines.some((l) => l.includes('"spark.split-brain"') && l.includes('"level":"warn"'))).toBe(true);

    // One master steps down: the split brain ends, the driver stays.
    b.setStatus('STANDBY');
    await waitFor(() => h.eventsOf('spark.split-brain-ended').length === 1, 'the split brain to end');
    expect(a.createRequests.length + b.createRequests.length).toBe(1);
    expect((await h.status()).master.splitBrain).toBeNull();
  }, 40_000);

  it("the tenant's driver runs on the other ALIVE master: it counts (no submission here); a replay waits rather than act there", async () => {
    const [a, b] = await alivePair();
    jitter(a, b);
    const onB = b.addDriverByHand({ mainClass: MAIN_CLASS });
    const sampled = sampleAlive(a, b);
    const h = await daemon({ tenants: [sparkTenant([a, b])], pollSeconds: 0.2, graceSeconds: 0.5, backoff: { minSeconds: 0.1, maxSeconds: 0.4 } });
    await waitFor(() => h.eventsOf('spark.polled').length >= 10, 'ten polls');
    expect(h.eventsOf('spark.split-brain')).toEqual([expect.objectContaining({ actingOn: a.uiUrl, driversElsewhere: [onB] })]);

    const res = await h.post('/api/v1/spark/replay', {
      startingOffsetsTimestamp: Date.now() - 60_000,
      resumeToSubscribePatternTimestamp: Date.now() + 600_000,
    });
    expect(res.status).toBe(200);
    const polled = h.eventsOf('spark.polled').length;
    await waitFor(() => h.eventsOf('spark.polled').length >= polled + 10, 'ten more polls');
    const waits = h.eventsOf('spark.waiting').filter((e) => e.reason.includes('split brain'));
    console.log(
      `split brain, the driver on the other master: creates ${a.createRequests.length}+${b.createRequests.length}, kills ${a.killRequests.length}+${b.killRequests.length}, ` +
        `most alive ${sampled.max()}, false deaths ${(await h.status()).restarts}, replay waits ${waits.length}`,
    );
    expect([a.createRequests.length, b.createRequests.length]).toEqual([0, 0]);
    expect([a.killRequests.length, b.killRequests.length]).toEqual([0, 0]);
    expect(sampled.max()).toBe(1);
    expect((await h.status()).restarts).toBe(0);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits[0]!.reason).toContain(`${onB} runs on ${b.uiUrl}`);
  }, 40_000);

  it('a driver of the tenant on each: the one on the master acted on is killed, the other kept; nothing is done on the other master', async () => {
    const [a, b] = await alivePair();
    jitter(a, b);
    const onA = a.addDriverByHand({ mainClass: MAIN_CLASS });
    // (Each master numbers its drivers from 0000: another job first keeps the two ids apart.)
    b.addDriverByHand({ mainClass: 'com.example.OtherJob' });
    const onB = b.addDriverByHand({ mainClass: MAIN_CLASS });
    expect(onB).not.toBe(onA);
    const h = await daemon({ tenants: [sparkTenant([a, b])], pollSeconds: 0.2, graceSeconds: 0.5, backoff: { minSeconds: 0.1, maxSeconds: 0.4 } });
    await waitFor(() => a.killRequests.length === 1, 'the kill on the master acted on');
    await waitFor(() => h.eventsOf('spark.polled').filter((e) => e.action === 'none').length >= 5, 'five quiet polls');
    expect(a.killRequests.map((k) => k.id)).toEqual([onA]);
    expect(b.killRequests).toEqual([]);
    expect([a.createRequests.length, b.createRequests.length]).toEqual([0, 0]);
    expect(aliveOf(a)).toEqual([]);
    expect(aliveOf(b).map((d) => d.id)).toEqual([onB]);
    expect((await h.status()).restarts).toBe(0);
  }, 40_000);
});
