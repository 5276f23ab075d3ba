import type { Knex } from 'knex';

/**
 * Replay steps begun (SPEC §4.3): one row written right before the create of a replay step
 * (start or resume) is sent, so that whoever acts for the tenant next (this process after a
 * restart, or another replica after a database stall outlived the lease) recognises the driver
 * that create started and sets the step's flag, instead of carrying the step out a second time.
 * `knownDriverIds` (a JSON array) lists the drivers of `mainClass` the master listed just before
 * the create: the step's driver is one that is not among them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('spark_replay_steps', (t) => {
    t.increments('id').primary();
    t.string('tenant', 128).notNullable();
    t.integer('replayId').notNullable();
    t.string('flag', 64).notNullable();
    t.bigInteger('attemptedAt').notNullable();
    t.string('masterUrl', 255).notNullable();
    t.string('mainClass', 255).notNullable();
    t.integer('driverCores').nullable();
    t.integer('driverMemoryMb').nullable();
    t.text('knownDriverIds', 'mediumtext').notNullable();
    t.index(['tenant', 'replayId'], 'ix_spark_replay_steps_replay');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('spark_replay_steps');
}
