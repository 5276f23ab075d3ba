import { describe, expect, it } from 'vitest';
import type { ServiceDetailsRow } from '../src/db/service-details.js';
import { escapePathName, lastFolder, partitionValue, planSync, retentionDaysFor, toPartition, unescapePathName } from './discovery-decision.js';

const tenant = {
  defaultLogsRetentionDays: 3,
  envLogsRetentionDays: [
    { envs: ['prod', 'live'], retentionDays: 30 },
    { envs: ['prod'], retentionDays: 99 },
  ],
};
let nextId = 1;
const row = (env: string, serviceName: string, componentName = 'application'): ServiceDetailsRow => ({
  id: nextId++,
  env,
  serviceName,
  componentName,
  retentionDays: 3,
  tenant: 'ABC',
  lastCheckedAt: new Date(0),
});
const part = (env: string, serviceName: string, componentName = 'application') => ({ env, serviceName, componentName });

describe('partition folders', () => {
  it('reads key=value folders of the expected key and ignores the rest', () => {
    expect(partitionValue('env=prod/', 'env')).toBe('prod');
    expect(partitionValue('service_name=a b+c&d/', 'service_name')).toBe('a b+c&d');
    expect(partitionValue('service_name=x=y/', 'service_name')).toBe('x=y');
    expect(partitionValue('_spark_metadata/', 'env')).toBeNull();
    expect(partitionValue('env=/', 'env')).toBeNull();
    expect(partitionValue('environment=prod/', 'env')).toBeNull();
    expect(partitionValue('service_name=a/', 'env')).toBeNull();
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

describe('planSync', () => {
  it('inserts the new with retention by env, removes the vanished, keeps the present', () => {
    const known = [row('prod', 'a'), row('prod', 'b'), row('stag', 'c'), row('stag', 'd')];
    const plan = planSync(known, [part('prod', 'a'), part('prod', 'b'), part('stag', 'c'), part('prod', 'new'), part('dev', 'new')], tenant, false);
    expect(plan.insert).toEqual([
      { ...part('prod', 'new'), retentionDays: 30 },
      { ...part('dev', 'new'), retentionDays: 3 },
    ]);
    expect(plan.remove.map((r) => r.serviceName)).toEqual(['d']);
    expect(plan.present.map((r) => r.serviceName)).toEqual(['a', 'b', 'c']);
    expect(plan.guarded).toBeNull();
  });

  it('changes nothing when the store and the rows agree', () => {
    const known = [row('prod', 'a'), row('stag', 'b')];
    const plan = planSync(known, [part('stag', 'b'), part('prod', 'a')], tenant, false);
    expect(plan).toMatchObject({ insert: [], remove: [], guarded: null });
    expect(plan.present).toHaveLength(2);
  });

  it('removes exactly half without the guard, but guards more than half', () => {
    const known = [row('p', 'a'), row('p', 'b'), row('p', 'c'), row('p', 'd')];
    expect(planSync(known, [part('p', 'a'), part('p', 'b')], tenant, false).remove).toHaveLength(2);
    const guarded = planSync(known, [part('p', 'a')], tenant, false);
    expect(guarded.remove).toEqual([]);
    expect(guarded.guarded).toEqual({ wouldRemove: 3, known: 4 });
  });

  it('guards an empty listing, still onboards what is new, and removes when forced', () => {
    const known = [row('p', 'a'), row('p', 'b')];
    const empty = planSync(known, [], tenant, false);
    expect(empty).toMatchObject({ insert: [], remove: [], guarded: { wouldRemove: 2, known: 2 } });
    const withNew = planSync(known, [part('p', 'z')], tenant, false);
    expect(withNew.insert).toHaveLength(1);
    expect(withNew.remove).toEqual([]);
    const forced = planSync(known, [], tenant, true);
    expect(forced.remove).toHaveLength(2);
    expect(forced.guarded).toBeNull();
  });

  it('onboards everything into an empty catalogue', () => {
    const plan = planSync([], [part('p', 'a'), part('p', 'b')], tenant, false);
    expect(plan.insert).toHaveLength(2);
    expect(plan.guarded).toBeNull();
  });
});
