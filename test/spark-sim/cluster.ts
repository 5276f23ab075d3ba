/**
 * The master's model of its cluster (Master.scala and the workers' DriverRunner): workers,
 * drivers, scheduling, kills, and how a driver ends. No HTTP here: the REST servlets, the JSON
 * UI and the fault injection of the simulator act on it.
 */
import { DriverRunner, type DriverEnd } from './driver-runner.js';
import { formatException, idDate, javaDateString, pad } from './java-formats.js';
import type { SimTimers } from './timers.js';
import type { AddDriverByHandOptions, MasterSimulatorOptions, SimDriverView, SimFinalState, SimMasterStatus, SimWorkerSpec, SimWorkerView } from './types.js';

export const BACKUP_STANDALONE_MASTER_PREFIX = 'Current state is not alive';
export const DEFAULT_DRIVER_CORES = 1;
export const DEFAULT_DRIVER_MEMORY_MB = 1024;

export interface Worker {
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

export interface DriverDesc {
  mainClass: string;
  appResource: string;
  cores: number;
  memoryMb: number;
  supervise: boolean;
  appArgs: string[];
  sparkProperties: Record<string, string>;
}

export interface Driver {
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

type ClusterOptions = Pick<
  MasterSimulatorOptions,
  'status' | 'workers' | 'now' | 'killDelayMs' | 'launchDelayMs' | 'retainedDrivers' | 'driverProgram' | 'superviseBackoffMs'
>;

export class SimCluster {
  status: SimMasterStatus | string;
  killDelayMs: number | null;
  launchDelayMs: number;
  readonly now: () => number;
  /** Every worker that registered (DEAD ones too), in order. */
  readonly workers: Worker[] = [];
  /** Active drivers (SUBMITTED/RUNNING), insertion order. */
  readonly drivers = new Map<string, Driver>();
  readonly completed: Driver[] = [];
  private readonly retainedDrivers: number;
  private readonly runner: DriverRunner;
  /** Kills waiting for their worker: the timer that completes each (null: `finishPendingKills`). */
  private readonly pendingKills = new Map<string, NodeJS.Timeout | null>();
  /** What `reset()` goes back to. */
  private readonly initial: { workers: SimWorkerSpec[]; killDelayMs: number | null; launchDelayMs: number; status: SimMasterStatus | string };
  private nextDriverNumber = 0;
  private nextWorkerNumber = 0;

  constructor(
    opts: ClusterOptions,
    private readonly timers: SimTimers,
  ) {
    this.status = opts.status ?? 'ALIVE';
    this.now = opts.now ?? Date.now;
    this.killDelayMs = opts.killDelayMs === undefined ? 50 : opts.killDelayMs;
    this.launchDelayMs = opts.launchDelayMs ?? 0;
    this.retainedDrivers = opts.retainedDrivers ?? 200;
    this.runner = new DriverRunner(timers, opts.driverProgram, opts.superviseBackoffMs ?? 1000, (d, state, exception) => this.driverEnded(d, state, exception));
    const workers = opts.workers ?? [
      { cores: 4, memoryMb: 8192 },
      { cores: 4, memoryMb: 8192 },
    ];
    this.initial = { workers: workers.map((w) => ({ ...w })), killDelayMs: this.killDelayMs, launchDelayMs: this.launchDelayMs, status: this.status };
    for (const w of workers) this.addWorker(w);
  }

  /** Forgets every driver, worker and pending kill; back to the initial status, workers and delays. Driver numbers keep counting. */
  reset(): void {
    this.pendingKills.clear();
    this.runner.reset();
    this.drivers.clear();
    this.completed.length = 0;
    this.workers.length = 0;
    this.status = this.initial.status;
    this.killDelayMs = this.initial.killDelayMs;
    this.launchDelayMs = this.initial.launchDelayMs;
    for (const w of this.initial.workers) this.addWorker(w);
  }

  /** Kills still waiting for their worker are forgotten, their timers cancelled (the simulator stops). */
  forgetPendingKills(): void {
    for (const t of this.pendingKills.values()) if (t) this.timers.clear(t);
    this.pendingKills.clear();
  }

  setStatus(status: SimMasterStatus | string): void {
    this.status = status;
    if (status === 'ALIVE') this.schedule();
  }

  // ------------------------------------------------------------ what the REST servlets ask of the master

  /** Master.RequestSubmitDriver in ALIVE state: a new driver, scheduled at once if it fits. */
  submitDriver(desc: DriverDesc): Driver {
    const d = this.createDriver(desc);
    this.schedule();
    return d;
  }

  /** An active or completed driver. */
  findDriver(id: string): Driver | undefined {
    return this.drivers.get(id) ?? this.completed.find((x) => x.id === id);
  }

  /** Master.RequestKillDriver: a SUBMITTED driver is KILLED at once, a RUNNING one when its worker reports it. */
  requestKill(id: string): { success: boolean; message: string } {
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
        const t = this.timers.set(this.killDelayMs, () => this.completeKill(id));
        this.pendingKills.set(id, t);
      }
    }
    return { success: true, message: `Kill request for ${id} submitted` };
  }

