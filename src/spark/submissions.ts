/**
 * The REST submission server of the ALIVE master (`/v1/submissions/create|kill|status`,
 * SPARK_PROTOCOL.md §4): each answer's envelope checked, a `success:false` turned into
 * SparkSubmissionRejected with the request's secrets scrubbed, and the ALIVE master forgotten
 * when it stops answering or says it is not ALIVE any more (a failover: rediscovered next time).
 *
 * A kill invalidates the shared state read (master-state.ts); a create does not: the tenant that
 * made it does not read again before its next poll (by then the shared state is younger than the
 * create), and until the master lists the new driver its submission grace period stands in for
 * it. Invalidating at every create would make many tenants starting together read the whole
 * state once per create: the load this sharing exists to remove.
 */
import { firstLine } from '../common/text.js';
import { SparkProtocolError, SparkSubmissionRejected, SparkUnreachableError } from './errors.js';
import { hostOfWebUiUrl } from './hosts.js';
import type { MasterStateReader } from './master-state.js';
import { isSecretSettingName } from './submission-request.js';
import { summarizeBody, type CallOptions, type MasterTransport, type RawResponse } from './transport.js';
import type { CreateSubmissionRequest, DriverState, SubmissionResult } from './types.js';

export interface KillResult {
  /** True when the master accepted the kill. The kill itself is asynchronous for a RUNNING driver. */
  accepted: boolean;
  message: string;
}

export interface SubmissionStatus {
  /** False for an unknown id, or one already trimmed from the retained list. */
  found: boolean;
  driverState?: DriverState;
  workerId?: string;
  workerHostPort?: string;
  /** Present when the driver recorded an exception (`Exception from the cluster: ...`). */
  message?: string;
}

const NOT_ALIVE_PREFIX = 'Current state is not alive';

export class SubmissionsClient {
  constructor(
    private readonly transport: MasterTransport,
    private readonly masters: MasterStateReader,
    private readonly restPort: number,
  ) {}

  /**
   * `POST /v1/submissions/create` on the ALIVE master (found through `masterState()` when not
   * known yet). `success:false` → SparkSubmissionRejected. Never retried.
   */
  async create(req: CreateSubmissionRequest, opts: CallOptions = {}): Promise<SubmissionResult> {
    const host = await this.restHost(opts);
    const res = await this.restCall(host, 'POST', '/v1/submissions/create', JSON.stringify(req), opts);
    const msg = this.restEnvelope(res, 'CreateSubmissionResponse', host, 'create');
    if (msg.success === true) {
      if (typeof msg.submissionId !== 'string' || msg.submissionId === '') {
        throw new SparkProtocolError(`Spark create answer from ${host}:${this.restPort} has success:true but no submissionId`, {
          target: `${host}:${this.restPort}`,
          status: res.status,
        });
      }
      return typeof msg.message === 'string' ? { submissionId: msg.submissionId, message: msg.message } : { submissionId: msg.submissionId };
    }
    throw this.rejected(msg, host, 'success:false without a message', secretValuesOf(req));
  }

  /**
   * `POST /v1/submissions/kill/{id}`. `accepted:false` when the driver already finished or does
   * not exist; a master that is not ALIVE → SparkSubmissionRejected.
   */
  async kill(id: string, opts: CallOptions = {}): Promise<KillResult> {
    const host = await this.restHost(opts);
    const res = await this.killing(() => this.restCall(host, 'POST', `/v1/submissions/kill/${encodeURIComponent(id)}`, undefined, opts));
    const msg = this.restEnvelope(res, 'KillSubmissionResponse', host, 'kill');
    const message = typeof msg.message === 'string' ? msg.message : '';
    if (msg.success === true) return { accepted: true, message };
    if (message.includes(NOT_ALIVE_PREFIX)) throw this.rejected(msg, host, '');
    return { accepted: false, message };
  }

  /** `GET /v1/submissions/status/{id}`. A master that is not ALIVE → SparkSubmissionRejected. */
  async status(id: string, opts: CallOptions = {}): Promise<SubmissionStatus> {
    const host = await this.restHost(opts);
    const res = await this.restCall(host, 'GET', `/v1/submissions/status/${encodeURIComponent(id)}`, undefined, opts);
    const msg = this.restEnvelope(res, 'SubmissionStatusResponse', host, 'status');
    const message = typeof msg.message === 'string' ? msg.message : undefined;
    if (msg.success !== true) {
      if (message?.includes(NOT_ALIVE_PREFIX)) throw this.rejected(msg, host, '');
      return message === undefined ? { found: false } : { found: false, message };
    }
    const out: SubmissionStatus = { found: true };
    if (typeof msg.driverState === 'string') out.driverState = msg.driverState;
    if (typeof msg.workerId === 'string') out.workerId = msg.workerId;
    if (typeof msg.workerHostPort === 'string') out.workerHostPort = msg.workerHostPort;
    if (message !== undefined) out.message = message;
    return out;
  }

