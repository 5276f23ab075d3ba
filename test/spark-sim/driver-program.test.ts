/**
 * Driver processes in the simulator (`driverProgram`, `exitDriverProcess`): Spark's DriverRunner
 * rules, as the real 3.5.7 master showed them (test/fixtures/spark-3.5): exit 0 → FINISHED,
 * non-zero → FAILED, or, supervised, restarted in place by the worker (RUNNING throughout) with
 * a doubling back-off; a kill ends that loop as KILLED; a jar the worker cannot fetch → ERROR.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SparkMasterSimulator, type MasterSimulatorOptions, type SimDriverRun } from './master-simulator.js';

let sims: SparkMasterSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.stop()));
  sims = [];
});

async function startSim(opts: MasterSimulatorOptions): Promise<SparkMasterSimulator> {
  const sim = new SparkMasterSimulator({ killDelayMs: 10, ...opts });
  sims.push(sim);
  return sim.start();
}

async function waitFor(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const byClass: Record<string, SimDriverRun> = {
  'app.Finish': { exitAfterMs: 20, exitCode: 0 },
  'app.Fail': { exitAfterMs: 20, exitCode: 1 },
  'app.Crash': { exitAfterMs: 0, exitCode: 1 },
  'app.BadJar': { error: 'java.nio.file.NoSuchFileException: /nowhere.jar' },
};

describe('driverProgram', () => {
  it('exit 0 → FINISHED, exit 1 → FAILED (not supervised), a missing jar → ERROR with its exception; each launched once', async () => {
    const sim = await startSim({ driverProgram: (l) => byClass[l.mainClass] });
    const finish = sim.addDriverByHand({ mainClass: 'app.Finish' });
    const fail = sim.addDriverByHand({ mainClass: 'app.Fail' });
    const bad = sim.addDriverByHand({ mainClass: 'app.BadJar' });
    const forever = sim.addDriverByHand({ mainClass: 'app.Other' });
    await waitFor(() => sim.completedDrivers().length === 3);
    expect(Object.fromEntries(sim.completedDrivers().map((d) => [d.id, d.state]))).toEqual({ [finish]: 'FINISHED', [fail]: 'FAILED', [bad]: 'ERROR' });
    expect(sim.activeDrivers()).toMatchObject([{ id: forever, state: 'RUNNING', launches: 1 }]);
    expect(sim.getDriver(fail)?.launches).toBe(1);
    const status = (await (await fetch(`${sim.restUrl}/v1/submissions/status/${bad}`)).json()) as Record<string, string>;
    expect(status.message).toMatch(/^Exception from the cluster:\njava\.nio\.file\.NoSuchFileException: \/nowhere\.jar\n\t/);
  });

  it('supervised: restarted in place after 1, 2, 4… back-off units, RUNNING throughout; a kill ends it as KILLED', async () => {
    const launchedAt: number[] = [];
    const sim = await startSim({
      superviseBackoffMs: 40,
      driverProgram: (l) => {
        launchedAt.push(Date.now());
        return byClass[l.mainClass];
      },
    });
    const id = sim.addDriverByHand({ mainClass: 'app.Crash', supervise: true });
    await waitFor(() => (sim.getDriver(id)?.launches ?? 0) >= 4);
    expect(sim.getDriver(id)).toMatchObject({ state: 'RUNNING' });
    const waits = launchedAt.slice(1).map((t, i) => t - launchedAt[i]!);
    expect(waits[0]).toBeGreaterThanOrEqual(35);
    expect(waits[1]).toBeGreaterThanOrEqual(75);
    expect(waits[2]).toBeGreaterThanOrEqual(155);
    await fetch(`${sim.restUrl}/v1/submissions/kill/${id}`, { method: 'POST' });
    await waitFor(() => sim.getDriver(id)?.state === 'KILLED');
    const launches = sim.getDriver(id)!.launches;
    await new Promise((r) => setTimeout(r, 400));
    expect(sim.getDriver(id)!.launches).toBe(launches); // no restart after the kill
  });
});

describe('exitDriverProcess', () => {
  it('follows DriverRunner: supervised non-zero → restarted; 0 → FINISHED even after a kill; non-zero after a kill → KILLED', async () => {
    const sim = await startSim({ killDelayMs: null });
    const sup = sim.addDriverByHand({ mainClass: 'a', supervise: true });
    expect(sim.exitDriverProcess(sup, 1)).toBe('restarted');
    expect(sim.getDriver(sup)?.state).toBe('RUNNING');
    const plain = sim.addDriverByHand({ mainClass: 'b' });
    expect(sim.exitDriverProcess(plain, 137)).toBe('FAILED');
    const killedZero = sim.addDriverByHand({ mainClass: 'c', supervise: true });
    await fetch(`${sim.restUrl}/v1/submissions/kill/${killedZero}`, { method: 'POST' });
    expect(sim.exitDriverProcess(killedZero, 0)).toBe('FINISHED');
    const killed = sim.addDriverByHand({ mainClass: 'd', supervise: true });
    await fetch(`${sim.restUrl}/v1/submissions/kill/${killed}`, { method: 'POST' });
    expect(sim.exitDriverProcess(killed, 143)).toBe('KILLED');
    expect(() => sim.exitDriverProcess(plain, 0)).toThrow(/not RUNNING/);
  });
});
