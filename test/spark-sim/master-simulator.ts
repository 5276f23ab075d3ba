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
 *
 * This class is the simulator's one entry point; the parts live next to it:
 *  - cluster.ts, driver-runner.ts: workers, drivers, scheduling, kills, how a driver ends;
 *  - rest-servlets.ts, create-request.ts: the REST submission server's answers;
 *  - json-ui.ts: the web UI (`/json/`); jetty.ts: Jetty's error pages; java-formats.ts: JVM text;
 *  - fault-injection.ts, request-pipeline.ts: fault rules and what a request goes through;
 *  - http-shell.ts: the two HTTP servers; timers.ts: every timer, cancelled at stop;
 *  - types.ts: the public types, re-exported here.
 */
import { SimCluster } from './cluster.js';
import { FaultInjector } from './fault-injection.js';
import { SimHttpServers, urlHost } from './http-shell.js';
import { stateDocument, uiAnswer } from './json-ui.js';
import { RequestPipeline } from './request-pipeline.js';
import { RestServlets } from './rest-servlets.js';
import { SimTimers } from './timers.js';
import type {
  AddDriverByHandOptions,
  DropNextOptions,
  FailNextOptions,
  HoldNextOptions,
  MasterSimulatorOptions,
  SimCreateRecord,
  SimDriverView,
  SimEndpoint,
  SimFinalState,
  SimKillRecord,
  SimMasterStatus,
  SimRequestRecord,
  SimWorkerSpec,
  SimWorkerView,
} from './types.js';

export type * from './types.js';
export { jacksonPretty, javaDateString } from './java-formats.js';

