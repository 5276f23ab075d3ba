/**
 * The death loop of the recovery benchmark, shared by its simulator and real-Spark phases: per
 * tenant, wait until its newest driver runs and the daemon lists it alive, let it die at a
 * random point of the poll interval, and time death → the master accepting the daemon's
 * resubmission, → the new driver RUNNING on the master (and, where the master can tell, → the
 * new driver's JVM up). A master is reached through a `DeathTarget`, so that the loop is the
 * same on the simulator and on real Spark.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor, type Daemon } from './daemon.js';

export interface Submission {
  id: string;
  /** When the master accepted it (epoch ms). */
  at: number;
}

/** What the loop needs of a master. */
export interface DeathTarget {
  /** The tenant's accepted submissions so far, oldest first. */
  submissions(tenant: string): Submission[];
  /** When the master first listed `id` RUNNING (epoch ms), or undefined. */
  runningAt(id: string): number | undefined;
  /** When the driver's program was seen started (epoch ms); absent where the master cannot tell. */
  upAt?(id: string): number | undefined;
  /** Kills the driver from outside and resolves with when its process ended (epoch ms): the death. */
  kill(id: string): Promise<number>;
}

export interface Death {
  tenant: string;
  died: string;
  replacement: string;
  /** When its process ended (epoch ms), and the kill request that ended it `killMs` before. */
  at: number;
  killMs: number;
  /** Milliseconds from the death to the accepted resubmission, to RUNNING, to the JVM up. */
  acceptedMs: number;
  runningMs: number;
  upMs?: number;
}

/** The daemon's view of one tenant's Spark driver (GET /api/v1/spark/status). */
export interface SparkStatus {
  drivers: { alive: { id: string; state: string }[] };
  restarts: number;
  submissions: number;
  crashLoop: { looping: boolean; deathsInWindow: number; threshold: number; windowMs: number };
  lastPoll: { at: string } | null;
}

