/**
 * DriverOwners groups a master state's alive drivers of a main class by recorded owner once per
 * state, and again after it learns an owner, so that a state unchanged for a long time is not
 * left grouped with what was known when it was first read.
 */
import { describe, expect, it } from 'vitest';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { MasterState, SparkDriver } from '../../src/spark/types.js';
import { DriverOwners } from './driver-owners.js';
import type { SubmissionStore } from './ports.js';

const MAIN = 'com.logwise.spark.MainApplication';

const driver = (id: string): SparkDriver => ({ id, state: 'RUNNING', startTime: 0, worker: 'w', mainClass: MAIN, cores: 1, memoryMb: 1024, submitDate: '' });

function frozenMaster(ids: string[]): MasterState {
  return Object.freeze({
    webUiUrl: 'http://m:8080',
    url: 'spark://m:7077',
    status: 'ALIVE',
    aliveWorkers: 1,
    cores: 4,
    coresUsed: 2,
    memoryMb: 8192,
    memoryUsedMb: 2048,
    activeDrivers: Object.freeze(ids.map((id) => Object.freeze(driver(id)))) as SparkDriver[],
    completedDrivers: Object.freeze([]) as unknown as SparkDriver[],
  });
}

class Records implements SubmissionStore {
  constructor(private readonly owners: Record<string, string>) {}
  async record(_s: SubmissionRecord): Promise<void> {}
  async recent(): Promise<SubmissionRecord[]> {
    return [];
  }
  async ownersOf(ids: readonly string[]): Promise<Map<string, string>> {
    return new Map(ids.flatMap((id) => (this.owners[id] ? [[id, this.owners[id]] as [string, string]] : [])));
  }
}

describe('DriverOwners.aliveByOwner', () => {
  it('answers the same grouping for the same state, and groups it anew once an owner was learned', async () => {
    const owners = new DriverOwners(new Records({ d1: 'ABC', d2: 'XYZ' }));
    const master = frozenMaster(['d1', 'd2', 'd3']);
    const before = owners.aliveByOwner(master, MAIN);
    expect(before.unknown).toEqual(['d1', 'd2', 'd3']);
    expect(owners.aliveByOwner(master, MAIN)).toBe(before);

    await owners.ownersOf(before.unknown);
    const after = owners.aliveByOwner(master, MAIN);
    expect(after.unknown).toEqual(['d3']);
    expect(Object.fromEntries(after.byOwner)).toEqual({ ABC: ['d1'], XYZ: ['d2'] });
  });
});
