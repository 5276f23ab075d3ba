import { describe, expect, it } from 'vitest';
import type { ServicePartitionId } from '../src/db/service-details.js';
import { escapePathName, folderValue, lastFolder, PartitionDiff, partitionNames, planSync, retentionDaysFor, unescapePathName } from './discovery-decision.js';

const tenant = {
  defaultLogsRetentionDays: 3,
  envLogsRetentionDays: [
    { envs: ['prod', 'live'], retentionDays: 30 },
    { envs: ['prod'], retentionDays: 99 },
  ],
};
let nextId = 1;
const row = (env: string, serviceName: string, componentName = 'application'): ServicePartitionId => ({ id: nextId++, env, serviceName, componentName });
const part = (env: string, serviceName: string, componentName = 'application') => ({ env, serviceName, componentName });
/** The partition `partitionNames(keys)` reads from `values`, as an object. */
const toPartition = (keys: readonly string[], values: readonly string[]) => {
  let read: ReturnType<typeof part> | undefined;
  partitionNames(keys)(values, (env, serviceName, componentName) => (read = { env, serviceName, componentName }));
  return read;
};

describe('partition folders', () => {
  it('reads key=value folders of the expected key and ignores the rest', () => {
    expect(folderValue('env=prod/', 'env=')).toBe('prod');
    expect(folderValue('service_name=a b+c&d/', 'service_name=')).toBe('a b+c&d');
    expect(folderValue('service_name=x=y/', 'service_name=')).toBe('x=y');
    expect(folderValue('_spark_metadata/', 'env=')).toBeNull();
    expect(folderValue('env=/', 'env=')).toBeNull();
    expect(folderValue('environment=prod/', 'env=')).toBeNull();
    expect(folderValue('service_name=a/', 'env=')).toBeNull();
  });

  it('unescapes the %XX that Spark writes for special characters, and escapes them back', () => {
    expect(unescapePathName('a%3Db%2Fc%25d')).toBe('a=b/c%d');
    expect(unescapePathName('100%')).toBe('100%');
    expect(unescapePathName('%zz')).toBe('%zz');
    for (const name of ['a=b', 'x/y', 'p%q', 'plain-name_1', 'ü nicode: ok?', 'a{b}[c]^d#e']) {
      expect(unescapePathName(escapePathName(name))).toBe(name);
    }
    expect(escapePathName('a=b:c')).toBe('a%3Db%3Ac');
  });

  it('takes the last folder of a prefix', () => {
    expect(lastFolder('logs/env=prod/service_name=a/')).toBe('service_name=a');
    expect(lastFolder('env=prod/')).toBe('env=prod');
  });

  it('maps the single-level layout to a service with empty env and component', () => {
    expect(toPartition(['service_name'], ['orders'])).toEqual({ env: '', serviceName: 'orders', componentName: '' });
    expect(toPartition(['env', 'service_name', 'component_name'], ['prod', 'orders', 'api'])).toEqual(part('prod', 'orders', 'api'));
  });
});

describe('retention days', () => {
  it('uses the first entry whose envs hold the env, else the default', () => {
    expect(retentionDaysFor('prod', tenant)).toBe(30);
    expect(retentionDaysFor('live', tenant)).toBe(30);
    expect(retentionDaysFor('stag', tenant)).toBe(3);
    expect(retentionDaysFor('', tenant)).toBe(3);
  });
});

const idsOf = (rows: ServicePartitionId[]) => rows.map((r) => r.id);