export async function sparkStatus(daemon: Daemon, tenant: string): Promise<SparkStatus> {
  const res = await fetch(`${daemon.base}/api/v1/spark/status`, { headers: { 'X-Tenant-Name': tenant }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /api/v1/spark/status for ${tenant} answered ${res.status}`);
  return ((await res.json()) as { data: SparkStatus }).data;
}

/** The `spark.submitted` lines of the daemon's log, read incrementally: when the daemon had the master's acceptance, per tenant. */
export class SubmittedLog {
  private offset = 0;
  private partial = '';
  private readonly byTenant = new Map<string, Submission[]>();

  constructor(private readonly file: string) {}

  submissions(tenant: string): Submission[] {
    this.read();
    return this.byTenant.get(tenant) ?? [];
  }

  private read(): void {
    const size = statSync(this.file).size;
    if (size <= this.offset) return;
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    const text = this.partial + buf.toString('utf8');
    this.offset = size;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes('"spark.submitted"')) continue;
      const rec = JSON.parse(line) as { time: number; tenant: string; submissionId: string };
      this.byTenant.set(rec.tenant, [...(this.byTenant.get(rec.tenant) ?? []), { id: rec.submissionId, at: rec.time }]);
    }
  }
}

export interface DeathLoopOptions {
  daemon: Daemon;
  target: DeathTarget;
  tenants: string[];
  deathsPerTenant: number;
  pollMs: number;
  /** Per death, how long the resubmission and the new driver may take before the run fails. */
  timeoutMs: number;
  onDeath?: (d: Death, done: number, total: number) => void;
}

/** The newest accepted submission of the tenant once it is RUNNING (and up), and the daemon lists it alive. */
export async function runningSeenAlive(daemon: Daemon, target: DeathTarget, tenant: string, timeoutMs: number): Promise<string> {
  const id = await waitFor(`a running driver of ${tenant}`, timeoutMs, () => {
    const newest = target.submissions(tenant).at(-1)?.id;
    return newest !== undefined && target.runningAt(newest) !== undefined && (!target.upAt || target.upAt(newest) !== undefined) ? newest : undefined;
  });
  await waitFor(
    `the daemon to list ${id} of ${tenant} alive`,
    timeoutMs,
    async () => (await sparkStatus(daemon, tenant)).drivers.alive.some((d) => d.id === id),
    50,
  );
  return id;
}

/** One tenant's deaths, one after the other. */
async function tenantDeaths(opts: DeathLoopOptions, tenant: string, record: (d: Death) => void): Promise<void> {
  const { daemon, target, pollMs, timeoutMs } = opts;
  for (let k = 0; k < opts.deathsPerTenant; k++) {
    const id = await runningSeenAlive(daemon, target, tenant, timeoutMs);
    // A random point of the interval: the daemon's polls of this tenant are a fixed grid.
    await sleep(Math.random() * pollMs);
    const before = target.submissions(tenant).length;
    const killedAt = Date.now();
    const diedAt = await target.kill(id);
    const next = await waitFor(`the resubmission for ${tenant} after ${id} died`, timeoutMs, () => target.submissions(tenant)[before], 5);
    const runningAt = await waitFor(`${next.id} of ${tenant} RUNNING`, timeoutMs, () => target.runningAt(next.id), 5);
    const upAt = target.upAt ? await waitFor(`${next.id} of ${tenant} up`, timeoutMs, () => target.upAt!(next.id), 5) : undefined;
    record({
      tenant,
      died: id,
      replacement: next.id,
      at: diedAt,
      killMs: diedAt - killedAt,
      acceptedMs: next.at - diedAt,
      runningMs: runningAt - diedAt,
      ...(upAt !== undefined ? { upMs: upAt - diedAt } : {}),
    });
  }
}

/** Every tenant's deaths, the tenants side by side (so deaths of several tenants overlap, as they would on a shared master). */
export async function runDeaths(opts: DeathLoopOptions): Promise<Death[]> {
  const deaths: Death[] = [];
  const total = opts.tenants.length * opts.deathsPerTenant;
  await Promise.all(
    opts.tenants.map((tenant) =>
      tenantDeaths(opts, tenant, (d) => {
        deaths.push(d);
        opts.onDeath?.(d, deaths.length, total);
      }),
    ),
  );
  return deaths;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const round = (v: number, digits = 3) => Number(v.toFixed(digits));

/** p50, p95 and max of `ms / pollMs`. */
export function ratios(msList: readonly number[], pollMs: number): { p50: number; p95: number; max: number; all: number[] } {
  const all = msList.map((ms) => round(ms / pollMs));
  return { p50: percentile(all, 50), p95: percentile(all, 95), max: Math.max(...all), all };
}

/**
 * What the daemon says of each tenant after the deaths, for the deterministic targets: deaths it
 * counted (`restarts`) against the deaths caused, submissions, and the crash-loop settings in force.
 */
export async function tenantAccounts(daemon: Daemon, tenants: string[], deathsOf: (tenant: string) => number) {
  const miscountedTenants: { tenant: string; deaths: number; restarts: number; submissions: number }[] = [];
  let looping = 0;
  let threshold = Number.NaN;
  let windowMs = Number.NaN;
  for (const tenant of tenants) {
    const s = await sparkStatus(daemon, tenant);
    if (s.restarts !== deathsOf(tenant) || s.submissions !== deathsOf(tenant) + 1) {
      miscountedTenants.push({ tenant, deaths: deathsOf(tenant), restarts: s.restarts, submissions: s.submissions });
    }
    if (s.crashLoop.looping) looping++;
    threshold = s.crashLoop.threshold;
    windowMs = s.crashLoop.windowMs;
  }
  return { miscounted: miscountedTenants.length, miscountedTenants, looping, threshold, windowMs };
}

/** Waits until the poll after the last resubmission has surely ended: a duplicate create would come from it. */
export async function settleAfter(deaths: readonly Death[], pollMs: number): Promise<void> {
  const last = Math.max(0, ...deaths.map((d) => d.at + d.acceptedMs));
  const wait = last + pollMs + 2_000 - Date.now();
  if (wait > 0) await sleep(wait);
}
