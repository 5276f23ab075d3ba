import type { Db } from './knex.js';
import { toDate } from './service-details.js';

export interface SubmissionRecord {
  tenant: string;
  submissionId: string;
  masterUrl: string;
  reason: string;
  startingOffsetsTimestamp: number | null;
  submittedAt: Date;
}

const TABLE = 'spark_submissions';

/** The drivers this orchestrator submitted, so ownership survives a restart. */
export class SparkSubmissionsRepository {
  constructor(private readonly db: Db) {}

  async record(s: SubmissionRecord): Promise<void> {
    await this.db(TABLE).insert(s);
  }

  /**
   * Which tenant recorded each of these driver ids (ids nobody recorded are absent). Lets a
   * tenant tell a driver another tenant owns from one it may have started itself.
   */
  async ownersOf(ids: readonly string[]): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    if (ids.length === 0) return owners;
    const rows = await this.db(TABLE)
      .whereIn('submissionId', [...ids])
      .select('submissionId', 'tenant');
    for (const r of rows as { submissionId: unknown; tenant: unknown }[]) owners.set(String(r.submissionId), String(r.tenant));
    return owners;
  }

  /** The most recent submissions of the tenant, newest first. */
  async recent(tenant: string, limit = 200): Promise<SubmissionRecord[]> {
    const rows = await this.db(TABLE).where({ tenant }).orderBy('id', 'desc').limit(limit);
    return rows.map((r: Record<string, unknown>) => ({
      tenant: String(r.tenant),
      submissionId: String(r.submissionId),
      masterUrl: String(r.masterUrl),
      reason: String(r.reason),
      startingOffsetsTimestamp: r.startingOffsetsTimestamp == null ? null : Number(r.startingOffsetsTimestamp),
      submittedAt: toDate(r.submittedAt),
    }));
  }
}
