/**
 * Many replicas sharing many tenants (SPEC §4.5), for the balance tests
 * (test/integration/balance.test.ts) and the `replicas` benchmark (bench/replicas.bench.ts):
 *
 *  - tenants whose drivers can be told apart on the master although they all run the same main
 *    class (as the tenants of one Logwise deployment do): each passes its own Kafka host, so a
 *    driver's `kafka.cluster.dns=kafka-<tenant>.internal` argument names its tenant, and the
 *    replicas can only own a driver by the submission id recorded in MySQL;
 *  - `DriverLedger`: the master simulator (in the caller's process, over real HTTP) with a ledger
 *    of what was done to each tenant's drivers: accepted creates, kill requests, and the most
 *    alive (SUBMITTED or RUNNING) drivers of a tenant seen at any request the master served and
 *    every `watchEveryMs` in between;
 *  - the leases as MySQL has them (`tenant_leases`, on the database clock; the truth, whatever a
 *    replica believes), counted per holder, and which replica process a holder is;
 *  - the share each of N replicas must hold of T tenants: ⌊T/N⌋ or ⌈T/N⌉.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config/schema.js';
import type { Db } from '../../src/db/knex.js';
import { LeaseRepository } from '../../src/db/leases.js';
import { SparkMasterSimulator, type MasterSimulatorOptions } from '../spark-sim/master-simulator.js';
import { tenantHocon } from './daemon-config.js';
import { JAR, MAIN_CLASS } from './spark.js';

// ---------------------------------------------------------------- tenants

/** The Kafka host a tenant's driver is submitted with: it names the tenant on the master. */
export function kafkaHostOf(tenant: string): string {
  return `kafka-${tenant}.internal`;
}

const KAFKA_ARG = /^kafka\.cluster\.dns=kafka-(.+)\.internal$/;

/** The tenant a driver (or a create request) runs for, from its app arguments. */
export function tenantOfAppArgs(appArgs: unknown): string | undefined {
  if (!Array.isArray(appArgs)) return undefined;
  for (const a of appArgs) {
    const m = typeof a === 'string' ? KAFKA_ARG.exec(a) : null;
    if (m) return m[1];
  }
  return undefined;
}

/**
 * A tenant's HOCON block on the simulator: a local object store of its own under `storesDir`
 * (created, empty: discovery finds nothing and fails nothing), its own Kafka host, and the main
 * class all tenants share (default) unless `mainClass` says otherwise.
 */
export function replicaTenantHocon(opts: { name: string; sim: SparkMasterSimulator; storesDir: string; mainClass?: string }): string {
  const store = join(opts.storesDir, opts.name);
  mkdirSync(store, { recursive: true });
  return tenantHocon({
    name: opts.name,
    store: `objectStore.local.path = "${store}"`,
    kafka: `kafka { kafkaBrokersHost = "${kafkaHostOf(opts.name)}" }`,
    masters: [opts.sim],
    jar: JAR,
    mainClass: opts.mainClass ?? MAIN_CLASS,
  });
}

/** The daemon's `database { }` block for a MariaDB database. */
export function mysqlHocon(db: Pick<DatabaseConfig, 'host' | 'port' | 'user' | 'password' | 'database'> & { poolMax?: number }): string {
  return `database { client = mysql, host = "${db.host}", port = ${db.port}, user = "${db.user}", password = "${db.password}", database = "${db.database}"${db.poolMax ? `, poolMax = ${db.poolMax}` : ''} }`;
}

// ---------------------------------------------------------------- the master and its ledger

export interface LedgerSummary {
  /** Creates the master accepted (a driver was started), all tenants. */
  creates: number;
  /** Kill requests that reached the master, all tenants. */
  kills: number;
  /** Tenants with more than one accepted create: submitted again (a second actor, or a resubmission). */
  resubmitted: string[];
  /** Tenants with no accepted create at all. */
  neverSubmitted: string[];
  /** Tenants a kill was asked for. */
  killed: string[];
  /** Tenants that had two alive drivers at once at some observation. */
  twoAlive: string[];
  /** Tenants without exactly one alive driver now. */
  notOneAliveNow: string[];
}

