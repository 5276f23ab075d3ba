import type { Knex } from 'knex';

/**
 * Adopts the Java orchestrator's tables in place (SPEC §2, §4.1): a `log_central` database it
 * ran on keeps every row, and its tables gain what this orchestrator needs, nothing more.
 * 001 left an existing table as it was; here each one is compared with what is needed, column
 * by column (information_schema), and changed only where it falls short, in one ALTER TABLE per
 * table. So the migration is idempotent (a second run, or a run after a crash half-way, finds
 * nothing or the rest to do); on our own tables it does nothing, except, in a database created
 * case-insensitive (the reference's `log_central` is), making the name columns compare as
 * bytes as it does for the reference's. Replicas starting at once
 * run it one after the other (migrateLatest holds a MySQL named lock). No table or column is
 * dropped; the Java orchestrator's queries keep working on the adopted tables (added columns
 * have defaults), so going back to it stays possible.
 *
 * The reference's tables, in its two layouts:
 *  - older: `service_details(env, serviceName varchar(50), componentName varchar(50),
 *    retentionDays, tenant ENUM(…), lastCheckedAt TIMESTAMP)`, UNIQUE over the four names, no id;
 *    `spark_submit_status(id, startingOffsetsTimestamp UNIQUE, …, tenant ENUM(…), createdAt TIMESTAMP)`;
 *  - newer (single-level layout): `service_details(serviceName varchar(50), retentionDays,
 *    tenant ENUM('ABC'), lastCheckedAt)`, UNIQUE(serviceName, tenant), no id, no env, no component.
 *
 * What changes:
 *  - a tenant ENUM becomes VARCHAR(128): every configured tenant (and any added later) fits;
 *  - the name columns are widened to our lengths (never narrowed) and compared as bytes
 *    (utf8mb4_bin; the reference's database is case-insensitive, S3 keys are not);
 *  - missing `env` / `componentName` are added as '' (the single-level layout has neither:
 *    discovery of `logs/service_name=…/` finds env '' and component '', so every existing row
 *    is found again, with its retentionDays);
 *  - a missing `id` is added (AUTO_INCREMENT, the primary key when there is none);
 *  - an index on tenant is added when none leads with it; a UNIQUE key over the names is kept
 *    as it is (the newer UNIQUE(serviceName, tenant) implies ours) and added only when none exists;
 *  - spark_submit_status's UNIQUE(startingOffsetsTimestamp), which made two tenants unable to
 *    replay from the same millisecond, becomes UNIQUE(tenant, startingOffsetsTimestamp).
 * Its other tables (spark_stage_history, livelogs_user_log, …) are not touched.
 */
export async function up(knex: Knex): Promise<void> {
  if (!String(knex.client.config.client).startsWith('mysql')) return; // SQLite databases are only ever ours
  if (await knex.schema.hasTable('service_details')) await adoptServiceDetails(knex);
  if (await knex.schema.hasTable('spark_submit_status')) await adoptSparkSubmitStatus(knex);
}

export async function down(): Promise<void> {
  // Nothing to undo that could be undone without losing what the columns now hold.
}

interface Column {
  name: string;
  dataType: string;
  maxLength: number | null;
  nullable: boolean;
  charset: string | null;
  collation: string | null;
}

interface Index {
  name: string;
  unique: boolean;
  columns: string[];
}

/** Names compared as bytes, in the character set every name fits in. */
const BIN = 'CHARACTER SET utf8mb4 COLLATE utf8mb4_bin';

async function columnsOf(knex: Knex, table: string): Promise<Map<string, Column>> {
  const [rows] = (await knex.raw(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, CHARACTER_MAXIMUM_LENGTH AS maxLength, IS_NULLABLE AS nullable,
            CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [table],
  )) as [Record<string, unknown>[]];
  return new Map(
    rows.map((r) => [
      String(r.name),
      {
        name: String(r.name),
        dataType: String(r.dataType).toLowerCase(),
        maxLength: r.maxLength == null ? null : Number(r.maxLength),
        nullable: String(r.nullable) === 'YES',
        charset: r.charset == null ? null : String(r.charset),
        collation: r.collation == null ? null : String(r.collation),
      },
    ]),
  );
}

