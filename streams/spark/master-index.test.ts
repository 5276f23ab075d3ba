import { describe, expect, it } from 'vitest';
import { seededRandom as rng } from '../../test/support/seeded-random.js';
import type { MasterState, SparkDriver } from '../../src/spark/types.js';
import { detectDeaths } from './crash-loop.js';
import { masterIndex } from './master-index.js';
import { compareNewestFirst, driverBelongsToTenant, isAliveState, tenantAliveDrivers } from './ownership.js';

const STATES = ['SUBMITTED', 'RUNNING', 'FINISHED', 'KILLED', 'FAILED', 'ERROR', 'RELAUNCHING'];
const CLASSES = ['com.a.Main', 'com.b.Main', 'com.c.Main'];

function driver(n: number, state: string, mainClass: string): SparkDriver {
  return {
    id: `driver-20240101120000-${String(n).padStart(4, '0')}`,
    startTime: 1_700_000_000_000 + (n % 7) * 1000,
    state: state as SparkDriver['state'],
    worker: null,
    mainClass,
    cores: 1,
    memoryMb: 1024,
    submitDate: '',
  };
}

function state(active: SparkDriver[], completed: SparkDriver[]): MasterState {
  return {
    webUiUrl: 'http://m:8080',
    url: 'spark://m:7077',
    status: 'ALIVE',
    aliveWorkers: 1,
    cores: 8,
    coresUsed: 0,
    memoryMb: 8192,
    memoryUsedMb: 0,
    activeDrivers: active,
    completedDrivers: completed,
  };
}

function frozen(s: MasterState): MasterState {
  for (const d of [...s.activeDrivers, ...s.completedDrivers]) Object.freeze(d);
  Object.freeze(s.activeDrivers);
  Object.freeze(s.completedDrivers);
  return Object.freeze(s);
}

describe('masterIndex', () => {
  it('indexes a state: active, alive (by id and main class), listed and relaunched ids', () => {
    const s = state(
      [driver(1, 'RUNNING', 'com.a.Main'), driver(2, 'SUBMITTED', 'com.a.Main'), driver(3, 'RUNNING', 'com.b.Main')],
      [driver(4, 'FAILED', 'com.a.Main'), driver(5, 'RELAUNCHING', 'com.b.Main')],
    );
    const index = masterIndex(s);
    expect([...index.activeIds]).toEqual([s.activeDrivers[0]!.id, s.activeDrivers[1]!.id, s.activeDrivers[2]!.id]);
    expect([...index.aliveById.keys()]).toEqual([...index.activeIds]);
    expect(index.aliveByMainClass.get('com.a.Main')?.map((d) => d.id)).toEqual([s.activeDrivers[0]!.id, s.activeDrivers[1]!.id]);
    expect(index.listedIds.size).toBe(5);
    expect(index.relaunched.map((d) => d.id)).toEqual([s.completedDrivers[1]!.id]);
    expect([...index.relaunchedIds]).toEqual([s.completedDrivers[1]!.id]);
  });

  it('is built once per frozen state (the client freezes the state it shares), anew for one built by hand', () => {
    const shared = frozen(state([driver(1, 'RUNNING', 'com.a.Main')], []));
    expect(masterIndex(shared)).toBe(masterIndex(shared));
    const byHand = state([driver(1, 'RUNNING', 'com.a.Main')], []);
    const first = masterIndex(byHand);
    (byHand.activeDrivers as SparkDriver[]).push(driver(2, 'RUNNING', 'com.a.Main'));
    expect(masterIndex(byHand)).not.toBe(first);
    expect(masterIndex(byHand).activeIds.size).toBe(2);
  });

  it('tenantAliveDrivers and detectDeaths through the index agree with scanning every driver (2,000 random cases)', () => {
    const random = rng(42);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    for (let c = 0; c < 2_000; c++) {
      let n = 0;
      const make = (count: number, states: readonly string[]) => Array.from({ length: count }, () => driver(n++, pick(states), pick(CLASSES)));
      const s = state(make(Math.floor(random() * 12), STATES.slice(0, 2)), make(Math.floor(random() * 8), STATES.slice(2)));
      // Active drivers are alive in Spark, but the decision must not count anything else as alive.
      if (random() < 0.2 && s.activeDrivers.length > 0)
        (s.activeDrivers as SparkDriver[])[0] = { ...s.activeDrivers[0]!, state: 'UNKNOWN' as SparkDriver['state'] };
      const master = random() < 0.5 ? frozen(s) : s;
      const all = [...master.activeDrivers, ...master.completedDrivers];
      const ids = new Set(all.filter(() => random() < 0.3).map((d) => d.id));
      for (let i = 0; i < Math.floor(random() * 3); i++) ids.add(`driver-20230101000000-${c}-${i}`); // recorded, no longer listed
      const last = random() < 0.5 && all.length > 0 ? { submissionId: pick(all).id, at: 0 } : null;
      const ownership = {
        mainClass: pick(CLASSES),
        submittedDriverIds: ids,
        otherTenantMainClasses: CLASSES.filter(() => random() < 0.5),
        lastSubmission: last,
        master,
      };
      const scanned = master.activeDrivers.filter((d) => isAliveState(d.state) && driverBelongsToTenant(d, ownership)).sort(compareNewestFirst);
      expect(tenantAliveDrivers(ownership).map((d) => d.id)).toEqual(scanned.map((d) => d.id));

      const prev = all.filter(() => random() < 0.4).map((d) => d.id);
      const killed = prev.filter(() => random() < 0.3);
      const alive = new Set(master.activeDrivers.filter((d) => isAliveState(d.state)).map((d) => d.id));
      const relaunched = new Set(master.completedDrivers.filter((d) => d.state === 'RELAUNCHING').map((d) => d.id));
      const expected = [...new Set(prev)].filter((id) => !alive.has(id) && !killed.includes(id) && !relaunched.has(id));
      expect(detectDeaths(prev, { master }, killed)).toEqual(expected);
    }
  });
});
