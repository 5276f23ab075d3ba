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

  /** Returns false when another writer set the flag first: the step must not run twice. */
  async markSubmitted(id: number): Promise<boolean> {
    return (await this.db(TABLE).where({ id, isSubmittedForOffsetsTimestamp: false }).update({ isSubmittedForOffsetsTimestamp: true })) === 1;
  }

  async markResumed(id: number): Promise<boolean> {
    return (await this.db(TABLE).where({ id, isResumedToSubscribePattern: false }).update({ isResumedToSubscribePattern: true })) === 1;
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