async function indexesOf(knex: Knex, table: string): Promise<Index[]> {
  const [rows] = (await knex.raw(
    `SELECT INDEX_NAME AS name, NON_UNIQUE AS nonUnique, COLUMN_NAME AS col
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [table],
  )) as [Record<string, unknown>[]];
  const byName = new Map<string, Index>();
  for (const r of rows) {
    const name = String(r.name);
    const index = byName.get(name) ?? { name, unique: Number(r.nonUnique) === 0, columns: [] };
    index.columns.push(String(r.col));
    byName.set(name, index);
  }
  return [...byName.values()];
}

/**
 * The clause that makes `column` a byte-compared utf8mb4 VARCHAR of at least `length`
 * characters (an ENUM becomes one), or nothing when it is one already. Nullability is kept.
 */
function nameColumn(column: Column, length: number): string | null {
  const isText = column.dataType === 'varchar' || column.dataType === 'char' || column.dataType === 'enum';
  if (!isText) return null;
  const target = Math.max(length, column.dataType === 'enum' ? 0 : (column.maxLength ?? 0));
  const fits = column.dataType === 'varchar' && (column.maxLength ?? 0) >= length && column.charset === 'utf8mb4' && column.collation === 'utf8mb4_bin';
  if (fits) return null;
  return `MODIFY COLUMN \`${column.name}\` VARCHAR(${target}) ${BIN} ${column.nullable ? 'NULL' : 'NOT NULL'}`;
}

/** `id` for a table without one: AUTO_INCREMENT, and the primary key unless the table has one. */
function addId(indexes: readonly Index[]): string[] {
  const hasPrimary = indexes.some((i) => i.name === 'PRIMARY');
  return ['ADD COLUMN `id` INT UNSIGNED NOT NULL AUTO_INCREMENT FIRST', hasPrimary ? 'ADD UNIQUE KEY `uq_id` (`id`)' : 'ADD PRIMARY KEY (`id`)'];
}

const NAME_COLUMNS = ['env', 'serviceName', 'componentName', 'tenant'];

async function adoptServiceDetails(knex: Knex): Promise<void> {
  const table = 'service_details';
  const cols = await columnsOf(knex, table);
  const indexes = await indexesOf(knex, table);
  if (!cols.has('serviceName') || !cols.has('tenant') || !cols.has('retentionDays')) {
    throw new Error(
      `${table} exists but has no serviceName, tenant or retentionDays column: it is not a table this orchestrator can adopt (rename it and start again)`,
    );
  }
  if (!cols.has('env') && (cols.has('environmentName') || cols.has('componentType'))) {
    throw new Error(
      `${table} has the columns environmentName/componentType of a Logwise version whose layout this orchestrator does not adopt; ` +
        'its rows were left as they are (rename the table to start with an empty one)',
    );
  }
  const clauses: string[] = [];
  if (!cols.has('id')) clauses.push(...addId(indexes));
  for (const [name, length] of [
    ['env', 128],
    ['serviceName', 191],
    ['componentName', 191],
    ['tenant', 128],
  ] as const) {
    const column = cols.get(name);
    if (column) {
      const clause = nameColumn(column, length);
      if (clause) clauses.push(clause);
    } else {
      // Only env and componentName can be missing (checked above); '' is what discovery finds for a level the layout does not have.
      clauses.push(`ADD COLUMN \`${name}\` VARCHAR(${length}) ${BIN} NOT NULL DEFAULT ''`);
    }
  }
  if (!cols.has('lastCheckedAt')) clauses.push('ADD COLUMN `lastCheckedAt` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP');
  if (!indexes.some((i) => i.columns[0] === 'tenant')) clauses.push('ADD INDEX `ix_service_details_tenant` (`tenant`)');
  const hasNameKey = indexes.some((i) => i.unique && i.columns.every((c) => NAME_COLUMNS.includes(c)));
  if (!hasNameKey && !(await hasDuplicateNames(knex, cols))) {
    clauses.push('ADD UNIQUE KEY `uq_service_details_partition` (`env`, `serviceName`, `componentName`, `tenant`)');
  }
  if (clauses.length) await knex.raw(`ALTER TABLE \`${table}\` ${clauses.join(', ')}`);
}

/** Whether two rows share all their names (then no UNIQUE key over them can be added; the table is left without one). */
async function hasDuplicateNames(knex: Knex, cols: ReadonlyMap<string, Column>): Promise<boolean> {
  const present = NAME_COLUMNS.filter((c) => cols.has(c));
  const [rows] = (await knex.raw(`SELECT 1 FROM service_details GROUP BY ${present.map((c) => `\`${c}\``).join(', ')} HAVING COUNT(*) > 1 LIMIT 1`)) as [
    unknown[],
  ];
  return rows.length > 0;
}

async function adoptSparkSubmitStatus(knex: Knex): Promise<void> {
  const table = 'spark_submit_status';
  const cols = await columnsOf(knex, table);
  const indexes = await indexesOf(knex, table);
  if (!cols.has('tenant') || !cols.has('startingOffsetsTimestamp') || !cols.has('resumeToSubscribePatternTimestamp')) {
    throw new Error(
      `${table} exists but lacks tenant, startingOffsetsTimestamp or resumeToSubscribePatternTimestamp: it is not a table this orchestrator can adopt`,
    );
  }
  const clauses: string[] = [];
  if (!cols.has('id')) clauses.push(...addId(indexes));
  const tenant = nameColumn(cols.get('tenant')!, 128);
  if (tenant) clauses.push(tenant);
  for (const flag of ['isSubmittedForOffsetsTimestamp', 'isResumedToSubscribePattern']) {
    if (!cols.has(flag)) clauses.push(`ADD COLUMN \`${flag}\` BOOLEAN NOT NULL DEFAULT FALSE`);
  }
  if (!cols.has('createdAt')) clauses.push('ADD COLUMN `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
  // One replay per timestamp across every tenant → one per timestamp and tenant.
  const global = indexes.filter((i) => i.unique && i.columns.length === 1 && i.columns[0] === 'startingOffsetsTimestamp');
  let tenantIndexed = indexes.some((i) => i.columns[0] === 'tenant');
  if (global.length) {
    for (const index of global) clauses.push(`DROP INDEX \`${index.name}\``);
    if (!indexes.some((i) => i.unique && i.columns.length === 2 && i.columns.includes('tenant') && i.columns.includes('startingOffsetsTimestamp'))) {
      clauses.push('ADD UNIQUE KEY `uq_spark_submit_status_tenant_start` (`tenant`, `startingOffsetsTimestamp`)');
      tenantIndexed = true;
    }
  }
  if (!tenantIndexed) clauses.push('ADD INDEX `ix_spark_submit_status_tenant` (`tenant`, `id`)');
  if (clauses.length) await knex.raw(`ALTER TABLE \`${table}\` ${clauses.join(', ')}`);
}
