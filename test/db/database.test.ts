import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateLatest, migrationStatus } from '../../src/db/migrate.js';
import { ServiceDetailsRepository } from '../../src/db/service-details.js';
import { SparkSubmissionsRepository } from '../../src/db/spark-submissions.js';
import { SparkSubmitStatusRepository } from '../../src/db/spark-submit-status.js';
import { pingDb } from '../../src/db/knex.js';
import { freshMysqlDatabase, freshSqliteDatabase, type TestDatabase } from '../support/databases.js';

describe.each([
  ['MariaDB', () => freshMysqlDatabase('db')],
  ['SQLite', () => freshSqliteDatabase()],
])('database on %s', (_kind, open) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await open();
  });
  afterAll(async () => t?.drop());

  it('has run every migration, and running them again changes nothing', async () => {
    expect(await migrationStatus(t.db)).toEqual({
      applied: ['001_initial', '002_leases', '003_replay_steps', '004_adopt_reference_tables', '005_replicas'],
      pending: [],
    });
    expect(await migrateLatest(t.db)).toEqual([]);
    for (const table of ['service_details', 'spark_submit_status', 'spark_submissions', 'tenant_leases']) {
      expect(await t.db.schema.hasTable(table)).toBe(true);
    }
    await pingDb(t.db);
  });

  it('keeps service rows unique per (env, service, component, tenant), inserts, touches and deletes in batches', async () => {
    const repo = new ServiceDetailsRepository(t.db);
    const at = new Date('2026-01-02T03:04:05.678Z');
    const rows = Array.from({ length: 2500 }, (_, i) => ({
      env: i % 2 ? 'prod' : 'stag',
      serviceName: `svc-${i} a+b%c&d=e`,
      componentName: 'application',
      retentionDays: i % 2 ? 30 : 3,
    }));
    expect(await repo.insertMany('ABC', rows, at)).toBe(2500);
    // The same partition for another tenant is another row; a duplicate for the same tenant is ignored.
    await repo.insertMany('XYZ', rows.slice(0, 1), at);
    await repo.insertMany('ABC', rows.slice(0, 10), at);
    expect(await repo.countByTenant('ABC')).toBe(2500);
    expect(await repo.countByTenant('XYZ')).toBe(1);

    const listed = await repo.listByTenant('ABC');
    expect(listed).toHaveLength(2500);
    const first = listed.find((r) => r.serviceName === 'svc-1 a+b%c&d=e')!;
    expect(first).toMatchObject({ env: 'prod', componentName: 'application', retentionDays: 30, tenant: 'ABC' });
    expect(first.lastCheckedAt.toISOString()).toBe(at.toISOString());

    const later = new Date('2026-01-03T00:00:00.000Z');
    expect(
      await repo.touch(
        'ABC',
        listed.map((r) => r.id),
        later,
      ),
    ).toBe(2500);
    expect((await repo.listByTenant('ABC')).every((r) => r.lastCheckedAt.getTime() === later.getTime())).toBe(true);

    const doomed = listed.filter((r) => r.env === 'stag').map((r) => r.id);
    expect(await repo.deleteByIds('ABC', doomed)).toBe(1250);
    expect(await repo.countByTenant('ABC')).toBe(1250);
    expect(await repo.countByTenant('XYZ')).toBe(1);
  });

  it('stores replays with flags that can each be set once', async () => {
    const repo = new SparkSubmitStatusRepository(t.db);
    const row = await repo.insert('ABC', 1_700_000_000_000, 1_700_000_600_000);
    expect(row).toMatchObject({
      tenant: 'ABC',
      startingOffsetsTimestamp: 1_700_000_000_000,
      isSubmittedForOffsetsTimestamp: false,
      isResumedToSubscribePattern: false,
    });
    expect((await repo.pending('ABC'))?.id).toBe(row.id);
    expect(await repo.markSubmitted(row.id)).toBe(true);
    expect(await repo.markSubmitted(row.id)).toBe(false);
    expect(await repo.markResumed(row.id)).toBe(true);
    expect(await repo.pending('ABC')).toBeUndefined();
    expect((await repo.latest('ABC'))?.isResumedToSubscribePattern).toBe(true);
  });

  it('remembers the submissions it made, newest first', async () => {
    const repo = new SparkSubmissionsRepository(t.db);
    const base = { tenant: 'ABC', masterUrl: 'spark://m:7077', reason: 'no-driver', startingOffsetsTimestamp: null };
    await repo.record({ ...base, submissionId: 'driver-20260101000000-0000', submittedAt: new Date(1000) });
    await repo.record({ ...base, submissionId: 'driver-20260101000000-0001', submittedAt: new Date(2000), startingOffsetsTimestamp: 5 });
    const recent = await repo.recent('ABC');
    expect(recent.map((r) => r.submissionId)).toEqual(['driver-20260101000000-0001', 'driver-20260101000000-0000']);
    expect(recent[0]!.startingOffsetsTimestamp).toBe(5);
  });
});