export class SparkMasterSimulator {
  readonly host: string;
  private readonly masterUrlOption: string | undefined;
  private readonly timers = new SimTimers();
  private readonly cluster: SimCluster;
  private readonly faults = new FaultInjector();
  private readonly servers: SimHttpServers;
  private started = false;

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
    const sparkVersion = opts.sparkVersion ?? '3.5.1';
    this.masterUrlOption = opts.masterUrl;
    this.cluster = new SimCluster(opts, this.timers);
    const rest = new RestServlets(this.cluster, sparkVersion, {
      createRequests: this.createRequests,
      killRequests: this.killRequests,
      statusRequests: this.statusRequests,
    });
    const pipeline = new RequestPipeline({
      now: this.cluster.now,
      timers: this.timers,
      faults: this.faults,
      sparkVersion,
      requests: this.requests,
      createRequests: this.createRequests,
      log: opts.log,
      onRequest: opts.onRequest,
      answerUi: (method, pathname, req) => uiAnswer(method, pathname, req.headers.host ?? `${urlHost(this.host)}:${this.uiPort}`, this.cluster, this.masterUrl),
      answerRest: (method, pathname, route, body) => rest.answer(method, pathname, route, body),
    });
    this.servers = new SimHttpServers(this.host, { uiPort: opts.uiPort ?? 0, restPort: opts.restPort ?? 0 }, (kind, req, res) =>
      pipeline.handle(kind, req, res),
    );
  }

  // ------------------------------------------------------------ lifecycle

  async start(): Promise<this> {
    if (this.started) throw new Error('simulator already started');
    this.started = true;
    await this.servers.start();
    return this;
  }

  /** Closes both servers and every open connection; cancels every timer. */
  async stop(): Promise<void> {
    if (this.timers.stopped) return;
    this.timers.stop();
    this.faults.releaseHeld();
    this.cluster.forgetPendingKills();
    await this.servers.stop();
  }

  get uiPort(): number {
    return this.servers.uiPort;
  }
  get restPort(): number {
    return this.servers.restPort;
  }
  /** `http://host:uiPort` */
  get uiUrl(): string {
    return `http://${urlHost(this.host)}:${this.uiPort}`;
  }
  /** `http://host:restPort` */
  get restUrl(): string {
    return `http://${urlHost(this.host)}:${this.restPort}`;
  }
  get masterUrl(): string {
    return this.masterUrlOption ?? `spark://${urlHost(this.host)}:7077`;
  }

  // ------------------------------------------------------------ reuse between test cases

  /** Resolves when no request is being handled (answers delayed by `delayResponses` included). */
  idle(): Promise<void> {
    return this.servers.idle();
  }

  /**
   * Back to the state after construction, on the same ports: waits for requests in flight, then
   * forgets every driver, worker, fault, pending kill and recorded request, listens again if
   * refusing, and restores the initial status, workers and delays. Driver numbers keep counting,
   * so ids never repeat across resets.
   */
  async reset(): Promise<void> {
    this.assertRunning();
    this.faults.clear();
    this.faults.releaseHeld();
    await this.idle();
    if (this.servers.refusing) await this.refuseConnections(false);
    this.timers.clearAll();
    this.requests.length = 0;
    this.createRequests.length = 0;
    this.killRequests.length = 0;
    this.statusRequests.length = 0;
    this.cluster.reset();
  }

  // ------------------------------------------------------------ fault injection

  /** Sets the recovery state (ALIVE, STANDBY, RECOVERING, COMPLETING_RECOVERY). */
  setStatus(status: SimMasterStatus | (string & {})): void {
    this.cluster.setStatus(status);
  }

  getStatus(): string {
    return this.cluster.status;
  }

  /** The next `n` requests (to `endpoint`, or to any endpoint) are answered with `status` (default 500). */
  failNext(n: number, opts: FailNextOptions = {}): void {
    this.faults.failNext(n, opts);
  }

  /** The next `n` requests (to `endpoint`, or to any endpoint) get their socket destroyed, no answer. */
  dropNext(n: number, endpoint?: SimEndpoint, opts: DropNextOptions = {}): void {
    this.faults.dropNext(n, endpoint, opts);
  }

  /**
   * The next `n` requests (to `endpoint`, or to any endpoint) are read and then not answered:
   * the connection stays open until `releaseHeld()`, `stop()` or the end of the process (a master
   * that dies while a client waits for its answer). `log` and `onRequest` report them as HELD
   * when they arrive. With `processFirst`, the request is carried out at once and
   * `releaseHeld(true)` sends its (late) answer.
   */
  holdNext(n: number, endpoint?: SimEndpoint, opts: HoldNextOptions = {}): void {
    this.faults.holdNext(n, endpoint, opts);
  }

  /**
   * Ends every held request: by destroying its connection (no answer), or with `answer` the
   * answer of a request that was carried out (`processFirst`).
   */
  releaseHeld(answer = false): void {
    this.faults.releaseHeld(answer);
  }

  /** Clears pending failNext/dropNext/holdNext rules and the response delay. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Every answer is delayed by `ms` (0 turns it off). The request is carried out after the delay. */
  delayResponses(ms: number): void {
    this.faults.responseDelayMs = ms;
  }

  /**
   * `true`: closes both listening sockets and every open connection, so that clients get
   * ECONNREFUSED. `false`: listens again on the same ports.
   */
  async refuseConnections(on: boolean): Promise<void> {
    this.assertRunning();
    await this.servers.refuseConnections(on);
  }

  setKillDelay(ms: number | null): void {
    this.cluster.killDelayMs = ms;
  }

  setLaunchDelay(ms: number): void {
    this.cluster.launchDelayMs = ms;
  }

  /** With `killDelayMs: null`: completes every kill that is waiting for its worker (→ KILLED). */
  finishPendingKills(): string[] {
    return this.cluster.finishPendingKills();
  }

  /**
   * Fault injection: the driver ends in `finalState`, whatever Spark would do; it moves to
   * `completeddrivers` with that state (and keeps its worker id). Real Spark 3.5 never shows a
   * supervised driver as FAILED (its worker restarts it in place, forever): `exitDriverProcess`
   * follows that rule, and so does this with `respectSupervise`.
   */
  killDriverProcess(id: string, finalState: SimFinalState, opts: { exception?: string; respectSupervise?: boolean } = {}): 'completed' | 'restarted' {
    return this.cluster.killDriverProcess(id, finalState, opts);
  }

  /**
   * The driver's process exits with `exitCode` by itself, and its worker reacts as Spark's
   * DriverRunner does: 0 → FINISHED; non-zero → KILLED if a kill was requested, otherwise
   * restarted in place when supervised (it stays RUNNING; returns 'restarted'), else FAILED.
   */
  exitDriverProcess(id: string, exitCode: number): 'FINISHED' | 'FAILED' | 'KILLED' | 'restarted' {
    return this.cluster.exitDriverProcess(id, exitCode);
  }

  /**
   * The worker is lost: it becomes DEAD; its supervised drivers are relaunched (old id →
   * RELAUNCHING in completeddrivers, a new driver with a new id is submitted); the others → ERROR.
   * Returns the ids of the replacement drivers.
   */
  loseWorker(workerId: string): string[] {
    return this.cluster.loseWorker(workerId);
  }

  /** Adds a worker (as if it registered) and schedules waiting drivers. Returns its id. */
  addWorker(spec: SimWorkerSpec): string {
    return this.cluster.addWorker(spec);
  }

  /** A driver submitted by someone else (e.g. spark-submit by hand). Returns its id. */
  addDriverByHand(opts: AddDriverByHandOptions): string {
    return this.cluster.addDriverByHand(opts);
  }

  // ------------------------------------------------------------ inspection

  activeDrivers(): SimDriverView[] {
    return this.cluster.activeDriverViews();
  }
  completedDrivers(): SimDriverView[] {
    return this.cluster.completedDriverViews();
  }
  getDriver(id: string): SimDriverView | undefined {
    return this.cluster.driverView(id);
  }
  workers(): SimWorkerView[] {
    return this.cluster.workerViews();
  }
  /** The `/json/` document as an object (what the web UI serves, before pretty-printing). */
  stateDocument(): Record<string, unknown> {
    return stateDocument(this.cluster, this.masterUrl);
  }
  /** Request counts per endpoint. */
  counts(): Record<SimEndpoint | 'other', number> {
    const c = { json: 0, create: 0, kill: 0, status: 0, other: 0 };
    for (const r of this.requests) c[r.endpoint]++;
    return c;
  }

  private assertRunning(): void {
    if (!this.started || this.timers.stopped) throw new Error('simulator is not running');
  }
}
