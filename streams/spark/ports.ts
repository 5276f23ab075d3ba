/**
 * What the Spark stream needs of the world, as interfaces: the master client, the replay rows
 * and the submissions it records. `src/` implements them (`SparkMasterClient`, the repositories);
 * tests pass fakes (`test/support/spark-stream.ts`).
 */
import type { ReplayRow, ReplayStepAttempt, ReplayStepFlag } from '../../src/db/spark-submit-status.js';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { CreateSubmissionRequest, MasterState, SubmissionResult } from '../../src/spark/types.js';

export interface SparkMaster {
  readonly hosts: readonly string[];
  /** The host that answered ALIVE most recently. */
  readonly aliveHost: string | undefined;
  masterState(): Promise<MasterState>;
  /** The state `masterState()` would answer now without reading, if any (absent: never known without a read). */
  latestState?(): MasterState | undefined;
  /** Forgets the state read so far (absent: every `masterState()` reads): the next call reads anew. */
  invalidateState?(): void;
  /** Every new state read, whoever asked for it (absent: a run sees the master only through its own read). Returns the unsubscribe. */
  onState?(listener: (state: MasterState) => void): () => void;
  createSubmission(req: CreateSubmissionRequest): Promise<SubmissionResult>;
  killSubmission(id: string): Promise<{ accepted: boolean; message: string }>;
}

export interface ReplayStore {
  insert(tenant: string, startingOffsetsTimestamp: number, resumeToSubscribePatternTimestamp: number): Promise<ReplayRow>;
  latest(tenant: string): Promise<ReplayRow | undefined>;
  /** What `latest` would answer now without reading (null: no row), if it would; undefined: it would read. */
  latestIfFresh?(tenant: string): ReplayRow | null | undefined;
  markSubmitted(id: number): Promise<boolean>;
  markResumed(id: number): Promise<boolean>;
  /**
   * The write-ahead of a replay step (SPEC §4.3): recorded right before its create is sent, and
   * read back by whoever acts next while the step's flag is not set, to recognise the driver
   * that create started instead of carrying the step out again.
   */
  beginStep(attempt: ReplayStepAttempt): Promise<void>;
  lastStep(tenant: string, replayId: number, flag: ReplayStepFlag): Promise<ReplayStepAttempt | undefined>;
}

export interface SubmissionStore {
  record(s: SubmissionRecord): Promise<void>;
  recent(tenant: string, limit?: number): Promise<SubmissionRecord[]>;
  /** Which tenant recorded each id (absent: nobody): tells the drivers of tenants sharing a main class apart. */
  ownersOf(ids: readonly string[]): Promise<Map<string, string>>;
}
