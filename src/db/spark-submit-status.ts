import { SharedRead } from '../shared-read.js';
import type { Db } from './knex.js';
import { toDate } from './service-details.js';

/** A timestamp-based reprocessing request (SPEC §4.3); the flags make each step happen once. */
export interface ReplayRow {
  id: number;
  tenant: string;
  startingOffsetsTimestamp: number;
  resumeToSubscribePatternTimestamp: number;
  isSubmittedForOffsetsTimestamp: boolean;
  isResumedToSubscribePattern: boolean;
  createdAt: Date;
}

const TABLE = 'spark_submit_status';

export class SparkSubmitStatusRepository {
  constructor(private readonly db: Db) {}

  async insert(tenant: string, startingOffsetsTimestamp: number, resumeToSubscribePatternTimestamp: number): Promise<ReplayRow> {
    const [id] = await this.db(TABLE).insert({ tenant, startingOffsetsTimestamp, resumeToSubscribePatternTimestamp });
    const row = await this.db(TABLE).where({ id }).first();
    return toReplay(row);
  }

  /** The newest row of the tenant that still has a step to carry out, as the reference reads it. */
  async pending(tenant: string): Promise<ReplayRow | undefined> {
    const row = await this.db(TABLE)
      .where({ tenant })
      .andWhere((q) => q.where('isSubmittedForOffsetsTimestamp', false).orWhere('isResumedToSubscribePattern', false))
      .orderBy('id', 'desc')
      .first();
    return row ? toReplay(row) : undefined;
  }

  async latest(tenant: string): Promise<ReplayRow | undefined> {
    const row = await this.db(TABLE).where({ tenant }).orderBy('id', 'desc').first();
    return row ? toReplay(row) : undefined;
  }

  /** `latest` of every tenant that has a row, in one query. */
  async latestOfEveryTenant(): Promise<Map<string, ReplayRow>> {
    const rows = await this.db(TABLE).whereIn('id', this.db(TABLE).max('id').groupBy('tenant'));
    const out = new Map<string, ReplayRow>();
    for (const r of rows as Record<string, unknown>[]) {
      const row = toReplay(r);
      out.set(row.tenant, row);
    }
    return out;
  }

  /** Returns false when another writer set the flag first: the step must not run twice. */
  async markSubmitted(id: number): Promise<boolean> {
    return (await this.db(TABLE).where({ id, isSubmittedForOffsetsTimestamp: false }).update({ isSubmittedForOffsetsTimestamp: true })) === 1;
  }

  async markResumed(id: number): Promise<boolean> {
    return (await this.db(TABLE).where({ id, isResumedToSubscribePattern: false }).update({ isResumedToSubscribePattern: true })) === 1;
  }
}

/**
 * The replay rows as the Spark polls of many tenants read them: `latest(tenant)` answers from
 * one read of every tenant's newest row (`latestOfEveryTenant`), shared by the polls and made
 * at most once per `maxAgeMs` (see SharedRead), instead of one query per tenant per poll. A
 * write through it (insert, flags) makes the next poll read anew; a row inserted by hand, or
 * a flag set by another replica, is seen within `maxAgeMs`.
 */
export class SharedReplayReads {
  private readonly everyTenant: SharedRead<Map<string, ReplayRow>>;

  constructor(
    private readonly repo: SparkSubmitStatusRepository,
    maxAgeMs: number,
    now?: () => number,
  ) {
    this.everyTenant = new SharedRead(() => repo.latestOfEveryTenant(), maxAgeMs, now);
  }

  async latest(tenant: string): Promise<ReplayRow | undefined> {
    return (await this.everyTenant.get()).get(tenant);
  }

  insert(tenant: string, startingOffsetsTimestamp: number, resumeToSubscribePatternTimestamp: number): Promise<ReplayRow> {
    return this.write(() => this.repo.insert(tenant, startingOffsetsTimestamp, resumeToSubscribePatternTimestamp));
  }

  markSubmitted(id: number): Promise<boolean> {
    return this.write(() => this.repo.markSubmitted(id));
  }

  markResumed(id: number): Promise<boolean> {
    return this.write(() => this.repo.markResumed(id));
  }

  /** Forgotten before the write and again after it: no read from before it is answered after it. */
  private async write<T>(run: () => Promise<T>): Promise<T> {
    this.everyTenant.invalidate();
    try {
      return await run();
    } finally {
      this.everyTenant.invalidate();
    }
  }
}

function toReplay(r: Record<string, unknown>): ReplayRow {
  return {
    id: Number(r.id),
    tenant: String(r.tenant),
    startingOffsetsTimestamp: Number(r.startingOffsetsTimestamp),
    resumeToSubscribePatternTimestamp: Number(r.resumeToSubscribePatternTimestamp),
    isSubmittedForOffsetsTimestamp: Boolean(r.isSubmittedForOffsetsTimestamp),
    isResumedToSubscribePattern: Boolean(r.isResumedToSubscribePattern),
    createdAt: toDate(r.createdAt),
  };
}