  /**
   * A kill: shared state reads are forgotten before it is sent and again once it has an
   * outcome, so no read the master may have served before the kill reaches a caller that asks
   * after it.
   */
  private async killing<T>(call: () => Promise<T>): Promise<T> {
    this.masters.invalidate();
    try {
      return await call();
    } finally {
      this.masters.invalidate();
    }
  }

  private async restHost(opts: CallOptions): Promise<string> {
    this.transport.assertOpen();
    const known = this.masters.aliveHost;
    if (known !== undefined) return known;
    const state = await this.masters.read(opts);
    const found = this.masters.aliveHost;
    if (state.status === 'ALIVE' && found !== undefined) return found;
    const { hosts, webUiPort } = this.masters;
    const host = hostOfWebUiUrl(state.webUiUrl, hosts);
    throw new SparkSubmissionRejected(`No ALIVE Spark master among ${hosts.join(', ')} (${host} is ${state.status})`, {
      target: `${host}:${webUiPort}`,
      masterStatus: state.status,
    });
  }

  /** A REST call; when the remembered ALIVE master does not answer, it is forgotten (rediscovered next time). */
  private async restCall(host: string, method: 'GET' | 'POST', path: string, body: string | undefined, opts: CallOptions): Promise<RawResponse> {
    try {
      return await this.transport.call(host, this.restPort, method, path, body, opts);
    } catch (e) {
      if (e instanceof SparkUnreachableError && this.masters.aliveHost === host) this.masters.forgetAlive();
      // The master's web UI answered (that is how it was found), its REST port refuses: in Spark
      // 3.x the REST server is off unless enabled, so say which setting, not just "refused".
      if (e instanceof SparkUnreachableError && e.kind === 'unreachable' && !e.maybeProcessed && e.message.endsWith(': connection refused')) {
        throw new SparkUnreachableError(
          `${e.message} (is the master's REST submission server on? It needs spark.master.rest.enabled=true, off by default in Spark 3.x, and spark.master.rest.port=${this.restPort})`,
          { target: e.target, maybeProcessed: false, cause: e },
        );
      }
      throw e;
    }
  }

  /** Parses a REST answer into its envelope; anything but a 200 of the expected action is a protocol error. */
  private restEnvelope(res: RawResponse, expectedAction: string, host: string, what: string): Record<string, unknown> {
    const target = `${host}:${this.restPort}`;
    let msg: unknown;
    try {
      msg = JSON.parse(res.text);
    } catch {
      msg = undefined;
    }
    const obj = typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? (msg as Record<string, unknown>) : undefined;
    if (res.status !== 200) {
      let detail: string;
      if (obj && typeof obj.message === 'string') {
        detail = firstLine(obj.message, 300);
        if (typeof obj.highestProtocolVersion === 'string') detail += ` (highest protocol version: ${obj.highestProtocolVersion})`;
      } else detail = summarizeBody(res);
      throw new SparkProtocolError(`Spark ${what} request to ${target} failed with HTTP ${res.status}: ${detail}`, { target, status: res.status });
    }
    if (!obj) {
      throw new SparkProtocolError(`Spark ${what} answer from ${target} is not a JSON object: ${summarizeBody(res)}`, { target, status: res.status });
    }
    if (obj.action !== expectedAction) {
      const detail = typeof obj.message === 'string' ? `: ${firstLine(obj.message, 300)}` : '';
      throw new SparkProtocolError(`Spark ${what} answer from ${target} has action ${JSON.stringify(obj.action)}, expected ${expectedAction}${detail}`, {
        target,
        status: res.status,
      });
    }
    return obj;
  }

  private rejected(msg: Record<string, unknown>, host: string, fallback: string, secrets: readonly string[] = []): SparkSubmissionRejected {
    const message = typeof msg.message === 'string' ? msg.message : fallback;
    const m = /Current state is not alive: ([A-Z_]+)/.exec(message);
    if (m && this.masters.aliveHost === host) this.masters.forgetAlive(); // a failover happened: rediscover next time
    return new SparkSubmissionRejected(message, { target: `${host}:${this.restPort}`, secrets, ...(m?.[1] ? { masterStatus: m[1] } : {}) });
  }
}

/** The secret values a create request carries (settings, environment variables and `name=value` arguments under secret-looking names). */
function secretValuesOf(req: CreateSubmissionRequest): string[] {
  const out: string[] = [];
  for (const map of [req.sparkProperties, req.environmentVariables]) {
    for (const [name, value] of Object.entries(map ?? {})) if (isSecretSettingName(name) && typeof value === 'string') out.push(value);
  }
  for (const arg of req.appArgs ?? []) {
    const eq = arg.indexOf('=');
    if (eq > 0 && isSecretSettingName(arg.slice(0, eq))) out.push(arg.slice(eq + 1));
  }
  return out;
}
