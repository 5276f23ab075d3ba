/**
 * Every command a tenant's loop takes, typed like the events: one map from the command's kind to
 * its arguments, its result and whether it acts. Acting commands (submit, kill, clean, write rows)
 * run only on the replica that holds the tenant's lease (SPEC §4.5); the others are reads and run
 * on every replica. HTTP handlers, the CLI's routes and ticks all go through `dispatch` with these.
 */
import type { ReplayRow } from '../src/db/spark-submit-status.js';
import type { SubmissionOverrides } from '../src/spark/submission-request.js';
import type { SparkAction } from './spark/decision.js';

/** `monitor`: one Spark run now; the overrides size a driver it submits. */
export type MonitorArgs = SubmissionOverrides;

export interface SparkRunResult {
  action: SparkAction['kind'];
  reason: string;
  /** The driver this run submitted, if it did. */
  submissionId?: string;
}

export interface ReplayArgs {
  startingOffsetsTimestamp: number;
  resumeToSubscribePatternTimestamp: number;
}

export interface SyncArgs {
  force: boolean;
}

export interface SyncResult {
  onboarded: number;
  removed: number;
  present: number;
  ignoredFolders: number;
  guarded?: { wouldRemove: number; known: number };
}

export interface SampleDelayArgs {
  /** A sample younger than this is answered from memory; 0 always takes a new one. */
  maxAgeMs: number;
}

/** What one round of per-service delays did (also the command's result). */
export interface ServiceDelayRound {
  /** Services in the round (the tenant's rows). */
  services: number;
  /** Services whose value is null after the round (failed listing, unbuildable folder, or skipped after an outage). */
  failed: number;
  /** Services not sampled: skipped after an outage (`abandoned`) or after a shutdown (`aborted`). */
  skipped: number;
  /** listPrefixes calls the round made (at most 4 per service). */
  listings: number;
  durationMs: number;
  abandoned: boolean;
  aborted: boolean;
}

export interface Commands {
  monitor: { args: MonitorArgs; result: SparkRunResult };
  replay: { args: ReplayArgs; result: ReplayRow };
  sync: { args: SyncArgs; result: SyncResult };
  'sample-delay': { args: SampleDelayArgs; result: number | null };
  'sample-service-delays': { args: Record<string, never>; result: ServiceDelayRound };
}

export type CommandKind = keyof Commands;
export type CommandArgs<K extends CommandKind> = Commands[K]['args'];
export type CommandResult<K extends CommandKind> = Commands[K]['result'];

/** Whether each command acts (only the lease holder runs it) or reads. */
export const COMMAND_ACTS: { readonly [K in CommandKind]: boolean } = {
  monitor: true,
  replay: true,
  sync: true,
  'sample-delay': false,
  'sample-service-delays': false,
};

export function isCommandKind(kind: string): kind is CommandKind {
  return Object.hasOwn(COMMAND_ACTS, kind);
}