describe('planSync', () => {
  it('inserts the new with retention by env, removes the vanished, keeps the present', () => {
    const known = [row('prod', 'a'), row('prod', 'b'), row('stag', 'c'), row('stag', 'd')];
    const plan = planSync(known, [part('prod', 'a'), part('prod', 'b'), part('stag', 'c'), part('prod', 'new'), part('dev', 'new')], tenant, false);
    expect([...plan.insert]).toEqual([
      { ...part('prod', 'new'), retentionDays: 30 },
      { ...part('dev', 'new'), retentionDays: 3 },
    ]);
    expect(plan.insertCount).toBe(2);
    expect(plan.removeIds).toEqual([known[3]!.id]);
    expect(plan.presentIds).toEqual(idsOf(known.slice(0, 3)));
    expect(plan.guarded).toBeNull();
    expect(plan.insertSample).toEqual(['prod/new/application', 'dev/new/application']);
    expect(plan.removeSample).toEqual(['stag/d/application']);
  });

  it('changes nothing when the store and the rows agree', () => {
    const known = [row('prod', 'a'), row('stag', 'b')];
    const plan = planSync(known, [part('stag', 'b'), part('prod', 'a')], tenant, false);
    expect(plan).toMatchObject({ insertCount: 0, removeIds: [], guarded: null });
    expect([...plan.insert]).toEqual([]);
    expect(plan.presentIds.sort()).toEqual(idsOf(known).sort());
  });

  it('removes exactly half without the guard, but guards more than half', () => {
    const known = [row('p', 'a'), row('p', 'b'), row('p', 'c'), row('p', 'd')];
    expect(planSync(known, [part('p', 'a'), part('p', 'b')], tenant, false).removeIds).toEqual(idsOf(known.slice(2)));
    const guarded = planSync(known, [part('p', 'a')], tenant, false);
    expect(guarded.removeIds).toEqual([]);
    expect(guarded.removeSample).toEqual([]);
    expect(guarded.guarded).toEqual({ wouldRemove: 3, known: 4 });
  });

  it('guards an empty listing, still onboards what is new, and removes when forced', () => {
    const known = [row('p', 'a'), row('p', 'b')];
    const empty = planSync(known, [], tenant, false);
    expect(empty).toMatchObject({ insertCount: 0, removeIds: [], guarded: { wouldRemove: 2, known: 2 } });
    const withNew = planSync(known, [part('p', 'z')], tenant, false);
    expect(withNew.insertCount).toBe(1);
    expect(withNew.removeIds).toEqual([]);
    const forced = planSync(known, [], tenant, true);
    expect(forced.removeIds).toEqual(idsOf(known));
    expect(forced.guarded).toBeNull();
  });

  it('onboards everything into an empty catalogue', () => {
    const plan = planSync([], [part('p', 'a'), part('p', 'b')], tenant, false);
    expect(plan.insertCount).toBe(2);
    expect(plan.guarded).toBeNull();
  });

  it('inserts a partition listed twice once (two escapes of one name) and touches a present row once', () => {
    const known = [row('p', 'a b')];
    const plan = planSync(known, [part('p', 'a b'), part('p', 'a b'), part('p', 'x'), part('p', 'x')], tenant, false);
    expect([...plan.insert].map((p) => p.serviceName)).toEqual(['x']);
    expect(plan.presentIds).toEqual(idsOf(known));
  });

  it('tells apart names that only differ in where the separators fall', () => {
    // Joined naively ("1:2" + "3" vs "1" + ":23"), these would collide.
    const known = [row('1:2', '3', 'c'), row('1', ':23', 'c'), row('', '', '5:x')];
    const plan = planSync(known, [part('1', ':23', 'c'), part('', '5:', 'x')], tenant, true);
    expect(plan.presentIds).toEqual([known[1]!.id]);
    expect([...plan.insert].map((p) => [p.env, p.serviceName, p.componentName])).toEqual([['', '5:', 'x']]);
    expect(plan.removeIds).toEqual([known[0]!.id, known[2]!.id]);
    expect(plan.removeSample).toEqual(['1:2/3/c', '5:x']);
  });

  it('keeps every row of a partition that has two (a table without the unique index)', () => {
    const known = [row('p', 'a'), row('p', 'a'), row('p', 'b')];
    const plan = planSync(known, [part('p', 'a')], tenant, true);
    expect(plan.presentIds).toEqual(idsOf(known.slice(0, 2)));
    expect(plan.removeIds).toEqual([known[2]!.id]);
  });

  it('samples the first names and counts the rest', () => {
    const plan = planSync([], [part('p', 'a'), part('p', 'b'), part('p', 'c')], tenant, false, 2);
    expect(plan.insertSample).toEqual(['p/a/application', 'p/b/application', '… and 1 more']);
  });

  it('takes every row before the first listed partition', () => {
    const diff = new PartitionDiff();
    diff.listed(part('p', 'a'));
    expect(() => diff.known(row('p', 'a'))).toThrow(/before the first listed/);
  });
});
