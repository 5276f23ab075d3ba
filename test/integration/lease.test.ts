/**
 * Tenant leases against the real MariaDB (SPEC §4.5): the repository's conditional statements,
 * and keepers in one process, each with its own connection pool, standing in for replicas.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/db/knex.js';
import { LeaseRepository, type LeaseStore } from '../../src/db/leases.js';
import type { EventInput } from '../../streams/events.js';
import { LeaseKeeper } from '../../streams/lease-keeper.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { freshMysqlDatabase, mysqlTestServer, type TestDatabase } from '../support/databases.js';
import { observedSimulator, sparkTenant, startSparkOrchestrator, waitFor } from '../support/spark.js';

const TENANTS = ['T1', 'T2', 'T3'];
const LEASE_MS = 2_000;

let tdb: TestDatabase;
const pools: Db[] = [];

beforeAll(async () => {
  tdb = await freshMysqlDatabase('lease');
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  await tdb?.drop();
});

function pool(): Db {
  const db = createDb({ ...tdb.config, poolMax: 2 });
  pools.push(db);
  return db;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Recorded {
  at: number;
  tenant: string;
  event: EventInput;
}

function keeper(name: string, store: LeaseStore, log: Recorded[]): LeaseKeeper {
  return new LeaseKeeper({
    store,
    tenants: TENANTS,
    leaseMs: LEASE_MS,
    holderId: `${name}:${process.pid}:test`,
    emit: (tenant, event) => log.push({ at: performance.now(), tenant, event }),
  });
}

/** A store that can be made to hang (MySQL unreachable without an error: a black-holed connection). */
function hangable(inner: LeaseStore): LeaseStore & { hang: boolean } {
  const s = { hang: false } as LeaseStore & { hang: boolean };
  for (const name of ['heartbeat', 'renew', 'take', 'read', 'release', 'leave'] as const) {
    (s as unknown as Record<string, unknown>)[name] = (...args: unknown[]) =>
      s.hang ? new Promise<never>(() => undefined) : (inner[name] as (...a: unknown[]) => Promise<unknown>).apply(inner, args);
  }
  return s;
}

const heldBy = (k: LeaseKeeper) => TENANTS.filter((t) => k.view(t).isHolder());

/** Samples `isHolder()` of each keeper and tenant every few ms: when each stopped holding, and any moment two held at once. */
function sampler(keepers: LeaseKeeper[]) {
  const lastHeld = new Map<string, number>();
  const overlaps: string[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    for (const t of TENANTS) {
      const holders = keepers.filter((k) => k.view(t).isHolder());
      if (holders.length > 1) overlaps.push(`${t}: ${holders.map((k) => k.holderId).join(' & ')}`);
      for (const k of holders) lastHeld.set(`${k.holderId}/${t}`, now);
    }
  }, 2);
  return { lastHeld, overlaps, stop: () => clearInterval(timer) };
}

describe('lease repository on MariaDB', () => {
  it('takes a free lease, renews it with the same token, refuses a live one, and gives it up on release', async () => {
    const a = new LeaseRepository(pool());
    const b = new LeaseRepository(pool());
    const first = await a.acquireOrRenew(['R1'], 'A', 60_000);
    expect(first.rows).toEqual([expect.objectContaining({ tenant: 'R1', holder: 'A', token: 1 })]);
    const r1 = first.rows[0]!;
    expect(r1.expiresAt - first.dbNow).toBeGreaterThan(59_000);
    expect(r1.acquiredAt).toBe(r1.renewedAt);

    const refused = await b.acquireOrRenew(['R1'], 'B', 60_000);
    expect(refused.rows[0]).toMatchObject({ holder: 'A', token: 1, expiresAt: r1.expiresAt });

    await sleep(20);
    const renewed = await a.acquireOrRenew(['R1'], 'A', 60_000);
    expect(renewed.rows[0]).toMatchObject({ holder: 'A', token: 1, acquiredAt: r1.acquiredAt });
    expect(renewed.rows[0]!.expiresAt).toBeGreaterThan(r1.expiresAt);

    expect(await b.release(['R1'], 'B')).toBe(0);
    expect(await a.release(['R1'], 'A')).toBe(1);
    const taken = await b.acquireOrRenew(['R1'], 'B', 60_000);
    expect(taken.rows[0]).toMatchObject({ holder: 'B', token: 2 });
    expect(taken.rows[0]!.acquiredAt).toBeGreaterThan(r1.acquiredAt);
  });

  it('of many replicas racing for the same lapsed leases, exactly one wins each', async () => {
    const tenants = Array.from({ length: 20 }, (_, i) => `RACE${i}`);
    const repos = Array.from({ length: 6 }, () => new LeaseRepository(pool()));
    for (let round = 1; round <= 3; round++) {
      const answers = await Promise.all(repos.map((r, i) => r.acquireOrRenew(i % 2 ? [...tenants].reverse() : tenants, `R${i}`, 200)));
      const last = answers.at(-1)!;
      for (const t of tenants) {
        const rows = answers.map((a) => a.rows.find((r) => r.tenant === t)!);
        // Everyone read the same single holder and token, and the token counts the terms.
        expect(new Set(rows.map((r) => `${r.holder}#${r.token}`)).size).toBe(1);
        expect(last.rows.find((r) => r.tenant === t)!.token).toBe(round);
      }
      await sleep(250); // let every lease lapse
    }
  });

  it('reads the database clock, not the process clock', async () => {
    const repo = new LeaseRepository(pool());
    const before = Date.now();
    const dbNow = await repo.dbNow();
    // Same machine here, so the clocks agree closely; the point is the value comes from MySQL.
    expect(Math.abs(dbNow - before)).toBeLessThan(2_000);
    const [[row]] = (await tdb.db.raw('select UNIX_TIMESTAMP(NOW(3)) * 1000 as t')) as [[{ t: string | number }]];
    expect(Math.abs(Number(row.t) - dbNow)).toBeLessThan(1_000);
  });
});

