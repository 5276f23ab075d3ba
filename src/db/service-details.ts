import type { Db } from './knex.js';

/** One discovered service: a partition folder of the tenant's logs (SPEC §4.1). */
export interface ServicePartition {
  env: string;
  serviceName: string;
  componentName: string;
}

export interface ServiceDetailsRow extends ServicePartition {
  id: number;
  retentionDays: number;
  tenant: string;
  lastCheckedAt: Date;
}

/** A row as a sync's diff needs it: the partition and the row's id. */
export interface ServicePartitionId extends ServicePartition {
  id: number;
}

const TABLE = 'service_details';
/** Rows per statement: small enough for any packet limit, large enough to be few round trips. */
const BATCH = 1000;
/**
 * Rows per SELECT when a sync reads a tenant's partitions (the page, not the table, is held at
 * once). Small enough that a page's row objects are gone before V8's young generation is
 * collected twice: pages of 10,000 lived long enough to be promoted, ~20 MB of old-space
 * garbage per 100,000 rows. A keyset page on the (tenant, id) index costs little.
 */
const READ_PAGE = 1_000;
/** knex inserts many rows into SQLite as one compound SELECT, which SQLite caps at 500 terms. */
const SQLITE_INSERT_BATCH = 400;

export class ServiceDetailsRepository {
  constructor(private readonly db: Db) {}

  async listByTenant(tenant: string): Promise<ServiceDetailsRow[]> {
    const rows: Record<string, unknown>[] = await this.db(TABLE).where({ tenant }).orderBy(['env', 'serviceName', 'componentName']);
    // The driver makes a new string per row and column; a tenant's rows repeat a few env,
    // component and service names, so one copy of each keeps 100,000 rows small in memory.
    const strings = new Map<string, string>();
    const intern = (v: unknown): string => {
      const s = String(v);
      const known = strings.get(s);
      if (known !== undefined) return known;
      strings.set(s, s);
      return s;
    };
    return rows.map((r) => toRow(r, intern));
  }

  /**
   * The tenant's partitions and ids, page by page in id order (keyset pagination), for a
   * sync that keeps them in a compact form of its own: no page outlives its callback's loop.
   */
  async *partitionPagesByTenant(tenant: string): AsyncGenerator<ServicePartitionId[]> {
    let after: number | undefined;
    for (;;) {
      const query = this.db(TABLE).select('id', 'env', 'serviceName', 'componentName').where({ tenant });
      if (after !== undefined) query.andWhere('id', '>', after);
      const rows: Record<string, unknown>[] = await query.orderBy('id').limit(READ_PAGE);
      if (rows.length === 0) return;
      const page = rows.map((r) => ({ id: Number(r.id), env: String(r.env), serviceName: String(r.serviceName), componentName: String(r.componentName) }));
      after = page[page.length - 1]!.id;
      yield page;
      if (rows.length < READ_PAGE) return;
    }
  }

  async countByTenant(tenant: string): Promise<number> {
    const [row] = await this.db(TABLE).where({ tenant }).count({ n: '*' });
    return Number(row?.n ?? 0);
  }

  /** Rows per tenant in one grouped query (the dashboard's overview of every tenant). */
  async countAllTenants(): Promise<Map<string, number>> {
    const rows: { tenant: unknown; n: unknown }[] = await this.db(TABLE).select('tenant').count({ n: '*' }).groupBy('tenant');
    return new Map(rows.map((r) => [String(r.tenant), Number(r.n)]));
  }

  /**
   * Inserts in batches inside one transaction; a row that already exists is left as it is. The
   * rows are taken from `rows` one batch at a time (a sync passes a generator over compact
   * arrays, so only one batch of row objects exists at once).
   */
  async insertMany(tenant: string, rows: Iterable<ServicePartition & { retentionDays: number }>, at: Date): Promise<number> {
    const size = String(this.db.client.config.client).includes('sqlite') ? SQLITE_INSERT_BATCH : BATCH;
    const source = rows[Symbol.iterator]();
    const nextBatch = () => {
      const batch: Record<string, unknown>[] = [];
      while (batch.length < size) {
        const next = source.next();
        if (next.done) break;
        const r = next.value;
        batch.push({ env: r.env, serviceName: r.serviceName, componentName: r.componentName, retentionDays: r.retentionDays, tenant, lastCheckedAt: at });
      }
      return batch;
    };
    let batch = nextBatch();
    if (batch.length === 0) return 0;
    let inserted = 0;
    await this.db.transaction(async (trx) => {
      for (; batch.length > 0; batch = nextBatch()) {
        await trx(TABLE).insert(batch).onConflict(['env', 'serviceName', 'componentName', 'tenant']).ignore();
        inserted += batch.length;
      }
    });
    return inserted;
  }

  async deleteByIds(tenant: string, ids: readonly number[]): Promise<number> {
    let deleted = 0;
    if (ids.length === 0) return 0;
    await this.db.transaction(async (trx) => {
      for (let i = 0; i < ids.length; i += BATCH) {
        deleted += await trx(TABLE)
          .where({ tenant })
          .whereIn('id', ids.slice(i, i + BATCH))
          .delete();
      }
    });
    return deleted;
  }

  /**
   * Sets lastCheckedAt of the given rows: one UPDATE per 1,000 rows. The ids (integers the
   * database gave) are written into the statement as a list: 1,000 bindings per statement cost
   * the query builder and the driver ~75 KB of short-lived objects each, which a re-sync makes
   * at its memory peak.
   */
  async touch(tenant: string, ids: readonly number[], at: Date): Promise<number> {
    let updated = 0;
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      const query = this.db(TABLE).where({ tenant });
      if (batch.every(Number.isSafeInteger)) query.whereRaw(`id in (${batch.join(',')})`);
      else query.whereIn('id', batch);
      updated += await query.update({ lastCheckedAt: at });
    }
    return updated;
  }
}

function toRow(r: Record<string, unknown>, text: (v: unknown) => string = String): ServiceDetailsRow {
  return {
    id: Number(r.id),
    env: text(r.env),
    serviceName: text(r.serviceName),
    componentName: text(r.componentName),
    retentionDays: Number(r.retentionDays),
    tenant: text(r.tenant),
    lastCheckedAt: toDate(r.lastCheckedAt),
  };
}

/** mysql2 returns Date, better-sqlite3 the epoch ms or string knex wrote; NULL (an adopted reference table's nullable TIMESTAMP) is the epoch. */
export function toDate(v: unknown): Date {
  if (v instanceof Date) return v;
  if (v === null || v === undefined) return new Date(0);
  if (typeof v === 'number') return new Date(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return new Date(Number(v));
  return new Date(String(v).replace(' ', 'T') + (String(v).endsWith('Z') ? '' : 'Z'));
}
