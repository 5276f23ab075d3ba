/**
 * Crash-loop backoff for one tenant's Spark driver (SPEC §4.2). Pure: every function takes a
 * state value and returns a new one; time always comes in as an argument (epoch ms).
 *
 * How the Spark stream uses it, once per poll that read the master:
 *   1. `deaths = detectDeaths(prevAliveIds, obs, killedByUs)` — the tenant's drivers that the
 *      previous poll saw alive, are gone now, and were not killed by us;
 *   2. if `deaths.length > 0`: `state = recordDeath(state, now)` — one death per poll, however
 *      many ids vanished together (two duplicates dying at once are one failure of the tenant);
 *      emit `spark.crashloop` when `isCrashLooping(state)` (it turned true, or stays true);
 *   3. if the tenant has an alive driver now: `state = recordAlive(state, now)`;
 *   4. the decision (`decideSparkAction`) reads `nextSubmitAllowedAt(state)` before submitting.
 * When the master is unreachable, skip all of this and keep `prevAliveIds` as they were.
 *
 * Model: deaths are counted in a sliding window (default 5 in 10 minutes). Reaching the
 * threshold enters the crash loop; from then on every further death doubles the wait before the
 * next submission (base, 2×base, 4×base, … capped at `maxBackoffMs`, default 10 minutes). The
 * loop is sticky: it ends only when a driver of the tenant has stayed alive for `stableMs`
 * (default 5 minutes), which clears everything. (Were it not sticky, a 10-minute backoff would
 * let the window empty and the loop would restart at full speed, oscillating.)
 */
import type { MasterState } from '../../src/spark/types.js';
import { masterIndex } from './master-index.js';

export interface CrashLoopParams {
  /** Deaths within `windowMs` that make a crash loop (default 5). */
  threshold: number;
  /** The sliding window deaths are counted in (default 10 minutes). */
  windowMs: number;
  /** Wait after the death that entered the loop; doubles with each further death (default 30 s). */
  baseBackoffMs: number;
  /** Upper bound of the wait (default 10 minutes). */
  maxBackoffMs: number;
  /** A driver alive this long ends the loop and clears the death count (default 5 minutes). */
  stableMs: number;
}

export const DEFAULT_CRASH_LOOP_PARAMS: Readonly<CrashLoopParams> = Object.freeze({
  threshold: 5,
  windowMs: 10 * 60_000,
  baseBackoffMs: 30_000,
  maxBackoffMs: 10 * 60_000,
  stableMs: 5 * 60_000,
});

export interface CrashLoopState {
  readonly params: Readonly<CrashLoopParams>;
  /** Times of the deaths inside the window (ascending), as of the last death recorded. */
  readonly deaths: readonly number[];
  /** True from the death that reached the threshold until the driver has been stable. */
  readonly looping: boolean;
  /** Deaths recorded while looping after the one that entered it: the backoff exponent. */
  readonly level: number;
  readonly lastDeathAt: number | null;
  /** Since when a driver of the tenant has been seen alive without a death in between. */
  readonly aliveSince: number | null;
}

/** A fresh state; any parameter may be overridden. */
export function createCrashLoopState(params: Partial<CrashLoopParams> = {}): CrashLoopState {
  const merged: CrashLoopParams = { ...DEFAULT_CRASH_LOOP_PARAMS };
  for (const [key, value] of Object.entries(params) as [keyof CrashLoopParams, number | undefined][]) {
    if (value !== undefined) merged[key] = value;
  }
  validate(merged);
  return { params: Object.freeze(merged), deaths: [], looping: false, level: 0, lastDeathAt: null, aliveSince: null };
}

