/**
 * The Java orchestrator's tables adopted in place (SPEC §2, issue 14 item 3), on MariaDB: its
 * tables in both layouts, with rows, are migrated; no row is lost, retention days edited by
 * hand stay, its other tables are untouched, its own statements still work on the adopted
 * tables (going back stays possible), and replicas starting at once migrate once.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/db/knex.js';
import { migrateLatest, migrationStatus } from '../../src/db/migrate.js';
import { ServiceDetailsRepository } from '../../src/db/service-details.js';
import { ReplayExistsError, SparkSubmitStatusRepository } from '../../src/db/spark-submit-status.js';
import {
  OLDER_REPLAYS,
  OTHER_TABLES,
  REFERENCE_SERVICES,
  referenceDatabase,
  showCreate,
  type ReferenceDatabase,
  type ReferenceVersion,
} from '../support/reference-schemas.js';

const ALL = ['001_initial', '002_leases', '003_replay_steps', '004_adopt_reference_tables', '005_replicas'];

const opened: { ref: ReferenceDatabase; dbs: Db[] }[] = [];
async function open(version: ReferenceVersion | 'empty', label: string) {
  const ref = await referenceDatabase(label, version);
  const entry = { ref, dbs: [] as Db[] };
  opened.push(entry);
  const connect = () => {
    const db = createDb(ref.config);
    entry.dbs.push(db);
    return db;
  };
  return { ref, connect };
}
afterEach(async () => {
  for (const { ref, dbs } of opened.splice(0)) {
    for (const db of dbs) await db.destroy();
    await ref.drop();
  }
});
afterAll(async () => {
  for (const { ref } of opened.splice(0)) await ref.drop();
});

/** The service rows as the reference's columns hold them. */
async function referenceRows(ref: ReferenceDatabase, version: ReferenceVersion) {
  const cols = version === 'older' ? ['env', 'serviceName', 'componentName', 'retentionDays', 'tenant'] : ['serviceName', 'retentionDays', 'tenant'];
  return (await ref.db('service_details').select(cols).orderBy(cols)) as Record<string, unknown>[];
}

async function otherTables(ref: ReferenceDatabase, version: ReferenceVersion) {
  const out: Record<string, unknown> = {};
  for (const table of OTHER_TABLES[version]) out[table] = { ddl: await showCreate(ref.db, table), rows: await ref.db(table).select() };
  return out;
}

