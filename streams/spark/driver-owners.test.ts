/**
 * DriverOwners groups a master state's alive drivers of a main class by recorded owner once per
 * state, and again after it learns an owner, so that a state unchanged for a long time is not
 * left grouped with what was known when it was first read.
 */
import { describe, expect, it } from 'vitest';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import { frozenMaster, MAIN_CLASS, runningDriver } from '../../test/support/master-states.js';
import { DriverOwners } from './driver-owners.js';
import type { SubmissionStore } from './ports.js';

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
    const master = frozenMaster(['d1', 'd2', 'd3'].map((id) => runningDriver(id)));
    const before = owners.aliveByOwner(master, MAIN_CLASS);
    expect(before.unknown).toEqual(['d1', 'd2', 'd3']);
    expect(owners.aliveByOwner(master, MAIN_CLASS)).toBe(before);

    await owners.ownersOf(before.unknown);
    const after = owners.aliveByOwner(master, MAIN_CLASS);
    expect(after.unknown).toEqual(['d3']);
    expect(Object.fromEntries(after.byOwner)).toEqual({ ABC: ['d1'], XYZ: ['d2'] });
  });
});