  // ------------------------------------------------------------ what tests do to the cluster

  /** With `killDelayMs: null`: completes every kill that is waiting for its worker (→ KILLED). */
  finishPendingKills(): string[] {
    const ids = [...this.pendingKills.keys()];
    for (const id of ids) this.completeKill(id);
    return ids;
  }

  /** See `SparkMasterSimulator.killDriverProcess`. */
  killDriverProcess(id: string, finalState: SimFinalState, opts: { exception?: string; respectSupervise?: boolean } = {}): 'completed' | 'restarted' {
    const d = this.runningDriver(id);
    if (opts.respectSupervise && d.desc.supervise && finalState === 'FAILED' && !d.killRequested) {
      this.runner.exited(d, 1, Date.now(), this.runner.superviseBackoffMs);
      return 'restarted';
    }
    const exception =
      finalState === 'ERROR'
        ? (opts.exception ??
          formatException('java.io.IOException', 'Failed to launch driver', [
            'org.apache.spark.deploy.worker.DriverRunner.prepareAndRunDriver(DriverRunner.scala:180)',
            'org.apache.spark.deploy.worker.DriverRunner$$anon$1.run(DriverRunner.scala:99)',
          ]))
        : null;
    this.cancelPendingKill(id);
    this.removeDriver(id, finalState, exception);
    return 'completed';
  }

  /** See `SparkMasterSimulator.exitDriverProcess`. */
  exitDriverProcess(id: string, exitCode: number): 'FINISHED' | 'FAILED' | 'KILLED' | 'restarted' {
    return this.runner.exited(this.runningDriver(id), exitCode, Date.now(), this.runner.superviseBackoffMs);
  }

  /** See `SparkMasterSimulator.loseWorker`. */
  loseWorker(workerId: string): string[] {
    const w = this.workers.find((x) => x.id === workerId);
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

  /** See `SparkMasterSimulator.addDriverByHand`. */
  addDriverByHand(opts: AddDriverByHandOptions): string {
    return this.submitDriver({
      mainClass: opts.mainClass,
      appResource: '',
      cores: opts.cores ?? DEFAULT_DRIVER_CORES,
      memoryMb: opts.memoryMb ?? DEFAULT_DRIVER_MEMORY_MB,
      supervise: opts.supervise ?? false,
      appArgs: opts.appArgs ?? [],
      sparkProperties: opts.sparkProperties ?? {},
    }).id;
  }

  /** A worker registers; waiting drivers are scheduled. Returns its id. */
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
    this.workers.push(w);
    this.schedule();
    return w.id;
  }

  // ------------------------------------------------------------ views for tests

  activeDriverViews(): SimDriverView[] {
    return [...this.drivers.values()].map(driverView);
  }

  completedDriverViews(): SimDriverView[] {
    return this.completed.map(driverView);
  }

  driverView(id: string): SimDriverView | undefined {
    const d = this.findDriver(id);
    return d ? driverView(d) : undefined;
  }

  workerViews(): SimWorkerView[] {
    return this.workers.map((w) => ({
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

  // ------------------------------------------------------------ master logic (Master.scala)

  private runningDriver(id: string): Driver {
    const d = this.drivers.get(id);
    if (!d || d.state !== 'RUNNING' || !d.worker) throw new Error(`driver ${id} is not RUNNING on a worker`);
    return d;
  }

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
      this.timers.set(this.launchDelayMs, () => {
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
      const w = this.workers.find((x) => x.state === 'ALIVE' && x.cores - x.coresUsed >= d.desc.cores && x.memoryMb - x.memoryUsedMb >= d.desc.memoryMb);
      if (!w) continue;
      w.coresUsed += d.desc.cores;
      w.memoryUsedMb += d.desc.memoryMb;
      w.drivers.add(d.id);
      d.worker = w;
      d.state = 'RUNNING';
      this.runner.start(d, this.runner.superviseBackoffMs);
    }
  }

  /** The worker reports the driver's end (DriverStateChanged). */
  private driverEnded(d: Driver, state: DriverEnd, exception: string | null): void {
    this.cancelPendingKill(d.id);
    this.removeDriver(d.id, state, exception);
  }

  private removeDriver(id: string, finalState: string, exception: string | null, reschedule = true): void {
    const d = this.drivers.get(id);
    if (!d) return;
    this.drivers.delete(id);
    this.runner.forget(id);
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

  private completeKill(id: string): void {
    this.cancelPendingKill(id);
    if (this.drivers.get(id)?.state === 'RUNNING') this.removeDriver(id, 'KILLED', null);
  }

  private cancelPendingKill(id: string): void {
    const t = this.pendingKills.get(id);
    if (t) this.timers.clear(t);
    this.pendingKills.delete(id);
  }
}

function driverView(d: Driver): SimDriverView {
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
