/**
 * The discovery benchmark's database: a fresh MariaDB database with a user of the daemon's own,
 * whose statements are read back from the server's general query log and classified by table
 * and verb (lease renewals of the same user are not service_details writes).
 */
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { mysqlTestServer } from '../test/support/databases.js';

/** The daemon's statements on service_details during one sync, read from the server's query log. */
export interface ServiceStatements {
  inserts: number;
  deletes: number;
  /** UPDATEs of lastCheckedAt (the re-sync's touch of the rows still present). */
  touches: number;
  otherWrites: number;
  selects: number;
  /** Every statement of the daemon's user (lease renewals included). */
  all: number;
}

export function classify(statements: readonly string[]): ServiceStatements {
  const out: ServiceStatements = { inserts: 0, deletes: 0, touches: 0, otherWrites: 0, selects: 0, all: statements.length };
  for (const sql of statements) {
    if (!/\bservice_details\b/i.test(sql)) continue;
    const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase();
    if (verb === 'insert' || verb === 'replace') out.inserts += 1;
    else if (verb === 'delete') out.deletes += 1;
    else if (verb === 'update') /lastCheckedAt/i.test(sql) ? (out.touches += 1) : (out.otherWrites += 1);
    else if (verb === 'select') out.selects += 1;
  }
  return out;
}

/**
 * A fresh database and a MariaDB user of its own for the daemon, so that the server's query log
 * tells the daemon's statements apart from everybody else's.
 */
export async function daemonDatabase(): Promise<{
  config: { database: string; user: string; password: string };
  recordStatements(): Promise<() => Promise<string[]>>;
  drop(): Promise<void>;
}> {
  const name = `lw_bench_discovery_${process.pid}_${Date.now().toString(36)}`;
  const user = `lwbench${process.pid}`;
  const password = randomBytes(12).toString('hex');
  const admin = knexFactory({ client: 'mysql2', connection: { ...mysqlTestServer, connectTimeout: 3000 }, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  for (const host of ['%', 'localhost']) {
    await admin.raw(`CREATE OR REPLACE USER ?@? IDENTIFIED BY ?`, [user, host, password]);
    await admin.raw(`GRANT ALL ON \`${name}\`.* TO ?@?`, [user, host]);
  }
  /**
   * The daemon's statements while recording, from the server's general query log (table
   * output, read for this user only); the log settings are put back afterwards.
   */
  const recordStatements = async () => {
    const [vars] = (await admin.raw('SELECT @@GLOBAL.general_log g, @@GLOBAL.log_output o')) as [{ g: number; o: string }[]];
    const before = vars[0]!;
    const since = new Date(Date.now() - 1000);
    await admin.raw("SET GLOBAL log_output = 'TABLE,FILE'");
    await admin.raw('SET GLOBAL general_log = 1');
    return async () => {
      await admin.raw(`SET GLOBAL general_log = ${Number(before.g)}`);
      await admin.raw('SET GLOBAL log_output = ?', [before.o]);
      const [rows] = (await admin.raw(
        "SELECT CONVERT(argument USING utf8mb4) a FROM mysql.general_log WHERE user_host LIKE ? AND command_type = 'Query' AND event_time >= ?",
        [`${user}[%`, since],
      )) as [{ a: string }[]];
      if (!Number(before.g)) await admin.raw('TRUNCATE TABLE mysql.general_log');
      return rows.map((r) => r.a);
    };
  };
  return {
    config: { database: name, user, password },
    recordStatements,
    drop: async () => {
      await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      for (const host of ['%', 'localhost']) await admin.raw('DROP USER IF EXISTS ?@?', [user, host]);
      await admin.destroy();
    },
  };
}

/** Rows in service_details, read by root (not counted against the daemon's user). */
export async function countRows(databaseName: string, tenant: string): Promise<number> {
  const admin = knexFactory({ client: 'mysql2', connection: { ...mysqlTestServer, database: databaseName }, pool: { min: 0, max: 1 } });
  try {
    const [rows] = (await admin.raw('SELECT COUNT(*) n FROM service_details WHERE tenant = ?', [tenant])) as [{ n: number }[]];
    return Number(rows[0]!.n);
  } finally {
    await admin.destroy();
  }
}