describe('replicas starting together', () => {
  it('migrate an empty database once, one after the other (a named lock), and repair a duplicated knex lock row', async () => {
    const name = `lw_test_migrate_race_${process.pid}_${Date.now().toString(36)}`;
    const admin = pool();
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    try {
      const dbs = Array.from({ length: 4 }, () => createDb({ ...tdb.config, ...mysqlTestServer, database: name, poolMax: 2 }));
      pools.push(...dbs);
      const ran = await Promise.all(dbs.map((db) => migrateLatest(db, { retryMs: 50 })));
      // Every migration ran exactly once, by whichever replica got there first.
      expect(ran.flat().sort()).toEqual(['001_initial', '002_leases', '003_replay_steps', '004_adopt_reference_tables', '005_replicas']);
      expect(await dbs[0]!.schema.hasTable('tenant_leases')).toBe(true);
      // A lock table left with two rows (replicas of an older version racing) would refuse every start; it is repaired.
      await dbs[0]!('orchestrator_migrations_lock').insert({ is_locked: 0 });
      expect(await migrateLatest(dbs[1]!, { retryMs: 50, lockWaitMs: 5_000 })).toEqual([]);
      expect(await dbs[0]!('orchestrator_migrations_lock').count({ n: '*' })).toEqual([{ n: 1 }]);
    } finally {
      await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    }
  });
});

