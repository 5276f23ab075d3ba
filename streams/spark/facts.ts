/**
 * The facts of a Spark run: what the executor writes (submission records) and reports (events),
 * in order, and the two state changes that produce them — a driver accepted as the tenant's
 * submission, drivers adopted as its own. Pure.
 */
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { MasterState } from '../../src/spark/types.js';
import type { EventInput } from '../events.js';
import type { ReplayMark, SubmitPurpose } from './decision.js';
import { ADOPTED, afterAccepted, type SparkState } from './state.js';

/** Something the executor writes or reports, in order. */
export type SparkFact =
  /** A submission record to write; `required`: a failed write fails the run (an accepted submission), else it is kept for later (an adoption). */
  { kind: 'record'; record: SubmissionRecord; required: boolean } | { kind: 'event'; event: EventInput };

/** Records alive drivers of the tenant not recorded yet as its own (`ownedIds` grows). */
export function adopt(
  state: SparkState,
  ids: readonly string[],
  ownedIds: Set<string>,
  master: MasterState,
  at: number,
  tenant: string,
  facts: SparkFact[],
): SparkState {
  const fresh = ids.filter((id) => !ownedIds.has(id));
  if (fresh.length === 0) return state;
  for (const id of fresh) {
    ownedIds.add(id);
    facts.push({
      kind: 'record',
      required: false,
      record: {
        tenant,
        submissionId: id,
        masterUrl: master.url || master.webUiUrl,
        reason: ADOPTED,
        startingOffsetsTimestamp: null,
        submittedAt: new Date(at),
      },
    });
  }
  facts.push({ kind: 'event', event: { type: 'spark.adopted', submissionIds: fresh } });
  return { ...state, ownIds: new Set([...state.ownIds, ...fresh]) };
}

/** What a submission the master accepted (found now on the master) writes and reports. */
export function accept(
  state: SparkState,
  a: { id: string; at: number; purpose: SubmitPurpose; startingOffsetsTimestamp: number | null; mark: ReplayMark | null; masterUrl: string; reason: string },
  tenant: string,
  facts: SparkFact[],
): SparkState {
  let next = afterAccepted(state, a.id, { submissionId: a.id, at: a.at, reason: a.purpose, startingOffsetsTimestamp: a.startingOffsetsTimestamp });
  facts.push({
    kind: 'record',
    required: true,
    record: {
      tenant,
      submissionId: a.id,
      masterUrl: a.masterUrl,
      reason: a.purpose,
      startingOffsetsTimestamp: a.startingOffsetsTimestamp,
      submittedAt: new Date(a.at),
    },
  });
  facts.push({
    kind: 'event',
    event: {
      type: 'spark.submitted',
      submissionId: a.id,
      purpose: a.purpose,
      reason: a.reason,
      ...(a.startingOffsetsTimestamp !== null ? { startingOffsetsTimestamp: a.startingOffsetsTimestamp } : {}),
    },
  });
  if (a.mark) next = { ...next, pendingMarks: [...next.pendingMarks, { ...a.mark, startingOffsetsTimestamp: a.startingOffsetsTimestamp }] };
  return next;
}
