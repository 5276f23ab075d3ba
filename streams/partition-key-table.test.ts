import { describe, expect, it } from 'vitest';
import { folderValue, lastFolder, PartitionDiff, unescapePathName } from './discovery-decision.js';
import { PartitionKeyTable } from './partition-key-table.js';

/** The former reader of a folder name, kept as the oracle of folderValue. */
function partitionValue(folder: string, key: string): string | null {
  const name = folder.endsWith('/') ? folder.slice(0, -1) : folder;
  if (!name.startsWith(`${key}=`)) return null;
  const value = unescapePathName(name.slice(key.length + 1));
  return value === '' ? null : value;
}

type Key = [string, string, string];

describe('PartitionKeyTable', () => {
  it('keeps keys apart exactly, whatever the names hold', () => {
    const keys: Key[] = [
      ['a', 'bc', ''],
      ['ab', 'c', ''],
      ['', 'abc', ''],
      ['', '', 'abc'],
      ['a', 'b', 'c'],
      ['', '', ''],
      ['x', 'y\u0000z', 'w'],
      ['x', 'y', '\u0000zw'],
      ['prod', 'ünïcode', '日本'],
      ['prod', 'emoji 😀', 'c'],
      // Lone surrogates: UTF-8 would turn both into U+FFFD.
      ['prod', 'a\uD800', 'c'],
      ['prod', 'a\uDC00', 'c'],
      ['prod', 'a\uFFFD', 'c'],
      ['long', 'n'.repeat(300), 'x'.repeat(5000)],
      ['long', 'n'.repeat(300), 'x'.repeat(4999)],
    ];
    const table = new PartitionKeyTable();
    keys.forEach(([e, s, c], i) => {
      expect(table.find(e, s, c)).toBe(-1);
      expect(table.add(e, s, c, i * 10)).toBe(i);
    });
    expect(table.size).toBe(keys.length);
    keys.forEach(([e, s, c], i) => {
      const entry = table.find(e, s, c);
      expect(entry).toBe(i);
      expect(table.value(entry)).toBe(i * 10);
      expect(table.keyOf(entry)).toEqual({ env: e, serviceName: s, componentName: c });
    });
    expect(table.find('a', 'b', 'c ')).toBe(-1);
    expect(table.find('prod', 'a\uDBFF', 'c')).toBe(-1);
  });

  it('takes an empty name first (a layout without env or component: every partition has them empty)', () => {
    const table = new PartitionKeyTable();
    expect(table.add('', 'checkout', '', 7)).toBe(0);
    expect(table.add('', 'orders', '', 8)).toBe(1);
    expect(table.find('', 'checkout', '')).toBe(0);
    expect(table.find('', 'orders', '')).toBe(1);
    expect(table.find('', 'payments', '')).toBe(-1);
  });

  it('keeps names of any length as the first chunk grows, past a chunk of its own, and after a release', () => {
    const table = new PartitionKeyTable();
    const names = ['a', 'b'.repeat(5_000), 'c'.repeat(1_100_000), 'd', 'e'.repeat(700_000), 'f'.repeat(400_000), 'g'];
    for (const round of [0, 1]) {
      names.forEach((n, i) => expect(table.add('prod', n, `c${i}`, i)).toBe(i));
      for (let i = 0; i < 300; i++) table.add('prod', `small-${i}`, 'api', 100 + i);
      names.forEach((n, i) => expect(table.keyOf(table.find('prod', n, `c${i}`))).toEqual({ env: 'prod', serviceName: n, componentName: `c${i}` }));
      for (let i = 0; i < 300; i += 7) expect(table.value(table.find('prod', `small-${i}`, 'api'))).toBe(100 + i);
      expect(table.size).toBe(names.length + 300);
      table.release();
      expect(table.size, `round ${round}`).toBe(0);
    }
  });

  it('holds 100,000 partitions across pages, chunks and rehashes, and gives its memory back', () => {
    const table = new PartitionKeyTable();
    const name = (i: number) => `service-${i}-${'y'.repeat(i % 40)}`;
    for (let i = 0; i < 100_000; i++) table.add(`env-${i % 10}`, name(i), `component-${i % 7}`, i);
    for (let i = 0; i < 100_000; i += 997) {
      const entry = table.find(`env-${i % 10}`, name(i), `component-${i % 7}`);
      expect(entry).toBe(i);
      expect(table.value(entry)).toBe(i);
      expect(table.keyOf(entry)).toEqual({ env: `env-${i % 10}`, serviceName: name(i), componentName: `component-${i % 7}` });
    }
    expect(table.find('env-1', name(2), 'component-2')).toBe(-1);
    table.release();
    expect(table.size).toBe(0);
    expect(table.find('env-0', name(0), 'component-0')).toBe(-1);
  });
});

describe('PartitionDiff', () => {
  it('releases its memory once written, the plan keeping what it reported', () => {
    const diff = new PartitionDiff();
    diff.known({ id: 7, env: 'prod', serviceName: 'gone', componentName: 'api' });
    diff.known({ id: 8, env: 'prod', serviceName: 'kept', componentName: 'api' });
    diff.listedNames('prod', 'kept', 'api');
    diff.listedNames('prod', 'new', 'api');
    const plan = diff.plan({ envLogsRetentionDays: [], defaultLogsRetentionDays: 3 }, true, 20);
    expect([...plan.insert]).toEqual([{ env: 'prod', serviceName: 'new', componentName: 'api', retentionDays: 3 }]);
    plan.release();
    expect(plan).toMatchObject({ insertCount: 1, removeIds: [7], presentIds: [8], insertSample: ['prod/new/api'], removeSample: ['prod/gone/api'] });
  });
});

describe('folderValue', () => {
  it('reads what partitionValue(lastFolder(prefix)) reads', () => {
    const prefixes = [
      'logs/env=prod/',
      'logs/env=prod',
      'env=prod/',
      'logs/env=/',
      'logs/env=a%2Fb%3D/',
      'logs/env=x//',
      'logs/environment=prod/',
      'logs/env=prod/service_name=a b+c/',
      'logs/_spark_metadata/',
      '/',
      '',
      'env=',
      'logs/env=prod=1/',
      'logs/service_name=%zz/',
    ];
    for (const prefix of prefixes) {
      for (const key of ['env', 'service_name']) expect(folderValue(prefix, `${key}=`), `${prefix} ${key}`).toBe(partitionValue(lastFolder(prefix), key));
    }
  });
});
