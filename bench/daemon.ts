/**
 * The daemon as operators run it, for the benchmarks: `node <DAEMON_NODE_ARGS> dist/src/main.js
 * --config FILE` (the command of `npm start`) in a process of its own (built first when the
 * sources are newer), so that the CPU time and memory a benchmark reports are the daemon's
 * alone, read from /proc, never the benchmark's.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DAEMON_NODE_ARGS } from '../test/support/start-command.js';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

/** Compiles to dist/ when it is missing or older than the sources (`npm start` does the same). */
export function buildDaemon(): void {
  const res = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-if-needed.mjs')], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (res.status !== 0) throw new Error(`the build failed (exit ${res.status ?? res.signal})`);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `fn` until it returns a value (not undefined/false/null); throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

export interface DaemonOptions {
  /** Working directory; the config file and the log are written here. */
  dir: string;
  /** The HOCON config; `http.port` must be `port`. */
  config: string;
  port: number;
  /** Extra environment (credentials the SDK's provider chain reads, LOG_LEVEL ...). */
  env?: NodeJS.ProcessEnv;
  /** More flags for node itself (e.g. --cpu-prof), after DAEMON_NODE_ARGS. */
  nodeArgs?: string[];
}

export interface Daemon {
  child: ChildProcess;
  pid: number;
  /** http://127.0.0.1:PORT */
  base: string;
  /** Where its stdout and stderr go (JSON log lines). */
  logFile: string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** The log lines (parsed JSON) written so far. */
  logLines(): Record<string, unknown>[];
}

/** Starts the built daemon and resolves once it answers `GET /healthcheck`. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const configFile = join(opts.dir, 'daemon.conf');
  writeFileSync(configFile, opts.config);
  const logFile = join(opts.dir, 'daemon.log');
  const fd = openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', ...opts.env };
  delete env.LOG_FORMAT;
  if (!opts.env?.NODE_OPTIONS) delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [...DAEMON_NODE_ARGS, ...(opts.nodeArgs ?? []), join(ROOT, 'dist', 'src', 'main.js'), '--config', configFile], {
    cwd: opts.dir,
    stdio: ['ignore', fd, fd],
    env,
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${opts.port}`;
  const logLines = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  const stop = async (graceMs = 15_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(graceMs).then(() => 'timeout' as const)]);
    if (code !== 'timeout') return code;
    child.kill('SIGKILL');
    return exited;
  };
  try {
    await Promise.race([
      waitFor('the daemon to answer /healthcheck', 120_000, async () => (await fetch(`${base}/healthcheck`)).ok, 100),
      exited.then((code) => {
        throw new Error(`the daemon exited with ${code} before it answered; its log ends: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { child, pid: child.pid!, base, logFile, exited, stop, logLines };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** User + system CPU time of a process so far, in ms (Linux /proc). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Resident set size now and its peak (VmHWM) of a process, in bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
