import type { LeaseRow } from '../../streams/lease-decision.js';
import type { Db } from './knex.js';

/** The answer of a round: the rows after it, and the database's clock when they were read. */
export interface LeaseRound {
  dbNow: number;
  rows: LeaseRow[];
}

/** One replica's membership row (times in database ms). */
export interface ReplicaRow {
  replica: string;
  host: string;
  startedAt: number;
  heartbeatAt: number;
  tenantsHeld: number;
}

/** What the lease keeper needs of the database (the repository below; tests wrap it). */
export interface LeaseStore {
  /**
   * Marks `me` live (its heartbeat, on the database clock) and reads the replicas whose heartbeat
   * is younger than `livenessMs`, this one included, ordered by id.
   */
  heartbeat(me: { replica: string; host: string; tenantsHeld: number }, livenessMs: number): Promise<{ dbNow: number; replicas: ReplicaRow[] }>;
  /** Renews every live lease of `holder` to run out `expiryMs` after the statement: one statement, whatever their number. Returns how many. */
  renew(holder: string, expiryMs: number): Promise<number>;
  /**
   * Takes at most `limit` of `tenants`' leases that have run out (anyone's), the ones ranked first
   * for `holder` (a hash of holder and tenant: replicas prefer different tenants, and the same
   * ones every time). Returns how many.
   */
  take(tenants: readonly string[], holder: string, expiryMs: number, limit: number): Promise<number>;
  /** The rows of `tenants` and the database clock at the time of reading. */
  read(tenants: readonly string[]): Promise<LeaseRound>;
  /** Ends `holder`'s live leases of `tenants` now, so another replica may take them at once. Returns how many. */
  release(tenants: readonly string[], holder: string): Promise<number>;
  /** Removes `holder`'s membership row (a clean stop): the others count it out at once. */
  leave(holder: string): Promise<void>;
}

/** IN lists stay well below any placeholder limit; 1,000 tenants are one statement. */
const CHUNK = 2_000;

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
    statementCounter(db);
  }

  /** Statements sent on this repository's connection pool (`logwise_lease_statements_total`; the daemon gives the leases a pool of their own). */
  get statements(): number {
    return statementCounter(this.db).count;
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

  /** Renews `holder`'s live leases and takes every lease of `tenants` that has run out, then reads them back (one replica alone). */
  async acquireOrRenew(tenants: readonly string[], holder: string, expiryMs: number): Promise<LeaseRound> {
    if (tenants.length === 0) return { dbNow: await this.dbNow(), rows: [] };
    await this.renew(holder, expiryMs);
    await this.take(tenants, holder, expiryMs, tenants.length);
    return this.read(tenants);
  }

  async heartbeat(me: { replica: string; host: string; tenantsHeld: number }, livenessMs: number): Promise<{ dbNow: number; replicas: ReplicaRow[] }> {
    const now = this.nowSql;
    const row = { replica: me.replica, host: me.host.slice(0, 255), startedAt: this.db.raw(now), heartbeatAt: this.db.raw(now), tenantsHeld: me.tenantsHeld };
    await this.db('orchestrator_replicas').insert(row).onConflict('replica').merge(['host', 'heartbeatAt', 'tenantsHeld']);
    const found = (await this.db('orchestrator_replicas')
      .select('replica', 'host', 'startedAt', 'heartbeatAt', 'tenantsHeld', this.db.raw(`${now} as dbNow`))
      .where('heartbeatAt', '>', this.db.raw(`${now} - ?`, [Math.round(livenessMs)]))
      .orderBy('replica')) as Record<string, unknown>[];
    const replicas = found.map((r) => ({
      replica: String(r.replica),
      host: String(r.host),
      startedAt: Number(r.startedAt),
      heartbeatAt: Number(r.heartbeatAt),
      tenantsHeld: Number(r.tenantsHeld),
    }));
    return { dbNow: found.length > 0 ? Number(found[0]!.dbNow) : await this.dbNow(), replicas };
  }

  async renew(holder: string, expiryMs: number): Promise<number> {
    const now = this.nowSql;
    return retryDeadlock(() =>
      this.db('tenant_leases')
        .where('holder', holder)
        .andWhere('expiresAt', '>', this.db.raw(now))
        .update({ renewedAt: this.db.raw(now), expiresAt: this.db.raw(`${now} + ?`, [Math.round(expiryMs)]) }),
    );
  }

  async take(tenants: readonly string[], holder: string, expiryMs: number, limit: number): Promise<number> {
    if (tenants.length === 0 || limit <= 0) return 0;
    const unique = [...new Set(tenants)];
    const missing = unique.filter((t) => !this.present.has(t)).sort();
    // Replicas inserting the same missing rows at once can still deadlock in InnoDB (duplicate-key
    // share locks); the statements are idempotent, so the loser simply runs them again.
    if (missing.length > 0) await retryDeadlock(() => this.insertMissing(missing));
    for (const t of missing) this.present.add(t);
    let taken = 0;
    for (const chunk of chunks(unique)) {
      if (taken >= limit) break;
      taken += await retryDeadlock(() => this.takeLapsed(chunk, holder, expiryMs, limit - taken));
    }
    return taken;
  }

  async leave(holder: string): Promise<void> {
    await this.db('orchestrator_replicas').where('replica', holder).delete();
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
    // A row deleted by hand: inserted again by the next take.
    const found = new Set(rows.map((r) => r.tenant));
    for (const t of tenants)
      if (found.has(t)) this.present.add(t);
      else this.present.delete(t);
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
   * One statement: leases of `tenants` that have run out (anyone's) are taken with the next token,
   * at most `limit`, in the holder's order of preference. MySQL assigns SET items left to right,
   * each seeing the ones before, so `token` and `acquiredAt` come before `holder`.
   */
  private async takeLapsed(tenants: readonly string[], holder: string, expiryMs: number, limit: number): Promise<number> {
    const now = this.nowSql;
    const placeholders = tenants.map(() => '?').join(', ');
    // The preference: a hash of holder and tenant (SQLite, one process, takes in key order).
    const order = this.mysql ? 'ORDER BY CRC32(CONCAT(?, tenant)), tenant' : '';
    const sql = `UPDATE tenant_leases SET
         token = token + 1,
         acquiredAt = ${now},
         renewedAt = ${now},
         expiresAt = ${now} + ?,
         holder = ?
       WHERE tenant IN (${placeholders}) AND expiresAt <= ${now}
       ${this.mysql ? `${order} LIMIT ${Math.max(0, Math.floor(limit))}` : ''}`;
    const bindings = [Math.round(expiryMs), holder, ...tenants, ...(this.mysql ? [holder] : [])];
    const result = (await this.db.raw(sql, bindings)) as unknown;
    return affectedRows(result);
  }
}

/** Rows an UPDATE changed, as mysql2 (`[ResultSetHeader]`) and better-sqlite3 (`{ changes }`) report it. */
function affectedRows(result: unknown): number {
  const first = Array.isArray(result) ? result[0] : result;
  const r = first as { affectedRows?: number; changes?: number } | undefined;
  return Number(r?.affectedRows ?? r?.changes ?? 0);
}

const counters = new WeakMap<Db, { count: number }>();

/** One query listener per pool, however many repositories share it. */
function statementCounter(db: Db): { count: number } {
  let counter = counters.get(db);
  if (!counter) {
    const c = { count: 0 };
    db.on('query', () => (c.count += 1));
    counters.set(db, c);
    counter = c;
  }
  return counter;
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
