import type { Knex } from 'knex';

/**
 * One lease row per tenant (SPEC §4.5): the replica named in `holder` acts for the tenant until
 * `expiresAt`. Every time is in ms of the DATABASE clock (never a replica's), so clock skew
 * between replicas does not matter. `token` grows by one on every acquisition after a lapse or
 * a takeover (a fencing token: a later holder always has a larger one). `acquiredAt` is when the
 * current holder's term began, `renewedAt` its latest renewal. A row whose lease lapsed keeps
 * its last holder for the record; a clean shutdown sets `expiresAt` to the release time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tenant_leases', (t) => {
    t.string('tenant', 128).primary();
    t.string('holder', 255).notNullable().defaultTo('');
    t.bigInteger('expiresAt').notNullable().defaultTo(0);
    t.bigInteger('token').notNullable().defaultTo(0);
    t.bigInteger('acquiredAt').notNullable().defaultTo(0);
    t.bigInteger('renewedAt').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('tenant_leases');
}
