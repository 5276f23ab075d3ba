/**
 * The Spark master simulator's public types: its options, what it records of the requests it
 * serves, the views of its drivers and workers, and the options of its fault injection.
 * Imported through master-simulator.ts, which re-exports every one of them.
 */

export type SimEndpoint = 'json' | 'create' | 'kill' | 'status';
export type SimFinalState = 'FAILED' | 'ERROR' | 'FINISHED';
export type SimMasterStatus = 'ALIVE' | 'STANDBY' | 'RECOVERING' | 'COMPLETING_RECOVERY';

export interface SimWorkerSpec {
  cores: number;
  memoryMb: number;
  /** Worker RPC host (reported in ids, `host` and `workerHostPort`). Default 10.0.0.<n>. */
  host?: string;
  /** Worker RPC port. Default 35000 + n. */
  port?: number;
}

export interface MasterSimulatorOptions {
  /** Bind address of both servers. Default 127.0.0.1. */
  host?: string;
  /** Web UI (JSON) port; 0 (default) = ephemeral. */
  uiPort?: number;
  /** REST submission port; 0 (default) = ephemeral. */
  restPort?: number;
  /** Initial recovery state. Default ALIVE. */
  status?: SimMasterStatus;
  /** `serverSparkVersion` in REST answers. Default 3.5.1. */
  sparkVersion?: string;
  /** `url` of the `/json/` document. Default `spark://<host>:7077`. */
  masterUrl?: string;
  /** Workers. Default two workers with 4 cores and 8192 MB each. */
  workers?: SimWorkerSpec[];
  /** Clock for every timestamp the master reports. Default Date.now. */
  now?: () => number;
  /**
   * Time between a kill request for a RUNNING driver and the worker reporting KILLED.
   * Default 50 ms. `null`: the kill completes only when `finishPendingKills()` is called.
   */
  killDelayMs?: number | null;
  /** A new driver waits this long (SUBMITTED) before it can be scheduled. Default 0. */
  launchDelayMs?: number;
  /** `spark.deploy.retainedDrivers`. Default 200. */
  retainedDrivers?: number;
  /**
   * What a driver's process does once its worker launches it (default: runs until killed).
   * Lets a test model its application, e.g. "exits 1 after 2 s": the simulator then applies
   * Spark's rules (exit 0 → FINISHED; non-zero → FAILED, or restarted in place when supervised).
   */
  driverProgram?: (launch: SimDriverLaunch) => SimDriverRun | undefined;
  /** First wait before a supervised driver that exited non-zero is restarted (doubles, as in DriverRunner). Default 1000. */
  superviseBackoffMs?: number;
  /** Called with one line per request received (for the CLI). */
  log?: (line: string) => void;
  /**
   * Called once per request, when it is answered, dropped or held (status 0 for the last two);
   * for a create that reached the master logic, with its record (submission id, body).
   */
  onRequest?: (request: SimRequestRecord & { held?: boolean }, create?: SimCreateRecord) => void;
}

export interface SimDriverLaunch {
  id: string;
  mainClass: string;
  appResource: string;
  appArgs: string[];
  sparkProperties: Record<string, string>;
  supervise: boolean;
  /** 1 for the first launch, 2 for the first in-place restart of a supervised driver, … */
  launch: number;
}

/** A driver process's run: it exits with `exitCode` after `afterMs`, or its worker fails to prepare it (ERROR). */
export type SimDriverRun = { exitAfterMs: number; exitCode: number } | { errorAfterMs?: number; error: string };

export interface SimRequestRecord {
  at: number;
  server: 'ui' | 'rest';
  method: string;
  path: string;
  endpoint: SimEndpoint | 'other';
  /** HTTP status sent; 0 when the connection was dropped without an answer. */
  status: number;
  durationMs: number;
}

export interface SimCreateRecord {
  at: number;
  /** The raw request body as received. */
  raw: string;
  /** The parsed body (undefined when it was not JSON). */
  body: unknown;
  status: number;
  submissionId?: string;
}

export interface SimKillRecord {
  at: number;
  id: string;
  accepted: boolean;
}

export interface SimDriverView {
  id: string;
  state: string;
  startTime: number;
  submitDate: string;
  cores: number;
  memoryMb: number;
  mainClass: string;
  supervise: boolean;
  workerId: string | null;
  appArgs: string[];
  sparkProperties: Record<string, string>;
  killRequested: boolean;
  /** How often a worker started its process (in-place restarts of a supervised driver count). */
  launches: number;
}

export interface SimWorkerView {
  id: string;
  host: string;
  port: number;
  state: 'ALIVE' | 'DEAD';
  cores: number;
  coresUsed: number;
  memoryMb: number;
  memoryUsedMb: number;
  driverIds: string[];
}

export interface AddDriverByHandOptions {
  mainClass: string;
  cores?: number;
  memoryMb?: number;
  supervise?: boolean;
  appArgs?: string[];
  sparkProperties?: Record<string, string>;
}

export interface FailNextOptions {
  endpoint?: SimEndpoint;
  /** Default 500. */
  status?: number;
  /** Default: a Jetty-like HTML error page. */
  body?: string;
  contentType?: string;
  /** For `create`: create the driver first, then answer with the failure (ambiguous outcome). */
  processFirst?: boolean;
  /**
   * The failure answer quotes the request it answers (whatever credentials a create carries in
   * its environmentVariables and sparkProperties, quoted first, then the rest of the body), as a
   * master's validation message can: `json` an ErrorResponse whose message is "Malformed request:
   * … Validation of message CreateSubmissionRequest failed! …" (`status`, default 500); `html`
   * Jetty's error page with that message in its title and table (`status`); `rejected` a 200
   * CreateSubmissionResponse with `success:false` and that message. Overrides `body` and
   * `contentType`.
   */
  echoRequest?: 'json' | 'html' | 'rejected';
}

export interface DropNextOptions {
  /** For `create`/`kill`: carry the request out first, then drop the connection. */
  processFirst?: boolean;
}

export interface HoldNextOptions {
  /** For `create`/`kill`: carry the request out first, then hold the answer. */
  processFirst?: boolean;
}
