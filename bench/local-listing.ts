/**
 * CPU of the local store's listings as the idle 1,000-tenant daemon makes them (tenants.bench.ts's
 * stores): one discovery walk (every tenant every 300 s) and one delay sample (every tenant every
 * 60 s), each on the next tenant's store, with a turn of the event loop between two, as between
 * two ticks. Not a target of its own: it shows where the tenants benchmark's idle CPU goes.
 *
 *   node --import tsx bench/local-listing.ts [--rounds N]
 *
 * Prints µs of CPU (user, system) and wall per walk and per sample, after a warm-up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../src/objectstore/local-object-store.js';
import { walkPartitions } from '../streams/discovery.js';
import { sampleDelay } from '../streams/delay-decision.js';
import { flagValue } from './harness.js';
import { seedStores, tenantName } from './tenants-workload.js';

const TENANTS = 1_000;
const rounds = Number(flagValue('--rounds') ?? 5_000);
const SAMPLE_PREFIX = 'logs/env=prod/service_name=svc0/component_name=application/';
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const dir = mkdtempSync(join(tmpdir(), 'lw-local-listing-'));
try {
  seedStores(dir, TENANTS);
  const stores = Array.from({ length: TENANTS }, (_, i) => new LocalObjectStore({ path: join(dir, tenantName(i)) }));
  const now = Date.now();
  const jobs: [string, (store: LocalObjectStore) => Promise<unknown>][] = [
    ['discovery walk', (store) => walkPartitions(store, 'logs/', ['env', 'service_name', 'component_name'], () => undefined)],
    ['delay sample', (store) => sampleDelay(now, (hourPath) => store.listPrefixes(SAMPLE_PREFIX + hourPath))],
  ];
  for (const [name, job] of jobs) {
    for (let i = 0; i < rounds / 2; i++, await turn()) await job(stores[i % TENANTS]!);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++, await turn()) await job(stores[i % TENANTS]!);
    const cpu = process.cpuUsage(cpu0);
    const us = (v: number) => (v / rounds).toFixed(1);
    console.log(
      `${name}: ${us(cpu.user + cpu.system)} µs of CPU (user ${us(cpu.user)}, system ${us(cpu.system)}), ${us((performance.now() - t0) * 1000)} µs wall, over ${rounds}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
