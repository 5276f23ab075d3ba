/**
 * What each configured tenant uses besides its loop: its config block, its object store, its
 * partition layout and the client of its Spark master(s). Clients are shared by the tenants
 * that name the same master set and closed when the last of them goes (a reload that removes
 * or moves tenants); a tenant's store is closed when it is removed or replaced.
 */
import type { TenantConfig } from './config/schema.js';
import { createObjectStore, type ObjectStore } from './objectstore/index.js';
import { SparkMasterClient } from './spark/master-client.js';
import { PartitionLayout } from '../streams/partition-layout.js';

interface TenantEntry {
  config: TenantConfig;
  store: ObjectStore;
  layout: PartitionLayout;
  clientKey: string;
}

interface SharedClient {
  client: SparkMasterClient;
  users: number;
}

export class TenantResources {
  private readonly entries = new Map<string, TenantEntry>();
  /** Spark master clients by master set (hosts + ports), with how many tenants use each. */
  private readonly clients = new Map<string, SharedClient>();

  /** `stateMaxAgeMs`: how long a shared master read is answered again (from the running loop timings). */
  constructor(private readonly opts: { stateMaxAgeMs: number }) {}

  /** Builds what `tenant` needs; a tenant of that name already here has its resources replaced (closed). */
  async set(tenant: TenantConfig): Promise<void> {
    const key = masterSetKey(tenant);
    let shared = this.clients.get(key);
    if (!shared) {
      const { sparkMasterHost, sparkMasterWebUiPort, sparkMasterRestPort } = tenant.spark;
      shared = {
        client: new SparkMasterClient({
          hosts: [...sparkMasterHost],
          webUiPort: sparkMasterWebUiPort,
          restPort: sparkMasterRestPort,
          stateMaxAgeMs: this.opts.stateMaxAgeMs,
        }),
        users: 0,
      };
      this.clients.set(key, shared);
    }
    // Taken before the old one is let go: a tenant that keeps its masters keeps their client.
    shared.users += 1;
    const old = this.entries.get(tenant.name);
    const store = createObjectStore(tenant.objectStore);
    this.entries.set(tenant.name, { config: tenant, store, layout: new PartitionLayout(tenant, store), clientKey: key });
    if (old) await this.release(old);
  }

  /** Closes what the tenant used (its loop has stopped); its master client too when no other tenant uses it. */
  async delete(tenant: string): Promise<void> {
    const entry = this.entries.get(tenant);
    if (!entry) return;
    this.entries.delete(tenant);
    await this.release(entry);
  }

  has(tenant: string): boolean {
    return this.entries.has(tenant);
  }

  config(tenant: string): TenantConfig {
    return this.entry(tenant).config;
  }

  store(tenant: string): ObjectStore {
    return this.entry(tenant).store;
  }

  layout(tenant: string): PartitionLayout {
    return this.entry(tenant).layout;
  }

  sparkClient(tenant: string): SparkMasterClient {
    return this.clients.get(this.entry(tenant).clientKey)!.client;
  }

  /** Master clients open now (one per distinct master set in use). */
  get clientCount(): number {
    return this.clients.size;
  }

  async closeAll(): Promise<void> {
    for (const entry of this.entries.values()) entry.store.close();
    this.entries.clear();
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((c) => c.client.close()));
  }

  private entry(tenant: string): TenantEntry {
    const entry = this.entries.get(tenant);
    if (!entry) throw new Error(`no resources for tenant "${tenant}"`);
    return entry;
  }

  private async release(entry: TenantEntry): Promise<void> {
    entry.store.close();
    const shared = this.clients.get(entry.clientKey);
    if (!shared) return;
    shared.users -= 1;
    if (shared.users > 0) return;
    this.clients.delete(entry.clientKey);
    await shared.client.close();
  }
}

/** One client per master set: the same hosts (in any order and case) on the same ports. */
export function masterSetKey(tenant: TenantConfig): string {
  const { sparkMasterHost, sparkMasterWebUiPort, sparkMasterRestPort } = tenant.spark;
  return JSON.stringify([[...sparkMasterHost].map((h) => h.trim().toLowerCase()).sort(), sparkMasterWebUiPort, sparkMasterRestPort]);
}
