import type { Knex } from 'knex';

// Lengths keep the unique index within InnoDB's 3,072-byte limit in utf8mb4.
// A table that exists already is the Java orchestrator's (its `log_central` database): it is
// left as it is here and adopted in place by 004_adopt_reference_tables.
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('service_details'))) await createServiceDetails(knex);
  if (!(await knex.schema.hasTable('spark_submit_status'))) await createSparkSubmitStatus(knex);
  if (!(await knex.schema.hasTable('spark_submissions'))) await createSparkSubmissions(knex);
}

async function createServiceDetails(knex: Knex): Promise<void> {
  await knex.schema.createTable('service_details', (t) => {
    t.increments('id').primary();
    t.string('env', 128).notNullable();
    t.string('serviceName', 191).notNullable();
    t.string('componentName', 191).notNullable();
    t.integer('retentionDays').notNullable();
    t.string('tenant', 128).notNullable();
    t.dateTime('lastCheckedAt', { precision: 3 }).notNullable();
    t.unique(['env', 'serviceName', 'componentName', 'tenant'], { indexName: 'uq_service_details_partition' });
    t.index(['tenant'], 'ix_service_details_tenant');
  });
}

async function createSparkSubmitStatus(knex: Knex): Promise<void> {
  await knex.schema.createTable('spark_submit_status', (t) => {
    t.increments('id').primary();
    t.string('tenant', 128).notNullable();
    t.bigInteger('startingOffsetsTimestamp').notNullable();
    t.bigInteger('resumeToSubscribePatternTimestamp').notNullable();
    t.boolean('isSubmittedForOffsetsTimestamp').notNullable().defaultTo(false);
    t.boolean('isResumedToSubscribePattern').notNullable().defaultTo(false);
    // A default, so that a row inserted by hand (as operators did with the reference) is valid.
    t.dateTime('createdAt', { precision: 3 })
      .notNullable()
      .defaultTo(isMysql(knex) ? knex.fn.now(3) : knex.fn.now());
    t.index(['tenant', 'id'], 'ix_spark_submit_status_tenant');
  });
}

async function createSparkSubmissions(knex: Knex): Promise<void> {
  // Every driver the orchestrator submitted: ownership survives restarts (SPEC §4.2).
  await knex.schema.createTable('spark_submissions', (t) => {
    t.increments('id').primary();
    t.string('tenant', 128).notNullable();
    t.string('submissionId', 128).notNullable();
    t.string('masterUrl', 255).notNullable();
    t.string('reason', 64).notNullable();
    t.bigInteger('startingOffsetsTimestamp').nullable();
    t.dateTime('submittedAt', { precision: 3 }).notNullable();
    t.index(['tenant', 'submittedAt'], 'ix_spark_submissions_tenant');
  });
}

function isMysql(knex: Knex): boolean {
  return String(knex.client.config.client).startsWith('mysql');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('spark_submissions');
  await knex.schema.dropTableIfExists('spark_submit_status');
  await knex.schema.dropTableIfExists('service_details');
}
