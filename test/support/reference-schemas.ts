/**
 * The Java orchestrator's MySQL tables as its deployments have them, written from the columns,
 * types and keys its init scripts and migrations declare (ds-horizon/logwise: the older
 * `logwise-orchestrator/db/init`, the newer `orchestrator/db/init` and the k8s init config),
 * with rows such as a running deployment holds: services onboarded by it, retention days an
 * operator edited by hand, replays inserted by hand, and its other tables.
 */
import knexFactory, { type Knex } from 'knex';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { mysqlTestServer } from './databases.js';

export type ReferenceVersion = 'older' | 'newer';

/** The older layout's tenants, as its ENUM lists them. */
export const OLDER_TENANTS = ['D11-Prod-AWS', 'D11-Stag-AWS', 'DP-Logs-AWS', 'Hulk-Prod-AWS', 'Delivr-AWS'];

const enumOf = (values: readonly string[]) => `ENUM(${values.map((v) => `'${v}'`).join(', ')})`;

/** The tables, one statement each. */
export const REFERENCE_DDL: Record<ReferenceVersion, string[]> = {
  older: [
    `CREATE TABLE service_details (
       env VARCHAR(128) NOT NULL,
       serviceName VARCHAR(50) NOT NULL,
       componentName VARCHAR(50) NOT NULL,
       retentionDays MEDIUMINT UNSIGNED NOT NULL,
       tenant ${enumOf(OLDER_TENANTS)} NOT NULL,
       lastCheckedAt TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
       UNIQUE KEY (env, serviceName, componentName, tenant)
     )`,
    `CREATE TABLE spark_submit_status (
       id INT AUTO_INCREMENT,
       startingOffsetsTimestamp BIGINT UNSIGNED NOT NULL,
       resumeToSubscribePatternTimestamp BIGINT UNSIGNED NOT NULL,
       isSubmittedForOffsetsTimestamp BOOLEAN DEFAULT FALSE,
       isResumedToSubscribePattern BOOLEAN DEFAULT FALSE,
       tenant ${enumOf(OLDER_TENANTS)} NOT NULL,
       createdAt TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
       PRIMARY KEY (id),
       UNIQUE KEY startingOffsetsTimestamp_UNIQUE (startingOffsetsTimestamp)
     )`,
    // Tables of its other features: never touched by this orchestrator.
    `CREATE TABLE spark_stage_history (
       outputBytes BIGINT UNSIGNED NOT NULL,
       inputRecords BIGINT UNSIGNED NOT NULL,
       submissionTime BIGINT UNSIGNED NOT NULL,
       completionTime BIGINT UNSIGNED NOT NULL,
       coresUsed INT UNSIGNED NOT NULL,
       status VARCHAR(30) NOT NULL,
       tenant ${enumOf(OLDER_TENANTS.slice(0, 3))} NOT NULL,
       createdAt TIMESTAMP DEFAULT CURRENT_TIMESTAMP
     )`,
    `CREATE TABLE livelogs_user_log (
       hostname VARCHAR(45) NOT NULL,
       command JSON NOT NULL,
       tenant ${enumOf(OLDER_TENANTS.slice(0, 3))} NOT NULL,
       createdAt TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
       KEY hostname (hostname)
     )`,
    `CREATE TABLE spark_scale_override (
       upscale BOOL NOT NULL DEFAULT TRUE,
       downscale BOOL NOT NULL DEFAULT TRUE,
       tenant ${enumOf(OLDER_TENANTS.slice(0, 3))} NOT NULL,
       PRIMARY KEY (tenant)
     )`,
  ],
  newer: [
    `CREATE TABLE service_details (
       serviceName VARCHAR(50) NOT NULL,
       retentionDays MEDIUMINT UNSIGNED NOT NULL,
       tenant ENUM('ABC') NOT NULL,
       lastCheckedAt TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
       UNIQUE KEY (serviceName, tenant)
     )`,
  ],
};

/** The other tables of each version (left as they are). */
export const OTHER_TABLES: Record<ReferenceVersion, string[]> = {
  older: ['spark_stage_history', 'livelogs_user_log', 'spark_scale_override'],
  newer: [],
};

export interface ReferenceServiceRow {
  env?: string;
  serviceName: string;
  componentName?: string;
  retentionDays: number;
  tenant: string;
}