/**
 * The Spark master simulator, with what was done to each tenant's drivers. The tenants are those
 * named by their drivers' Kafka argument (`replicaTenantHocon`).
 */
export class DriverLedger {
  /** Accepted creates per tenant. */
  readonly creates = new Map<string, number>();
  /** Kill requests per tenant (that reached the master). */
  readonly kills = new Map<string, number>();
  /** The most alive drivers of a tenant seen at once. */
  readonly maxAlive = new Map<string, number>();
  /** Every moment two drivers of a tenant were alive (the first 100 are kept; `violationCount` counts them all). */
  readonly violations: string[] = [];
  violationCount = 0;
  private readonly idTenant = new Map<string, string>();
  private killCursor = 0;
  private watch: NodeJS.Timeout | undefined;
  private readonly sim: SparkMasterSimulator;

  private constructor(
    readonly tenants: readonly string[],
    opts: MasterSimulatorOptions,
  ) {
    this.sim = new SparkMasterSimulator({
      ...opts,
      onRequest: (request, create) => {
        opts.onRequest?.(request, create);
        if (create?.submissionId !== undefined) {
          const tenant = tenantOfAppArgs((create.body as { appArgs?: unknown } | undefined)?.appArgs) ?? '?';
          this.idTenant.set(create.submissionId, tenant);
          this.creates.set(tenant, (this.creates.get(tenant) ?? 0) + 1);
        }
        this.readKills();
        this.observe();
      },
    });
  }

  /** Starts the simulator; watches the alive drivers every `watchEveryMs` too (default 5 ms). */
  static async start(tenants: readonly string[], opts: MasterSimulatorOptions & { watchEveryMs?: number } = {}): Promise<DriverLedger> {
    const { watchEveryMs = 5, ...simOpts } = opts;
    const ledger = new DriverLedger(tenants, simOpts);
    await ledger.sim.start();
    ledger.watch = setInterval(() => ledger.observe(), watchEveryMs);
    ledger.watch.unref?.();
    return ledger;
  }

  get master(): SparkMasterSimulator {
    return this.sim;
  }

  /** Alive (SUBMITTED or RUNNING) drivers per tenant now. */
  aliveNow(): Map<string, number> {
    const alive = new Map<string, number>();
    for (const d of this.sim.activeDrivers()) {
      if (d.state !== 'SUBMITTED' && d.state !== 'RUNNING') continue;
      const t = tenantOfAppArgs(d.appArgs) ?? '?';
      alive.set(t, (alive.get(t) ?? 0) + 1);
    }
    return alive;
  }

  /** Tenants with a RUNNING driver now. */
  runningTenants(): Set<string> {
    const out = new Set<string>();
    for (const d of this.sim.activeDrivers()) if (d.state === 'RUNNING') out.add(tenantOfAppArgs(d.appArgs) ?? '?');
    return out;
  }

  observe(): void {
    for (const [t, n] of this.aliveNow()) {
      if (n > (this.maxAlive.get(t) ?? 0)) this.maxAlive.set(t, n);
      if (n > 1) {
        this.violationCount++;
        if (this.violations.length < 100) this.violations.push(`${new Date().toISOString()} ${t}: ${n} alive drivers`);
      }
    }
  }

  summary(): LedgerSummary {
    this.readKills();
    this.observe();
    const alive = this.aliveNow();
    const count = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    return {
      creates: count(this.creates),
      kills: count(this.kills),
      resubmitted: this.tenants.filter((t) => (this.creates.get(t) ?? 0) > 1),
      neverSubmitted: this.tenants.filter((t) => (this.creates.get(t) ?? 0) === 0),
      killed: this.tenants.filter((t) => (this.kills.get(t) ?? 0) > 0),
      twoAlive: this.tenants.filter((t) => (this.maxAlive.get(t) ?? 0) > 1),
      notOneAliveNow: this.tenants.filter((t) => alive.get(t) !== 1),
    };
  }

  async stop(): Promise<void> {
    clearInterval(this.watch);
    await this.sim.stop();
  }

  private readKills(): void {
    while (this.killCursor < this.sim.killRequests.length) {
      const k = this.sim.killRequests[this.killCursor++]!;
      const tenant = this.idTenant.get(k.id) ?? '?';
      this.kills.set(tenant, (this.kills.get(tenant) ?? 0) + 1);
    }
  }
}

