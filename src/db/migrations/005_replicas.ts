import type { Knex } from 'knex';

/**
 * `orchestrator_replicas` (SPEC §4.5): one row per replica, its heartbeat on the database clock
 * (ms), renewed with its leases. Replicas whose heartbeat is recent are live; each holds its
 * share of the tenants' leases (⌊T/N⌋ or ⌈T/N⌉). Rows of replicas gone are left; they stop
 * counting once their heartbeat is old, and a replica deletes its own row when it stops.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('orchestrator_replicas', (t) => {
    t.string('replica', 255).primary();
    t.string('host', 255).notNullable().defaultTo('');
    t.bigInteger('startedAt').notNullable().defaultTo(0);
    t.bigInteger('heartbeatAt').notNullable().defaultTo(0);
    t.integer('tenantsHeld').notNullable().defaultTo(0);
    t.index(['heartbeatAt']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('orchestrator_replicas');
}
