import type { Knex } from 'knex';
import type { Db } from './knex.js';
import * as initial from './migrations/001_initial.js';

/**
 * The versioned migrations, in order. Listed here rather than read from a folder so the
 * same list runs from the TypeScript sources and from the compiled build.
 */
const migrations: Record<string, { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }> = {
  '001_initial': initial,
};

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

/** Brings the schema up to date; returns the names of the migrations it ran. */
export async function migrateLatest(db: Db): Promise<string[]> {
  const [, ran] = (await db.migrate.latest({ migrationSource: source, tableName: 'orchestrator_migrations' })) as [number, string[]];
  return ran;
}

export async function migrationStatus(db: Db): Promise<{ applied: string[]; pending: string[] }> {
  const [applied, pending] = (await db.migrate.list({ migrationSource: source, tableName: 'orchestrator_migrations' })) as [
    { name: string }[] | string[],
    string[],
  ];
  return { applied: applied.map((m) => (typeof m === 'string' ? m : m.name)), pending: pending.map((m) => (typeof m === 'string' ? m : (m as { file: string }).file)) };
}
