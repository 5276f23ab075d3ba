/** The driver size a create asks for, as the master reports it for every driver: what tells our driver from others of its class. */
import type { CreateSubmissionRequest, SparkDriver } from '../../src/spark/types.js';

export interface DriverSize {
  cores?: number;
  memoryMb?: number;
}

/** The driver cores and memory a create request asks for (Spark's defaults when absent: 1 core, 1024 MB). */
export function requestedSize(req: CreateSubmissionRequest): DriverSize {
  const size: DriverSize = {};
  const cores = req.sparkProperties['spark.driver.cores'];
  const memory = req.sparkProperties['spark.driver.memory'];
  const c = cores === undefined ? 1 : Number(cores);
  if (Number.isInteger(c)) size.cores = c;
  const m = memory === undefined ? 1024 : memoryStringToMb(memory);
  if (m !== undefined) size.memoryMb = m;
  return size;
}

/** Spark's memory strings (`512m`, `2g`, `1G`; no suffix means bytes) in MB, as the master reports them. */
export function memoryStringToMb(value: string): number | undefined {
  const m = /^([0-9]+)\s*([a-z]*)$/i.exec(value.trim());
  if (!m) return undefined;
  const units: Record<string, number> = {
    '': 1,
    b: 1,
    k: 1024,
    kb: 1024,
    m: 1024 ** 2,
    mb: 1024 ** 2,
    g: 1024 ** 3,
    gb: 1024 ** 3,
    t: 1024 ** 4,
    tb: 1024 ** 4,
  };
  const mult = units[(m[2] ?? '').toLowerCase()];
  if (mult === undefined) return undefined;
  return Math.floor((Number(m[1]) * mult) / 1024 / 1024);
}

export function sameSize(d: SparkDriver, size: DriverSize): boolean {
  return (size.cores === undefined || d.cores === size.cores) && (size.memoryMb === undefined || d.memoryMb === size.memoryMb);
}
