/**
 * A protocol-faithful Spark standalone master simulator (web UI `/json/` + REST submission
 * server), built on node:http, following /work/shared/SPARK_PROTOCOL.md (Spark 3.x).
 *
 * Two real HTTP servers: the web UI (JSON state) and the REST submission server. Both bind to
 * `host` (default 127.0.0.1); port 0 gives ephemeral ports, read them after `start()`.
 *
 * Timestamps (driver start time, submit date, ids, heartbeats) come from the injectable
 * `now()`; the asynchronous parts (kill completion, launch delay, slow answers) use real
 * timers with millisecond knobs so that tests stay fast.
 *
 * Checked against a real Spark 3.5.7 master by test/spark-conformance (fixture and its list of
 * deliberate differences in test/fixtures/spark-3.5/). A driver's process does what the
 * test's `driverProgram` says (default: runs until killed); fault injection (failNext, dropNext,
 * holdNext, killDriverProcess, loseWorker, …) may go beyond what Spark does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

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

const BACKUP_STANDALONE_MASTER_PREFIX = 'Current state is not alive';
const PROTOCOL_VERSION = 'v1';
const SC_UNKNOWN_PROTOCOL_VERSION = 468;
const DEFAULT_DRIVER_CORES = 1;
const DEFAULT_DRIVER_MEMORY_MB = 1024;
/** Headers Spark's web UI adds to its pages (JettyUtils). */
const UI_HEADERS = {
  'cache-control': 'no-cache, no-store, must-revalidate',
  'x-frame-options': 'SAMEORIGIN',
  'x-xss-protection': '1; mode=block',
  'x-content-type-options': 'nosniff',
};

interface Worker {
  id: string;
  host: string;
  port: number;
  webUiAddress: string;
  cores: number;
  memoryMb: number;
  coresUsed: number;
  memoryUsedMb: number;
  state: 'ALIVE' | 'DEAD';
  lastHeartbeat: number;
  drivers: Set<string>;
}

interface DriverDesc {
  mainClass: string;
  appResource: string;
  cores: number;
  memoryMb: number;
  supervise: boolean;
  appArgs: string[];
  sparkProperties: Record<string, string>;
}

interface Driver {
  id: string;
  startTime: number;
  submitDate: string;
  state: string;
  desc: DriverDesc;
  worker: Worker | null;
  exception: string | null;
  killRequested: boolean;
  /** True while the launch delay has not passed. */
  launchHold: boolean;
  launches: number;
}

interface FaultRule {
  kind: 'fail' | 'drop' | 'hold';
  remaining: number;
  endpoint?: SimEndpoint;
  status: number;
  body?: string;
  contentType?: string;
  processFirst: boolean;
  echoRequest?: FailNextOptions['echoRequest'];
}

// ---------------------------------------------------------------- formatting helpers

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `java.util.Date.toString()` in UTC, e.g. `Mon Jan 01 12:05:01 UTC 2024`. */
export function javaDateString(ms: number): string {
  const d = new Date(ms);
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`
  );
}

/** `yyyyMMddHHmmss` in UTC (the simulated JVM runs in UTC). */
function idDate(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`
  );
}

/**
 * Jackson's DefaultPrettyPrinter layout (what Spark's REST server and json4s `pretty` emit):
 * `"key" : value`, two-space object indentation, arrays inline as `[ a, b ]`, empty `[ ]`/`{ }`.
 * With `rest`, null/undefined fields are omitted and keys sorted alphabetically (NON_NULL +
 * alphabetic property order).
 */
export function jacksonPretty(value: unknown, rest = false, nesting = 0): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[ ]';
    return `[ ${value.map((v) => jacksonPretty(v, rest, nesting)).join(', ')} ]`;
  }
  if (typeof value === 'object') {
    let entries = Object.entries(value as Record<string, unknown>);
    if (rest) {
      entries = entries.filter(([, v]) => v !== null && v !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    }
    if (entries.length === 0) return '{ }';
    const ind = '  '.repeat(nesting + 1);
    const body = entries.map(([k, v]) => `\n${ind}${JSON.stringify(k)} : ${jacksonPretty(v, rest, nesting + 1)}`);
    return `{${body.join(',')}\n${'  '.repeat(nesting)}}`;
  }
  return JSON.stringify(value);
}

/**
 * Jetty 9.4's ErrorHandler page (as Spark's servers send it): the message in the title, heading
 * and table; the servlet that answered (class name and identity hash) when there was one; an
 * uncaught exception as CAUSED BY plus its stack trace.
 */
function jettyErrorPage(status: number, uri: string, message: string, servlet?: string, cause?: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
  const causeLine = cause?.split('\n')[0];
  return (
    '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=ISO-8859-1"/>\n' +
    `<title>Error ${status} ${esc(message)}</title>\n</head>\n<body><h2>HTTP ERROR ${status} ${esc(message)}</h2>\n` +
    `<table>\n<tr><th>URI:</th><td>${esc(uri)}</td></tr>\n<tr><th>STATUS:</th><td>${status}</td></tr>\n` +
    `<tr><th>MESSAGE:</th><td>${esc(message)}</td></tr>\n` +
    (servlet ? `<tr><th>SERVLET:</th><td>${esc(servlet)}</td></tr>\n` : '') +
    (causeLine ? `<tr><th>CAUSED BY:</th><td>${esc(causeLine)}</td></tr>\n` : '') +
    '</table>\n' +
    (cause ? `<h3>Caused by:</h3><pre>${esc(cause)}\n</pre>\n` : '') +
    '\n</body>\n</html>\n'
  );
}

/** Servlet names as Jetty prints them: class name, '-', identity hash (hex); one hash per servlet and process. */
const SERVLET_NAMES = Object.fromEntries(
  (
    [
      ['create', 'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet'],
      ['kill', 'org.apache.spark.deploy.rest.StandaloneKillRequestServlet'],
      ['status', 'org.apache.spark.deploy.rest.StandaloneStatusRequestServlet'],
      ['ui', 'org.apache.spark.ui.JettyUtils$$anon$1'],
    ] as const
  ).map(([k, cls]) => [k, `${cls}-${Math.floor(Math.random() * 0x7fffffff).toString(16)}`]),
) as Record<'create' | 'kill' | 'status' | 'ui', string>;

function reasonPhrase(status: number): string {
  return http.STATUS_CODES[status] ?? 'Error';
}

/** A Java-like exception rendering as Spark's `formatException` prints it (`e.toString` + `\t` frames). */
function formatException(exceptionClass: string, message: string, frames: string[]): string {
  return `${exceptionClass}: ${message}\n${frames.map((f) => `\t${f}`).join('\n')}`;
}

