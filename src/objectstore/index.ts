import type { TenantConfig } from '../config/schema.js';
import { LocalObjectStore, type LocalObjectStoreOptions } from './local-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js';

export * from './object-store.js';
export * from './s3-object-store.js';
export * from './local-object-store.js';

export type CreateObjectStoreOptions = S3ObjectStoreOptions & LocalObjectStoreOptions;

/** Builds the adapter a tenant's `objectStore` block names (exactly one of `aws` or `local`, as the schema checks). */
export function createObjectStore(cfg: TenantConfig['objectStore'], opts: CreateObjectStoreOptions = {}): ObjectStore {
  if (cfg.aws && cfg.local) throw new Error('objectStore: set exactly one of objectStore.aws or objectStore.local');
  if (cfg.aws) {
    const { credentials, retry, deleteConcurrency, connectionTimeoutMs, requestTimeoutMs, roleSessionName } = opts;
    return new S3ObjectStore(cfg.aws, {
      ...(credentials !== undefined ? { credentials } : {}),
      ...(retry !== undefined ? { retry } : {}),
      ...(deleteConcurrency !== undefined ? { deleteConcurrency } : {}),
      ...(connectionTimeoutMs !== undefined ? { connectionTimeoutMs } : {}),
      ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}),
      ...(roleSessionName !== undefined ? { roleSessionName } : {}),
    });
  }
  if (cfg.local) return new LocalObjectStore(cfg.local, opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {});
  throw new Error('objectStore: set exactly one of objectStore.aws or objectStore.local');
}
