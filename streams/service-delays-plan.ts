/**
 * Per-service log delay (SPEC §4.4, opt-in `delayMetrics.allServices`) as pure functions:
 * which folder holds each service's minute partitions, when in the round each service is
 * sampled, and when a round gives up because the store is down. The I/O is in
 * `service-delays.ts`; the walk of one service is `sampleDelay` of `delay-decision.ts`.
 */
import type { ServicePartition } from '../src/db/service-details.js';
import { escapePathName, partitionId } from './discovery-decision.js';
import { trimSlashes } from '../src/common/text.js';

/** Share of the interval a round's samples are spread over; the rest is slack for the last ones to finish. */
export const DEFAULT_SPREAD_FRACTION = 0.8;
/** Services sampled at once (each one up to four listings, one after the other). */
export const DEFAULT_CONCURRENCY = 16;
/** A round whose last this-many samples all failed in a row gives up on the rest: the store is down, not one folder. */
export const DEFAULT_ABANDON_AFTER = 32;

/** The key of a service in the in-memory values (the same identity as discovery's). */
export function serviceKey(service: ServicePartition): string {
  return partitionId(service);
}

const LEVELS: Record<string, (s: ServicePartition) => string> = {
  env: (s) => s.env,
  service_name: (s) => s.serviceName,
  component_name: (s) => s.componentName,
};

/**
 * The folder of a service's minute partitions, `logs/env=…/service_name=…/component_name=…/`,
 * one level per partition key, each value escaped as Spark writes it (`=` → `%3D`; space and
 * `+` stay). Null when a key is none of env/service_name/component_name, or when the service
 * has no value for it (such a folder cannot be rebuilt from a row).
 */
export function servicePrefix(logsDir: string, partitionKeys: readonly string[], service: ServicePartition): string | null {
  let path = '';
  for (const key of partitionKeys) {
    const value = LEVELS[key]?.(service);
    if (value === undefined || value === '') return null;
    path += `${key}=${escapePathName(value)}/`;
  }
  const root = trimSlashes(logsDir);
  return root === '' ? path : `${root}/${path}`;
}

/**
 * When each of `count` samples starts, in ms after the round's start: evenly spread over
 * `fraction` of the interval (the i-th at floor(i × spread / count)), so that 10,000 services
 * do not list in the same millisecond and each service is sampled about once per interval.
 */
export function paceOffsets(count: number, intervalMs: number, fraction = DEFAULT_SPREAD_FRACTION): number[] {
  if (count <= 0) return [];
  const spread = Math.max(0, intervalMs) * Math.min(1, Math.max(0, fraction));
  return Array.from({ length: count }, (_, i) => Math.floor((i * spread) / count));
}

export interface ServiceJob {
  key: string;
  service: ServicePartition;
  /** The service's folder, ending in '/'; the hour folders are appended to it. */
  prefix: string;
  /** When to start, in ms after the round's start. */
  offsetMs: number;
}

export interface RoundPlan {
  /** In start order (ascending offsets). */
  jobs: ServiceJob[];
  /** Services whose folder cannot be built from the row: counted as failed, never listed. */
  unbuildable: { key: string; service: ServicePartition; reason: string }[];
}

/**
 * One round: each distinct service once, in a stable order (so a service is sampled at the
 * same point of every round, about one interval apart), paced over the interval.
 */
export function planRound(
  services: readonly ServicePartition[],
  layout: { logsDir: string; partitionKeys: readonly string[] },
  intervalMs: number,
  fraction = DEFAULT_SPREAD_FRACTION,
): RoundPlan {
  const unique = new Map<string, ServicePartition>();
  for (const s of services) {
    const service = { env: s.env, serviceName: s.serviceName, componentName: s.componentName };
    unique.set(serviceKey(service), service);
  }
  const keys = [...unique.keys()].sort();
  const buildable: { key: string; service: ServicePartition; prefix: string }[] = [];
  const unbuildable: RoundPlan['unbuildable'] = [];
  for (const key of keys) {
    const service = unique.get(key)!;
    const prefix = servicePrefix(layout.logsDir, layout.partitionKeys, service);
    if (prefix === null) {
      unbuildable.push({ key, service, reason: `no folder for partition keys [${layout.partitionKeys.join(', ')}] from this row` });
    } else {
      buildable.push({ key, service, prefix });
    }
  }
  const offsets = paceOffsets(buildable.length, intervalMs, fraction);
  return { jobs: buildable.map((j, i) => ({ ...j, offsetMs: offsets[i] ?? 0 })), unbuildable };
}

/**
 * Give up on the rest of the round: the last `threshold` samples all failed, one after the
 * other (an outage of the store, at the start of the round or in its middle; one bad folder
 * among good ones never gets there, since each success starts the count again).
 */
export function shouldAbandonRound(consecutiveFailures: number, threshold = DEFAULT_ABANDON_AFTER): boolean {
  return consecutiveFailures >= Math.max(1, threshold);
}