const REST_FRAMES = [
  'org.apache.spark.deploy.rest.SubmitRestProtocolMessage.validate(SubmitRestProtocolMessage.scala:75)',
  'org.apache.spark.deploy.rest.SubmitRequestServlet.doPost(RestSubmissionServer.scala:259)',
  'javax.servlet.http.HttpServlet.service(HttpServlet.java:523)',
  'javax.servlet.http.HttpServlet.service(HttpServlet.java:590)',
  'org.sparkproject.jetty.servlet.ServletHolder.handle(ServletHolder.java:799)',
];
const BUILD_FRAMES = [
  'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet.$anonfun$buildDriverDescription$2(StandaloneRestServer.scala:137)',
  'scala.Option.getOrElse(Option.scala:189)',
  'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet.buildDriverDescription(StandaloneRestServer.scala:137)',
  'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet.handleSubmit(StandaloneRestServer.scala:196)',
  'org.apache.spark.deploy.rest.SubmitRequestServlet.doPost(RestSubmissionServer.scala:260)',
];
const JACKSON_FRAMES = [
  'com.fasterxml.jackson.core.JsonParser._constructError(JsonParser.java:2477)',
  'com.fasterxml.jackson.core.base.ParserMinimalBase._reportError(ParserMinimalBase.java:760)',
  'org.json4s.jackson.JsonMethods.parse(JsonMethods.scala:33)',
  'org.apache.spark.deploy.rest.SubmitRestProtocolMessage$.parseField(SubmitRestProtocolMessage.scala:143)',
];
const WORKER_FRAMES = [
  'org.apache.spark.deploy.worker.DriverRunner.downloadUserJar(DriverRunner.scala:162)',
  'org.apache.spark.deploy.worker.DriverRunner.prepareAndRunDriver(DriverRunner.scala:179)',
  'org.apache.spark.deploy.worker.DriverRunner$$anon$2.run(DriverRunner.scala:99)',
];
const MASTER_FRAMES = [
  'org.apache.spark.deploy.master.Master$$anonfun$receiveAndReply$1.applyOrElse(Master.scala:487)',
  'org.apache.spark.rpc.netty.Inbox.$anonfun$process$1(Inbox.scala:103)',
  'org.apache.spark.rpc.netty.Inbox.safelyCall(Inbox.scala:213)',
];

