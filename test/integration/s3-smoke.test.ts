/**
 * Smoke test of the real S3 server used by the integration tests (Ceph RGW, started by
 * `bash test/services.sh up`), through @aws-sdk/client-s3 exactly as the service uses it:
 * keys with `=` and URL-special characters, delimiter listings past the 1,000-entry page
 * limit, and DeleteObjects of 1,000 keys. Fails (never skips) when the server is missing.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, emptyAndDeleteBucket, putObjects, testS3Client } from '../support/s3.js';

/** S3 lists keys in UTF-8 binary order. */
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function listAll(
  client: S3Client,
  bucket: string,
  prefix: string,
  delimiter?: string,
): Promise<{ keys: string[]; prefixes: string[]; pages: number; pageSizes: number[] }> {
  const keys: string[] = [];
  const prefixes: string[] = [];
  const pageSizes: number[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token }));
    pages += 1;
    const pageKeys = (page.Contents ?? []).map((o) => o.Key as string);
    const pagePrefixes = (page.CommonPrefixes ?? []).map((p) => p.Prefix as string);
    keys.push(...pageKeys);
    prefixes.push(...pagePrefixes);
    pageSizes.push(pageKeys.length + pagePrefixes.length);
    if (page.IsTruncated) {
      expect(page.NextContinuationToken, 'a truncated page carries NextContinuationToken').toBeTruthy();
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (pages > 100) throw new Error('listing does not end');
  } while (token);
  return { keys, prefixes, pages, pageSizes };
}

describe('S3 test server (Ceph RGW) through @aws-sdk/client-s3', () => {
  let client: S3Client;
  let bucket: string | undefined;

  beforeAll(async () => {
    client = testS3Client();
    bucket = await createTestBucket('lw-s3-smoke');
  });

  afterAll(async () => {
    if (bucket) await emptyAndDeleteBucket(bucket, client);
    client?.destroy();
  });

  it('stores, reads back and lists keys with = and URL-special characters exactly', async () => {
    const b = bucket as string;
    const keys = [
      'logs/env=prod/service_name=a b+c%d&e/x.parquet',
      'logs/env=prod/service_name=a b+c%d&e/part-00001.snappy.parquet',
      'logs/env=prod/service_name=q?x#y/part-0.parquet',
      'logs/env=prod/service_name=pct%2Fslash%20space/x.parquet',
      'logs/env=prod/service_name=xml<&>"\'/x.parquet',
      'logs/env=prod/service_name=semi;colon,comma:at@dollar$bang!star*paren()/x.parquet',
      'logs/env=prod/service_name=tilde~caret^pipe|brace{}bracket[]backtick`/x.parquet',
      'logs/env=prod/service_name=ünïcødé-日本/x.parquet',
      'logs/env=dev/service_name=plain/year=2024/month=01/day=02/hour=03/x.parquet',
    ];
    await putObjects(client, b, keys);

    for (const key of keys) {
      const got = await client.send(new GetObjectCommand({ Bucket: b, Key: key }));
      expect(await got.Body?.transformToString(), key).toBe(key);
      const head = await client.send(new HeadObjectCommand({ Bucket: b, Key: key }));
      expect(head.ContentLength, key).toBe(Buffer.byteLength(key));
    }

    const flat = await listAll(client, b, 'logs/');
    expect(flat.keys).toEqual([...keys].sort(byteOrder));
    expect(flat.prefixes).toEqual([]);

    // The service discovery shape: one CommonPrefix per `service_name=…` folder.
    const services = await listAll(client, b, 'logs/env=prod/', '/');
    const expectedPrefixes = [...new Set(keys.filter((k) => k.startsWith('logs/env=prod/')).map((k) => k.slice(0, k.indexOf('/', 14) + 1)))].sort(byteOrder);
    expect(services.prefixes).toEqual(expectedPrefixes);
    expect(services.keys).toEqual([]);

    const envs = await listAll(client, b, 'logs/', '/');
    expect(envs.prefixes).toEqual(['logs/env=dev/', 'logs/env=prod/']);
  });

  it('follows ContinuationToken across a delimiter listing of 2,500 prefixes (3 pages)', async () => {
    const b = bucket as string;
    const folders = Array.from({ length: 2500 }, (_, i) => `many/service_name=svc-${String(i).padStart(4, '0')}/`);
    // One object per folder, plus a second in a few folders and one loose key at the top.
    const keys = [...folders.map((f) => `${f}part-0.parquet`), ...folders.filter((_, i) => i % 500 === 0).map((f) => `${f}part-1.parquet`), 'many/_SUCCESS'];
    await putObjects(client, b, keys);

    const listing = await listAll(client, b, 'many/', '/');
    expect(listing.pages).toBe(3);
    expect(listing.pageSizes.every((n) => n <= 1000)).toBe(true);
    expect(listing.prefixes).toHaveLength(2500);
    expect(new Set(listing.prefixes).size).toBe(2500);
    expect(listing.prefixes).toEqual([...folders].sort(byteOrder));
    expect(listing.keys).toEqual(['many/_SUCCESS']);
  }, 120_000);

  it('deletes 1,000 keys in one DeleteObjects call', async () => {
    const b = bucket as string;
    const keys = Array.from({ length: 1000 }, (_, i) => `bulk/env=prod/k=${i}/obj ${i}+x.json`);
    await putObjects(client, b, keys);
    expect((await listAll(client, b, 'bulk/')).keys).toHaveLength(1000);

    const res = await client.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: false } }));
    expect(res.Errors ?? []).toEqual([]);
    expect(res.Deleted).toHaveLength(1000);
    expect(new Set(res.Deleted?.map((d) => d.Key))).toEqual(new Set(keys));

    const after = await listAll(client, b, 'bulk/');
    expect(after.keys).toEqual([]);
    expect(after.pages).toBe(1);
  }, 60_000);
});