describe.each(['older', 'newer'] as const)('the %s reference database', (version) => {
  it('is adopted in place: every row and its retention days kept, other tables untouched, a second run does nothing', async () => {
    const { ref, connect } = await open(version, `adopt_${version}`);
    const rowsBefore = await referenceRows(ref, version);
    const othersBefore = await otherTables(ref, version);
    const replaysBefore = version === 'older' ? await ref.db('spark_submit_status').select().orderBy('id') : [];

    const db = connect();
    expect(await migrateLatest(db)).toEqual(ALL);
    expect(await referenceRows(ref, version)).toEqual(rowsBefore);
    expect(await otherTables(ref, version)).toEqual(othersBefore);
    if (version === 'older') {
      const after = await ref.db('spark_submit_status').select().orderBy('id');
      expect(after.map((r: Record<string, unknown>) => ({ ...r }))).toEqual(replaysBefore.map((r: Record<string, unknown>) => ({ ...r })));
    }

    // As this orchestrator reads them: env and component '' for the single-level layout's rows.
    const listed = await new ServiceDetailsRepository(db).listByTenant(version === 'older' ? 'D11-Prod-AWS' : 'ABC');
    const expected = REFERENCE_SERVICES[version].filter((r) => r.tenant === (version === 'older' ? 'D11-Prod-AWS' : 'ABC'));
    expect(
      listed.map((r) => ({ env: r.env, serviceName: r.serviceName, componentName: r.componentName, retentionDays: r.retentionDays })).sort(byName),
    ).toEqual(
      expected
        .map((r) => ({ env: r.env ?? '', serviceName: r.serviceName, componentName: r.componentName ?? '', retentionDays: r.retentionDays }))
        .sort(byName),
    );
    expect(new Set(listed.map((r) => r.id)).size).toBe(listed.length);
    expect(listed.every((r) => Number.isFinite(r.lastCheckedAt.getTime()))).toBe(true);

    // Idempotent: nothing more to run, and the migration itself changes nothing a second time.
    const schema = await showCreate(ref.db, 'service_details');
    expect(await migrateLatest(db)).toEqual([]);
    await (await import('../../src/db/migrations/004_adopt_reference_tables.js')).up(db);
    expect(await showCreate(ref.db, 'service_details')).toBe(schema);
    expect(await migrationStatus(db)).toEqual({ applied: ALL, pending: [] });
  });

  it('takes any tenant, names differing only in case, and longer names; the reference’s own statements still work (going back stays possible)', async () => {
    const { ref, connect } = await open(version, `use_${version}`);
    const db = connect();
    await migrateLatest(db);
    const repo = new ServiceDetailsRepository(db);
    const at = new Date('2026-03-01T10:00:00.000Z');
    const single = version === 'newer';
    const row = (serviceName: string) => ({ env: single ? '' : 'prod', serviceName, componentName: single ? '' : 'application', retentionDays: 3 });
    // A tenant its ENUM did not list; names its case-insensitive collation took for one; 120 characters.
    const long = `svc-${'x'.repeat(116)}`;
    await repo.insertMany('XYZ', [row('Orders'), row('orders'), row(long)], at);
    const xyz = await repo.listByTenant('XYZ');
    expect(xyz.map((r) => r.serviceName).sort()).toEqual(['Orders', long, 'orders'].sort());
    expect(
      await repo.touch(
        'XYZ',
        xyz.map((r) => r.id),
        new Date('2026-03-01T11:00:00.000Z'),
      ),
    ).toBe(3);
    expect(await repo.deleteByIds('XYZ', [xyz[0]!.id])).toBe(1);

    if (single) {
      // The newer reference's statements (its Query class), on the adopted table.
      await ref.db.raw('INSERT INTO service_details (serviceName, retentionDays, tenant) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE lastCheckedAt = NOW()', [
        'search',
        3,
        'ABC',
      ]);
      await ref.db.raw('INSERT INTO service_details (serviceName, retentionDays, tenant) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE lastCheckedAt = NOW()', [
        'payments',
        3,
        'ABC',
      ]);
      const [selected] = (await ref.db.raw('SELECT serviceName, retentionDays, tenant FROM service_details WHERE tenant = ?', ['ABC'])) as [
        Record<string, unknown>[],
      ];
      expect(selected.map((r) => `${String(r.serviceName)}:${String(r.retentionDays)}`).sort()).toEqual([
        'checkout:3',
        'healthcheck-dummy:3',
        'orders:3',
        'payments:14',
        'search:3',
      ]);
      await ref.db.raw('DELETE FROM service_details WHERE serviceName = ? AND tenant = ?', ['search', 'ABC']);
      // … and this orchestrator sees what the reference wrote.
      expect((await repo.listByTenant('ABC')).map((r) => r.serviceName).sort()).toEqual(['checkout', 'healthcheck-dummy', 'orders', 'payments']);
    } else {
      // The older reference's statements, on the adopted tables.
      await ref.db.raw(
        'INSERT INTO service_details (env, serviceName, componentName, retentionDays, tenant) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE lastCheckedAt = NOW()',
        ['prod', 'search', 'application', 30, 'D11-Prod-AWS'],
      );
      const [selected] = (await ref.db.raw('SELECT env, serviceName, componentName, retentionDays, tenant FROM service_details WHERE tenant = ?', [
        'D11-Prod-AWS',
      ])) as [unknown[]];
      expect(selected).toHaveLength(6);
      await ref.db.raw('DELETE FROM service_details WHERE env = ? AND serviceName = ? AND componentName = ? AND tenant = ?', [
        'prod',
        'search',
        'application',
        'D11-Prod-AWS',
      ]);
      const [pending] = (await ref.db.raw(
        'SELECT id, tenant, startingOffsetsTimestamp, resumeToSubscribePatternTimestamp, isSubmittedForOffsetsTimestamp, isResumedToSubscribePattern FROM spark_submit_status WHERE tenant = ? AND (!isSubmittedForOffsetsTimestamp OR !isResumedToSubscribePattern)',
        ['D11-Prod-AWS'],
      )) as [Record<string, unknown>[]];
      expect(pending.map((r) => Number(r.startingOffsetsTimestamp))).toEqual([OLDER_REPLAYS[1]!.startingOffsetsTimestamp]);
      await ref.db.raw('UPDATE spark_submit_status SET isSubmittedForOffsetsTimestamp = ? WHERE id = ?', [false, Number(pending[0]!.id)]);

      // Replays: this orchestrator reads the reference's pending row; two tenants may replay from
      // the same millisecond now (its UNIQUE(startingOffsetsTimestamp) refused the second), one tenant not twice.
      const replays = new SparkSubmitStatusRepository(db);
      expect(await replays.pending('D11-Prod-AWS')).toMatchObject({
        startingOffsetsTimestamp: OLDER_REPLAYS[1]!.startingOffsetsTimestamp,
        isSubmittedForOffsetsTimestamp: false,
      });
      const ts = OLDER_REPLAYS[1]!.startingOffsetsTimestamp;
      await expect(replays.insert('XYZ', ts, ts + 600_000)).resolves.toMatchObject({ tenant: 'XYZ', startingOffsetsTimestamp: ts });
      await expect(replays.insert('D11-Prod-AWS', ts, ts + 600_000)).rejects.toBeInstanceOf(ReplayExistsError);
      const row = await replays.insert('D11-Stag-AWS', 1_800_000_000_000, 1_800_000_600_000);
      expect(await replays.markSubmitted(row.id)).toBe(true);
      expect(await replays.markSubmitted(row.id)).toBe(false);
      expect(Number.isFinite(row.createdAt.getTime())).toBe(true);
    }
  });

  it('is migrated once when three replicas start on it at the same time', async () => {
    const { ref, connect } = await open(version, `race_${version}`);
    const rowsBefore = await referenceRows(ref, version);
    const ran = await Promise.all([connect(), connect(), connect()].map((db) => migrateLatest(db)));
    expect(ran.flat().sort()).toEqual(ALL);
    expect(ran.filter((r) => r.length > 0)).toHaveLength(1);
    expect(await referenceRows(ref, version)).toEqual(rowsBefore);
  });
});

