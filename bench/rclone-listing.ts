/**
 * rclone's directory listing of the same tree, the discovery benchmark's yardstick: `rclone lsf
 * --dirs-only -R --max-depth N --checkers 16` walks the folders with one delimiter listing per
 * folder, as the daemon does. rclone comes from the Debian packages (installed here when missing)
 * and is configured through environment variables only, so no file with keys is left behind.
 * Its wall time, CPU and peak RSS are its own process's, from wait4's rusage (GNU time).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const TIME = '/usr/bin/time';

export interface RcloneListing {
  wallMs: number;
  /** User + system CPU of the rclone process. */
  cpuMs: number;
  /** Its peak RSS (ru_maxrss), bytes. */
  maxRssBytes: number;
  /** Folders printed at the deepest level (the partitions, for a depth equal to the layout's). */
  deepest: number;
  /** Every folder printed. */
  folders: number;
  version: string;
}

function installed(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs rclone (and GNU time) from the Debian packages when missing; returns rclone's version line. */
export function ensureRclone(log: (message: string) => void): string {
  const missing = [...(installed('rclone') ? [] : ['rclone']), ...(installed(TIME) ? [] : ['time'])];
  if (missing.length) {
    log(`installing ${missing.join(' and ')} from the Debian packages ...`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', ...missing]]) {
      const res = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 2], env });
      if (res.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${res.status ?? res.signal})`);
    }
  }
  return spawnSync('rclone', ['version'], { encoding: 'utf8' }).stdout.split('\n')[0]!.trim();
}

export interface RcloneTarget {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** The folder walked, e.g. `logs/`. */
  root: string;
  /** Levels below `root` (the layout's partition keys). */
  depth: number;
  checkers: number;
}

/** Runs the listing once; rclone's stdout is counted here, in this process, not in rclone's. */
export async function rcloneListing(t: RcloneTarget): Promise<RcloneListing> {
  const version = spawnSync('rclone', ['version'], { encoding: 'utf8' }).stdout.split('\n')[0]!.trim();
  const remote = 'LWBENCH';
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [`RCLONE_CONFIG_${remote}_TYPE`]: 's3',
    [`RCLONE_CONFIG_${remote}_PROVIDER`]: 'Ceph',
    [`RCLONE_CONFIG_${remote}_ENDPOINT`]: t.endpoint,
    [`RCLONE_CONFIG_${remote}_REGION`]: t.region,
    [`RCLONE_CONFIG_${remote}_ACCESS_KEY_ID`]: t.accessKeyId,
    [`RCLONE_CONFIG_${remote}_SECRET_ACCESS_KEY`]: t.secretAccessKey,
    // No config file is read or written; the remote lives in the variables above.
    RCLONE_CONFIG: '/dev/null',
  };
  // rclone fails on this machine's AWS_CA_BUNDLE (it is set for the SDK).
  delete env.AWS_CA_BUNDLE;
  const dir = mkdtempSync(join(os.tmpdir(), 'lw-bench-rclone-'));
  const rusageFile = join(dir, 'rusage');
  const args = ['lsf', '--dirs-only', '-R', '--max-depth', String(t.depth), '--checkers', String(t.checkers), `${remote}:${t.bucket}/${t.root}`];
  try {
    const child = spawn(TIME, ['-o', rusageFile, '-f', '%e %U %S %M', 'rclone', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    let folders = 0;
    let deepest = 0;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      folders += 1;
      // A folder at depth N prints as N names, each followed by '/'.
      if (line.split('/').length - 1 === t.depth) deepest += 1;
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new Error(`rclone ${args.join(' ')} exited with ${code}: ${stderr.slice(-1000)}`);
    const [elapsed, user, sys, maxKb] = readFileSync(rusageFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { wallMs: elapsed! * 1000, cpuMs: (user! + sys!) * 1000, maxRssBytes: maxKb! * 1024, deepest, folders, version };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
