/**
 * The worker's side of a driver (Spark's DriverRunner): runs the process the test's
 * `driverProgram` describes (default: runs until killed), restarts a supervised driver in place
 * when it exits non-zero, and tells the master how the driver ended.
 */
import type { Driver } from './cluster.js';
import type { SimTimers } from './timers.js';
import type { MasterSimulatorOptions } from './types.js';

const WORKER_FRAMES = [
  'org.apache.spark.deploy.worker.DriverRunner.downloadUserJar(DriverRunner.scala:162)',
  'org.apache.spark.deploy.worker.DriverRunner.prepareAndRunDriver(DriverRunner.scala:179)',
  'org.apache.spark.deploy.worker.DriverRunner$$anon$2.run(DriverRunner.scala:99)',
];

export type DriverEnd = 'FINISHED' | 'FAILED' | 'KILLED' | 'ERROR';

export class DriverRunner {
  /** The timer of each driver's running process (its exit) or of its restart back-off. */
  private readonly processTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly timers: SimTimers,
    private readonly driverProgram: MasterSimulatorOptions['driverProgram'],
    /** First restart back-off of a supervised driver (doubles with every restart). */
    readonly superviseBackoffMs: number,
    /** The driver's process is over for good: the master moves it to its completed drivers. */
    private readonly ended: (d: Driver, state: DriverEnd, exception: string | null) => void,
  ) {}

  /**
   * Runs the driver's program (if the test gave one). A supervised driver that exits non-zero is
   * started again in place after a back-off that doubles (reset after a run longer than 5
   * back-off units), with no limit: the master keeps showing RUNNING.
   */
  start(d: Driver, backoffMs: number): void {
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
        const e = run.error.includes('\n\t') ? run.error : `${run.error}\n${WORKER_FRAMES.map((f) => `\t${f}`).join('\n')}`;
        this.ended(d, 'ERROR', e);
      });
      return;
    }
    const startedAt = Date.now();
    this.setProcessTimer(d.id, run.exitAfterMs, () => this.exited(d, run.exitCode, startedAt, backoffMs));
  }

  /** The final-state rule: exit 0 → FINISHED, else KILLED after a kill, else FAILED unless supervised (then restarted). */
  exited(d: Driver, exitCode: number, startedAt: number, backoffMs: number): 'FINISHED' | 'FAILED' | 'KILLED' | 'restarted' {
    if (exitCode !== 0 && d.desc.supervise && !d.killRequested) {
      const wait = Date.now() - startedAt > 5 * this.superviseBackoffMs ? this.superviseBackoffMs : backoffMs;
      this.setProcessTimer(d.id, wait, () => this.start(d, wait * 2));
      return 'restarted';
    }
    const state = exitCode === 0 ? 'FINISHED' : d.killRequested ? 'KILLED' : 'FAILED';
    this.ended(d, state, null);
    return state;
  }

  /** The driver left its worker: its process (or restart back-off) is no longer followed. */
  forget(id: string): void {
    const t = this.processTimers.get(id);
    if (t) {
      this.timers.clear(t);
      this.processTimers.delete(id);
    }
  }

  /** Forgets every process (their timers are cancelled by the caller). */
  reset(): void {
    this.processTimers.clear();
  }

  private setProcessTimer(id: string, ms: number, fn: () => void): void {
    this.forget(id);
    const t = this.timers.set(ms, () => {
      if (this.processTimers.get(id) === t) this.processTimers.delete(id);
      fn();
    });
    this.processTimers.set(id, t);
  }
}