/** The services each database holds; retentionDays that differ from the config's were edited by hand. */
export const REFERENCE_SERVICES: Record<ReferenceVersion, ReferenceServiceRow[]> = {
  older: [
    { env: 'prod', serviceName: 'central-log-management', componentName: 'central-log-management-vector', retentionDays: 30, tenant: 'D11-Prod-AWS' },
    { env: 'prod', serviceName: 'orders', componentName: 'application', retentionDays: 30, tenant: 'D11-Prod-AWS' },
    { env: 'prod', serviceName: 'payments', componentName: 'application', retentionDays: 45, tenant: 'D11-Prod-AWS' }, // edited
    { env: 'stag', serviceName: 'orders', componentName: 'application', retentionDays: 3, tenant: 'D11-Prod-AWS' },
    { env: 'darwin', serviceName: 'auth', componentName: 'worker', retentionDays: 7, tenant: 'D11-Prod-AWS' }, // edited
    { env: 'prod', serviceName: 'orders', componentName: 'application', retentionDays: 30, tenant: 'DP-Logs-AWS' }, // another tenant's
  ],
  newer: [
    { serviceName: 'healthcheck-dummy', retentionDays: 3, tenant: 'ABC' },
    { serviceName: 'orders', retentionDays: 3, tenant: 'ABC' },
    { serviceName: 'payments', retentionDays: 14, tenant: 'ABC' }, // edited
    { serviceName: 'checkout', retentionDays: 3, tenant: 'ABC' },
  ],
};

/** Rows of the older version's spark_submit_status: one replay done, one pending far in the future. */
export const OLDER_REPLAYS = [
  {
    startingOffsetsTimestamp: 1_700_000_000_000,
    resumeToSubscribePatternTimestamp: 1_700_000_600_000,
    isSubmittedForOffsetsTimestamp: true,
    isResumedToSubscribePattern: true,
    tenant: 'D11-Prod-AWS',
  },
  {
    startingOffsetsTimestamp: 4_102_444_800_000,
    resumeToSubscribePatternTimestamp: 4_102_445_400_000,
    isSubmittedForOffsetsTimestamp: false,
    isResumedToSubscribePattern: false,
    tenant: 'D11-Prod-AWS',
  },
];

/** Fills a database with the version's tables and rows. */
export async function createReferenceSchema(db: Knex, version: ReferenceVersion): Promise<void> {
  for (const ddl of REFERENCE_DDL[version]) await db.raw(ddl);
  await db('service_details').insert(
    REFERENCE_SERVICES[version].map((r) => (version === 'newer' ? { serviceName: r.serviceName, retentionDays: r.retentionDays, tenant: r.tenant } : r)),
  );
  if (version === 'older') {
    await db('spark_submit_status').insert(OLDER_REPLAYS);
    await db('spark_stage_history').insert([
      {
        outputBytes: 1024,
        inputRecords: 10,
        submissionTime: 1_700_000_000_000,
        completionTime: 1_700_000_001_000,
        coresUsed: 4,
        status: 'COMPLETE',
        tenant: 'D11-Prod-AWS',
      },
      {
        outputBytes: 2048,
        inputRecords: 20,
        submissionTime: 1_700_000_002_000,
        completionTime: 1_700_000_003_000,
        coresUsed: 4,
        status: 'COMPLETE',
        tenant: 'D11-Stag-AWS',
      },
    ]);
    await db('livelogs_user_log').insert({ hostname: 'ip-10-0-0-1', command: JSON.stringify({ tail: 'app.log' }), tenant: 'D11-Prod-AWS' });
    await db('spark_scale_override').insert({ upscale: false, downscale: true, tenant: 'D11-Prod-AWS' });
  }
}

export interface ReferenceDatabase {
  /** The database as the daemon's config names it (client, server, name). */
  config: DatabaseConfig;
  name: string;
  /** A client of that database (one connection), for the test's own reads and writes. */
  db: Knex;
  drop(): Promise<void>;
}

/**
 * A new database on the test MariaDB as the reference's init script creates `log_central`
 * (utf8mb4, case-insensitive unicode collation), holding the version's tables and rows, not
 * migrated. The name is the test's own (a server may hold one `log_central` only).
 */
export async function referenceDatabase(label: string, version: ReferenceVersion | 'empty'): Promise<ReferenceDatabase> {
  const name = `lw_ref_${label.replace(/\W/g, '_')}_${process.pid}_${Date.now().toString(36)}`;
  const admin = knexFactory({ client: 'mysql2', connection: { ...mysqlTestServer, connectTimeout: 3000 }, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } catch (err) {
    await admin.destroy();
    throw new Error(`MariaDB at ${mysqlTestServer.host}:${mysqlTestServer.port} is not usable (${(err as Error).message}); run \`bash test/services.sh up\``);
  }
  const db = knexFactory({ client: 'mysql2', connection: { ...mysqlTestServer, database: name, timezone: 'Z' }, pool: { min: 0, max: 2 } });
  if (version !== 'empty') await createReferenceSchema(db, version);
  return {
    name,
    db,
    config: { client: 'mysql', ...mysqlTestServer, database: name, filename: 'unused', poolMax: 5 },
    drop: async () => {
      await db.destroy();
      await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.destroy();
    },
  };
}

/** `SHOW CREATE TABLE` of a table, without its AUTO_INCREMENT counter. */
export async function showCreate(db: Knex, table: string): Promise<string> {
  const [rows] = (await db.raw(`SHOW CREATE TABLE \`${table}\``)) as [Record<string, string>[]];
  return String(rows[0]!['Create Table']).replace(/ AUTO_INCREMENT=\d+/, '');
}
