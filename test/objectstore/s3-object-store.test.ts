/**
 * S3ObjectStore against the real S3 server of the tests (Ceph RGW, `bash test/services.sh up`).
 * The SDK is never mocked. Fails (never skips) when the server is missing: beforeAll creates
 * the bucket through test/support/s3.ts, which throws naming the endpoint and the start command.
 */
import { createServer } from 'node:net';
import { DeleteBucketPolicyCommand, PutBucketPolicyCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { createObjectStore } from '../../src/objectstore/index.js';
import { ObjectStoreError, compareUtf8 } from '../../src/objectstore/object-store.js';
import { S3ObjectStore, classifyS3Error, type S3ObjectStoreOptions } from '../../src/objectstore/s3-object-store.js';
import {
  createTestBucket,
  emptyAndDeleteBucket,
  putObjects,
  s3TestAccessKeyId,
  s3TestEndpoint,
  s3TestRegion,
  s3TestSecretAccessKey,
  testS3Client,
} from '../support/s3.js';

const credentials = { accessKeyId: s3TestAccessKeyId, secretAccessKey: s3TestSecretAccessKey };

function storeFor(bucket: string, opts: S3ObjectStoreOptions = {}, endpoint = s3TestEndpoint): S3ObjectStore {
  return new S3ObjectStore({ region: s3TestRegion, bucket, endpointOverride: endpoint }, { credentials, ...opts });
}

async function rejection(p: Promise<unknown>): Promise<ObjectStoreError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ObjectStoreError);
  return error as ObjectStoreError;
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('S3ObjectStore against Ceph RGW', () => {
  const client: S3Client = testS3Client();
  const buckets: string[] = [];
  let shared: Promise<string> | undefined;
  /**
   * The bucket of this file, created on first use. Every test awaits it (rather than a
   * beforeAll creating it), so that with the server missing each test fails on its own.
   */
  const sharedBucket = (): Promise<string> => {
    shared ??= createTestBucket('lw-objstore').then((b) => {
      buckets.push(b);
      return b;
    });
    return shared;
  };

  afterAll(async () => {
    try {
      for (const b of buckets) await emptyAndDeleteBucket(b, client);
    } finally {
      client.destroy();
    }
  });

  it('lists 2,500 prefixes under one folder completely in exactly 3 ListObjectsV2 calls, and every key across pages', async () => {
    const bucket = await sharedBucket();
    const folders = Array.from({ length: 2500 }, (_, i) => `logs/env=prod/service_name=svc-${String(i).padStart(4, '0')}/`);
    const keys = [...folders.map((f) => `${f}component_name=api/part-0.parquet`), 'logs/env=prod/_SUCCESS'];
    await putObjects(client, bucket, keys, 64);

    const store = storeFor(bucket);
    try {
      const prefixes = await store.listPrefixes('logs/env=prod/');
      expect(prefixes).toHaveLength(2500);
      expect(prefixes).toEqual(folders); // already in S3's (byte) order
      expect(store.stats).toEqual({ listCalls: 3, deleteCalls: 0, retries: 0 });

      const all = await store.listKeys('logs/env=prod/');
      expect(all).toHaveLength(2501);
      expect(all).toEqual([...keys].sort(compareUtf8));
      expect(store.stats.listCalls).toBe(6); // 2,501 keys: 3 more pages

      expect(await store.listPrefixes('logs/')).toEqual(['logs/env=prod/']);
      expect(await store.listPrefixes('')).toEqual(['logs/']);
      expect(await store.listPrefixes('logs/env=none/')).toEqual([]);
      expect(store.stats.listCalls).toBe(9);
    } finally {
      store.close();
    }
  }, 120_000);

  it('deletes 2,100 keys in 3 DeleteObjects calls, after which the listing is empty', async () => {
    const bucket = await sharedBucket();
    const keys = Array.from({ length: 2100 }, (_, i) => `checkpoint/offsets/${i}`);
    await putObjects(client, bucket, [...keys, 'keep/this'], 64);

    const store = storeFor(bucket);
    try {
      const listed = await store.listKeys('checkpoint/');
      expect(listed).toHaveLength(2100);
      const res = await store.deleteKeys(listed);
      expect(res).toEqual({ deleted: 2100, errors: [] });
      expect(store.stats.deleteCalls).toBe(3);
      expect(await store.listKeys('checkpoint/')).toEqual([]);
      const top = await store.listPrefixes('');
      expect(top).toContain('keep/');
      expect(top).not.toContain('checkpoint/');
      expect(await store.deleteKeys([])).toEqual({ deleted: 0, errors: [] });
      expect(store.stats.deleteCalls).toBe(3);
      expect(store.stats.retries).toBe(0);
    } finally {
      store.close();
    }
  }, 120_000);

  it('round-trips keys and prefixes with =, spaces, +, %, &, XML and unicode characters exactly', async () => {
    const bucket = await sharedBucket();
    const services = [
      'a b',
      'a+b',
      'a%20b',
      'pct%2Fslash',
      'a&b=c',
      'q?x#y',
      'xml<&>"\'',
      'semi;colon,comma:at@dollar$bang!star*paren()',
      'tilde~caret^pipe|brace{}bracket[]backtick`',
      'ünïcødé-日本',
      '😀',
      '\uFF21',
    ];
    const keys = services.map((s) => `odd/env=prod/service_name=${s}/part 0+1%.parquet`);
    await putObjects(client, bucket, keys, 8);

    const store = storeFor(bucket);
    try {
      const prefixes = await store.listPrefixes('odd/env=prod/');
      expect(prefixes).toEqual(services.map((s) => `odd/env=prod/service_name=${s}/`).sort(compareUtf8));
      for (const prefix of prefixes) {
        // A listed prefix, passed back as it came, lists its own key.
        expect(await store.listKeys(prefix)).toEqual([`${prefix}part 0+1%.parquet`]);
      }
      expect(await store.listKeys('odd/')).toEqual([...keys].sort(compareUtf8));

      const res = await store.deleteKeys(keys);
      expect(res).toEqual({ deleted: keys.length, errors: [] });
      expect(await store.listKeys('odd/')).toEqual([]);
    } finally {
      store.close();
    }
  }, 60_000);

  it('surfaces per-key DeleteObjects failures (a bucket policy denying s3:DeleteObject on one prefix) without throwing', async () => {
    const own = await createTestBucket('lw-objstore-deny');
    buckets.push(own);
    const keys = ['locked/a', 'locked/b c+d', 'free/a', 'free/b'];
    await putObjects(client, own, keys, 4);
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Sid: 'denyLocked', Effect: 'Deny', Principal: '*', Action: ['s3:DeleteObject'], Resource: [`arn:aws:s3:::${own}/locked/*`] }],
    };
    await client.send(new PutBucketPolicyCommand({ Bucket: own, Policy: JSON.stringify(policy) }));
    const store = storeFor(own);
    try {
      const res = await store.deleteKeys(keys);
      expect(res.deleted).toBe(2);
      expect([...res.errors].sort((a, b) => compareUtf8(a.key, b.key))).toEqual([
        { key: 'locked/a', code: 'AccessDenied', message: expect.any(String) },
        { key: 'locked/b c+d', code: 'AccessDenied', message: expect.any(String) },
      ]);
      expect(store.stats.deleteCalls).toBe(1);
      expect(await store.listKeys('')).toEqual(['locked/a', 'locked/b c+d']);
    } finally {
      store.close();
      await client.send(new DeleteBucketPolicyCommand({ Bucket: own }));
    }
  });

  it('fails with an ObjectStoreError after bounded retries when nothing listens at the endpoint', async () => {
    const port = await closedPort();
    const store = storeFor('some-bucket', { retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 50 } }, `http://127.0.0.1:${port}`);
    const started = Date.now();
    try {
      const err = await rejection(store.listPrefixes('logs/'));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(err.code).toBe('ECONNREFUSED');
      expect(err.retryable).toBe(true);
      expect(err.attempts).toBe(3);
      expect(err.operation).toBe('listPrefixes');
      expect(err.message).toContain('listPrefixes');
      expect(err.message).toContain('"logs/"');
      expect(err.message).toContain(`s3://some-bucket (http://127.0.0.1:${port})`);
      expect(err.message).not.toContain(s3TestSecretAccessKey);
      expect(err.message).not.toContain(s3TestAccessKeyId);
      expect(store.stats).toEqual({ listCalls: 3, deleteCalls: 0, retries: 2 });

      const del = await rejection(store.deleteKeys(['a', 'b']));
      expect(del.code).toBe('ECONNREFUSED');
      expect(del.message).toContain('0 of 2 keys were deleted');
      expect(store.stats.deleteCalls).toBe(3);
      expect(store.stats.retries).toBe(4);
    } finally {
      store.close();
    }
  });

  it('answers an abort at once while a request hangs on a server that never replies', async () => {
    const silent = createServer(() => {}); // accepts the connection, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const store = storeFor('some-bucket', { requestTimeoutMs: 30_000 }, `http://127.0.0.1:${port}`);
    try {
      const abort = new AbortController();
      const pending = rejection(store.listPrefixes('logs/', abort.signal));
      await new Promise((r) => setTimeout(r, 200));
      const abortedAt = Date.now();
      abort.abort();
      const err = await pending;
      expect(Date.now() - abortedAt).toBeLessThan(1_000);
      expect(err.code).toBe('AbortError');
      expect(err.retryable).toBe(false);
      expect(store.stats).toMatchObject({ listCalls: 1, retries: 0 });
    } finally {
      store.close();
      silent.close();
    }
  });

  it('fails at once (no retry) on errors that retrying cannot fix: missing bucket, wrong secret', async () => {
    const bucket = await sharedBucket();
    const missing = storeFor(`lw-objstore-missing-${Date.now()}`);
    const wrongSecret = new S3ObjectStore(
      { region: s3TestRegion, bucket, endpointOverride: s3TestEndpoint },
      { credentials: { accessKeyId: s3TestAccessKeyId, secretAccessKey: 'not-the-secret-0123456789' } },
    );
    try {
      const err = await rejection(missing.ping());
      expect(err.code).toBe('NoSuchBucket');
      expect(err.retryable).toBe(false);
      expect(err.status).toBe(404);
      expect(missing.stats).toEqual({ listCalls: 1, deleteCalls: 0, retries: 0 });

      const denied = await rejection(wrongSecret.listKeys('logs/'));
      expect(denied.code).toBe('SignatureDoesNotMatch');
      expect(denied.retryable).toBe(false);
      expect(denied.message).not.toContain('not-the-secret');
      expect(wrongSecret.stats.retries).toBe(0);
    } finally {
      missing.close();
      wrongSecret.close();
    }
  });

  it('pings, honours an aborted signal, refuses calls after close(), and is what createObjectStore builds for objectStore.aws', async () => {
    const bucket = await sharedBucket();
    const store = createObjectStore({ aws: { region: s3TestRegion, bucket, endpointOverride: s3TestEndpoint } }, { credentials });
    expect(store).toBeInstanceOf(S3ObjectStore);
    expect(store.describe()).toBe(`s3://${bucket} (${s3TestEndpoint})`);
    await store.ping();
    expect(store.stats.listCalls).toBe(1);

    const aborted = await rejection(store.listPrefixes('logs/', AbortSignal.abort()));
    expect(aborted.code).toBe('AbortError');
    expect(aborted.retryable).toBe(false);

    store.close();
    expect((await rejection(store.ping())).code).toBe('Closed');

    const plain = new S3ObjectStore({ region: 'eu-west-1', bucket: 'b' }, { credentials });
    expect(plain.describe()).toBe('s3://b');
    plain.close();
    const withUser = new S3ObjectStore({ region: 'eu-west-1', bucket: 'b', endpointOverride: 'http://user:pass@host:9000/?x=y' }, { credentials });
    expect(withUser.describe()).toBe('s3://b (http://host:9000)');
    withUser.close();
  });
});

