/**
 * The daemon and the Spark master simulator as separate processes (real processes, real
 * sockets), for fault tests that kill them or the services under them:
 *
 *  - `startSimulatorProcess`: `test/spark-sim/cli.ts` as its own process (JSON log lines).
 *  - `startDaemonProcess`: `node --import tsx src/main.ts --config <file>`, its JSON log lines
 *    (every loop event is one) parsed as they come.
 *  - `firstSuccess`: when a dependency that was down answers again.
 *
 * The private services those tests kill (Ceph, MariaDB, Kafka) are in private-services.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sleep } from '../../src/common/sleep.js';
import { readAnswer, type HttpAnswer } from './http-answer.js';
import { ROOT } from './processes.js';

// (Moved to their own modules; still here for the tests that import them from this one.)
export type { HttpAnswer } from './http-answer.js';
export { ROOT } from './processes.js';
export { startPrivateCeph, type PrivateCeph } from './private-services.js';

// ---------------------------------------------------------------- line-reading child processes

/** A child process whose stdout lines are JSON objects (other lines are kept as `{ text }`). */
abstract class JsonLineProcess<L extends Record<string, unknown>> {
  readonly lines: L[] = [];
  readonly stderr: string[] = [];
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private listeners = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let parsed: L;
      try {
        parsed = JSON.parse(line) as L;
      } catch {
        parsed = { text: line } as unknown as L;
      }
      this.lines.push(parsed);
      for (const l of [...this.listeners]) l();
    });
    createInterface({ input: proc.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exit.then(() => {
      for (const l of [...this.listeners]) l();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** The first line (from index `from`) matching `pred`; fails on timeout or when the process exits. */
  waitForLine(pred: (line: L) => boolean, what: string, timeoutMs = 15_000, from = 0): Promise<L> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.slice(from).find(pred);
        if (found) return finish(() => resolve(found));
        if (this.exited) return finish(() => reject(new Error(`${this.name} exited while waiting for ${what}\n${this.stderr.slice(-20).join('\n')}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
      const finish = (done: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        done();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** SIGKILL, and wait until the process has exited. */
  async kill(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGKILL');
    await this.exit;
  }
}

// ---------------------------------------------------------------- the simulator as a process

export interface SimLine extends Record<string, unknown> {
  event?: 'started' | 'request';
  time?: string;
  endpoint?: string;
  method?: string;
  path?: string;
  status?: number;
  held?: boolean;
  submissionId?: string | null;
  appArgs?: string[] | null;
  uiPort?: number;
  restPort?: number;
  text?: string;
}

export class SimulatorProcess extends JsonLineProcess<SimLine> {
  uiPort = 0;
  restPort = 0;
  startedAt = 0;

  get uiUrl(): string {
    return `http://127.0.0.1:${this.uiPort}`;
  }
  /** Requests it served (answered, dropped or held). */
  requests(endpoint?: string): SimLine[] {
    return this.lines.filter((l) => l.event === 'request' && (endpoint === undefined || l.endpoint === endpoint));
  }
  /** Creates that started a driver. */
  acceptedCreates(): SimLine[] {
    return this.requests('create').filter((l) => typeof l.submissionId === 'string');
  }
  /** The master's `/json/` document. */
  async state(): Promise<{
    activedrivers: { id: string; state: string; mainclass: string }[];
    completeddrivers: { id: string; state: string }[];
    status: string;
  }> {
    const res = await fetch(`${this.uiUrl}/json/`, { signal: AbortSignal.timeout(3_000) });
    return (await res.json()) as never;
  }
  async stop(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGTERM');
    await this.exit;
  }
}

/** `test/spark-sim/cli.ts --json-log` on the given ports (0: free ones), with extra flags. */
export async function startSimulatorProcess(opts: { uiPort?: number; restPort?: number; args?: string[] } = {}): Promise<SimulatorProcess> {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/spark-sim/cli.ts',
      '--json-log',
      '--ui-port',
      String(opts.uiPort ?? 0),
      '--rest-port',
      String(opts.restPort ?? 0),
      ...(opts.args ?? []),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const sim = new SimulatorProcess('the simulator process', proc);
  const started = await sim.waitForLine((l) => l.event === 'started', 'the simulator to listen', 30_000);
  sim.uiPort = started.uiPort!;
  sim.restPort = started.restPort!;
  sim.startedAt = Date.parse(started.time!);
  return sim;
}

// ---------------------------------------------------------------- the daemon as a process

export interface DaemonLine extends Record<string, unknown> {
  time: number;
  level: string;
  msg: string;
  event?: string;
  tenant?: string;
}

export class DaemonProcess extends JsonLineProcess<DaemonLine> {
  port = 0;

  /** The loop events it logged (one line each), optionally of one type. */
  events(type?: string): DaemonLine[] {
    return this.lines.filter((l) => typeof l.event === 'string' && (type === undefined || l.event === type));
  }

  /** The first event of `type` logged at or after `since` (epoch ms) that matches `pred`. */
  waitForEvent(type: string, what: string, opts: { since?: number; timeoutMs?: number; pred?: (l: DaemonLine) => boolean } = {}): Promise<DaemonLine> {
    const since = opts.since ?? 0;
    return this.waitForLine((l) => l.event === type && l.time >= since && (opts.pred?.(l) ?? true), what, opts.timeoutMs ?? 15_000);
  }

  async request(method: 'GET' | 'POST', path: string, opts: { tenant?: string; body?: unknown; timeoutMs?: number } = {}): Promise<HttpAnswer> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method,
      headers: { 'X-Tenant-Name': opts.tenant ?? 'ABC', ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
    return readAnswer(res);
  }

  /** SIGTERM; resolves with the exit code (SPEC §4.6: 0 within 10 s). */
  async stop(timeoutMs = 12_000): Promise<number | null> {
    if (this.exited) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    const { code } = await this.exit;
    clearTimeout(timer);
    return code;
  }
}

/**
 * The daemon as operators run it: `node --import tsx src/main.ts --config <dir>/daemon.conf`,
 * JSON logs at debug level (every loop event, every poll). Resolves once it listens.
 */
export async function startDaemonProcess(opts: { dir: string; config: string; env?: Record<string, string> }): Promise<DaemonProcess> {
  const configPath = join(opts.dir, 'daemon.conf');
  writeFileSync(configPath, opts.config);
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configPath], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'debug', LOG_FORMAT: 'json', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const daemon = new DaemonProcess('the daemon', proc);
  const listening = await daemon.waitForLine((l) => l.msg === 'orchestrator listening', 'the daemon to listen', 60_000);
  daemon.port = Number(listening.port);
  return daemon;
}

/**
 * Polls `probe` every `intervalMs` until it answers true; resolves with the time the successful
 * probe was sent (the earliest the dependency can be said to be back).
 */
export async function firstSuccess(probe: () => Promise<boolean>, what: string, timeoutMs = 30_000, intervalMs = 20): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sent = Date.now();
    if (await probe()) return sent;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
