/**
 * Lookups over one master state, built once per state and shared by every tenant that reads it.
 *
 * The master client hands one frozen state to all the tenants of a master, so the lookups a
 * poll needs are built once per state instead of every poll scanning the whole driver list. A frozen state cannot change, so its index is kept with it (in a WeakMap, gone with
 * the state); a state that is not frozen (built by hand) gets a new index at every call.
 * Pure: the same state always gives the same index.
 */
import type { MasterState, SparkDriver } from '../../src/spark/types.js';
import { ALIVE_DRIVER_STATES } from '../../src/spark/types.js';

export interface MasterIndex {
  /** Ids in `activedrivers`. */
  readonly activeIds: ReadonlySet<string>;
  /** Drivers in `activedrivers` with state SUBMITTED or RUNNING, by id. */
  readonly aliveById: ReadonlyMap<string, SparkDriver>;
  /** Alive drivers by main class. */
  readonly aliveByMainClass: ReadonlyMap<string, readonly SparkDriver[]>;
  /** Every driver listed (active or completed), by id. */
  readonly listedIds: ReadonlySet<string>;
  /** Completed drivers in state RELAUNCHING (retired ids of drivers relaunched after a worker loss). */
  readonly relaunched: readonly SparkDriver[];
  readonly relaunchedIds: ReadonlySet<string>;
}

const indexes = new WeakMap<MasterState, MasterIndex>();

export function masterIndex(master: MasterState): MasterIndex {
  const cached = indexes.get(master);
  if (cached) return cached;
  const index = buildIndex(master);
  if (Object.isFrozen(master) && Object.isFrozen(master.activeDrivers) && Object.isFrozen(master.completedDrivers)) indexes.set(master, index);
  return index;
}

function buildIndex(master: MasterState): MasterIndex {
  const activeIds = new Set<string>();
  const aliveById = new Map<string, SparkDriver>();
  const aliveByMainClass = new Map<string, SparkDriver[]>();
  const listedIds = new Set<string>();
  for (const d of master.activeDrivers) {
    activeIds.add(d.id);
    listedIds.add(d.id);
    if (!ALIVE_DRIVER_STATES.has(d.state)) continue;
    aliveById.set(d.id, d);
    const same = aliveByMainClass.get(d.mainClass);
    if (same) same.push(d);
    else aliveByMainClass.set(d.mainClass, [d]);
  }
  const relaunched: SparkDriver[] = [];
  for (const d of master.completedDrivers) {
    listedIds.add(d.id);
    if (d.state === 'RELAUNCHING') relaunched.push(d);
  }
  return { activeIds, aliveById, aliveByMainClass, listedIds, relaunched, relaunchedIds: new Set(relaunched.map((d) => d.id)) };
}
