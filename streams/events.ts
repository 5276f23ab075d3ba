/**
 * The one typed event stream: every action of the loop reports here, and the logs, the
 * metrics and `GET /api/v1/events` all read from it. Each entry of EventPayloads is an event
 * type and the figures it carries; `tenant` and `at` are added to all of them.
 */
export interface EventPayloads {
  'loop.started': { streams: string[] };
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no payload: `{}` keeps the `{ type } & Payload` intersection intact
  'loop.stopped': {};
  'stream.retrying': { stream: string; attempt: number; delayMs: number; error: string };
  'command.failed': { command: string; error: string };

  'discovery.onboarded': { count: number; services: string[] };
  'discovery.removed': { count: number; services: string[] };
  'discovery.synced': { onboarded: number; removed: number; present: number; ignoredFolders: number; listCalls: number; retries: number; durationMs: number };
  'discovery.guarded': { wouldRemove: number; known: number; reason: string };
  'discovery.failed': { error: string };
  /**
   * The partition layout read from the bucket (tenants without `partitionKeys`): emitted when
   * first known and whenever it changes. `firstLevel` is what the first level under logsDir holds.
   */
  'layout.detected': { partitionKeys: string[]; firstLevel: 'service_name' | 'env' };
  /**
   * The first level under logsDir holds both `service_name=` and `env=` folders, or neither
   * (an empty bucket, a wrong logsDir): the default layout is used. Emitted once while it lasts.
   */
  'layout.ambiguous': { partitionKeys: string[]; firstLevel: 'both' | 'neither'; reason: string };

  'delay.sampled': { appLogsDelayMinutes: number; newestPartition: string | null; listCalls: number };
  'delay.failed': { error: string };
  'delay.service-sampled': { services: number; failed: number; durationMs: number };

  'spark.polled': { masterStatus: string; aliveDrivers: number; action: string; durationMs?: number };
  'spark.submitted': { submissionId: string; purpose: string; reason: string; startingOffsetsTimestamp?: number };
  'spark.submit-failed': { reason: string; error: string };
  'spark.killed': { submissionIds: string[]; reason: string };
  'spark.state-cleaned': { deleted: number; prefixes: string[] };
  'spark.replay-started': { replayId: number; startingOffsetsTimestamp: number };
  'spark.resumed': { replayId: number };
  'spark.crashloop': { deaths: number; nextSubmitAt: number; backoffMs: number };
  'spark.crashloop-ended': { restarts: number };
  'spark.master-unreachable': { error: string };
  'spark.waiting': { reason: string };
  'spark.adopted': { submissionIds: string[] };
  /**
   * More than one of the tenant's listed masters is ALIVE (SPEC §4.2: a split brain, or two
   * clusters listed by mistake): drivers on any of them count, actions go to `actingOn` only.
   * Emitted when it begins and whenever the set of ALIVE masters changes.
   */
  'spark.split-brain': { masters: string[]; actingOn: string; driversElsewhere: string[] };
  /** Only one listed master is ALIVE again. */
  'spark.split-brain-ended': { actingOn: string };

  /** This replica now acts for the tenant (SPEC §4.5); `takeover` when another replica held it last. */
  'lease.acquired': { holder: string; token: number; previousHolder: string | null; takeover: boolean; validForMs: number };
  /** This replica stopped acting for the tenant: another took the lease, or it could not renew in time. */
  'lease.lost': { holder: string; token: number; newHolder: string | null; reason: string };
  /** A renewal round failed (MySQL unreachable, timeout); `validForMs` is what is left of a held lease. */
  'lease.renew-failed': { holder: string; holding: boolean; validForMs: number; error: string };

  /** A config reload (SIGHUP, `POST /api/v1/admin/reload`) added the tenant: its loop starts. */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no payload, as loop.stopped
  'tenant.added': {};
  /** A reload removed the tenant: its loop stopped; its Spark driver and database rows were left as they are (`message` says so). */
  'tenant.removed': { message: string };
  /** A reload changed the tenant's block (`keys`: the key paths, never values): its loop restarts with the new settings. */
  'tenant.changed': { keys: string[]; message: string };
  /**
   * The daemon's own event (tenant `''`): a reload was applied. `needsRestart`: key paths that
   * differ in the file and are not applied until a restart.
   */
  'config.reloaded': { added: number; removed: number; changed: number; unchanged: number; needsRestart: string[] };
}

export type EventType = keyof EventPayloads;

export type OrchestratorEvent = {
  [K in EventType]: { type: K; tenant: string; at: number } & EventPayloads[K];
}[EventType];

export type EventOf<K extends EventType> = Extract<OrchestratorEvent, { type: K }>;

/** What a stream hands to `emit`: the event without the tenant and time the loop fills in. */
export type EventInput = {
  [K in EventType]: { type: K } & EventPayloads[K];
}[EventType];

export type Emit = (event: EventInput) => void;

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
