import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from './knex.js';
import * as initial from './migrations/001_initial.js';
import * as leases from './migrations/002_leases.js';
import * as replaySteps from './migrations/003_replay_steps.js';
import * as adoptReference from './migrations/004_adopt_reference_tables.js';
import * as replicas from './migrations/005_replicas.js';

/**
 * The versioned migrations, in order. Listed here rather than read from a folder so the
 * same list runs from the TypeScript sources and from the compiled build.
 */
const migrations: Record<string, { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }> = {
  '001_initial': initial,
  '002_leases': leases,
  '003_replay_steps': replaySteps,
  '004_adopt_reference_tables': adoptReference,
  '005_replicas': replicas,
};

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

const TABLE = 'orchestrator_migrations';

/**
 * Brings the schema up to date; returns the names of the migrations it ran.
 *
 * Replicas start together (SPEC §4.5), and knex's own lock does not hold up to that on MySQL:
 * two processes can both create its lock row (after which every start fails with "already
 * locked", for good), and a migration's DDL commits implicitly, so the others see the lock taken
 * and fail. So on MySQL the whole run is serialized across processes by a named lock
 * (`GET_LOCK`, per database); waiting replicas then find nothing left to run. A lock still seen
 * taken (a process of an older version migrating) is waited for, up to `lockWaitMs`.
 */
export async function migrateLatest(db: Db, opts: { lockWaitMs?: number; retryMs?: number } = {}): Promise<string[]> {
  const lockWaitMs = opts.lockWaitMs ?? 60_000;
  return withMigrationLock(db, lockWaitMs, async () => {
    const deadline = Date.now() + lockWaitMs;
    for (;;) {
      try {
        const [, ran] = (await db.migrate.latest({ migrationSource: source, tableName: TABLE })) as [number, string[]];
        return ran;
      } catch (err) {
        const locked = err instanceof Error && (err.name === 'MigrationLocked' || /already locked/i.test(err.message));
        // Racing to create knex's own tables: "table exists" (1050), the lock row (1062), a deadlock (1213).
        const raced = [1050, 1062, 1213].includes((err as { errno?: number }).errno ?? 0);
        if (!locked && !raced) throw err;
        if (locked && (await repairDuplicateLockRows(db))) continue;
        if (Date.now() >= deadline) {
          throw new Error(
            `${(err as Error).message}: another process has been migrating for too long, or one died while migrating (if none runs, set is_locked = 0 in ${TABLE}_lock)`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, opts.retryMs ?? 250));
      }
    }
  });
}

function isMysql(db: Db): boolean {
  return String(db.client.config.client).startsWith('mysql');
}

/** Runs `run` holding a MySQL named lock for this database (on a connection of its own); SQLite: just runs it. */
async function withMigrationLock<T>(db: Db, waitMs: number, run: () => Promise<T>): Promise<T> {
  if (!isMysql(db)) return run();
  const database = (db.client.config.connection as { database?: string } | undefined)?.database ?? '';
  // Lock names are server-wide and at most 64 characters.
  const name = `lw_migrate_${createHash('sha1').update(database).digest('hex')}`;
  const conn = await db.client.acquireConnection();
  try {
    const [rows] = (await db.raw('SELECT GET_LOCK(?, ?) AS got', [name, Math.max(1, Math.ceil(waitMs / 1000))]).connection(conn)) as [{ got: unknown }[]];
    if (Number(rows[0]?.got) !== 1) throw new Error(`another process has been migrating database ${database} for over ${Math.round(waitMs / 1000)} s`);
    try {
      return await run();
    } finally {
      await db
        .raw('SELECT RELEASE_LOCK(?)', [name])
        .connection(conn)
        .catch(() => undefined);
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/**
 * knex's lock table must hold one row; replicas of an earlier start may have inserted two, all
 * unlocked, and then no one can ever take the lock. Keeps the first. Runs under the named lock.
 */
async function repairDuplicateLockRows(db: Db): Promise<boolean> {
  if (!isMysql(db)) return false;
  const lockTable = `${TABLE}_lock`;
  const rows = (await db(lockTable)
    .select('index', 'is_locked')
    .orderBy('index')
    .catch(() => [])) as { index: number; is_locked: number }[];
  if (rows.length <= 1 || rows.some((r) => Number(r.is_locked) !== 0)) return false;
  await db(lockTable).where('index', '>', rows[0]!.index).delete();
  return true;
}

export async function migrationStatus(db: Db): Promise<{ applied: string[]; pending: string[] }> {
  const [applied, pending] = (await db.migrate.list({ migrationSource: source, tableName: TABLE })) as [{ name: string }[] | string[], string[]];
  return {
    applied: applied.map((m) => (typeof m === 'string' ? m : m.name)),
    pending: pending.map((m) => (typeof m === 'string' ? m : (m as { file: string }).file)),
  };
}
