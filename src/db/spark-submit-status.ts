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

/** The flag a replay step sets once its submission went through. */
export type ReplayStepFlag = 'isSubmittedForOffsetsTimestamp' | 'isResumedToSubscribePattern';

/**
 * A replay step's create, recorded right before it is sent (SPEC §4.3: a step whose create went
 * through but whose flag write did not is recognised, not redone). Whoever acts for the tenant
 * next finds the step's driver on the master: of `mainClass` and the requested size, and not
 * among `knownDriverIds`.
 */
export interface ReplayStepAttempt {
  tenant: string;
  replayId: number;
  flag: ReplayStepFlag;
  /** Epoch ms (the writer's clock), just before the create was sent. */
  at: number;
  masterUrl: string;
  mainClass: string;
  /** The driver size requested (null: not known); the master reports it for every driver. */
  driverCores: number | null;
  driverMemoryMb: number | null;
  /** Every driver of `mainClass` the master listed (active or completed) just before the create. */
  knownDriverIds: string[];
}

const TABLE = 'spark_submit_status';
const STEPS = 'spark_replay_steps';

/**
 * A replay of the tenant from the same timestamp is recorded already: the Java orchestrator's
 * table (adopted in place) keeps one row per timestamp and tenant. Answered 409.
 */
export class ReplayExistsError extends Error {
  readonly httpStatus = 409;
  readonly httpCode = 'REPLAY_EXISTS';
  constructor(tenant: string, startingOffsetsTimestamp: number) {
    super(`a replay of tenant ${tenant} from startingOffsetsTimestamp ${startingOffsetsTimestamp} is recorded already`);
    this.name = 'ReplayExistsError';
  }
}

export class SparkSubmitStatusRepository {
  constructor(private readonly db: Db) {}

  async insert(tenant: string, startingOffsetsTimestamp: number, resumeToSubscribePatternTimestamp: number): Promise<ReplayRow> {
    let id: number | undefined;
    try {
      [id] = await this.db(TABLE).insert({ tenant, startingOffsetsTimestamp, resumeToSubscribePatternTimestamp });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ER_DUP_ENTRY') throw new ReplayExistsError(tenant, startingOffsetsTimestamp);
      throw err;
    }
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

  /** Records a replay step's create before it is sent (the write-ahead of SPEC §4.3). */
  async beginStep(a: ReplayStepAttempt): Promise<void> {
    await this.db(STEPS).insert({
      tenant: a.tenant,
      replayId: a.replayId,
      flag: a.flag,
      attemptedAt: a.at,
      masterUrl: a.masterUrl.slice(0, 255),
      mainClass: a.mainClass.slice(0, 255),
      driverCores: a.driverCores,
      driverMemoryMb: a.driverMemoryMb,
      knownDriverIds: JSON.stringify(a.knownDriverIds),
    });
  }

  /** The latest create begun for this step of the replay, if any. */
  async lastStep(tenant: string, replayId: number, flag: ReplayStepFlag): Promise<ReplayStepAttempt | undefined> {
    const r = (await this.db(STEPS).where({ tenant, replayId, flag }).orderBy('id', 'desc').first()) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    let known: unknown;
    try {
      known = JSON.parse(String(r.knownDriverIds));
    } catch {
      known = [];
    }
    return {
      tenant: String(r.tenant),
      replayId: Number(r.replayId),
      flag: String(r.flag) as ReplayStepFlag,
      at: Number(r.attemptedAt),
      masterUrl: String(r.masterUrl),
      mainClass: String(r.mainClass),
      driverCores: r.driverCores == null ? null : Number(r.driverCores),
      driverMemoryMb: r.driverMemoryMb == null ? null : Number(r.driverMemoryMb),
      knownDriverIds: Array.isArray(known) ? known.map(String) : [],
    };
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

  /** `latest(tenant)` when it would answer without reading (null: the tenant has no row); undefined: it would read. */
  latestIfFresh(tenant: string): ReplayRow | null | undefined {
    const rows = this.everyTenant.peek()?.value;
    return rows ? (rows.get(tenant) ?? null) : undefined;
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

  /** Not shared: written once per replay step, read only while a due step's flag is not set. */
  beginStep(a: ReplayStepAttempt): Promise<void> {
    return this.repo.beginStep(a);
  }

  lastStep(tenant: string, replayId: number, flag: ReplayStepFlag): Promise<ReplayStepAttempt | undefined> {
    return this.repo.lastStep(tenant, replayId, flag);
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
