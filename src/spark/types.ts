/** The Spark standalone master as the orchestrator sees it (SPARK_PROTOCOL.md §1). */

export type MasterStatus = 'ALIVE' | 'STANDBY' | 'RECOVERING' | 'COMPLETING_RECOVERY' | (string & {});

export type DriverState = 'SUBMITTED' | 'RUNNING' | 'FINISHED' | 'RELAUNCHING' | 'UNKNOWN' | 'KILLED' | 'FAILED' | 'ERROR' | (string & {});

export interface SparkDriver {
  id: string;
  /** Epoch ms; the master sends it as a string. */
  startTime: number;
  state: DriverState;
  /** Worker id, or null when the master says "None". */
  worker: string | null;
  mainClass: string;
  cores: number;
  memoryMb: number;
  submitDate: string;
}

export interface MasterState {
  /** The master these figures were read from (`http://host:webUiPort`). */
  webUiUrl: string;
  /** `spark://host:port` as the master reports it. */
  url: string;
  status: MasterStatus;
  aliveWorkers: number;
  cores: number;
  coresUsed: number;
  memoryMb: number;
  memoryUsedMb: number;
  activeDrivers: SparkDriver[];
  completedDrivers: SparkDriver[];
  /**
   * Set when more than one listed master answered ALIVE (SPEC §4.2: a split brain, or two
   * clusters listed by mistake). The driver lists are then those of every ALIVE master (a
   * tenant's driver on any of them counts); the rest of the state is that of the one master
   * actions go to.
   */
  splitBrain?: SplitBrain;
}

export interface SplitBrain {
  /** Every ALIVE master (web UI URLs), the one actions go to first. */
  aliveMasters: string[];
  /** The master actions go to (web UI URL); it stays the same while it is ALIVE. */
  actingOn: string;
  /** Drivers listed by another ALIVE master than `actingOn`: id → that master's web UI URL. Never acted on. */
  elsewhere: ReadonlyMap<string, string>;
}

/** Body of `POST /v1/submissions/create` (SPARK_PROTOCOL.md §4.2). */
export interface CreateSubmissionRequest {
  action: 'CreateSubmissionRequest';
  clientSparkVersion: string;
  appResource: string;
  mainClass: string;
  appArgs: string[];
  environmentVariables: Record<string, string>;
  sparkProperties: Record<string, string>;
}

export interface SubmissionResult {
  submissionId: string;
  message?: string;
}

/** The states in which a driver holds (or waits for) a worker slot: alive, as the supervision counts it. */
export const ALIVE_DRIVER_STATES: ReadonlySet<string> = new Set(['SUBMITTED', 'RUNNING']);

export function isAliveDriver(d: { state: string }): boolean {
  return ALIVE_DRIVER_STATES.has(d.state);
}
