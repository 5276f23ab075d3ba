/**
 * What the benchmarks that need a large bucket on the Ceph RGW share: the layout's names, a
 * plain SDK client, a bounded pool, and seeding that is reused across runs. A bucket is seeded
 * once per layout: the marker object `_bench/seeded.json` (the layout and a digest of every key)
 * is written after the last object, and a bucket holding the same marker is reused as it is.
 * Seeding runs in a child process (the benchmark's own file with `--seed`), so that its memory
 * never counts in a figure.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { assertS3TestServerUp, testS3Client } from '../test/support/s3.js';
import { progress, since } from './harness.js';

export const MARKER_KEY = '_bench/seeded.json';
/** PutObject requests in flight while seeding. */
const SEED_CONCURRENCY = 96;
/** DeleteObjects batches in flight while emptying a bucket. */
const DELETE_CONCURRENCY = 8;

const ENV_NAMES = ['prod', 'stag', 'dev', 'qa', 'perf', 'uat', 'sandbox', 'dr', 'canary', 'preprod'];
const COMPONENT_NAMES = ['application', 'worker', 'cron', 'api', 'consumer', 'producer', 'scheduler', 'gateway', 'batch', 'stream'];

export const envName = (i: number): string => (i < ENV_NAMES.length ? ENV_NAMES[i]! : `env${i}`);
export const componentName = (i: number): string => (i < COMPONENT_NAMES.length ? COMPONENT_NAMES[i]! : `component${i}`);
/** One service in a hundred has characters Spark escapes in folder names (`=` → %3D), or that need care in URLs. */
export const serviceName = (i: number): string => (i % 100 === 50 ? `svc ${String(i).padStart(4, '0')}+a&b=c` : `svc-${String(i).padStart(4, '0')}`);

export function benchS3Client(maxSockets: number): S3Client {
  return testS3Client({ maxSockets });
}

/** Runs `fn` over `items` with at most `limit` in flight; the first error stops the rest. */
export async function pool<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  let failed: unknown;
  const worker = async () => {
    for (let next = it.next(); !next.done && failed === undefined; next = it.next()) {
      try {
        await fn(next.value);
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failed !== undefined) throw failed;
}

/** The marker of a layout: its description plus a digest of every key. */
export function markerFor(layout: Record<string, unknown>, keys: Iterable<string>): string {
  const digest = createHash('sha256');
  for (const key of keys) digest.update(key).update('\n');
  return JSON.stringify({ ...layout, keys: digest.digest('hex') });
}

export interface SeedOutcome {
  bucket: string;
  reused: boolean;
  objects: number;
  seedMs: number;
}

/**
 * Makes `bucket` hold exactly `keys` (one small object each) and the marker, unless it holds
 * the marker already (and `fresh` is not set).
 */
export async function seedBucket(opts: {
  bench: string;
  bucket: string;
  marker: string;
  keys: Iterable<string>;
  objects: number;
  fresh: boolean;
}): Promise<SeedOutcome> {
  const { bench, bucket, marker, objects } = opts;
  await assertS3TestServerUp();
  const client = benchS3Client(SEED_CONCURRENCY);
  const started = performance.now();
  try {
    if (!opts.fresh && (await readMarker(client, bucket)) === marker) return { bucket, reused: true, objects, seedMs: since(started) };
    if (opts.fresh) await deleteBucket(client, bucket);
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (error) {
      if (!(error instanceof S3ServiceException && error.name === 'BucketAlreadyOwnedByYou')) throw error;
    }
    // A bucket without the right marker (an interrupted seeding, an older layout) is emptied first,
    // so that nothing but the layout is in it.
    await deleteObjects(client, bucket);
    let done = 0;
    await pool(opts.keys, SEED_CONCURRENCY, async (key) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
      done += 1;
      if (done % 10_000 === 0)
        progress(bench, `seeded ${done.toLocaleString('en')} / ${objects.toLocaleString('en')} objects (${(since(started) / 1000).toFixed(1)} s)`);
    });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: MARKER_KEY, Body: marker }));
    return { bucket, reused: false, objects, seedMs: since(started) };
  } finally {
    client.destroy();
  }
}

async function readMarker(client: S3Client, bucket: string): Promise<string | undefined> {
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: MARKER_KEY }));
    return await res.Body?.transformToString();
  } catch (error) {
    if (error instanceof S3ServiceException && ['NoSuchBucket', 'NoSuchKey', 'NotFound'].includes(error.name)) return undefined;
    throw error;
  }
}

/** Deletes every object of the bucket: the whole listing first, then DeleteObjects batches in parallel. */
async function deleteObjects(client: S3Client, bucket: string): Promise<number> {
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (error) {
    if (error instanceof S3ServiceException && error.name === 'NoSuchBucket') return 0;
    throw error;
  }
  const batches: string[][] = [];
  for (let i = 0; i < keys.length; i += 1000) batches.push(keys.slice(i, i + 1000));
  await pool(batches, DELETE_CONCURRENCY, async (batch) => {
    const res = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    if (res.Errors?.length) throw new Error(`DeleteObjects in ${bucket}: ${res.Errors.length} errors, first ${res.Errors[0]?.Key}: ${res.Errors[0]?.Code}`);
  });
  return keys.length;
}

async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  await deleteObjects(client, bucket);
  try {
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (!(error instanceof S3ServiceException && error.name === 'NoSuchBucket')) throw error;
  }
}

/** Deletes a seeded bucket and everything in it. */
export async function removeBucket(bench: string, bucket: string): Promise<void> {
  progress(bench, `deleting bucket ${bucket} ...`);
  const client = benchS3Client(DELETE_CONCURRENCY);
  await deleteBucket(client, bucket).finally(() => client.destroy());
}

/** Runs `file --seed ARGS` (a benchmark's own seeding) in a child process and reads its SeedOutcome from the last stdout line. */
export function seedInChild(file: string, args: string[]): Promise<SeedOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, '--seed', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`seeding the bucket failed (exit ${code})`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as SeedOutcome);
      } catch {
        reject(new Error(`seeding printed no outcome: ${out.slice(0, 500)}`));
      }
    });
  });
}