describe('classifyS3Error', () => {
  const sdkError = (name: string, status: number, extra: object = {}): unknown =>
    Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status }, ...extra });

  it('retries throttling, 5xx and network errors, and nothing else', () => {
    expect(classifyS3Error(sdkError('SlowDown', 503))).toMatchObject({ code: 'SlowDown', retryable: true, throttling: true });
    expect(classifyS3Error(sdkError('TooManyRequests', 429))).toMatchObject({ retryable: true, throttling: true });
    expect(classifyS3Error(sdkError('Whatever', 400, { $retryable: { throttling: true } }))).toMatchObject({ retryable: true, throttling: true });
    expect(classifyS3Error(sdkError('InternalError', 500))).toMatchObject({ retryable: true, throttling: false });
    expect(classifyS3Error(sdkError('Unknown', 502))).toMatchObject({ retryable: true, status: 502 });
    expect(classifyS3Error(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toMatchObject({
      code: 'ECONNREFUSED',
      retryable: true,
    });
    expect(classifyS3Error(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNRESET' })]))).toMatchObject({ code: 'ECONNRESET', retryable: true });
    expect(classifyS3Error(Object.assign(new Error('timed out'), { name: 'TimeoutError', code: 'ETIMEDOUT' }))).toMatchObject({
      code: 'TimeoutError',
      retryable: true,
    });

    expect(classifyS3Error(sdkError('NoSuchBucket', 404))).toMatchObject({ code: 'NoSuchBucket', retryable: false });
    expect(classifyS3Error(sdkError('AccessDenied', 403))).toMatchObject({ retryable: false });
    expect(classifyS3Error(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toMatchObject({ code: 'AbortError', retryable: false });
  });
});