describe('tables this orchestrator does not adopt', () => {
  it('a service_details of the intermediate layout (environmentName, componentType): refused with a clear message, rows untouched', async () => {
    const { ref, connect } = await open('empty', 'intermediate');
    await ref.db.raw(`CREATE TABLE service_details (
      environmentName VARCHAR(128) NOT NULL, componentType VARCHAR(50) NOT NULL, serviceName VARCHAR(50) NOT NULL,
      retentionDays MEDIUMINT UNSIGNED NOT NULL, tenant ENUM('ABC') NOT NULL, lastCheckedAt TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      UNIQUE KEY (environmentName, componentType, serviceName, tenant))`);
    await ref.db('service_details').insert({ environmentName: 'prod', componentType: 'application', serviceName: 'orders', retentionDays: 9, tenant: 'ABC' });
    const before = await showCreate(ref.db, 'service_details');
    await expect(migrateLatest(connect())).rejects.toThrow(/environmentName\/componentType .* does not adopt/);
    expect(await showCreate(ref.db, 'service_details')).toBe(before);
    expect(await ref.db('service_details').select('serviceName', 'retentionDays')).toEqual([{ serviceName: 'orders', retentionDays: 9 }]);
  });

  it('an empty database gets this orchestrator’s own tables, which 004 leaves as they are', async () => {
    const { ref, connect } = await open('empty', 'fresh');
    const db = connect();
    expect(await migrateLatest(db)).toEqual(ALL);
    const ddl = await showCreate(ref.db, 'service_details');
    expect(ddl).toMatch(/`id` int\(10\) unsigned NOT NULL AUTO_INCREMENT/);
    expect(ddl).toMatch(/UNIQUE KEY `uq_service_details_partition`/);
  });
});

function byName(a: { env: string; serviceName: string; componentName: string }, b: { env: string; serviceName: string; componentName: string }): number {
  return `${a.env}/${a.serviceName}/${a.componentName}`.localeCompare(`${b.env}/${b.serviceName}/${b.componentName}`);
}