// ---------------------------------------------------------------- leases as MySQL has them

export interface LeaseRowNow {
  tenant: string;
  holder: string;
  expiresAt: number;
  token: number;
  acquiredAt: number;
}

export interface LeaseSnapshot {
  /** The database clock (ms) of the read. */
  dbNow: number;
  rows: LeaseRowNow[];
  /** Live leases (expiresAt > dbNow) per holder. */
  byHolder: Map<string, number>;
  /** Tenants whose lease is live, and who holds it. */
  liveHolder: Map<string, string>;
}

/** One repository per connection pool (it listens to the pool's queries: one listener, not one per read). */
const repositories = new WeakMap<Db, LeaseRepository>();
function repositoryOf(db: Db): LeaseRepository {
  let repo = repositories.get(db);
  if (!repo) repositories.set(db, (repo = new LeaseRepository(db)));
  return repo;
}

/** Every `tenant_leases` row and the database clock, in one statement. */
export async function leaseSnapshot(db: Db): Promise<LeaseSnapshot> {
  const repo = repositoryOf(db);
  const now = repo.nowSql;
  const raw = (await db.raw(`SELECT tenant, holder, expiresAt, token, acquiredAt, ${now} AS dbNow FROM tenant_leases`)) as unknown;
  // mysql2 answers [rows, fields]; SQLite answers the rows.
  const found = (Array.isArray(raw) && Array.isArray(raw[0]) ? raw[0] : raw) as Record<string, unknown>[];
  let dbNow = found.length > 0 ? Number(found[0]!.dbNow) : await repo.dbNow();
  if (!Number.isFinite(dbNow)) dbNow = await repo.dbNow();
  const rows = found.map((r) => ({
    tenant: String(r.tenant),
    holder: String(r.holder),
    expiresAt: Number(r.expiresAt),
    token: Number(r.token),
    acquiredAt: Number(r.acquiredAt),
  }));
  const byHolder = new Map<string, number>();
  const liveHolder = new Map<string, string>();
  for (const r of rows) {
    if (r.expiresAt <= dbNow || r.holder === '') continue;
    byHolder.set(r.holder, (byHolder.get(r.holder) ?? 0) + 1);
    liveHolder.set(r.tenant, r.holder);
  }
  return { dbNow, rows, byHolder, liveHolder };
}

/** The pid in a holder id (`host:pid:random`), or undefined. */
export function pidOfHolder(holder: string): number | undefined {
  const m = /:(\d+):[^:]*$/.exec(holder);
  return m ? Number(m[1]) : undefined;
}

/** Live leases held by each of `pids` (0 for one that holds none), in the order given. */
export function leasesOfPids(snapshot: LeaseSnapshot, pids: readonly number[]): number[] {
  const counts = pids.map(() => 0);
  for (const [holder, n] of snapshot.byHolder) {
    const i = pids.indexOf(pidOfHolder(holder) ?? -1);
    if (i >= 0) counts[i]! += n;
  }
  return counts;
}

/** Live leases whose holder is none of `pids` (a dead replica's, not run out yet; or another process's). */
export function leasesOfOthers(snapshot: LeaseSnapshot, pids: readonly number[]): number {
  let n = 0;
  for (const [holder, c] of snapshot.byHolder) if (!pids.includes(pidOfHolder(holder) ?? -1)) n += c;
  return n;
}

/** The share each of `replicas` live replicas holds of `tenants`: ⌊T/N⌋ or ⌈T/N⌉. */
export function shareOf(tenants: number, replicas: number): { min: number; max: number } {
  return { min: Math.floor(tenants / replicas), max: Math.ceil(tenants / replicas) };
}

/** Every tenant's lease is held by one of `pids`, each of which holds ⌊T/N⌋ or ⌈T/N⌉. */
export function isBalanced(snapshot: LeaseSnapshot, pids: readonly number[], tenants: number): boolean {
  const counts = leasesOfPids(snapshot, pids);
  const { min, max } = shareOf(tenants, pids.length);
  return counts.reduce((a, b) => a + b, 0) === tenants && counts.every((c) => c >= min && c <= max);
}
