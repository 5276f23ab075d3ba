/**
 * The submission records as the tenants of one process see them, with the owner of every driver
 * id this process has read or written remembered. A record never changes owner, so a known
 * owner is answered without a query; "nobody recorded it" is never remembered (a late record
 * may still land). Tenants sharing a main class see each other's drivers on every poll: they
 * learn whose they are once instead of reading their own records again on every poll.
 */
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { MasterState } from '../../src/spark/types.js';
import { masterIndex } from './master-index.js';
import type { SubmissionStore } from './ports.js';

/** The alive drivers of one main class by the tenant that recorded them, as far as known. */
export interface AliveByOwner {
  byOwner: ReadonlyMap<string, readonly string[]>;
  /** Nobody is known to have recorded them: ask `ownersOf` (a late record may still land). */
  unknown: readonly string[];
}

/** Ids remembered before the memory starts over (a few per tenant in a normal life). */
const DEFAULT_CAPACITY = 100_000;

export class DriverOwners implements SubmissionStore {
  private readonly owners = new Map<string, string>();
  /** Grouped once per master read and main class, for all the tenants polling on it; grouped anew after an owner is learned. */
  private grouped = new WeakMap<MasterState, Map<string, AliveByOwner>>();

  constructor(
    private readonly store: SubmissionStore,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {}

  async record(s: SubmissionRecord): Promise<void> {
    await this.store.record(s);
    this.learn(s.submissionId, s.tenant);
  }

  async recent(tenant: string, limit?: number): Promise<SubmissionRecord[]> {
    const rows = await this.store.recent(tenant, limit);
    for (const r of rows) this.learn(r.submissionId, r.tenant);
    return rows;
  }

  /** Known owners from memory, the rest in one query. */
  async ownersOf(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const unknown: string[] = [];
    for (const id of ids) {
      const owner = this.owners.get(id);
      if (owner === undefined) unknown.push(id);
      else out.set(id, owner);
    }
    if (unknown.length === 0) return out;
    for (const [id, owner] of await this.store.ownersOf(unknown)) {
      this.learn(id, owner);
      out.set(id, owner);
    }
    return out;
  }

  aliveByOwner(master: MasterState, mainClass: string): AliveByOwner {
    let byClass = this.grouped.get(master);
    if (!byClass) this.grouped.set(master, (byClass = new Map()));
    const known = byClass.get(mainClass);
    if (known) return known;
    const byOwner = new Map<string, string[]>();
    const unknown: string[] = [];
    for (const d of masterIndex(master).aliveByMainClass.get(mainClass) ?? []) {
      const owner = this.owners.get(d.id);
      if (owner === undefined) unknown.push(d.id);
      else if (byOwner.has(owner)) byOwner.get(owner)!.push(d.id);
      else byOwner.set(owner, [d.id]);
    }
    const grouped = { byOwner, unknown };
    byClass.set(mainClass, grouped);
    return grouped;
  }

  private learn(id: string, tenant: string): void {
    if (this.owners.has(id)) return;
    if (this.owners.size >= this.capacity) this.owners.clear();
    this.owners.set(id, tenant);
    this.grouped = new WeakMap();
  }
}
