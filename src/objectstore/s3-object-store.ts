import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import {
  MAX_DELETE_BATCH,
  ObjectStoreError,
  type DeleteKeyError,
  type DeleteResult,
  type ObjectStore,
  type ObjectStoreOperation,
  type ObjectStoreStats,
} from './object-store.js';
import { mapLimit } from '../common/concurrency.js';
import { watchAbort } from './abort-watch.js';
import { classifyS3Error } from './s3-errors.js';
import { S3ListRequester, type ListObjectsV2Request } from './s3-list-request.js';
import type { ListObjectsV2Page } from './s3-list-xml.js';

export { classifyS3Error } from './s3-errors.js';

/** The `objectStore.aws` block of a tenant. */
export interface S3ObjectStoreConfig {
  region: string;
  bucket: string;
  /** An S3-compatible endpoint (Ceph RGW, MinIO, a VPC endpoint); path-style addressing is then used. */
  endpointOverride?: string | undefined;
  /** A role to assume (cross-account access) with the base credentials. */
  roleArn?: string | undefined;
}

export interface RetryOptions {
  /** Attempts per request, the first included (default 5; 1 = no retry). */
  maxAttempts?: number;
  /** Backoff before the first retry, doubled for each further one, ±50 % jitter (default 200 ms; throttling waits twice as long). */
  baseDelayMs?: number;
  /** Cap of one backoff (default 10 s). */
  maxDelayMs?: number;
}

export interface S3ObjectStoreOptions {
  /** Explicit credentials; without them the SDK's default provider chain is used (env, profile, web identity, ECS/EC2 metadata). */
  credentials?: S3ClientConfig['credentials'];
  retry?: RetryOptions;
  /** DeleteObjects batches in flight at once (default 4). */
  deleteConcurrency?: number;
  /** TCP connect timeout (default 5 s). */
  connectionTimeoutMs?: number;
  /** Whole-request timeout (default 60 s). */
  requestTimeoutMs?: number;
  /** Session name when assuming `roleArn` (default "logwise-orchestrator"). */
  roleSessionName?: string;
  /**
   * How ListObjectsV2 is sent: `lean` (default) signs and sends it itself with the client's
   * credentials and endpoint (`s3-list-request.ts`), `sdk` through the SDK's command stack.
   */
  listing?: 'lean' | 'sdk';
}

const DEFAULT_RETRY: Required<RetryOptions> = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 10_000 };

/** `request`, or a rejection as soon as `signal` aborts (the request's own outcome is then ignored). */
function untilAborted<T>(request: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return request;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const unwatch = watchAbort(signal, reject);
    request.then(resolve, reject).finally(unwatch);
  });
}

/** `endpointOverride` without user info, query or fragment (it must never leak credentials into messages). */
function safeEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(unparsable endpoint)';
  }
}

/**
 * Whether `roleArn` is assumed for this store. A role is assumed through STS: AWS's, whose
 * credentials only AWS S3 takes (no endpointOverride, or one on amazonaws.com such as a VPC
 * endpoint), or the one `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL` names. An S3-compatible
 * server (Ceph, MinIO, localstack) without such an STS is reached with the default
 * credentials: the Java orchestrator's configs name a roleArn beside an `endpointOverride`
 * meant for such servers, and its newer version never assumed it.
 */
export function assumesRole(cfg: Pick<S3ObjectStoreConfig, 'roleArn' | 'endpointOverride'>, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!cfg.roleArn) return false;
  if (!cfg.endpointOverride || env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL) return true;
  try {
    return /(^|\.)amazonaws\.com(\.cn)?$/i.test(new URL(cfg.endpointOverride).hostname);
  } catch {
    return true;
  }
}

/**
 * ObjectStore over S3 (AWS, or an S3-compatible server via `endpointOverride`).
 *
 * Every request is sent with the SDK's own retry switched off and retried here instead, so that
 * each re-send is counted in `stats.retries` and each ListObjectsV2 page in `stats.listCalls`:
 * throttling (SlowDown, 429, `$retryable`), 5xx and network errors are retried with exponential
 * backoff and jitter, up to `retry.maxAttempts` attempts; anything else fails at once.
 * ListObjectsV2, ten thousand of which make a large discovery sync, skips the SDK's command
 * stack (`s3-list-request.ts`: the client's credentials and endpoint, SigV4, Node's HTTP client); the other
 * requests go through the SDK.
 */
