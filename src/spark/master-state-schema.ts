/**
 * The master's `GET /json/` document checked and turned into a MasterState (SPARK_PROTOCOL.md
 * §1.1, §1.2). Strict about what a decision reads (the driver lists above all): a document that
 * lacks it is rejected whole, never read as "no drivers".
 */
import type { DriverState, MasterState, MasterStatus, SparkDriver } from './types.js';

type Obj = Record<string, unknown>;

/** Parses the `/json/` document (SPARK_PROTOCOL.md §1.1, §1.2). Throws a plain Error with a short reason. */
export function parseMasterState(doc: unknown, webUiUrl: string): MasterState {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
  const o = doc as Obj;
  if (typeof o.status !== 'string') throw new Error("'status' is missing or not a string");
  return {
    webUiUrl,
    url: optString(o, 'url') ?? '',
    status: o.status as MasterStatus,
    aliveWorkers: optNumber(o, 'aliveworkers') ?? countAliveWorkers(o.workers),
    cores: optNumber(o, 'cores') ?? 0,
    coresUsed: optNumber(o, 'coresused') ?? 0,
    memoryMb: optNumber(o, 'memory') ?? 0,
    memoryUsedMb: optNumber(o, 'memoryused') ?? 0,
    activeDrivers: parseDrivers(o, 'activedrivers'),
    completedDrivers: parseDrivers(o, 'completeddrivers'),
  };
}

/** The `status` a document that could not be parsed gives, when it gives one as a string. */
export function reportedStatusOf(doc: unknown): string | undefined {
  return typeof doc === 'object' && doc !== null && typeof (doc as Obj).status === 'string' ? ((doc as Obj).status as string) : undefined;
}

/** Every `DriverState` a master writes (SPARK_PROTOCOL §3). */
const DRIVER_STATES: ReadonlySet<string> = new Set(['SUBMITTED', 'RUNNING', 'FINISHED', 'RELAUNCHING', 'UNKNOWN', 'KILLED', 'FAILED', 'ERROR']);

/**
 * A driver list the decision can use (SPEC §4.2): a list of driver objects, each with everything
 * a decision reads of it (id, a driver state, start time, main class, cores, memory). A list
 * that is missing, null or of the wrong type, or any entry that is not usable, makes the whole
 * document malformed: read as "no drivers", it would start a duplicate of every running driver.
 */
function parseDrivers(o: Obj, key: string): SparkDriver[] {
  const v = o[key];
  if (v === undefined || v === null) throw new Error(`'${key}' is ${v === null ? 'null' : 'missing'}: no usable driver list`);
  if (!Array.isArray(v)) throw new Error(`'${key}' is not a list`);
  // A loop, not `map` with a closure: a closure made per read loses its optimized code whenever a
  // full collection finds none alive, and this runs over every driver of the master.
  const drivers: SparkDriver[] = [];
  for (let i = 0; i < v.length; i++) drivers.push(parseDriver(v[i], key, i));
  return drivers;
}

function parseDriver(d: unknown, key: string, index: number): SparkDriver {
  const where = `${key}[${index}]`;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new Error(`${where} is not an object`);
  const o = d as Obj;
  if (typeof o.id !== 'string' || o.id === '') throw new Error(`${where}.id is missing or not a string`);
  if (typeof o.state !== 'string') throw new Error(`${where}.state is missing or not a string`);
  if (!DRIVER_STATES.has(o.state)) throw new Error(`${where}.state ${JSON.stringify(o.state.slice(0, 40))} is not a driver state`);
  const startTime = reqNumber(o, 'starttime', where);
  const worker = o.worker;
  if (worker !== undefined && worker !== null && typeof worker !== 'string') throw new Error(`${where}.worker is not a string`);
  const mainClass = optString(o, 'mainclass', where);
  if (mainClass === undefined) throw new Error(`${where}.mainclass is missing`);
  return {
    id: o.id,
    startTime,
    state: o.state as DriverState,
    worker: typeof worker === 'string' && worker !== 'None' && worker !== '' ? worker : null,
    mainClass,
    cores: reqNumber(o, 'cores', where),
    memoryMb: reqNumber(o, 'memory', where),
    submitDate: optString(o, 'submitdate', where) ?? '',
  };
}

function reqNumber(o: Obj, key: string, where: string): number {
  const n = optNumber(o, key, where);
  if (n === undefined) throw new Error(`${where}.${key} is missing`);
  return n;
}

function optString(o: Obj, key: string, where?: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`${where ? `${where}.` : ''}${key} is not a string`);
  return v;
}

function optNumber(o: Obj, key: string, where?: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new Error(`${where ? `${where}.` : ''}${key} is not a number`);
  return n;
}

function countAliveWorkers(workers: unknown): number {
  if (!Array.isArray(workers)) return 0;
  return workers.filter((w) => typeof w === 'object' && w !== null && (w as Obj).state === 'ALIVE').length;
}
