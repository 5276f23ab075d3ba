import type { LeaseRow } from '../../streams/lease-decision.js';
import type { Db } from './knex.js';

/** The answer of a round: the rows after it, and the database's clock when they were read. */
export interface LeaseRound {
  dbNow: number;
  rows: LeaseRow[];
}

/** What the lease keeper needs of the database (the repository below; tests pass fakes). */
export interface LeaseStore {
  /**
   * Takes every lease of `tenants` that is `holder`'s or has run out, and renews those that are
   * `holder`'s, in one go, each to run out `expiryMs` after the statement (database clock); then
   * reads them all back.
   */
  acquireOrRenew(tenants: readonly string[], holder: string, expiryMs: number): Promise<LeaseRound>;
  /** Ends `holder`'s live leases of `tenants` now, so another replica may take them at once. Returns how many. */
  release(tenants: readonly string[], holder: string): Promise<number>;
}

/** IN lists stay well below any placeholder limit. */
const CHUNK = 500;

/**
 * `tenant_leases` (SPEC §4.5). Every time is read from and compared on the DATABASE clock, inside
 * the statements, so replicas' clocks never meet. Atomicity comes from conditional UPDATEs: the
 * one that takes or renews a lease matches a row only while it is the caller's or has run out, and
 * InnoDB re-checks that condition on the latest row version under the row lock, so of two replicas
 * racing for a lapsed lease exactly one matches.
 */
export class LeaseRepository implements LeaseStore {
  private readonly mysql: boolean;
  /** Tenants whose row is known to exist (rows are inserted once, as expired, then only updated). */
  private readonly present = new Set<string>();

  constructor(private readonly db: Db) {
    this.mysql = String(db.client.config.client).startsWith('mysql');
  }

  /**
   * The database clock in epoch ms, one value for the whole statement. On MySQL/MariaDB
   * `UNIX_TIMESTAMP()` (no argument: no time-zone conversion, so no jump at a DST change, which
   * `UNIX_TIMESTAMP(NOW(3))` would have in a zone with DST) gives the seconds and `NOW(3)` the
   * milliseconds of the same statement start. SQLite (one process, tests) has `julianday`.
   */
  get nowSql(): string {
    return this.mysql ? '(UNIX_TIMESTAMP() * 1000 + MICROSECOND(NOW(3)) DIV 1000)' : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
  }

  async acquireOrRenew(tenants: readonly string[], holder: string, expiryMs: number): Promise<LeaseRound> {
    if (tenants.length === 0) return { dbNow: await this.dbNow(), rows: [] };
    // One key order for every replica keeps their row locks from crossing.
    const sorted = [...new Set(tenants)].sort();
    const missing = sorted.filter((t) => !this.present.has(t));
    // Replicas inserting the same missing rows at once can still deadlock in InnoDB (duplicate-key
    // share locks); the statements are idempotent, so the loser simply runs them again.
    if (missing.length > 0) await retryDeadlock(() => this.insertMissing(missing));
    for (const chunk of chunks(sorted)) await retryDeadlock(() => this.takeOrRenew(chunk, holder, expiryMs));
    const round = await this.read(sorted);
    for (const r of round.rows) this.present.add(r.tenant);
    // A row deleted by hand: inserted again next round.
    for (const t of tenants) if (!round.rows.some((r) => r.tenant === t)) this.present.delete(t);
    return round;
  }

  async release(tenants: readonly string[], holder: string): Promise<number> {
    const now = this.nowSql;
    let released = 0;
    for (const chunk of chunks(tenants)) {
      released += await this.db('tenant_leases')
        .where('holder', holder)
        .whereIn('tenant', chunk)
        .andWhere('expiresAt', '>', this.db.raw(now))
        .update({ expiresAt: this.db.raw(now), renewedAt: this.db.raw(now) });
    }
    return released;
  }

  /** The rows of `tenants` and the database clock at the time of reading. */
  async read(tenants: readonly string[]): Promise<LeaseRound> {
    const rows: LeaseRow[] = [];
    let dbNow: number | undefined;
    for (const chunk of chunks(tenants)) {
      const found = (await this.db('tenant_leases')
        .select('tenant', 'holder', 'expiresAt', 'token', 'acquiredAt', 'renewedAt', this.db.raw(`${this.nowSql} as dbNow`))
        .whereIn('tenant', chunk)) as Record<string, unknown>[];
      for (const r of found) {
        dbNow ??= Number(r.dbNow);
        rows.push({
          tenant: String(r.tenant),
          holder: String(r.holder),
          expiresAt: Number(r.expiresAt),
          token: Number(r.token),
          acquiredAt: Number(r.acquiredAt),
          renewedAt: Number(r.renewedAt),
        });
      }
    }
    return { dbNow: dbNow ?? (await this.dbNow()), rows };
  }

  async dbNow(): Promise<number> {
    const rows = (await this.db.select(this.db.raw(`${this.nowSql} as dbNow`))) as { dbNow: unknown }[];
    return Number(rows[0]?.dbNow);
  }

  private async insertMissing(tenants: readonly string[]): Promise<void> {
    for (const chunk of chunks(tenants)) {
      await this.db('tenant_leases')
        .insert(chunk.map((tenant) => ({ tenant, holder: '', expiresAt: 0, token: 0, acquiredAt: 0, renewedAt: 0 })))
        .onConflict('tenant')
        .ignore();
    }
  }

  /**
   * One statement: a lease that is `holder`'s and live is extended (same token); one that has run
   * out (anyone's) is taken with the next token. MySQL assigns SET items left to right, each
   * seeing the ones before, so `token` and `acquiredAt` come first, while `holder` and
   * `expiresAt` still hold their old values (SQLite reads old values throughout).
   */
  private async takeOrRenew(tenants: readonly string[], holder: string, expiryMs: number): Promise<void> {
    const now = this.nowSql;
    const mine = `(holder = ? AND expiresAt > ${now})`;
    const placeholders = tenants.map(() => '?').join(', ');
    await this.db.raw(
      `UPDATE tenant_leases SET
         token = CASE WHEN ${mine} THEN token ELSE token + 1 END,
         acquiredAt = CASE WHEN ${mine} THEN acquiredAt ELSE ${now} END,
         renewedAt = ${now},
         expiresAt = ${now} + ?,
         holder = ?
       WHERE tenant IN (${placeholders}) AND (holder = ? OR expiresAt <= ${now})`,
      [holder, holder, Math.round(expiryMs), holder, ...tenants, holder],
    );
  }
}

/** MySQL's "deadlock found" (1213) and "lock wait timeout" (1205): the statement was rolled back and may run again. */
async function retryDeadlock<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      const errno = (err as { errno?: unknown }).errno;
      if (i >= attempts || (errno !== 1213 && errno !== 1205)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
    }
  }
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}
