/**
 * Master states built by hand for the pure tests of the Spark stream, frozen as the master
 * client hands them out (so the lookups over them are kept, and a state is the same object while
 * it is unchanged).
 */
import type { MasterState, SparkDriver } from '../../src/spark/types.js';

export const MAIN_CLASS = 'com.logwise.spark.MainApplication';

export function runningDriver(id: string, patch: Partial<SparkDriver> = {}): SparkDriver {
  return Object.freeze({ id, state: 'RUNNING', startTime: 0, worker: 'worker-1', mainClass: MAIN_CLASS, cores: 1, memoryMb: 1024, submitDate: '', ...patch });
}

export function frozenMaster(active: SparkDriver[], completed: SparkDriver[] = []): MasterState {
  return Object.freeze({
    webUiUrl: 'http://m:8080',
    url: 'spark://m:7077',
    status: 'ALIVE',
    aliveWorkers: 1,
    cores: 4,
    coresUsed: active.length,
    memoryMb: 8192,
    memoryUsedMb: 1024 * active.length,
    activeDrivers: Object.freeze([...active]) as SparkDriver[],
    completedDrivers: Object.freeze([...completed]) as SparkDriver[],
  });
}
