/**
 * Small helpers for the processes the tests start and kill (private services, the daemon as a
 * process, real Spark JVMs): the repository root, running a command or script, a pid from a pid
 * file, signals, waiting for a SIGKILLed process to be gone, whether a port is taken.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../../src/common/sleep.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `.services/<name>`: where test/services.sh and the private services keep their data. */
export function servicesDir(name: string): string {
  return join(ROOT, '.services', name);
}

/** The process exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The live process a pid file names, or undefined (no file, no such process). */
export function pidFromFile(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Sends `sig` to the process `pid()` names; throws `${what} is not running` when there is none. */
export function signalRunning(pid: () => number | undefined, sig: NodeJS.Signals, what: string): number {
  const p = pid();
  if (p === undefined) throw new Error(`${what} is not running`);
  process.kill(p, sig);
  return p;
}

/** Waits until a process (just SIGKILLed) is gone. */
export async function waitGone(pid: number, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`${what} (pid ${pid}) is still running ${timeoutMs} ms after SIGKILL`);
    await sleep(10);
  }
}

/** SIGKILL, then wait until the process is gone. */
export async function killAndWait(pid: number, what: string): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await waitGone(pid, what);
}

/**
 * Runs `file args` in the repository root, `env` on top of this process's environment; rejects
 * with the command's output when it fails or outlives `timeoutMs`.
 */
export function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs, maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${stderr}${stdout}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** `bash <script> <args>` (a test/services script) with `env`; resolves with its stdout. */
export async function runScript(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 600_000): Promise<string> {
  return (await run('bash', args, { env, timeoutMs })).stdout;
}

/** Something accepts TCP connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