describe('lease keepers (two replicas) on MariaDB', () => {
  it('exactly one holder per tenant; a replica that joins gets its share by handover; failover within one lease; the old holder stops first; tokens grow', async () => {
    const log: Recorded[] = [];
    const dbA = pool();
    const storeA = hangable(new LeaseRepository(dbA));
    const a = keeper('A', storeA, log);
    const b = keeper('B', hangable(new LeaseRepository(pool())), log);
    const storeB = (b as unknown as { opts: { store: ReturnType<typeof hangable> } }).opts.store;
    a.start();
    await a.ready();
    expect(TENANTS.map((t) => a.view(t).isHolder())).toEqual([true, true, true]);
    b.start();
    await b.ready();
    const samples = sampler([a, b]);
    try {
      // B joined: A hands it its share (A sorts first: it keeps ⌈3/2⌉ = 2, B gets 1) within two lease periods; exactly one holder per tenant all along.
      const joinedAt = performance.now();
      await until('B holds its share', () => heldBy(b).length === 1 && heldBy(a).length === 2, 2 * LEASE_MS);
      const [given] = heldBy(b);
      const handover0 = acquiredAt(log, b.holderId, given!) - joinedAt;
      expect(lostAt(log, a.holderId, given!)).toBeLessThan(acquiredAt(log, b.holderId, given!));
      await sleep(LEASE_MS / 2);
      expect([heldBy(a).length, heldBy(b).length]).toEqual([2, 1]);
      const tokensA = TENANTS.map((t) => a.view(t).token!);

      // 1. A loses MySQL (its pool is gone: every query fails at once): B takes A's tenants.
      const ofA = heldBy(a);
      const deadlinesA = ofA.map((t) => a.view(t).validUntil!);
      const killAt = performance.now();
      await dbA.destroy();
      await until('B holds every tenant', () => TENANTS.every((t) => b.view(t).isHolder()));
      const failover1 = ofA.map((t) => acquiredAt(log, b.holderId, t, killAt) - killAt);
      for (const [i, t] of ofA.entries()) {
        const acquired = acquiredAt(log, b.holderId, t, killAt);
        // Fencing: A's last held moment and its local deadline both precede B's acquisition.
        expect(samples.lastHeld.get(`${a.holderId}/${t}`)!).toBeLessThan(acquired);
        expect(deadlinesA[i]!).toBeLessThan(acquired);
        expect(lostAt(log, a.holderId, t, killAt)).toBeLessThan(acquired);
        expect(b.view(t).token).toBe(tokensA[TENANTS.indexOf(t)]! + 1);
      }
      // Within one lease period of the loss: the row runs out 0.9 L after A's last renewal (≤ the loss), and B asks right then.
      for (const ms of failover1) expect(ms).toBeLessThanOrEqual(LEASE_MS);
      expect(log.some((r) => r.event.type === 'lease.renew-failed' && r.event.holder === a.holderId)).toBe(true);
      await a.stop();

      // 2. A replica comes back (new process, new pool) and gets its share (B sorts first: it keeps 2);
      //    B's MySQL then hangs: no answers, no errors. B stops holding at its local deadline; C
      //    takes B's tenants over after expiry.
      const c = keeper('C', new LeaseRepository(pool()), log);
      c.start();
      await c.ready();
      samples.stop();
      const samples2 = sampler([b, c]);
      await until('C holds its share', () => heldBy(c).length === 1 && heldBy(b).length === 2, 2 * LEASE_MS);
      const ofB = heldBy(b);
      const tokensB = ofB.map((t) => b.view(t).token!);
      const hangAt = performance.now();
      storeB.hang = true;
      await until('C holds every tenant', () => TENANTS.every((t) => c.view(t).isHolder()));
      samples2.stop();
      const failover2 = ofB.map((t) => acquiredAt(log, c.holderId, t, hangAt) - hangAt);
      for (const [i, t] of ofB.entries()) {
        const acquired = acquiredAt(log, c.holderId, t, hangAt);
        expect(samples2.lastHeld.get(`${b.holderId}/${t}`)!).toBeLessThan(acquired);
        expect(lostAt(log, b.holderId, t, hangAt)).toBeLessThan(acquired);
        expect(b.view(t).isHolder()).toBe(false);
        expect(c.view(t).token).toBe(tokensB[i]! + 1);
      }
      for (const ms of failover2) expect(ms).toBeLessThanOrEqual(LEASE_MS);
      expect([...samples.overlaps, ...samples2.overlaps]).toEqual([]);

      // 3. A clean stop releases, and leaves the membership: the other replica takes over at its next round, well within a lease.
      const d = keeper('D', new LeaseRepository(pool()), log);
      d.start();
      await d.ready();
      await until('D holds its share', () => heldBy(d).length === 1 && heldBy(c).length === 2, 2 * LEASE_MS);
      const stopAt = performance.now();
      expect(await c.stop()).toBe(2);
      await until('D holds every tenant', () => TENANTS.every((t) => d.view(t).isHolder()));
      const handover = Math.max(
        ...TENANTS.filter((t) => acquiredAt(log, d.holderId, t, 0) > stopAt).map((t) => acquiredAt(log, d.holderId, t, stopAt) - stopAt),
      );
      // D's round in flight at the release may have read C's rows before it (a round may take up to
      // its request timeout); the round after it takes over: within a renewal interval plus a round.
      expect(handover).toBeLessThanOrEqual(d.timing.renewEveryMs + d.timing.requestTimeoutMs);
      expect(handover).toBeLessThan(LEASE_MS);
      await d.stop();
      storeB.hang = false;
      await b.stop();
      console.log(
        `lease failover (ms, lease ${LEASE_MS}): join handover ${Math.round(handover0)}; lost MySQL ${failover1.map(Math.round).join('/')}; hung MySQL ${failover2.map(Math.round).join('/')}; clean release ${Math.round(handover)}`,
      );
    } finally {
      samples.stop();
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

/** When `holder` first acquired `tenant` after `since`. */
function acquiredAt(log: Recorded[], holder: string, tenant: string, since = 0): number {
  const r = log.find((x) => x.at >= since && x.tenant === tenant && x.event.type === 'lease.acquired' && x.event.holder === holder);
  if (!r) throw new Error(`${holder} never acquired ${tenant}`);
  return r.at;
}

/** When `holder` first lost `tenant` after `since`. */
function lostAt(log: Recorded[], holder: string, tenant: string, since = 0): number {
  const r = log.find((x) => x.at >= since && x.tenant === tenant && x.event.type === 'lease.lost' && x.event.holder === holder);
  if (!r) throw new Error(`${holder} never reported losing ${tenant}`);
  return r.at;
}

describe('one process on SQLite', () => {
  it('keeps no lease: it acts for every tenant, and the status says so', async () => {
    const { sim } = await observedSimulator();
    const h = await startSparkOrchestrator({ tenants: [sparkTenant(sim)], pollSeconds: 0.2 });
    try {
      expect(h.t.orchestrator.leases).toBeUndefined();
      await waitFor(() => sim.activeDrivers().length === 1, 'the driver');
      expect((await h.monitor()).status).toBe(200);
      expect((await h.status()).lease).toEqual({ mode: 'single-process', isThisProcess: true });
    } finally {
      await h.stop();
      await sim.stop();
    }
  });
});