/** A client error that Spark's servlet turns into 400 "Malformed request: ...". */
class MalformedRequest extends Error {
  constructor(readonly formatted: string) {
    super('malformed');
  }
}
/** An uncaught exception that Jetty turns into its 500 error page. */
class InternalError extends Error {
  constructor(
    message: string,
    readonly frames: string[] = ['org.apache.spark.deploy.rest.SubmitRequestServlet.doPost(RestSubmissionServer.scala:282)'],
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------- Java-like value checks

function memoryStringToMb(value: string): number {
  // JavaUtils.byteStringAsBytes: no suffix means bytes.
  const lower = value.trim().toLowerCase();
  const m = /^([0-9]+)([a-z]+)?$/.exec(lower);
  if (!m) throw new Error(`Invalid memory string ${value}`);
  const units: Record<string, number> = {
    b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3,
    t: 1024 ** 4, tb: 1024 ** 4, p: 1024 ** 5, pb: 1024 ** 5,
  };
  const mult = m[2] === undefined ? 1 : units[m[2]];
  if (mult === undefined) throw new Error(`Invalid suffix ${m[2]}`);
  return Math.floor((Number(m[1]) * mult) / 1024 / 1024);
}

function isJavaDouble(value: string): boolean {
  const s = value.trim();
  if (s === '') return false;
  if (/^[+-]?(NaN|Infinity)$/.test(s)) return true;
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?$/.test(s);
}

function isJavaBoolean(value: string): boolean {
  return /^(true|false)$/i.test(value);
}

const PARSE_INT_FRAMES = [
  'java.base/java.lang.NumberFormatException.forInputString(NumberFormatException.java:67)',
  'java.base/java.lang.Integer.parseInt(Integer.java:668)',
  'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet.buildDriverDescription(StandaloneRestServer.scala:183)',
];

function javaParseInt(value: string): number {
  if (!/^[+-]?\d+$/.test(value)) throw new InternalError(`java.lang.NumberFormatException: For input string: "${value}"`, PARSE_INT_FRAMES);
  const n = Number(value);
  if (n > 2147483647 || n < -2147483648) throw new InternalError(`java.lang.NumberFormatException: For input string: "${value}"`, PARSE_INT_FRAMES);
  return n;
}

// ---------------------------------------------------------------- the simulator

interface Servers {
  ui: http.Server;
  rest: http.Server;
}

export class SparkMasterSimulator {
  readonly host: string;
  private uiPortValue: number;
  private restPortValue: number;
  private status: SimMasterStatus | string;
  private readonly sparkVersion: string;
  private readonly masterUrlOption: string | undefined;
  private readonly now: () => number;
  private killDelayMs: number | null;
  private launchDelayMs: number;
  private readonly retainedDrivers: number;
  private readonly driverProgram: MasterSimulatorOptions['driverProgram'];
  private readonly superviseBackoffMs: number;
  /** The timer of each driver's running process (its exit) or of its restart back-off. */
  private readonly processTimers = new Map<string, NodeJS.Timeout>();
  private readonly logLine: ((line: string) => void) | undefined;
  private readonly onRequest: MasterSimulatorOptions['onRequest'];
  /** Releases of the requests held by `holdNext` (true: send the answer, if there is one). */
  private readonly held = new Set<(answer: boolean) => void>();

  private readonly workersList: Worker[] = [];
  private readonly initial: { workers: SimWorkerSpec[]; killDelayMs: number | null; launchDelayMs: number; status: SimMasterStatus | string };
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  /** Active drivers (SUBMITTED/RUNNING), insertion order. */
  private readonly drivers = new Map<string, Driver>();
  private readonly completed: Driver[] = [];
  private nextDriverNumber = 0;
  private nextWorkerNumber = 0;

  private servers: Servers | null = null;
  private started = false;
  private stopped = false;
  private refusing = false;
  private responseDelayMs = 0;
  private faults: FaultRule[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pendingKills = new Map<string, NodeJS.Timeout | null>();

  /** Every request received, in order. */
  readonly requests: SimRequestRecord[] = [];
  /** Every `POST /v1/submissions/create` received (including rejected and failed ones). */
  readonly createRequests: SimCreateRecord[] = [];
  /** Every kill request that reached the master logic. */
  readonly killRequests: SimKillRecord[] = [];
  /** Ids asked for through `GET /v1/submissions/status/{id}`. */
  readonly statusRequests: { at: number; id: string }[] = [];

  constructor(opts: MasterSimulatorOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.uiPortValue = opts.uiPort ?? 0;
    this.restPortValue = opts.restPort ?? 0;
    this.status = opts.status ?? 'ALIVE';
    this.sparkVersion = opts.sparkVersion ?? '3.5.1';
    this.masterUrlOption = opts.masterUrl;
    this.now = opts.now ?? Date.now;
    this.killDelayMs = opts.killDelayMs === undefined ? 50 : opts.killDelayMs;
    this.launchDelayMs = opts.launchDelayMs ?? 0;
    this.retainedDrivers = opts.retainedDrivers ?? 200;
    this.driverProgram = opts.driverProgram;
    this.superviseBackoffMs = opts.superviseBackoffMs ?? 1000;
    this.logLine = opts.log;
    this.onRequest = opts.onRequest;
    const workers = opts.workers ?? [{ cores: 4, memoryMb: 8192 }, { cores: 4, memoryMb: 8192 }];
    this.initial = { workers: workers.map((w) => ({ ...w })), killDelayMs: this.killDelayMs, launchDelayMs: this.launchDelayMs, status: this.status };
    for (const w of workers) this.addWorker(w);
  }

  // ------------------------------------------------------------ lifecycle

  async start(): Promise<this> {
    if (this.started) throw new Error('simulator already started');
    this.started = true;
    this.servers = { ui: this.makeServer('ui'), rest: this.makeServer('rest') };
    this.uiPortValue = await listen(this.servers.ui, this.host, this.uiPortValue);
    this.restPortValue = await listen(this.servers.rest, this.host, this.restPortValue);
    return this;
  }

  /** Closes both servers and every open connection; cancels every timer. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.releaseHeld();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const t of this.pendingKills.values()) if (t) clearTimeout(t);
    this.pendingKills.clear();
    const s = this.servers;
    this.servers = null;
    if (s) await Promise.all([closeServer(s.ui), closeServer(s.rest)]);
  }

  get uiPort(): number {
    return this.uiPortValue;
  }
  get restPort(): number {
    return this.restPortValue;
  }
  /** `http://host:uiPort` */
  get uiUrl(): string {
    return `http://${urlHost(this.host)}:${this.uiPortValue}`;
  }
  /** `http://host:restPort` */
  get restUrl(): string {
    return `http://${urlHost(this.host)}:${this.restPortValue}`;
  }
  get masterUrl(): string {
    return this.masterUrlOption ?? `spark://${urlHost(this.host)}:7077`;
  }

  // ------------------------------------------------------------ reuse between test cases

  /** Resolves when no request is being handled (answers delayed by `delayResponses` included). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Back to the state after construction, on the same ports: waits for requests in flight, then
   * forgets every driver, worker, fault, pending kill and recorded request, listens again if
   * refusing, and restores the initial status, workers and delays. Driver numbers keep counting,
   * so ids never repeat across resets.
   */
  async reset(): Promise<void> {
    if (!this.started || this.stopped) throw new Error('simulator is not running');
    this.faults = [];
    this.responseDelayMs = 0;
    this.releaseHeld();
    await this.idle();
    if (this.refusing) await this.refuseConnections(false);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pendingKills.clear();
    this.processTimers.clear();
    this.drivers.clear();
    this.completed.length = 0;
    this.workersList.length = 0;
    this.requests.length = 0;
    this.createRequests.length = 0;
    this.killRequests.length = 0;
    this.statusRequests.length = 0;
    this.status = this.initial.status;
    this.killDelayMs = this.initial.killDelayMs;
    this.launchDelayMs = this.initial.launchDelayMs;
    for (const w of this.initial.workers) this.addWorker(w);
  }

  // ------------------------------------------------------------ fault injection

  /** Sets the recovery state (ALIVE, STANDBY, RECOVERING, COMPLETING_RECOVERY). */
  setStatus(status: SimMasterStatus | (string & {})): void {
    this.status = status;
    if (status === 'ALIVE') this.schedule();
  }

  getStatus(): string {
    return this.status;
  }

  /** The next `n` requests (to `endpoint`, or to any endpoint) are answered with `status` (default 500). */
  failNext(n: number, opts: FailNextOptions = {}): void {
    this.faults.push({
      kind: 'fail',
      remaining: n,
      status: opts.status ?? 500,
      processFirst: opts.processFirst ?? false,
      ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}),
      ...(opts.echoRequest !== undefined ? { echoRequest: opts.echoRequest } : {}),
    });
  }

  /** The next `n` requests (to `endpoint`, or to any endpoint) get their socket destroyed, no answer. */
  dropNext(n: number, endpoint?: SimEndpoint, opts: DropNextOptions = {}): void {
    this.faults.push({
      kind: 'drop',
      remaining: n,
      status: 0,
      processFirst: opts.processFirst ?? false,
      ...(endpoint !== undefined ? { endpoint } : {}),
    });
  }

  /**
   * The next `n` requests (to `endpoint`, or to any endpoint) are read and then not answered:
   * the connection stays open until `releaseHeld()`, `stop()` or the end of the process (a master
   * that dies while a client waits for its answer). `log` and `onRequest` report them as HELD
   * when they arrive. With `processFirst`, the request is carried out at once and
   * `releaseHeld(true)` sends its (late) answer.
   */
  holdNext(n: number, endpoint?: SimEndpoint, opts: HoldNextOptions = {}): void {
    this.faults.push({
      kind: 'hold',
      remaining: n,
      status: 0,
      processFirst: opts.processFirst ?? false,
      ...(endpoint !== undefined ? { endpoint } : {}),
    });
  }

  /**
   * Ends every held request: by destroying its connection (no answer), or with `answer` the
   * answer of a request that was carried out (`processFirst`).
   */
  releaseHeld(answer = false): void {
    const releases = [...this.held];
    this.held.clear();
    for (const release of releases) release(answer);
  }

  /** Clears pending failNext/dropNext/holdNext rules and the response delay. */
  clearFaults(): void {
    this.faults = [];
    this.responseDelayMs = 0;
  }

  /** Every answer is delayed by `ms` (0 turns it off). The request is carried out after the delay. */
  delayResponses(ms: number): void {
    this.responseDelayMs = ms;
  }

  /**
   * `true`: closes both listening sockets and every open connection, so that clients get
   * ECONNREFUSED. `false`: listens again on the same ports.
   */
  async refuseConnections(on: boolean): Promise<void> {
    if (!this.started || this.stopped) throw new Error('simulator is not running');
    if (on === this.refusing) return;
    this.refusing = on;
    const s = this.servers;
    if (!s) return;
    if (on) {
      await Promise.all([closeServer(s.ui), closeServer(s.rest)]);
    } else {
      this.servers = { ui: this.makeServer('ui'), rest: this.makeServer('rest') };
      await listen(this.servers.ui, this.host, this.uiPortValue);
      await listen(this.servers.rest, this.host, this.restPortValue);
    }
  }

  setKillDelay(ms: number | null): void {
    this.killDelayMs = ms;
  }

  setLaunchDelay(ms: number): void {
    this.launchDelayMs = ms;
  }

  /** With `killDelayMs: null`: completes every kill that is waiting for its worker (→ KILLED). */
  finishPendingKills(): string[] {
    const ids = [...this.pendingKills.keys()];
    for (const id of ids) this.completeKill(id);
    return ids;
  }

  /**
   * Fault injection: the driver ends in `finalState`, whatever Spark would do; it moves to
   * `completeddrivers` with that state (and keeps its worker id). Real Spark 3.5 never shows a
   * supervised driver as FAILED (its worker restarts it in place, forever): `exitDriverProcess`
   * follows that rule, and so does this with `respectSupervise`.
   */
  killDriverProcess(
    id: string,
    finalState: SimFinalState,
    opts: { exception?: string; respectSupervise?: boolean } = {},
  ): 'completed' | 'restarted' {
    const d = this.drivers.get(id);
    if (!d || d.state !== 'RUNNING' || !d.worker) throw new Error(`driver ${id} is not RUNNING on a worker`);
    if (opts.respectSupervise && d.desc.supervise && finalState === 'FAILED' && !d.killRequested) {
      this.processExited(d, 1, Date.now(), this.superviseBackoffMs);
      return 'restarted';
    }
    const exception =
      finalState === 'ERROR'
        ? opts.exception ??
          formatException('java.io.IOException', 'Failed to launch driver', [
            'org.apache.spark.deploy.worker.DriverRunner.prepareAndRunDriver(DriverRunner.scala:180)',
            'org.apache.spark.deploy.worker.DriverRunner$$anon$1.run(DriverRunner.scala:99)',
          ])
        : null;
    this.cancelPendingKill(id);
    this.removeDriver(id, finalState, exception);
    return 'completed';
  }

  /**
   * The driver's process exits with `exitCode` by itself, and its worker reacts as Spark's
   * DriverRunner does: 0 → FINISHED; non-zero → KILLED if a kill was requested, otherwise
   * restarted in place when supervised (it stays RUNNING; returns 'restarted'), else FAILED.
   */
  exitDriverProcess(id: string, exitCode: number): 'FINISHED' | 'FAILED' | 'KILLED' | 'restarted' {
    const d = this.drivers.get(id);
    if (!d || d.state !== 'RUNNING' || !d.worker) throw new Error(`driver ${id} is not RUNNING on a worker`);
    return this.processExited(d, exitCode, Date.now(), this.superviseBackoffMs);
  }

  /**
   * The worker is lost: it becomes DEAD; its supervised drivers are relaunched (old id →
   * RELAUNCHING in completeddrivers, a new driver with a new id is submitted); the others → ERROR.
   * Returns the ids of the replacement drivers.
   */
  loseWorker(workerId: string): string[] {
    const w = this.workersList.find((x) => x.id === workerId);
    if (!w) throw new Error(`unknown worker ${workerId}`);
    if (w.state === 'DEAD') return [];
    w.state = 'DEAD';
    const replacements: string[] = [];
    for (const id of [...w.drivers]) {
      const d = this.drivers.get(id);
      if (!d) continue;
      this.cancelPendingKill(id);
      if (d.desc.supervise) {
        this.removeDriver(id, 'RELAUNCHING', null, false);
        const nd = this.createDriver(d.desc);
        replacements.push(nd.id);
      } else {
        this.removeDriver(id, 'ERROR', null, false);
      }
    }
    this.schedule();
    return replacements;
  }

  /** Adds a worker (as if it registered) and schedules waiting drivers. Returns its id. */
  addWorker(spec: SimWorkerSpec): string {
    const n = ++this.nextWorkerNumber;
    const host = spec.host ?? `10.0.0.${n}`;
    const port = spec.port ?? 35000 + n;
    const w: Worker = {
      id: `worker-${idDate(this.now())}-${host}-${port}`,
      host,
      port,
      webUiAddress: `http://${host}:8081`,
      cores: spec.cores,
      memoryMb: spec.memoryMb,
      coresUsed: 0,
      memoryUsedMb: 0,
      state: 'ALIVE',
      lastHeartbeat: this.now(),
      drivers: new Set(),
    };
    this.workersList.push(w);
    this.schedule();
    return w.id;
  }

  /** A driver submitted by someone else (e.g. spark-submit by hand). Returns its id. */
  addDriverByHand(opts: AddDriverByHandOptions): string {
    const d = this.createDriver({
      mainClass: opts.mainClass,
      appResource: '',
      cores: opts.cores ?? DEFAULT_DRIVER_CORES,
      memoryMb: opts.memoryMb ?? DEFAULT_DRIVER_MEMORY_MB,
      supervise: opts.supervise ?? false,
      appArgs: opts.appArgs ?? [],
      sparkProperties: opts.sparkProperties ?? {},
    });
    this.schedule();
    return d.id;
  }

  // ------------------------------------------------------------ inspection

  activeDrivers(): SimDriverView[] {
    return [...this.drivers.values()].map(view);
  }
  completedDrivers(): SimDriverView[] {
    return this.completed.map(view);
  }
  getDriver(id: string): SimDriverView | undefined {
    const d = this.drivers.get(id) ?? this.completed.find((x) => x.id === id);
    return d ? view(d) : undefined;
  }
  workers(): SimWorkerView[] {
    return this.workersList.map((w) => ({
      id: w.id,
      host: w.host,
      port: w.port,
      state: w.state,
      cores: w.cores,
      coresUsed: w.coresUsed,
      memoryMb: w.memoryMb,
      memoryUsedMb: w.memoryUsedMb,
      driverIds: [...w.drivers],
    }));
  }
  /** The `/json/` document as an object (what the web UI serves, before pretty-printing). */
  stateDocument(): Record<string, unknown> {
    const alive = this.workersList.filter((w) => w.state === 'ALIVE');
    const sum = (f: (w: Worker) => number) => alive.reduce((a, w) => a + f(w), 0);
    return {
      url: this.masterUrl,
      workers: this.workersList.map((w) => ({
        id: w.id,
        host: w.host,
        port: w.port,
        webuiaddress: w.webUiAddress,
        cores: w.cores,
        coresused: w.coresUsed,
        coresfree: w.cores - w.coresUsed,
        memory: w.memoryMb,
        memoryused: w.memoryUsedMb,
        memoryfree: w.memoryMb - w.memoryUsedMb,
        resources: {},
        resourcesused: {},
        resourcesfree: {},
        state: w.state,
        lastheartbeat: w.lastHeartbeat,
      })),
      aliveworkers: alive.length,
      cores: sum((w) => w.cores),
      coresused: sum((w) => w.coresUsed),
      memory: sum((w) => w.memoryMb),
      memoryused: sum((w) => w.memoryUsedMb),
      resources: alive.map(() => ({})),
      resourcesused: alive.map(() => ({})),
      activeapps: [],
      completedapps: [],
      activedrivers: [...this.drivers.values()].map(driverJson),
      completeddrivers: this.completed.map(driverJson),
      status: this.status,
    };
  }
  /** Request counts per endpoint. */
  counts(): Record<SimEndpoint | 'other', number> {
    const c = { json: 0, create: 0, kill: 0, status: 0, other: 0 };
    for (const r of this.requests) c[r.endpoint]++;
    return c;
  }

  // ------------------------------------------------------------ master logic (Master.scala)

  private createDriver(desc: DriverDesc): Driver {
    const now = this.now();
    const d: Driver = {
      id: `driver-${idDate(now)}-${pad(this.nextDriverNumber++, 4)}`,
      startTime: now,
      submitDate: javaDateString(now),
      state: 'SUBMITTED',
      desc,
      worker: null,
      exception: null,
      killRequested: false,
      launchHold: this.launchDelayMs > 0,
      launches: 0,
    };
    this.drivers.set(d.id, d);
    if (d.launchHold) {
      this.setTimer(this.launchDelayMs, () => {
        d.launchHold = false;
        this.schedule();
      });
    }
    return d;
  }

  /** Waiting drivers, oldest first, each on the first alive worker with enough free cores and memory. */
  private schedule(): void {
    if (this.status !== 'ALIVE') return;
    for (const d of this.drivers.values()) {
      if (d.state !== 'SUBMITTED' || d.launchHold) continue;
      const w = this.workersList.find(
        (x) => x.state === 'ALIVE' && x.cores - x.coresUsed >= d.desc.cores && x.memoryMb - x.memoryUsedMb >= d.desc.memoryMb,
      );
      if (!w) continue;
      w.coresUsed += d.desc.cores;
      w.memoryUsedMb += d.desc.memoryMb;
      w.drivers.add(d.id);
      d.worker = w;
      d.state = 'RUNNING';
      this.startProcess(d, this.superviseBackoffMs);
    }
  }

  /**
   * DriverRunner on the worker: runs the driver's program (if the test gave one). A supervised
   * driver that exits non-zero is started again in place after a back-off that doubles (reset
   * after a run longer than 5 back-off units), with no limit: the master keeps showing RUNNING.
   */
  private startProcess(d: Driver, backoffMs: number): void {
    d.launches++;
    const run = this.driverProgram?.({
      id: d.id,
      mainClass: d.desc.mainClass,
      appResource: d.desc.appResource,
      appArgs: [...d.desc.appArgs],
      sparkProperties: { ...d.desc.sparkProperties },
      supervise: d.desc.supervise,
      launch: d.launches,
    });
    if (!run) return;
    if ('error' in run) {
      // prepareAndRunDriver threw (e.g. the jar could not be fetched): ERROR, even when supervised
      this.setProcessTimer(d.id, run.errorAfterMs ?? 0, () => {
        this.cancelPendingKill(d.id);
        const e = run.error.includes('\n\t') ? run.error : `${run.error}\n${WORKER_FRAMES.map((f) => `\t${f}`).join('\n')}`;
        this.removeDriver(d.id, 'ERROR', e);
      });
      return;
    }
    const startedAt = Date.now();
    this.setProcessTimer(d.id, run.exitAfterMs, () => this.processExited(d, run.exitCode, startedAt, backoffMs));
  }

  /** DriverRunner's final-state rule: exit 0 → FINISHED, else KILLED after a kill, else FAILED unless supervised. */
  private processExited(d: Driver, exitCode: number, startedAt: number, backoffMs: number): 'FINISHED' | 'FAILED' | 'KILLED' | 'restarted' {
    if (exitCode !== 0 && d.desc.supervise && !d.killRequested) {
      const wait = Date.now() - startedAt > 5 * this.superviseBackoffMs ? this.superviseBackoffMs : backoffMs;
      this.setProcessTimer(d.id, wait, () => this.startProcess(d, wait * 2));
      return 'restarted';
    }
    const state = exitCode === 0 ? 'FINISHED' : d.killRequested ? 'KILLED' : 'FAILED';
    this.cancelPendingKill(d.id);
    this.removeDriver(d.id, state, null);
    return state;
  }

  private setProcessTimer(id: string, ms: number, fn: () => void): void {
    this.clearProcessTimer(id);
    const t = this.setTimer(ms, () => {
      if (this.processTimers.get(id) === t) this.processTimers.delete(id);
      fn();
    });
    this.processTimers.set(id, t);
  }

  private clearProcessTimer(id: string): void {
    const t = this.processTimers.get(id);
    if (t) {
      clearTimeout(t);
      this.timers.delete(t);
      this.processTimers.delete(id);
    }
  }

  private removeDriver(id: string, finalState: string, exception: string | null, reschedule = true): void {
    const d = this.drivers.get(id);
    if (!d) return;
    this.drivers.delete(id);
    this.clearProcessTimer(id);
    if (this.completed.length >= this.retainedDrivers) {
      this.completed.splice(0, Math.max(Math.floor(this.retainedDrivers / 10), 1));
    }
    this.completed.push(d);
    d.state = finalState;
    d.exception = exception;
    if (d.worker && d.worker.drivers.delete(id)) {
      d.worker.coresUsed -= d.desc.cores;
      d.worker.memoryUsedMb -= d.desc.memoryMb;
    }
    if (reschedule) this.schedule();
  }

  private requestKill(id: string): { success: boolean; message: string } {
    if (this.status !== 'ALIVE') {
      return {
        success: false,
        message: `${BACKUP_STANDALONE_MASTER_PREFIX}: ${this.status}. Can only kill drivers in ALIVE state.`,
      };
    }
    const d = this.drivers.get(id);
    if (!d) return { success: false, message: `Driver ${id} has already finished or does not exist` };
    if (d.state === 'SUBMITTED') {
      this.removeDriver(id, 'KILLED', null);
    } else if (!this.pendingKills.has(id)) {
      d.killRequested = true;
      if (this.killDelayMs === null) {
        this.pendingKills.set(id, null);
      } else {
        const t = this.setTimer(this.killDelayMs, () => this.completeKill(id));
        this.pendingKills.set(id, t);
      }
    }
    return { success: true, message: `Kill request for ${id} submitted` };
  }

  private completeKill(id: string): void {
    this.cancelPendingKill(id);
    if (this.drivers.get(id)?.state === 'RUNNING') this.removeDriver(id, 'KILLED', null);
  }

  private cancelPendingKill(id: string): void {
    const t = this.pendingKills.get(id);
    if (t) {
      clearTimeout(t);
      this.timers.delete(t);
    }
    this.pendingKills.delete(id);
  }

  private setTimer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  // ------------------------------------------------------------ HTTP

  private makeServer(kind: 'ui' | 'rest'): http.Server {
    const server = http.createServer((req, res) => {
      void this.handle(kind, req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        } else res.destroy();
      });
    });
    server.keepAliveTimeout = 5_000;
    return server;
  }

  private async handle(kind: 'ui' | 'rest', req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.inFlight++;
    try {
      await this.handleRequest(kind, req, res);
    } finally {
      if (--this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async handleRequest(kind: 'ui' | 'rest', req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const rawPath = req.url ?? '/';
    const pathname = rawPath.split('?')[0] ?? '/';
    const route = kind === 'ui' ? null : routeRest(pathname);
    const endpoint: SimEndpoint | 'other' = kind === 'ui' ? 'json' : route?.servlet === 'error' ? 'other' : (route?.servlet ?? 'other');
    const body = await readBody(req);

    const record = (status: number, held = false) => {
      const rec: SimRequestRecord = {
        at: this.now(),
        server: kind,
        method,
        path: rawPath,
        endpoint,
        status,
        durationMs: Date.now() - started,
      };
      this.requests.push(rec);
      this.logLine?.(
        `${new Date().toISOString()} ${kind === 'ui' ? 'ui  ' : 'rest'} ${method} ${rawPath} -> ${held ? 'HELD (no answer)' : status === 0 ? 'DROPPED' : status} (${rec.durationMs} ms)`,
      );
      this.onRequest?.(held ? { ...rec, held } : rec, createRecord);
    };
    let createRecord: SimCreateRecord | undefined;

    const fault = this.takeFault(endpoint);
    if (this.responseDelayMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.timers.delete(t);
          resolve();
        }, this.responseDelayMs);
        this.timers.add(t);
      });
      if (this.stopped) {
        res.destroy();
        return;
      }
    }

    let answer: Answer;
    if (fault && !fault.processFirst) {
      answer = { status: 0, headers: {}, body: '' };
    } else {
      const createsBefore = this.createRequests.length;
      answer = kind === 'ui' ? this.handleUi(method, pathname, req) : this.handleRest(method, pathname, route!, body);
      if (this.createRequests.length > createsBefore) createRecord = this.createRequests.at(-1);
    }
    if (fault?.kind === 'hold') {
      record(0, true);
      const send = this.stopped ? false : await new Promise<boolean>((resolve) => this.held.add(resolve));
      if (!send || !fault.processFirst || this.stopped) {
        req.socket.destroy();
        return;
      }
    }
    if (fault?.kind === 'drop') {
      record(0);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'fail' && fault.echoRequest) {
      answer = this.echoAnswer(fault.echoRequest, fault.status, pathname, body);
    } else if (fault?.kind === 'fail') {
      answer = {
        status: fault.status,
        headers: { 'content-type': fault.contentType ?? 'text/html;charset=iso-8859-1', 'cache-control': 'must-revalidate,no-cache,no-store' },
        body: fault.body ?? jettyErrorPage(fault.status, pathname, reasonPhrase(fault.status)),
      };
    }
    record(answer.status);
    res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
    res.end(method === 'HEAD' ? undefined : answer.body);
  }

  private takeFault(endpoint: SimEndpoint | 'other'): FaultRule | undefined {
    const rule = this.faults.find((f) => f.remaining > 0 && (f.endpoint === undefined || f.endpoint === endpoint));
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining <= 0) this.faults = this.faults.filter((f) => f !== rule);
    return rule;
  }

  private handleUi(method: string, pathname: string, req: http.IncomingMessage): Answer {
    if (pathname === '/json') {
      // Jetty context at /json without null path-info: redirect to /json/.
      const hostHeader = req.headers.host ?? `${urlHost(this.host)}:${this.uiPortValue}`;
      return { status: 302, headers: { location: `http://${hostHeader}/json/` }, body: '' };
    }
    if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(method, pathname, 'ui');
    if (pathname.startsWith('/json/')) {
      return {
        status: 200,
        headers: { 'content-type': 'text/json;charset=utf-8', ...UI_HEADERS },
        body: jacksonPretty(this.stateDocument()),
      };
    }
    // The master page is the UI's root servlet: every other path answers it too.
    return {
      status: 200,
      headers: { 'content-type': 'text/html;charset=utf-8', ...UI_HEADERS },
      body: `<!DOCTYPE html><html><head><title>Spark Master at ${this.masterUrl}</title></head><body><h3>Spark Master at ${this.masterUrl}</h3><p>Status: ${this.status}</p></body></html>`,
    };
  }

  private handleRest(method: string, pathname: string, route: RestRoute, body: string): Answer {
    switch (route.servlet) {
      case 'error':
        return this.errorServlet(route.parts);
      case 'create':
        if (method !== 'POST') return methodNotAllowed(method, pathname, 'create');
        return this.createServlet(body);
      case 'kill': {
        if (method !== 'POST') return methodNotAllowed(method, pathname, 'kill');
        const id = parseSubmissionId(route.pathInfo);
        if (id === undefined) return this.restAnswer(400, this.errorResponse('Submission ID is missing in kill request.'));
        const r = this.requestKill(id);
        this.killRequests.push({ at: this.now(), id, accepted: r.success });
        return this.restAnswer(200, {
          action: 'KillSubmissionResponse',
          message: r.message,
          serverSparkVersion: this.sparkVersion,
          submissionId: id,
          success: r.success,
        });
      }
      case 'status': {
        if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(method, pathname, 'status');
        const id = parseSubmissionId(route.pathInfo);
        if (id === undefined) return this.restAnswer(400, this.errorResponse('Submission ID is missing in status request.'));
        this.statusRequests.push({ at: this.now(), id });
        return this.restAnswer(200, this.statusResponse(id));
      }
    }
  }

  private statusResponse(id: string): Record<string, unknown> {
    const base = { action: 'SubmissionStatusResponse', serverSparkVersion: this.sparkVersion, submissionId: id };
    if (this.status !== 'ALIVE') {
      const e = formatException(
        'java.lang.Exception',
        `${BACKUP_STANDALONE_MASTER_PREFIX}: ${this.status}. Can only request driver status in ALIVE state.`,
        MASTER_FRAMES,
      );
      return { ...base, success: false, message: `Exception from the cluster:\n${e}` };
    }
    const d = this.drivers.get(id) ?? this.completed.find((x) => x.id === id);
    if (!d) return { ...base, success: false };
    return {
      ...base,
      success: true,
      driverState: d.state,
      workerId: d.worker?.id,
      workerHostPort: d.worker ? `${d.worker.host}:${d.worker.port}` : undefined,
      message: d.exception ? `Exception from the cluster:\n${d.exception}` : undefined,
    };
  }

  private createServlet(raw: string): Answer {
    const rec: SimCreateRecord = { at: this.now(), raw, body: undefined, status: 0 };
    this.createRequests.push(rec);
    let answer: Answer;
    try {
      answer = this.createSubmission(raw, rec);
    } catch (e) {
      if (e instanceof MalformedRequest) {
        answer = this.restAnswer(400, this.errorResponse(`Malformed request: ${e.formatted}`));
      } else if (e instanceof InternalError) {
        // Jetty's page for an exception the servlet did not catch: its text and stack trace
        answer = jettyAnswer(500, '/v1/submissions/create', e.message, SERVLET_NAMES.create, `${e.message}\n${e.frames.map((f) => `\tat ${f}`).join('\n')}`);
      } else throw e;
    }
    rec.status = answer.status;
    return answer;
  }

  private createSubmission(raw: string, rec: SimCreateRecord): Answer {
    // SubmitRestProtocolMessage.fromJson: parse, read `action`, pick the class.
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      const msg =
        raw.trim() === ''
          ? formatException('com.fasterxml.jackson.databind.exc.MismatchedInputException', 'No content to map due to end-of-input\n at [Source: (String)""; line: 1, column: 0]', JACKSON_FRAMES)
          : formatException(
              'com.fasterxml.jackson.core.JsonParseException',
              `${(e as Error).message}\n at [Source: (String)${JSON.stringify(raw.slice(0, 500))}; line: 1]`,
              JACKSON_FRAMES,
            );
      throw new MalformedRequest(msg);
    }
    rec.body = json;
    if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof (json as Record<string, unknown>).action !== 'string') {
      throw new MalformedRequest(
        formatException('org.apache.spark.deploy.rest.SubmitRestMissingFieldException', `Action field not found in JSON:\n${raw}`, REST_FRAMES),
      );
    }
    const obj = json as Record<string, unknown>;
    const action = obj.action as string;
    const responseTypes = ['CreateSubmissionResponse', 'KillSubmissionResponse', 'SubmissionStatusResponse', 'ErrorResponse'];
    if (action !== 'CreateSubmissionRequest') {
      if (!responseTypes.includes(action)) {
        // Class.forName fails: ClassNotFoundException is not caught by the servlet.
        throw new InternalError(`java.lang.ClassNotFoundException: org.apache.spark.deploy.rest.${action}`, [
          'java.base/jdk.internal.loader.BuiltinClassLoader.loadClass(BuiltinClassLoader.java:641)',
          'org.apache.spark.deploy.rest.SubmitRestProtocolMessage$.fromJson(SubmitRestProtocolMessage.scala:131)',
          'org.apache.spark.deploy.rest.SubmitRequestServlet.doPost(RestSubmissionServer.scala:278)',
        ]);
      }
      // each response type's doValidate: serverSparkVersion plus its own required fields
      const required: Record<string, string[]> = {
        CreateSubmissionResponse: ['success'],
        KillSubmissionResponse: ['submissionId', 'success'],
        SubmissionStatusResponse: ['submissionId', 'success'],
        ErrorResponse: ['message'],
      };
      for (const f of ['serverSparkVersion', ...required[action]!]) {
        if (obj[f] === undefined || obj[f] === null) throw this.validationFailed(action);
      }
      return this.restAnswer(400, this.errorResponse(`Received message of unexpected type ${action}.`));
    }

    // Jackson deserialization into CreateSubmissionRequest (unknown properties ignored).
    const clientSparkVersion = jString(obj, 'clientSparkVersion');
    const appResource = jString(obj, 'appResource');
    const mainClass = jString(obj, 'mainClass');
    const appArgs = jStringArray(obj, 'appArgs');
    const sparkProperties = jStringMap(obj, 'sparkProperties');
    const environmentVariables = jStringMap(obj, 'environmentVariables');

    // validate() (3.x): any failure becomes the generic "Validation of message ... failed!".
    const type = 'CreateSubmissionRequest';
    if (clientSparkVersion === null || sparkProperties === null || appResource === null) throw this.validationFailed(type);
    if (appArgs === null || environmentVariables === null) throw this.validationFailed(type);
    if (sparkProperties['spark.app.name'] === undefined) throw this.validationFailed(type);
    const prop = (k: string) => sparkProperties[k];
    const check = (k: string, ok: (v: string) => boolean) => {
      const v = prop(k);
      if (v !== undefined && !ok(v)) throw this.validationFailed(type);
    };
    check('spark.driver.supervise', isJavaBoolean);
    check('spark.driver.cores', isJavaDouble);
    check('spark.cores.max', isJavaDouble);
    const isMemory = (v: string) => {
      try {
        memoryStringToMb(v);
        return true;
      } catch {
        return false;
      }
    };
    check('spark.driver.memory', isMemory);
    check('spark.executor.memory', isMemory);

    // buildDriverDescription
    if (mainClass === null) {
      throw new MalformedRequest(
        formatException('org.apache.spark.deploy.rest.SubmitRestMissingFieldException', 'Main class is missing.', BUILD_FRAMES),
      );
    }
    const coresProp = prop('spark.driver.cores');
    const memProp = prop('spark.driver.memory');
    const superviseProp = prop('spark.driver.supervise');
    const desc: DriverDesc = {
      mainClass,
      appResource,
      cores: coresProp === undefined ? DEFAULT_DRIVER_CORES : javaParseInt(coresProp),
      memoryMb: memProp === undefined ? DEFAULT_DRIVER_MEMORY_MB : memoryStringToMb(memProp),
      supervise: superviseProp === undefined ? false : superviseProp.toLowerCase() === 'true',
      appArgs: appArgs.map((a) => a ?? ''),
      sparkProperties: { ...sparkProperties },
    };

    // Master.RequestSubmitDriver
    const known = new Set(['action', 'clientSparkVersion', 'appResource', 'mainClass', 'appArgs', 'sparkProperties', 'environmentVariables', 'message']);
    const unknownFields = Object.keys(obj).filter((k) => !known.has(k) || obj[k] === null);
    const response: Record<string, unknown> = {
      action: 'CreateSubmissionResponse',
      serverSparkVersion: this.sparkVersion,
      unknownFields: unknownFields.length > 0 ? unknownFields : undefined,
    };
    if (this.status !== 'ALIVE') {
      response.success = false;
      response.message = `${BACKUP_STANDALONE_MASTER_PREFIX}: ${this.status}. Can only accept driver submissions in ALIVE state.`;
    } else {
      const d = this.createDriver(desc);
      this.schedule();
      rec.submissionId = d.id;
      response.success = true;
      response.submissionId = d.id;
      response.message = `Driver successfully submitted as ${d.id}`;
    }
    return this.restAnswer(200, response);
  }

  private validationFailed(type: string): MalformedRequest {
    return new MalformedRequest(
      formatException('org.apache.spark.deploy.rest.SubmitRestProtocolException', `Validation of message ${type} failed!`, REST_FRAMES),
    );
  }

  private errorServlet(parts: string[]): Answer {
    let versionMismatch = false;
    let msg: string;
    if (parts.length === 0) msg = 'Missing protocol version.';
    else if (parts[0] === PROTOCOL_VERSION && parts.length === 1) msg = 'Missing the /submissions prefix.';
    else if (parts[0] === PROTOCOL_VERSION && parts[1] === 'submissions') {
      msg = 'Missing an action: please specify one of /create, /kill, or /status.';
    } else {
      versionMismatch = true;
      msg = `Unknown protocol version '${parts[0] ?? ''}'.`;
    }
    msg += ` Please submit requests through http://[host]:[port]/${PROTOCOL_VERSION}/submissions/...`;
    const error = this.errorResponse(msg);
    if (versionMismatch) {
      error.highestProtocolVersion = PROTOCOL_VERSION;
      return this.restAnswer(SC_UNKNOWN_PROTOCOL_VERSION, error);
    }
    return this.restAnswer(400, error);
  }

  /** A failure answer that quotes the request body (see `FailNextOptions.echoRequest`). */
  private echoAnswer(kind: 'json' | 'html' | 'rejected', status: number, pathname: string, body: string): Answer {
    let quoted = body.replace(/\s*\n\s*/g, ' ');
    try {
      const { environmentVariables, sparkProperties, ...rest } = JSON.parse(body) as Record<string, unknown>;
      quoted = `environmentVariables=${JSON.stringify(environmentVariables)}, sparkProperties=${JSON.stringify(sparkProperties)}, ${JSON.stringify(rest)}`;
    } catch {
      // not JSON: quoted as it came
    }
    const message = `Malformed request: org.apache.spark.deploy.rest.SubmitRestProtocolException: Validation of message CreateSubmissionRequest failed! ${quoted}`;
    switch (kind) {
      case 'json':
        return this.restAnswer(status, this.errorResponse(message));
      case 'html':
        // Jetty 9.4 writes the exception's message into the page's title as well as its table.
        return {
          status,
          headers: { 'content-type': 'text/html;charset=iso-8859-1', 'cache-control': 'must-revalidate,no-cache,no-store' },
          body: jettyErrorPage(status, pathname, message),
        };
      case 'rejected':
        return this.restAnswer(200, { action: 'CreateSubmissionResponse', message, serverSparkVersion: this.sparkVersion, success: false });
    }
  }

  private errorResponse(message: string): Record<string, unknown> {
    return { action: 'ErrorResponse', message, serverSparkVersion: this.sparkVersion };
  }

  private restAnswer(status: number, message: Record<string, unknown>): Answer {
    return { status, headers: { 'content-type': 'application/json;charset=utf-8' }, body: jacksonPretty(message, true) };
  }
}

