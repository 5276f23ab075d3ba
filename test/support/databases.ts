import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { createDb, type Db } from '../../src/db/knex.js';
import { migrateLatest } from '../../src/db/migrate.js';

/** The MariaDB the machine runs (and `test/services.sh up` starts): root, no password. */
export const mysqlTestServer = {
  host: process.env.MYSQL_TEST_HOST ?? '127.0.0.1',
  port: Number(process.env.MYSQL_TEST_PORT ?? 3306),
  user: process.env.MYSQL_TEST_USER ?? 'root',
  password: process.env.MYSQL_TEST_PASSWORD ?? '',
};

export interface TestDatabase {
  db: Db;
  config: DatabaseConfig;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated MariaDB database of its own for one test file, dropped afterwards.
 * A missing server fails the test with the command that starts it; it never skips.
 */
export async function freshMysqlDatabase(label: string): Promise<TestDatabase> {
  const name = `lw_test_${label.replace(/\W/g, '_')}_${process.pid}_${Date.now().toString(36)}`;
  const admin = knexFactory({ client: 'mysql2', connection: { ...mysqlTestServer, connectTimeout: 3000 }, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } catch (err) {
    await admin.destroy();
    throw new Error(`MariaDB at ${mysqlTestServer.host}:${mysqlTestServer.port} is not usable (${(err as Error).message}); run \`bash test/services.sh up\``);
  }
  const config: DatabaseConfig = { client: 'mysql', ...mysqlTestServer, database: name, filename: 'unused', poolMax: 5 };
  const db = createDb(config);
  await migrateLatest(db);
  return {
    db,
    config,
    drop: async () => {
      await db.destroy();
      await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.destroy();
    },
  };
}

/** A fresh, migrated SQLite file in a temp directory. */
export async function freshSqliteDatabase(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'lw-sqlite-'));
  const config: DatabaseConfig = {
    client: 'sqlite',
    filename: join(dir, 'orchestrator.sqlite'),
    host: 'unused',
    port: 3306,
    user: 'unused',
    password: '',
    database: 'unused',
    poolMax: 1,
  };
  const db = createDb(config);
  await migrateLatest(db);
  return {
    db,
    config,
    drop: async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const databaseKinds = [
  ['MariaDB', freshMysqlDatabase],
  ['SQLite', () => freshSqliteDatabase()],
] as const;
