/**
 * Client of a Spark standalone master (or of several, for Spark HA): the web UI JSON state
 * (`GET /json/`) and the REST submission server (`/v1/submissions/*`).
 * Facts of the protocol: /work/shared/SPARK_PROTOCOL.md.
 *
 * Every tenant on a master shares its client, and the client shares its state reads: callers
 * that arrive while a read is in flight get that read, and a state younger than
 * `stateMaxAgeMs` is answered again without a new read. With 1,000 tenants polling every
 * 15 s that turns 67 reads per second of a document listing 1,000 drivers into about one per
 * max age. A kill through the client invalidates both, so whoever reads after it (the wait
 * until the killed driver has left `activedrivers`) gets a state read after it.
 *
 * A create does not: the tenant that made it does not read again before its next poll (by
 * then the shared state is younger than the create), and until the master lists the new
 * driver its submission grace period stands in for it. Invalidating at every create made
 * 1,000 tenants starting together read the whole state once per create, about 700 times in
 * the first 15 s (the load this sharing exists to remove; the daemon's memory peaked 110 MB
 * higher).
 *
 * Every call has a timeout (connect, headers, body and an overall AbortSignal). Nothing is
 * retried: a retried create could start a second driver, so the caller decides. Error messages
 * never carry request bodies (a create request holds credentials) and carry at most the first
 * line of what the master answered.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { scrubCredentialPatterns } from '../secrets.js';
import { SharedRead } from '../shared-read.js';
import { isSecretSettingName } from './submission-request.js';
import type { CreateSubmissionRequest, DriverState, MasterState, MasterStatus, SparkDriver, SubmissionResult } from './types.js';

// ---------------------------------------------------------------- errors

export type SparkErrorKind = 'unreachable' | 'timeout' | 'protocol' | 'rejected';

/** Base of every error this client throws. */
export class SparkError extends Error {
  readonly kind: SparkErrorKind;
  /** `host:port` the failing call went to, when there was one. */
  readonly target: string | undefined;

  constructor(kind: SparkErrorKind, message: string, target?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
    this.target = target;
  }
}

/**
 * No answer: connection refused or reset, DNS failure, dropped connection, timeout.
 * `maybeProcessed` is true when the request may have reached the master before the failure
 * (for a create: a driver may have been started, check `/json/` before submitting again).
 */
export class SparkUnreachableError extends SparkError {
  readonly maybeProcessed: boolean;

  constructor(message: string, opts: { target?: string; maybeProcessed?: boolean; cause?: unknown; kind?: 'unreachable' | 'timeout' } = {}) {
    super(opts.kind ?? 'unreachable', message, opts.target, { cause: opts.cause });
    this.maybeProcessed = opts.maybeProcessed ?? false;
  }
}

/** The call did not complete within its timeout (a kind of unreachable; `maybeProcessed` is true). */
export class SparkTimeoutError extends SparkUnreachableError {
  readonly timeoutMs: number;

  constructor(message: string, opts: { target?: string; timeoutMs: number; maybeProcessed?: boolean; cause?: unknown }) {
    super(message, { target: opts.target, maybeProcessed: opts.maybeProcessed ?? true, cause: opts.cause, kind: 'timeout' });
    this.timeoutMs = opts.timeoutMs;
  }
}

/** The master answered something this client cannot use: non-JSON, wrong shape, HTTP 400/405/468/500. */
export class SparkProtocolError extends SparkError {
  /** HTTP status of the answer. */
  readonly status: number | undefined;

  constructor(message: string, opts: { target?: string; status?: number; cause?: unknown } = {}) {
    super('protocol', message, opts.target, { cause: opts.cause });
    this.status = opts.status;
  }
}

/**
 * The master answered a JSON document that is not a usable state (SPEC §4.2): no usable driver
 * list (missing, null, wrong types) or another field a decision reads. Handled like an
 * unreachable master: nothing is decided from it.
 */
export class SparkMalformedStateError extends SparkProtocolError {
  /** The `status` the document gives, when it gives one (a master that says it is STANDBY is not the one acted on anyway). */
  readonly reportedStatus: string | undefined;

