/**
 * What readers see of the leases (SPEC §4.5): a tenant's lease view and status (`GET
 * /api/v1/spark/status`), the cluster (`GET /api/v1/cluster`) and the lease events, as projections
 * of the lease keeper's state. No I/O.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ReplicaRow } from '../src/db/leases.js';
import type { EventInput } from './events.js';
import { isHeld, otherExpiresAt, type LeaseEvent, type RoundClock, type TenantLeaseState } from './lease-decision.js';

/** `hostname:pid:random`: unique per process, and readable in the lease table and the status. */
export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** Who acts for a tenant: the lease (MySQL, many replicas) or, on SQLite, always this one process. */
export type TenantLeaseStatus = LeaseStatus | { mode: 'single-process'; isThisProcess: true };

/** What `GET /api/v1/spark/status` shows of a tenant's lease. */
export interface LeaseStatus {
  mode: 'lease';
  /** The replica acting for the tenant by the last read of MySQL (null: none right now). */
  holder: string | null;
  /** This process's holder id. */
  thisProcess: string;
  /** Whether this process acts for the tenant now. */
  isThisProcess: boolean;
  token: number | null;
  /**
   * This process's lease: its local deadline (wall-clock estimate). Another's: when its lease
   * runs out in MySQL unless renewed (estimate from the last read). Null when nobody holds it.
   */
  validUntil: string | null;
  lastError: { at: string; message: string } | null;
}

export interface LeaseView {
  readonly tenant: string;
  /** True while this process holds the tenant's lease and its local deadline has not passed. */
  isHolder(): boolean;
  /** Who holds the lease by the last read (possibly this process); null when nobody's is live. */
  readonly holder: string | null;
  /** Fencing token of the last row read: grows with every new holder term. */
  readonly token: number | null;
  /** Local monotonic deadline (ms, `performance.now()`) of this process's lease; null when not held. */
  readonly validUntil: number | null;
  status(): LeaseStatus;
}

/** A tenant's view, read live from the keeper: its state, whether this process acts now, the last round's deadline, the status. */
export function leaseView(
  tenant: string,
  keeper: { state(): TenantLeaseState; isHolder(): boolean; deadline(): number | null; status(): LeaseStatus },
): LeaseView {
  return {
    tenant,
    isHolder: keeper.isHolder,
    get holder() {
      return keeper.state().holder;
    },
    get token() {
      return keeper.state().token;
    },
    get validUntil() {
      return keeper.isHolder() ? keeper.deadline() : null;
    },
    status: keeper.status,
  };
}

/** A lease decision's event as the tenant's event stream carries it, naming this process as the holder. */
export function leaseEventInput(holder: string, e: LeaseEvent): EventInput {
  if (e.type === 'lease.lost') return { type: 'lease.lost', holder, token: e.token, newHolder: e.newHolder, reason: e.reason };
  return { type: 'lease.acquired', holder, token: e.token, previousHolder: e.previousHolder, takeover: e.takeover, validForMs: Math.round(e.validForMs) };
}

/** `GET /api/v1/cluster`: the replicas that share the tenants, and who acts for each, as of the last round. */
export interface ClusterView {
  /** This replica's id. */
  self: string;
  /** Live replicas (heartbeat within the lease expiry), this one included. */
  replicas: { id: string; host: string; startedAt: string; lastHeartbeatAt: string; tenantsHeld: number }[];
  tenants: { tenant: string; actingReplica: string | null; validUntil: string | null }[];
  /** When the rows were read (wall clock); null before the first round. */
  readAt: string | null;
}

/** The local monotonic clock and the wall clock, read together. */
export interface Clocks {
  now: number;
  wall: number;
}

const wallOf = (local: number, c: Clocks) => new Date(c.wall - (c.now - local)).toISOString();

/** A tenant's lease as `GET /api/v1/spark/status` shows it. */
export function leaseStatus(
  s: TenantLeaseState,
  round: RoundClock | null,
  keeper: { holderId: string; stopped: boolean; lastError: { at: number; message: string } | null },
  c: Clocks,
): LeaseStatus {
  const mine = !keeper.stopped && isHeld(s, round, c.now);
  const until = mine ? round!.validUntil : otherExpiresAt(s, round);
  const validUntil = until === null ? null : wallOf(until, c);
  return {
    mode: 'lease',
    holder: mine ? keeper.holderId : s.holder === keeper.holderId ? null : s.holder,
    thisProcess: keeper.holderId,
    isThisProcess: mine,
    token: s.token,
    validUntil,
    lastError: keeper.lastError ? { at: wallOf(keeper.lastError.at, c), message: keeper.lastError.message } : null,
  };
}

/** The replicas (as the last heartbeat read them) and who acts for each tenant. */
export function clusterView(
  self: string,
  tenants: readonly { tenant: string; status: LeaseStatus }[],
  replicaRows: readonly ReplicaRow[],
  readAt: number | null,
  c: Clocks,
): ClusterView {
  const acting = tenants.map(({ tenant, status }) => ({ tenant, actingReplica: status.isThisProcess ? self : status.holder, validUntil: status.validUntil }));
  const held = new Map<string, number>();
  for (const t of acting) if (t.actingReplica !== null) held.set(t.actingReplica, (held.get(t.actingReplica) ?? 0) + 1);
  // Database times shown as they are: the database clock is the cluster's clock.
  const replicas = replicaRows.map((r) => ({
    id: r.replica,
    host: r.host,
    startedAt: new Date(r.startedAt).toISOString(),
    lastHeartbeatAt: new Date(r.heartbeatAt).toISOString(),
    tenantsHeld: held.get(r.replica) ?? 0,
  }));
  return { self, replicas, tenants: acting, readAt: readAt === null ? null : wallOf(readAt, c) };
}