function validate(p: CrashLoopParams): void {
  const problems: string[] = [];
  if (!Number.isInteger(p.threshold) || p.threshold < 1) problems.push(`threshold must be an integer ≥ 1 (got ${p.threshold})`);
  for (const key of ['windowMs', 'baseBackoffMs', 'maxBackoffMs', 'stableMs'] as const) {
    if (!Number.isFinite(p[key]) || p[key] < 0) problems.push(`${key} must be a finite number ≥ 0 (got ${p[key]})`);
  }
  if (p.baseBackoffMs > p.maxBackoffMs) problems.push(`baseBackoffMs (${p.baseBackoffMs}) must not exceed maxBackoffMs (${p.maxBackoffMs})`);
  if (problems.length > 0) throw new RangeError(`crash-loop parameters: ${problems.join('; ')}`);
}

/** The tenant's driver died at `at`. */
export function recordDeath(state: CrashLoopState, at: number): CrashLoopState {
  const { windowMs, threshold } = state.params;
  const deaths = [...state.deaths, at].filter((t) => t > at - windowMs).sort((a, b) => a - b);
  if (state.looping) {
    return { ...state, deaths, level: state.level + 1, lastDeathAt: at, aliveSince: null };
  }
  const looping = deaths.length >= threshold;
  return { ...state, deaths, looping, level: 0, lastDeathAt: at, aliveSince: null };
}

/**
 * A driver of the tenant is alive at `at`. Once it has been alive for `stableMs` (counted from
 * the first such call after the last death), the crash loop and the death count are cleared.
 */
export function recordAlive(state: CrashLoopState, at: number): CrashLoopState {
  const aliveSince = state.aliveSince ?? at;
  if (at - aliveSince >= state.params.stableMs && (state.looping || state.lastDeathAt !== null)) {
    return { ...state, deaths: [], looping: false, level: 0, lastDeathAt: null, aliveSince };
  }
  return state.aliveSince === aliveSince ? state : { ...state, aliveSince };
}

export function isCrashLooping(state: CrashLoopState): boolean {
  return state.looping;
}

/** The current wait between a death and the next submission; 0 when not looping. */
export function currentBackoffMs(state: CrashLoopState): number {
  if (!state.looping) return 0;
  const { baseBackoffMs, maxBackoffMs } = state.params;
  // 2 ** level overflows to Infinity for huge levels; Math.min keeps it at the cap.
  return Math.min(maxBackoffMs, baseBackoffMs * 2 ** state.level);
}

/** Earliest time a submission may be made, or null when there is no restriction. */
export function nextSubmitAllowedAt(state: CrashLoopState): number | null {
  if (!state.looping || state.lastDeathAt === null) return null;
  return state.lastDeathAt + currentBackoffMs(state);
}

/** Deaths inside the window ending at `now` (for status pages and events). */
export function deathsInWindow(state: CrashLoopState, now: number): number {
  return state.deaths.filter((t) => t > now - state.params.windowMs && t <= now).length;
}

/** What `detectDeaths` needs from an observation (a `SparkObservation` fits). */
export interface DeathObservation {
  master: MasterState | null;
}

/**
 * The ids among `prevAliveIds` (the tenant's alive drivers at the previous poll) that are not
 * alive in this observation and that we did not kill ourselves. Not counted as deaths:
 *  - anything, when the master is unreachable (`master: null`): nothing is known;
 *  - a driver whose record now shows RELAUNCHING: its worker was lost and the master has
 *    already started a replacement under a new id (SPARK_PROTOCOL §3.1); that is the cluster
 *    losing a machine, not the job crashing, and the replacement is adopted as the tenant's.
 * A driver that vanished from both lists (master restarted without recovery, trimmed history)
 * counts as a death.
 */
export function detectDeaths(prevAliveIds: Iterable<string>, obs: DeathObservation, killedByUs: Iterable<string> = []): string[] {
  const master = obs.master;
  if (master === null) return [];
  const killed = new Set(killedByUs);
  // The state's shared index: a poll costs the tenant's own ids, not the master's whole driver list.
  const { aliveById, relaunchedIds } = masterIndex(master);
  const deaths: string[] = [];
  for (const id of new Set(prevAliveIds)) {
    if (aliveById.has(id) || killed.has(id) || relaunchedIds.has(id)) continue;
    deaths.push(id);
  }
  return deaths;
}
