import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { DatabaseConfig } from '../config/schema.js';
import { firstLine } from '../common/text.js';

export type Db = Knex;

/** Where knex's own warnings go (pool errors such as a failed connection); default: knex prints them to the console. */
export type DbLog = (level: 'warn' | 'error' | 'debug', message: string) => void;

/**
 * A knex instance for MySQL (production, through mysql2) or SQLite (the embedded default). With
 * `log`, knex's own messages (e.g. "Acquire connection error" with a stack) go there, one line
 * each, instead of raw to the console past the daemon's JSON logs and their secret scrubbing.
 */
export function createDb(cfg: DatabaseConfig, opts: { log?: DbLog } = {}): Db {
  const log = opts.log;
  const logOption = log
    ? {
        log: {
          warn: (m: string) => log('warn', firstLine(m)),
          error: (m: string) => log('error', firstLine(m)),
          deprecate: (m: string) => log('debug', firstLine(m)),
          debug: (m: string) => log('debug', firstLine(m)),
        },
      }
    : {};
  if (cfg.client === 'sqlite') {
    if (cfg.filename !== ':memory:') mkdirSync(dirname(cfg.filename), { recursive: true });
    return knexFactory({
      client: 'better-sqlite3',
      ...logOption,
      connection: { filename: cfg.filename },
      useNullAsDefault: true,
      // One connection: SQLite serializes writers anyway, and one handle keeps WAL simple.
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: { pragma(s: string): void }, done: (err: Error | null, conn: unknown) => void) => {
          conn.pragma('journal_mode = WAL');
          conn.pragma('busy_timeout = 5000');
          done(null, conn);
        },
      },
    });
  }
  return knexFactory({
    client: 'mysql2',
    ...logOption,
    connection: {
      host: cfg.host,
      port: cfg.port,
      user: cfg.user,
      password: cfg.password,
      database: cfg.database,
      connectTimeout: 5_000,
      // DATETIME values are UTC on both sides; no local-time surprises across servers.
      timezone: 'Z',
      dateStrings: false,
      // knex sends plain queries, never prepared statements: mysql2's per-connection cache of
      // them (by default 16,000 slots, four arrays preallocated at each connect) stays unused.
      maxPreparedStatements: 1,
    },
    pool: { min: 0, max: cfg.poolMax },
    acquireConnectionTimeout: 10_000,
  });
}

/** `SELECT 1` within `timeoutMs`: the database check of `/healthcheck`. */
export async function pingDb(db: Db, timeoutMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([db.raw('select 1'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