  constructor(message: string, opts: { target?: string; status?: number; reportedStatus?: string } = {}) {
    super(message, opts);
    this.reportedStatus = opts.reportedStatus;
  }
}

/** The master answered `success:false` to a create (or a kill/status on a master that is not ALIVE). */
export class SparkSubmissionRejected extends SparkError {
  /**
   * The master's message, scrubbed: a master may quote the request back (a create carries
   * credentials), so `secrets` (the request's secret values) and every credential recognisable
   * by shape or name (`scrubCredentialPatterns`) are masked, here and in `message`.
   */
  readonly masterMessage: string;
  /** The master's recovery state when the message says it is not ALIVE (e.g. `STANDBY`). */
  readonly masterStatus: string | undefined;

  constructor(masterMessage: string, opts: { target?: string; masterStatus?: string; secrets?: readonly string[] } = {}) {
    const scrubbed = scrubSecrets(masterMessage, opts.secrets ?? []);
    super('rejected', `Spark master rejected the request${opts.target ? ` (${opts.target})` : ''}: ${firstLine(scrubbed, 300)}`, opts.target);
    this.masterMessage = scrubbed;
    this.masterStatus = opts.masterStatus;
  }
}

/** `text` without the given secret values (longest first) and without credentials recognisable by shape or name. */
function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join('[redacted]');
  return scrubCredentialPatterns(out);
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

// ---------------------------------------------------------------- public types

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

export interface CallOptions {
  /** Cancels the call (e.g. on shutdown); the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

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

// ---------------------------------------------------------------- client

const NOT_ALIVE_PREFIX = 'Current state is not alive';
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

export class SparkMasterClient {
  readonly hosts: readonly string[];
  readonly webUiPort: number;
  readonly restPort: number;
  readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly agent: Agent;
  private alive: string | undefined;
  private closed = false;
  /** The state read every caller shares (see the top of this file). */
  private readonly sharedState: SharedRead<MasterState>;
  /** Each host's last state: what has not changed since is handed out again (see sharingUnchanged). */
  private readonly lastStates = new Map<string, MasterState>();
  /** The last split-brain view and the states it was made of (handed out again while they are unchanged). */
  private lastSplit: { parts: MasterState[]; view: MasterState } | undefined;
  /** The host last read ALIVE: with several ALIVE, actions stay on it (kept when a failure makes `alive` forgotten). */
  private lastAlive: string | undefined;