// ---------------------------------------------------------------- helpers

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

type RestRoute =
  | { servlet: 'create' | 'kill' | 'status'; pathInfo: string | null }
  | { servlet: 'error'; parts: string[] };

/** Servlet mapping of RestSubmissionServer: `/v1/submissions/{create,kill,status}/*`, else ErrorServlet. */
function routeRest(pathname: string): RestRoute {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    decoded = pathname;
  }
  for (const servlet of ['create', 'kill', 'status'] as const) {
    const prefix = `/${PROTOCOL_VERSION}/submissions/${servlet}`;
    if (decoded === prefix) return { servlet, pathInfo: null };
    if (decoded.startsWith(`${prefix}/`)) return { servlet, pathInfo: decoded.slice(prefix.length) };
  }
  return { servlet: 'error', parts: decoded.split('/').filter((p) => p !== '') };
}

function parseSubmissionId(pathInfo: string | null): string | undefined {
  if (pathInfo === null || pathInfo === '') return undefined;
  const head = pathInfo.replace(/^\//, '').split('/')[0];
  return head === undefined || head === '' ? undefined : head;
}

/** HttpServlet's answer to a method the servlet does not implement. */
function methodNotAllowed(method: string, uri: string, servlet: keyof typeof SERVLET_NAMES): Answer {
  return jettyAnswer(405, uri, `HTTP method ${method} is not supported by this URL`, SERVLET_NAMES[servlet]);
}

function jettyAnswer(status: number, uri: string, message?: string, servlet?: string, cause?: string): Answer {
  return {
    status,
    headers: { 'content-type': 'text/html;charset=iso-8859-1', 'cache-control': 'must-revalidate,no-cache,no-store' },
    body: jettyErrorPage(status, uri, message ?? reasonPhrase(status), servlet, cause),
  };
}

function mismatch(javaType: string, v: unknown): MalformedRequest {
  const what = Array.isArray(v) ? 'Array value (token `JsonToken.START_ARRAY`)' : typeof v === 'object' ? 'Object value (token `JsonToken.START_OBJECT`)' : `${typeof v} value`;
  return new MalformedRequest(
    formatException('com.fasterxml.jackson.databind.exc.MismatchedInputException', `Cannot deserialize value of type \`${javaType}\` from ${what}`, JACKSON_FRAMES),
  );
}

function scalarToString(v: unknown, javaType: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw mismatch(javaType, v);
}

function jString(obj: Record<string, unknown>, key: string): string | null {
  return scalarToString(obj[key], 'java.lang.String');
}

function jStringArray(obj: Record<string, unknown>, key: string): (string | null)[] | null {
  const v = obj[key];
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) throw mismatch('[Ljava.lang.String;', v);
  return v.map((x) => scalarToString(x, 'java.lang.String'));
}

function jStringMap(obj: Record<string, unknown>, key: string): Record<string, string> | null {
  const v = obj[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw mismatch('scala.collection.immutable.Map', v);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const s = scalarToString(x, 'java.lang.String');
    if (s !== null) out[k] = s;
  }
  return out;
}

function driverJson(d: Driver): Record<string, unknown> {
  return {
    id: d.id,
    starttime: String(d.startTime),
    state: d.state,
    cores: d.desc.cores,
    memory: d.desc.memoryMb,
    resources: {},
    submitdate: d.submitDate,
    worker: d.worker ? d.worker.id : 'None',
    mainclass: d.desc.mainClass,
  };
}

function view(d: Driver): SimDriverView {
  return {
    id: d.id,
    state: d.state,
    startTime: d.startTime,
    submitDate: d.submitDate,
    cores: d.desc.cores,
    memoryMb: d.desc.memoryMb,
    mainClass: d.desc.mainClass,
    supervise: d.desc.supervise,
    workerId: d.worker ? d.worker.id : null,
    appArgs: [...d.desc.appArgs],
    sparkProperties: { ...d.desc.sparkProperties },
    killRequested: d.killRequested,
    launches: d.launches,
  };
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
