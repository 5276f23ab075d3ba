/**
 * The one small interface over object storage that discovery (§4.1), state cleanup (§4.2) and
 * the delay sampler (§4.4) use. Two adapters implement it: S3 (`s3-object-store.ts`, AWS or any
 * S3-compatible server such as Ceph RGW) and a plain directory (`local-object-store.ts`).
 *
 * Keys are S3 keys: '/'-separated, compared and sorted as UTF-8 bytes (the order S3 lists in).
 */

export interface DeleteKeyError {
  key: string;
  code: string;
  message: string;
}

export interface DeleteResult {
  /** Keys the store accepted as deleted (as in S3, a key that did not exist counts as deleted). */
  deleted: number;
  /** Per-key failures, in no particular order. */
  errors: DeleteKeyError[];
}

export interface ObjectStoreStats {
  /** ListObjectsV2 requests sent (one per page, a re-sent page counts again), or directory listings. */
  listCalls: number;
  /** DeleteObjects batches sent (or local delete batches). */
  deleteCalls: number;
  /** Requests re-sent after a retryable failure. */
  retries: number;
}

export interface ObjectStore {
  /** Immediate sub-"folders" under `prefix` (which ends with '/' or is ''), as full prefixes ending in '/', following every page. */
  listPrefixes(prefix: string, signal?: AbortSignal): Promise<string[]>;
  /** Every key under `prefix`, following every page. */
  listKeys(prefix: string, signal?: AbortSignal): Promise<string[]>;
  /** Deletes keys in batches of at most 1,000; per-key failures are returned, not thrown. */
  deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<DeleteResult>;
  /** Cheap reachability check (e.g. one ListObjectsV2 with MaxKeys 1 under the root). */
  ping(signal?: AbortSignal): Promise<void>;
  /** Calls made to the backing store since creation (for metrics and tests): listCalls counts ListObjectsV2 pages (or directory reads), deleteCalls DeleteObjects batches. */
  readonly stats: ObjectStoreStats;
  /** e.g. "s3://bucket" or "local:/abs/path" — never credentials. */
  describe(): string;
  close(): void;
}

/** Most keys one DeleteObjects request may carry (an S3 limit). */
export const MAX_DELETE_BATCH = 1000;

export type ObjectStoreOperation = 'listPrefixes' | 'listKeys' | 'deleteKeys' | 'ping';

export interface ObjectStoreErrorInit {
  /** The interface method that failed. */
  operation: ObjectStoreOperation;
  /** Where the store is, from `describe()` ("s3://bucket", "local:/abs/path"). */
  store: string;
  /** The prefix listed (or, for deleteKeys, a key or a description of the batch). */
  prefix?: string;
  /** The store's error code ("SlowDown", "NoSuchBucket", "ECONNREFUSED", "InvalidKey", …). */
  code: string;
  /** Whether trying again later may succeed (throttling, 5xx, network). */
  retryable: boolean;
  /** What the store said; must not carry credentials. */
  detail: string;
  /** HTTP status, when the store answered. */
  status?: number;
  /** Attempts made (1 + retries). */
  attempts?: number;
  cause?: unknown;
}

/**
 * Every failure of an object-store call. The message names the operation, the store and the
 * prefix; it never contains credentials.
 */
export class ObjectStoreError extends Error {
  override readonly name = 'ObjectStoreError';
  readonly operation: ObjectStoreOperation;
  readonly store: string;
  readonly prefix: string | undefined;
  readonly code: string;
  readonly retryable: boolean;
  /** What the store said (the message without the operation and prefix). */
  readonly detail: string;
  readonly status: number | undefined;
  readonly attempts: number;

  constructor(init: ObjectStoreErrorInit) {
    const where = init.prefix === undefined ? init.store : `${init.store} prefix ${JSON.stringify(init.prefix)}`;
    const tries = init.attempts !== undefined && init.attempts > 1 ? ` after ${init.attempts} attempts` : '';
    super(`object store ${init.operation} failed for ${where}${tries}: ${init.code}: ${init.detail}`, { cause: init.cause });
    this.operation = init.operation;
    this.store = init.store;
    this.prefix = init.prefix;
    this.code = init.code;
    this.retryable = init.retryable;
    this.detail = init.detail;
    this.status = init.status;
    this.attempts = init.attempts ?? 1;
  }
}

/** Orders strings the way S3 lists keys: by their UTF-8 bytes (JS `<` compares UTF-16 units, which differs above U+FFFF). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