  constructor(opts: SparkMasterClientOptions) {
    const hosts = opts.hosts.map((h) => stripCredentials(h.trim())).filter((h) => h !== '');
    if (hosts.length === 0) throw new TypeError('SparkMasterClient: hosts must name at least one master');
    for (const [name, port] of [['webUiPort', opts.webUiPort], ['restPort', opts.restPort]] as const) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`SparkMasterClient: ${name} must be a port (1-65535)`);
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new TypeError('SparkMasterClient: timeoutMs must be positive');
    this.hosts = hosts;
    this.webUiPort = opts.webUiPort;
    this.restPort = opts.restPort;
    this.timeoutMs = timeoutMs;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const maxAge = opts.stateMaxAgeMs ?? 0;
    if (!(maxAge >= 0) || !Number.isFinite(maxAge)) throw new TypeError('SparkMasterClient: stateMaxAgeMs must be a finite number >= 0');
    this.sharedState = new SharedRead(() => this.readState(), maxAge);
    this.agent = new Agent({
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 10_000,
      connections: 4,
    });
  }

  /**
   * The host that answered ALIVE most recently (undefined when none is known to be): the one
   * REST calls go to. With several ALIVE (a split brain) it stays the same while it is ALIVE.
   */
  get aliveHost(): string | undefined {
    return this.alive;
  }

  /**
   * `GET http://host:webUiPort/json/` on every host in parallel, waiting for each (within the
   * timeout): with two ALIVE masters, deciding from whichever answered first would act on each
   * in turn. Returns the ALIVE master's state; with several ALIVE, the state of the one acted on
   * (the one acted on before while it stays ALIVE, else the first in `hosts` order) with the
   * drivers of every ALIVE master and `splitBrain` set; if none is ALIVE, the state of the first
   * host (in `hosts` order) that answered. Throws SparkMalformedStateError when a host that is
   * or may be ALIVE answered a document that is not a usable state (its drivers are unknown),
   * SparkUnreachableError if none answered. A host that does not answer (or answers an HTTP
   * error, or no JSON) is left out, as in an HA pair with a master down.
   *
   * Shared (see the top of this file): the read in flight, or one that started less than
   * `stateMaxAgeMs` ago, unless a kill came since. A failed read is shared only by
   * the callers that were waiting for it. The state is frozen: callers share it. A caller's
   * `signal` ends its own wait, not the shared read.
   */
  async masterState(opts: CallOptions = {}): Promise<MasterState> {
    this.assertOpen();
    opts.signal?.throwIfAborted();
    const shared = this.sharedState.get();
    return opts.signal ? untilAborted(shared, opts.signal) : shared;
  }

  /** Forgets the shared state read (the one in flight and the last one): the next caller reads anew. */
  invalidateState(): void {
    this.sharedState.invalidate();
  }

  /**
   * Several ALIVE masters: the state of the one acted on, with the drivers of all of them (an
   * id listed by two keeps the acting master's entry) and `splitBrain` naming where each driver
   * of another master is. Frozen, and the same object while the masters' states are unchanged.
   */
  private splitView(acting: MasterState, others: MasterState[]): MasterState {
    const parts = [acting, ...others];
    const last = this.lastSplit;
    if (last && last.parts.length === parts.length && last.parts.every((p, i) => p === parts[i])) return last.view;
    const elsewhere = new Map<string, string>();
    const seen = new Set<string>([...acting.activeDrivers, ...acting.completedDrivers].map((d) => d.id));
    const active = [...acting.activeDrivers];
    const completed = [...acting.completedDrivers];
    for (const other of others) {
      for (const d of other.activeDrivers) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        active.push(d);
        elsewhere.set(d.id, other.webUiUrl);
      }
      for (const d of other.completedDrivers) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        completed.push(d);
        elsewhere.set(d.id, other.webUiUrl);
      }
    }
    const view: MasterState = Object.freeze({
      ...acting,
      activeDrivers: Object.freeze(active) as SparkDriver[],
      completedDrivers: Object.freeze(completed) as SparkDriver[],
      splitBrain: Object.freeze({ aliveMasters: parts.map((p) => p.webUiUrl), actingOn: acting.webUiUrl, elsewhere }),
    });
    this.lastSplit = { parts, view };
    return view;
  }

  /** One read of every host (not shared); see `masterState()`. */
  private async readState(): Promise<MasterState> {
    const results = await Promise.allSettled(this.hosts.map((host) => this.fetchState(host, undefined)));
    const reasons = results.map((r) => (r.status === 'rejected' ? r.reason : undefined));
    // A master that is (or may be) ALIVE and whose drivers are unknown: nothing can be decided.
    const malformed = reasons.find((e): e is SparkMalformedStateError => e instanceof SparkMalformedStateError && (e.reportedStatus === undefined || e.reportedStatus === 'ALIVE'));
    if (malformed) {
      this.alive = undefined;
      throw malformed;
    }
    const answered = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ host: this.hosts[i]!, state: r.value }] : []));
    const alive = answered.filter((a) => a.state.status === 'ALIVE');
    if (alive.length === 1) {
      this.alive = this.lastAlive = alive[0]!.host;
      return alive[0]!.state;
    }
    if (alive.length > 1) {
      // Split brain: actions stay on one master (the one acted on so far, while it is ALIVE).
      const acting = alive.find((a) => a.host === this.lastAlive) ?? alive[0]!;
      this.alive = this.lastAlive = acting.host;
      return this.splitView(acting.state, alive.filter((a) => a !== acting).map((a) => a.state));
    }
    this.alive = undefined;
    if (answered.length > 0) return answered[0]!.state;
    // Nobody answered with a usable document: a protocol error (somebody answered) wins.
    const protocol = reasons.find((e): e is SparkProtocolError => e instanceof SparkProtocolError);
    if (protocol) throw protocol;
    const parts = this.hosts.map((h, i) => `${h}:${this.webUiPort} (${describeFailure(reasons[i])})`);
    throw new SparkUnreachableError(`Spark master unreachable: ${parts.join(', ')}`, {
      target: this.hosts.map((h) => `${h}:${this.webUiPort}`).join(','),
      cause: reasons[0],
    });
  }

  /**
   * `POST /v1/submissions/create` on the ALIVE master (found through `masterState()` when not
   * known yet). `success:false` → SparkSubmissionRejected. Never retried.
   */
  async createSubmission(req: CreateSubmissionRequest, opts: CallOptions = {}): Promise<SubmissionResult> {
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
  async killSubmission(id: string, opts: CallOptions = {}): Promise<KillResult> {
    const host = await this.restHost(opts);
    const res = await this.killing(() => this.restCall(host, 'POST', `/v1/submissions/kill/${encodeURIComponent(id)}`, undefined, opts));
    const msg = this.restEnvelope(res, 'KillSubmissionResponse', host, 'kill');
    const message = typeof msg.message === 'string' ? msg.message : '';
    if (msg.success === true) return { accepted: true, message };
    if (message.includes(NOT_ALIVE_PREFIX)) throw this.rejected(msg, host, '');
    return { accepted: false, message };
  }

  /** `GET /v1/submissions/status/{id}`. A master that is not ALIVE → SparkSubmissionRejected. */
  async submissionStatus(id: string, opts: CallOptions = {}): Promise<SubmissionStatus> {
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

  /** Closes the connection pool; later calls throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.agent.close();
  }

  // ------------------------------------------------------------ internals

  private assertOpen(): void {
    if (this.closed) throw new Error('SparkMasterClient is closed');
  }

  /** The remembered ALIVE master stopped answering (or is not ALIVE any more): rediscover it with a new read. */
  private forgetAlive(): void {
    this.alive = undefined;
    this.invalidateState();
  }

  /**
   * A kill: shared state reads are forgotten before it is sent and again once it has an
   * outcome, so no read the master may have served before the kill reaches a caller that asks
   * after it.
   */
  private async killing<T>(call: () => Promise<T>): Promise<T> {
    this.invalidateState();
    try {
      return await call();
    } finally {
      this.invalidateState();
    }
  }

  private async restHost(opts: CallOptions): Promise<string> {
    this.assertOpen();
    if (this.alive !== undefined) return this.alive;
    const state = await this.masterState(opts);
    if (state.status === 'ALIVE' && this.alive !== undefined) return this.alive;
    const host = hostOfWebUiUrl(state.webUiUrl, this.hosts);
    throw new SparkSubmissionRejected(`No ALIVE Spark master among ${this.hosts.join(', ')} (${host} is ${state.status})`, {
      target: `${host}:${this.webUiPort}`,
      masterStatus: state.status,
    });
  }

  /** A REST call; when the remembered ALIVE master does not answer, it is forgotten (rediscovered next time). */
  private async restCall(host: string, method: 'GET' | 'POST', path: string, body: string | undefined, opts: CallOptions): Promise<RawResponse> {
    try {
      return await this.call(host, this.restPort, method, path, body, opts);
    } catch (e) {
      if (e instanceof SparkUnreachableError && this.alive === host) this.forgetAlive();
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

  private rejected(msg: Record<string, unknown>, host: string, fallback: string, secrets: readonly string[] = []): SparkSubmissionRejected {
    const message = typeof msg.message === 'string' ? msg.message : fallback;
    const m = /Current state is not alive: ([A-Z_]+)/.exec(message);
    if (m && this.alive === host) this.forgetAlive(); // a failover happened: rediscover next time
    return new SparkSubmissionRejected(message, { target: `${host}:${this.restPort}`, secrets, ...(m?.[1] ? { masterStatus: m[1] } : {}) });
  }

  private async fetchState(host: string, signal: AbortSignal | undefined): Promise<MasterState> {
    const webUiUrl = `http://${urlHost(host)}:${this.webUiPort}`;
    const res = await this.call(host, this.webUiPort, 'GET', '/json/', undefined, signal ? { signal } : {});
    const target = `${host}:${this.webUiPort}`;
    if (res.status !== 200) {
      throw new SparkProtocolError(`Spark master ${target} answered HTTP ${res.status} to GET /json/: ${summarizeBody(res)}`, {
        target,
        status: res.status,
      });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(res.text);
    } catch {
      throw new SparkProtocolError(`Spark master ${target} answered GET /json/ with a body that is not JSON: ${summarizeBody(res)}`, {
        target,
        status: res.status,
      });
    }
    try {
      const state = sharingUnchanged(parseMasterState(doc, webUiUrl), this.lastStates.get(host));
      this.lastStates.set(host, state);
      return state;
    } catch (e) {
      const reported = typeof doc === 'object' && doc !== null && typeof (doc as Obj).status === 'string' ? ((doc as Obj).status as string) : undefined;
      throw new SparkMalformedStateError(`Spark master ${target} answered GET /json/ with an unexpected document: ${(e as Error).message}`, {
        target,
        status: res.status,
        ...(reported !== undefined ? { reportedStatus: reported } : {}),
      });
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

  /** One HTTP exchange with the per-call timeout; transport failures become SparkUnreachableError. */
  private async call(host: string, port: number, method: 'GET' | 'POST', path: string, body: string | undefined, opts: CallOptions): Promise<RawResponse> {
    this.assertOpen();
    const target = `${host}:${port}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = anySignal(timeout, opts.signal) ?? timeout;
    const headers: Record<string, string> = { accept: 'application/json, text/json;q=0.9, */*;q=0.1', 'user-agent': 'logwise-orchestrator' };
    if (body !== undefined) headers['content-type'] = 'application/json;charset=UTF-8';
    let sent = false;
    try {
      const res: Dispatcher.ResponseData = await request(`http://${urlHost(host)}:${port}${path}`, {
        dispatcher: this.agent,
        method,
        headers,
        body: body ?? null,
        signal,
      });
      sent = true;
      const text = await readLimited(res.body, this.maxResponseBytes, target);
      const ct = res.headers['content-type'];
      return { status: res.statusCode, contentType: Array.isArray(ct) ? (ct[0] ?? '') : (ct ?? ''), text };
    } catch (err) {
      if (err instanceof SparkError) throw err;
      if (opts.signal?.aborted) throw opts.signal.reason;
      const code = errorCode(err);
      if (timeout.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
        const connectOnly = code === 'UND_ERR_CONNECT_TIMEOUT';
        throw new SparkTimeoutError(`Spark master ${target}: ${method} ${path} timed out after ${this.timeoutMs} ms${connectOnly ? ' (connecting)' : ''}`, {
          target,
          timeoutMs: this.timeoutMs,
          maybeProcessed: !connectOnly,
          cause: err,
        });
      }
      const notSent = !sent && (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH');
      throw new SparkUnreachableError(`Spark master ${target}: ${method} ${path} failed: ${describeCode(code, err)}`, {
        target,
        maybeProcessed: !notSent && method === 'POST',
        cause: err,
      });
    }
  }
}

// ---------------------------------------------------------------- parsing /json/

type Obj = Record<string, unknown>;

/** Parses the `/json/` document (SPARK_PROTOCOL.md §1.1, §1.2). Throws a plain Error with a short reason. */
export function parseMasterState(doc: unknown, webUiUrl: string): MasterState {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
  const o = doc as Obj;
  if (typeof o.status !== 'string') throw new Error("'status' is missing or not a string");
  return {
    webUiUrl,
    url: optString(o, 'url') ?? '',
    status: o.status as MasterStatus,
    aliveWorkers: optNumber(o, 'aliveworkers') ?? countAliveWorkers(o.workers),
    cores: optNumber(o, 'cores') ?? 0,
    coresUsed: optNumber(o, 'coresused') ?? 0,
    memoryMb: optNumber(o, 'memory') ?? 0,
    memoryUsedMb: optNumber(o, 'memoryused') ?? 0,
    activeDrivers: parseDrivers(o, 'activedrivers'),
    completedDrivers: parseDrivers(o, 'completeddrivers'),
  };
}

/** Every `DriverState` a master writes (SPARK_PROTOCOL §3). */
const DRIVER_STATES: ReadonlySet<string> = new Set(['SUBMITTED', 'RUNNING', 'FINISHED', 'RELAUNCHING', 'UNKNOWN', 'KILLED', 'FAILED', 'ERROR']);

/**
 * A driver list the decision can use (SPEC §4.2): a list of driver objects, each with everything
 * a decision reads of it (id, a driver state, start time, main class, cores, memory). A list
 * that is missing, null or of the wrong type, or any entry that is not usable, makes the whole
 * document malformed: read as "no drivers", it would start a duplicate of every running driver.
 */
function parseDrivers(o: Obj, key: string): SparkDriver[] {
  const v = o[key];
  if (v === undefined || v === null) throw new Error(`'${key}' is ${v === null ? 'null' : 'missing'}: no usable driver list`);
  if (!Array.isArray(v)) throw new Error(`'${key}' is not a list`);
  return v.map((d, i) => parseDriver(d, `${key}[${i}]`));
}

function parseDriver(d: unknown, where: string): SparkDriver {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new Error(`${where} is not an object`);
  const o = d as Obj;
  if (typeof o.id !== 'string' || o.id === '') throw new Error(`${where}.id is missing or not a string`);
  if (typeof o.state !== 'string') throw new Error(`${where}.state is missing or not a string`);
  if (!DRIVER_STATES.has(o.state)) throw new Error(`${where}.state ${JSON.stringify(o.state.slice(0, 40))} is not a driver state`);
  const startTime = reqNumber(o, 'starttime', where);
  const worker = o.worker;
  if (worker !== undefined && worker !== null && typeof worker !== 'string') throw new Error(`${where}.worker is not a string`);
  const mainClass = optString(o, 'mainclass', where);
  if (mainClass === undefined) throw new Error(`${where}.mainclass is missing`);
  return {
    id: o.id,
    startTime,
    state: o.state as DriverState,
    worker: typeof worker === 'string' && worker !== 'None' && worker !== '' ? worker : null,
    mainClass,
    cores: reqNumber(o, 'cores', where),
    memoryMb: reqNumber(o, 'memory', where),
    submitDate: optString(o, 'submitdate', where) ?? '',
  };
}

function reqNumber(o: Obj, key: string, where: string): number {
  const n = optNumber(o, key, where);
  if (n === undefined) throw new Error(`${where}.${key} is missing`);
  return n;
}

function optString(o: Obj, key: string, where?: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`${where ? `${where}.` : ''}${key} is not a string`);
  return v;
}

function optNumber(o: Obj, key: string, where?: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new Error(`${where ? `${where}.` : ''}${key} is not a number`);
  return n;
}

function countAliveWorkers(workers: unknown): number {
  if (!Array.isArray(workers)) return 0;
  return workers.filter((w) => typeof w === 'object' && w !== null && (w as Obj).state === 'ALIVE').length;
}

// ---------------------------------------------------------------- helpers

/**
 * `next` made read-only (one read is handed to every tenant of the master), reusing what has
 * not changed since `previous`: equal drivers, equal driver lists, the whole previous state
 * when nothing changed. A master listing 1,000 drivers is read about every 0.75 s and mostly
 * says the same; the drivers of each read lived long enough to reach V8's old generation, and
 * a state handed out again keeps the lookups built over it (streams/master-index.ts).
 */
export function sharingUnchanged(next: MasterState, previous: MasterState | undefined): MasterState {
  if (!previous) return freezeState(next);
  const prevById = new Map<string, SparkDriver>();
  const reuse = (list: SparkDriver[], prevList: readonly SparkDriver[]): SparkDriver[] => {
    if (list.length === prevList.length && list.every((d, i) => sameDriver(d, prevList[i]!))) return prevList as SparkDriver[];
    if (prevById.size === 0) for (const d of [...previous.activeDrivers, ...previous.completedDrivers]) prevById.set(d.id, d);
    return Object.freeze(
      list.map((d) => {
        const old = prevById.get(d.id);
        return old && sameDriver(d, old) ? old : Object.freeze(d);
      }),
    ) as SparkDriver[];
  };
  const activeDrivers = reuse(next.activeDrivers, previous.activeDrivers);
  const completedDrivers = reuse(next.completedDrivers, previous.completedDrivers);
  const same =
    activeDrivers === previous.activeDrivers &&
    completedDrivers === previous.completedDrivers &&
    next.webUiUrl === previous.webUiUrl &&
    next.url === previous.url &&
    next.status === previous.status &&
    next.aliveWorkers === previous.aliveWorkers &&
    next.cores === previous.cores &&
    next.coresUsed === previous.coresUsed &&
    next.memoryMb === previous.memoryMb &&
    next.memoryUsedMb === previous.memoryUsedMb;
  return same ? previous : Object.freeze({ ...next, activeDrivers, completedDrivers });
}

function sameDriver(a: SparkDriver, b: SparkDriver): boolean {
  return (
    a.id === b.id &&
    a.state === b.state &&
    a.startTime === b.startTime &&
    a.worker === b.worker &&
    a.mainClass === b.mainClass &&
    a.cores === b.cores &&
    a.memoryMb === b.memoryMb &&
    a.submitDate === b.submitDate
  );
}

/** The state, its driver lists and drivers made read-only. */
function freezeState(state: MasterState): MasterState {
  for (const d of state.activeDrivers) Object.freeze(d);
  for (const d of state.completedDrivers) Object.freeze(d);
  Object.freeze(state.activeDrivers);
  Object.freeze(state.completedDrivers);
  return Object.freeze(state);
}

/** `promise`, or the signal's reason as soon as it aborts (the promise itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** `user:pass@host` → `host`: credentials never reach a URL or a message. */
function stripCredentials(host: string): string {
  const at = host.lastIndexOf('@');
  return at >= 0 ? host.slice(at + 1) : host;
}

function hostOfWebUiUrl(webUiUrl: string, hosts: readonly string[]): string {
  return hosts.find((h) => webUiUrl.startsWith(`http://${urlHost(h)}:`)) ?? hosts[0] ?? '';
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a && b) return AbortSignal.any([a, b]);
  return a ?? b;
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number, target: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > limit) {
      body.destroy();
      throw new SparkProtocolError(`Spark master ${target} sent a response larger than ${limit} bytes`, { target });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && typeof e === 'object' && e !== null; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function describeCode(code: string | undefined, err: unknown): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
      return 'connection reset';
    case 'UND_ERR_SOCKET':
      return 'connection closed before an answer';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return code ?? firstLine(err instanceof Error ? err.message : String(err), 120);
  }
}

function describeFailure(reason: unknown): string {
  if (reason instanceof SparkTimeoutError) return `timed out after ${reason.timeoutMs} ms`;
  if (reason instanceof SparkUnreachableError) return reason.message.replace(/^.*failed: /, '');
  if (reason instanceof Error) return firstLine(reason.message, 120);
  return 'no answer';
}

function firstLine(s: string, max: number): string {
  const line = (s.split('\n')[0] ?? '').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** A short, single-line rendering of a non-JSON (or unexpected) body: the HTML title, or the text. */
function summarizeBody(res: RawResponse): string {
  const title = /<title>([^<]*)<\/title>/i.exec(res.text)?.[1];
  if (title) return title.trim();
  const text = res.text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  if (text === '') return '(empty body)';
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}