export class S3ObjectStore implements ObjectStore {
  readonly stats: ObjectStoreStats = { listCalls: 0, deleteCalls: 0, retries: 0 };
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly retry: Required<RetryOptions>;
  private readonly deleteConcurrency: number;
  private readonly label: string;
  private readonly timeouts: { connectionTimeoutMs: number; requestTimeoutMs: number };
  /** The lean ListObjectsV2 path, resolved at the first listing; undefined: the SDK's (configured, or an endpoint that needs more than SigV4). */
  private lister: Promise<S3ListRequester | undefined> | undefined;
  private closed = false;

  constructor(cfg: S3ObjectStoreConfig, opts: S3ObjectStoreOptions = {}) {
    this.bucket = cfg.bucket;
    this.retry = {
      maxAttempts: Math.max(1, Math.floor(opts.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts)),
      baseDelayMs: Math.max(0, opts.retry?.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs),
      maxDelayMs: Math.max(0, opts.retry?.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs),
    };
    this.deleteConcurrency = Math.max(1, Math.floor(opts.deleteConcurrency ?? 4));
    this.timeouts = { connectionTimeoutMs: opts.connectionTimeoutMs ?? 5_000, requestTimeoutMs: opts.requestTimeoutMs ?? 60_000 };
    if (opts.listing === 'sdk') this.lister = Promise.resolve(undefined);
    this.label = cfg.endpointOverride ? `s3://${cfg.bucket} (${safeEndpoint(cfg.endpointOverride)})` : `s3://${cfg.bucket}`;

    let credentials = opts.credentials;
    if (cfg.roleArn && assumesRole(cfg)) {
      credentials = fromTemporaryCredentials({
        params: { RoleArn: cfg.roleArn, RoleSessionName: opts.roleSessionName ?? 'logwise-orchestrator' },
        // Without explicit base credentials the provider uses the default chain.
        ...(opts.credentials !== undefined ? { masterCredentials: opts.credentials } : {}),
        clientConfig: { region: cfg.region },
      });
    }

    this.client = new S3Client({
      region: cfg.region,
      ...(cfg.endpointOverride ? { endpoint: cfg.endpointOverride, forcePathStyle: true } : {}),
      ...(credentials !== undefined ? { credentials } : {}),
      // Retries are ours (counted, bounded, abortable); the SDK sends each request once.
      maxAttempts: 1,
      // The middleware stack is resolved once per command kind instead of on every send: the
      // largest per-request cost of the SDK (a discovery sync sends ten thousand listings). It
      // applies to sends without per-call options, so abort signals are handled here (`send`).
      cacheMiddleware: true,
      // Ceph RGW rejects the SDK's default CRC checksums on some bodies.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: this.timeouts.connectionTimeoutMs,
        requestTimeout: this.timeouts.requestTimeoutMs,
        throwOnRequestTimeout: true,
      },
    });
  }

  describe(): string {
    return this.label;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
    void this.lister?.then((lister) => lister?.close());
  }

  async listPrefixes(prefix: string, signal?: AbortSignal): Promise<string[]> {
    const seen = new Set<string>();
    await this.paginate('listPrefixes', prefix, '/', signal, (page) => {
      for (const p of page.prefixes) seen.add(p);
    });
    return [...seen];
  }

  async listKeys(prefix: string, signal?: AbortSignal): Promise<string[]> {
    const seen = new Set<string>();
    await this.paginate('listKeys', prefix, undefined, signal, (page) => {
      for (const key of page.keys) seen.add(key);
    });
    return [...seen];
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.send('ping', '', signal, () => {
      this.stats.listCalls++;
      return this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1 }));
    });
  }

  async deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<DeleteResult> {
    const errors: DeleteKeyError[] = [];
    const unique: string[] = [];
    const seen = new Set<string>();
    for (const key of keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      if (key === '') errors.push({ key, code: 'InvalidKey', message: 'an object key must not be empty' });
      else unique.push(key);
    }
    const batches: string[][] = [];
    for (let i = 0; i < unique.length; i += MAX_DELETE_BATCH) batches.push(unique.slice(i, i + MAX_DELETE_BATCH));

    let deleted = 0;
    try {
      await mapLimit(batches, this.deleteConcurrency, async (batch) => {
        const what = batch.length === 1 ? (batch[0] as string) : `${batch[0]} … (${batch.length} keys)`;
        const res = await this.send('deleteKeys', what, signal, () => {
          this.stats.deleteCalls++;
          return this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
        });
        const failed = res.Errors ?? [];
        for (const err of failed) {
          errors.push({ key: err.Key ?? '', code: err.Code ?? 'Unknown', message: err.Message ?? err.Code ?? 'delete failed' });
        }
        deleted += batch.length - failed.length;
      });
    } catch (error) {
      if (error instanceof ObjectStoreError) {
        throw new ObjectStoreError({
          operation: 'deleteKeys',
          store: this.label,
          ...(error.prefix !== undefined ? { prefix: error.prefix } : {}),
          code: error.code,
          retryable: error.retryable,
          detail: `${error.detail} (${deleted} of ${unique.length} keys were deleted before the failure)`,
          ...(error.status !== undefined ? { status: error.status } : {}),
          attempts: error.attempts,
          cause: error.cause,
        });
      }
      throw error;
    }
    return { deleted, errors };
  }

  private async paginate(
    operation: ObjectStoreOperation,
    prefix: string,
    delimiter: string | undefined,
    signal: AbortSignal | undefined,
    onPage: (page: ListObjectsV2Page) => void,
  ): Promise<void> {
    let token: string | undefined;
    const tokens = new Set<string>();
    do {
      const continuationToken = token;
      const page = await this.send(operation, prefix, signal, () => {
        this.stats.listCalls++;
        return this.listPage({ prefix, delimiter, continuationToken }, signal);
      });
      onPage(page);
      token = undefined;
      if (page.isTruncated) {
        const next = page.nextContinuationToken;
        // A truncated page without a (new) token would either stop early or loop for ever.
        if (!next || tokens.has(next)) {
          throw new ObjectStoreError({
            operation,
            store: this.label,
            prefix,
            code: 'InvalidPagination',
            retryable: true,
            detail: next
              ? 'the store returned a continuation token it had already returned'
              : 'the store returned a truncated page without a continuation token',
          });
        }
        tokens.add(next);
        token = next;
      }
    } while (token !== undefined);
  }

  /** One ListObjectsV2 page, by the lean path when the endpoint allows it, else by the SDK. */
  private async listPage(req: ListObjectsV2Request, signal: AbortSignal | undefined): Promise<ListObjectsV2Page> {
    // An endpoint that cannot be resolved here fails the same way in the SDK, which says why.
    this.lister ??= S3ListRequester.forClient(this.client, this.bucket, this.timeouts).catch(() => undefined);
    const lister = await this.lister;
    if (lister) return lister.list(req, signal);
    const page = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        ...(req.prefix !== '' ? { Prefix: req.prefix } : {}),
        ...(req.delimiter !== undefined ? { Delimiter: req.delimiter } : {}),
        ...(req.continuationToken !== undefined ? { ContinuationToken: req.continuationToken } : {}),
      }),
    );
    return {
      prefixes: (page.CommonPrefixes ?? []).flatMap((cp) => (cp.Prefix !== undefined ? [cp.Prefix] : [])),
      keys: (page.Contents ?? []).flatMap((o) => (o.Key !== undefined ? [o.Key] : [])),
      isTruncated: page.IsTruncated === true,
      nextContinuationToken: page.NextContinuationToken,
      keyCount: page.KeyCount,
    };
  }

  /**
   * One request with bounded, counted retries. `fn` is called once per attempt. An abort
   * answers at once; the request itself is left to finish (or time out) on its own, since the
   * SDK reuses its cached middleware only for sends without per-call options.
   */
  private async send<T>(operation: ObjectStoreOperation, prefix: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) {
        throw new ObjectStoreError({ operation, store: this.label, prefix, code: 'Closed', retryable: false, detail: 'the object store has been closed' });
      }
      if (signal?.aborted) throw this.abortError(operation, prefix, signal, attempt - 1);
      try {
        return await untilAborted(fn(), signal);
      } catch (error) {
        if (signal?.aborted) throw this.abortError(operation, prefix, signal, attempt);
        const c = classifyS3Error(error);
        if (!c.retryable || attempt >= this.retry.maxAttempts || this.closed) {
          throw new ObjectStoreError({
            operation,
            store: this.label,
            prefix,
            code: c.code,
            retryable: c.retryable,
            detail: c.detail,
            ...(c.status !== undefined ? { status: c.status } : {}),
            attempts: attempt,
            cause: error,
          });
        }
        this.stats.retries++;
        try {
          await sleep(this.backoffMs(attempt, c.throttling), undefined, signal ? { signal } : {});
        } catch {
          throw this.abortError(operation, prefix, signal, attempt);
        }
      }
    }
  }

  private backoffMs(attempt: number, throttling: boolean): number {
    const base = this.retry.baseDelayMs * (throttling ? 2 : 1);
    const ceiling = Math.min(this.retry.maxDelayMs, base * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private abortError(operation: ObjectStoreOperation, prefix: string, signal: AbortSignal | undefined, attempts: number): ObjectStoreError {
    return new ObjectStoreError({
      operation,
      store: this.label,
      prefix,
      code: 'AbortError',
      retryable: false,
      detail: 'the operation was aborted',
      attempts: Math.max(1, attempts),
      cause: signal?.reason,
    });
  }
}
