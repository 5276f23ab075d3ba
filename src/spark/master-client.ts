/**
 * Client of a Spark standalone master (or of several, for Spark HA): the web UI JSON state
 * (`GET /json/`) and the REST submission server (`/v1/submissions/*`).
 * Facts of the protocol: /work/shared/SPARK_PROTOCOL.md.
 *
 * A small front over the parts that do the work, one job each:
 *   transport.ts           the HTTP exchanges (timeouts, size cap, failures → SparkUnreachableError …)
 *   master-state.ts        the state reads: the ALIVE master, split brain, the read tenants share
 *   master-state-schema.ts the `/json/` document checked and parsed
 *   submissions.ts         REST create, kill and status on the ALIVE master
 *   errors.ts              what every call throws
 *
 * Every call has a timeout (connect, headers, body and an overall AbortSignal). Nothing is
 * retried: a retried create could start a second driver, so the caller decides. Error messages
 * never carry request bodies (a create request holds credentials) and carry at most the first
 * line of what the master answered.
 */
import { MasterStateReader } from './master-state.js';
import { SubmissionsClient, type KillResult, type SubmissionStatus } from './submissions.js';
import { MasterTransport, type CallOptions } from './transport.js';
import type { CreateSubmissionRequest, MasterState, SubmissionResult } from './types.js';

export interface SparkMasterClientOptions {
  /** One host, or several for Spark standalone HA (the ALIVE one is used). */
  hosts: string[];
  webUiPort: number;
  restPort: number;
  /** Per-call timeout (connect + headers + body). Default 5000 ms. */
  timeoutMs?: number;
  /** Largest response body accepted. Default 16 MiB. */
  maxResponseBytes?: number;
  /**
   * A state read (`masterState()`) that started less than this long ago is answered again
   * instead of reading anew; 0 (default) shares only a read in flight. Keep it a small
   * fraction of the shortest poll interval of the tenants sharing the client: it adds at most
   * this much to the time in which a poll sees a change on the master.
   */
  stateMaxAgeMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export class SparkMasterClient {
  readonly hosts: readonly string[];
  readonly webUiPort: number;
  readonly restPort: number;
  readonly timeoutMs: number;
  private readonly transport: MasterTransport;
  private readonly state: MasterStateReader;
  private readonly submissions: SubmissionsClient;

  constructor(opts: SparkMasterClientOptions) {
    const hosts = opts.hosts.map((h) => stripCredentials(h.trim())).filter((h) => h !== '');
    if (hosts.length === 0) throw new TypeError('SparkMasterClient: hosts must name at least one master');
    for (const [name, port] of [
      ['webUiPort', opts.webUiPort],
      ['restPort', opts.restPort],
    ] as const) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`SparkMasterClient: ${name} must be a port (1-65535)`);
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new TypeError('SparkMasterClient: timeoutMs must be positive');
    const maxAge = opts.stateMaxAgeMs ?? 0;
    if (!(maxAge >= 0) || !Number.isFinite(maxAge)) throw new TypeError('SparkMasterClient: stateMaxAgeMs must be a finite number >= 0');
    this.hosts = hosts;
    this.webUiPort = opts.webUiPort;
    this.restPort = opts.restPort;
    this.timeoutMs = timeoutMs;
    this.transport = new MasterTransport(timeoutMs, opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    this.state = new MasterStateReader(this.transport, hosts, opts.webUiPort, maxAge);
    this.submissions = new SubmissionsClient(this.transport, this.state, opts.restPort);
  }

  /**
   * The host that answered ALIVE most recently (undefined when none is known to be): the one
   * REST calls go to. With several ALIVE (a split brain) it stays the same while it is ALIVE.
   */
  get aliveHost(): string | undefined {
    return this.state.aliveHost;
  }

  /** The ALIVE master's state, read from every host and shared between callers: see `MasterStateReader.read()`. */
  masterState(opts: CallOptions = {}): Promise<MasterState> {
    return this.state.read(opts);
  }

  /** The shared state a `masterState()` now would answer without reading (undefined: it would read). */
  latestState(): MasterState | undefined {
    return this.state.latest();
  }

  /** Every state read from now on that differs from the one before: see `MasterStateReader.onState()`. */
  onState(listener: (state: MasterState) => void): () => void {
    return this.state.onState(listener);
  }

  /** Forgets the shared state read (the one in flight and the last one): the next caller reads anew. */
  invalidateState(): void {
    this.state.invalidate();
  }

  /**
   * `POST /v1/submissions/create` on the ALIVE master (found through `masterState()` when not
   * known yet). `success:false` → SparkSubmissionRejected. Never retried.
   */
  createSubmission(req: CreateSubmissionRequest, opts: CallOptions = {}): Promise<SubmissionResult> {
    return this.submissions.create(req, opts);
  }

  /**
   * `POST /v1/submissions/kill/{id}`. `accepted:false` when the driver already finished or does
   * not exist; a master that is not ALIVE → SparkSubmissionRejected.
   */
  killSubmission(id: string, opts: CallOptions = {}): Promise<KillResult> {
    return this.submissions.kill(id, opts);
  }

  /** `GET /v1/submissions/status/{id}`. A master that is not ALIVE → SparkSubmissionRejected. */
  submissionStatus(id: string, opts: CallOptions = {}): Promise<SubmissionStatus> {
    return this.submissions.status(id, opts);
  }

  /** Closes the connection pool; later calls throw. */
  close(): Promise<void> {
    return this.transport.close();
  }
}

/** `user:pass@host` → `host`: credentials never reach a URL or a message. */
function stripCredentials(host: string): string {
  const at = host.lastIndexOf('@');
  return at >= 0 ? host.slice(at + 1) : host;
}
