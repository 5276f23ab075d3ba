/**
 * The real S3 server of the tests (Ceph RADOS Gateway started by `bash test/services.sh up`)
 * and small helpers around it. Tests must fail, never skip, when the server is missing:
 * every helper here throws an error naming the endpoint and the command to start it.
 */
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  AbortMultipartUploadCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';

export const s3TestEndpoint: string = process.env.S3_TEST_ENDPOINT ?? 'http://127.0.0.1:7480';
export const s3TestAccessKeyId: string = process.env.S3_TEST_ACCESS_KEY ?? 'LWTESTACCESSKEY';
export const s3TestSecretAccessKey: string = process.env.S3_TEST_SECRET_KEY ?? 'lwtestsecretkey0123456789';
export const s3TestRegion: string = process.env.S3_TEST_REGION ?? 'us-east-1';

export const s3TestSettings = {
  endpoint: s3TestEndpoint,
  region: s3TestRegion,
  accessKeyId: s3TestAccessKeyId,
  secretAccessKey: s3TestSecretAccessKey,
  forcePathStyle: true,
} as const;

const START_HINT = 'start it with `bash test/services.sh up` (npm test does this first)';

/** An S3Client for the test server: path-style, static credentials, checksums only when required. */
export function testS3Client(opts: { maxSockets?: number } = {}): S3Client {
  return new S3Client({
    endpoint: s3TestEndpoint,
    region: s3TestRegion,
    credentials: { accessKeyId: s3TestAccessKeyId, secretAccessKey: s3TestSecretAccessKey },
    forcePathStyle: true,
    // Streamed bodies otherwise go out chunked with a trailing checksum, which RGW answers with 411.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(opts.maxSockets ? { requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: opts.maxSockets }) } } : {}),
  });
}

/** Pages of one delimiter listing of `prefix`, counted with a plain SDK client (the independent count). */
export async function delimiterPages(client: S3Client, bucket: string, prefix: string): Promise<number> {
  let pages = 0;
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
    pages += 1;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return pages;
}

let reachable: Promise<void> | undefined;

/**
 * Resolves when the test S3 endpoint answers HTTP at all; otherwise rejects with an error
 * that names the endpoint and says how to start it. The first success is cached.
 */
export function assertS3TestServerUp(): Promise<void> {
  reachable ??= (async () => {
    try {
      // Any HTTP answer (200 or 403 for an anonymous ListBuckets) means the server is there.
      await fetch(s3TestEndpoint, { method: 'GET', signal: AbortSignal.timeout(5_000) });
    } catch (error) {
      const cause = error instanceof Error ? (error.cause ?? error) : error;
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`The test S3 server does not answer at ${s3TestEndpoint} (${detail}); ${START_HINT}.`, { cause: error });
    }
  })();
  reachable.catch(() => {
    reachable = undefined; // retry on the next call rather than caching the failure
  });
  return reachable;
}

/** Rethrows network-level failures (server gone) with the endpoint and the start hint. */
function explain(error: unknown, what: string): never {
  if (error instanceof S3ServiceException) throw error;
  const code = (error as { code?: string } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  throw new Error(`${what} against the test S3 server at ${s3TestEndpoint} failed (${code ?? message}); ` + `is it running? ${START_HINT}.`, { cause: error });
}

let sharedClient: S3Client | undefined;
function defaultClient(): S3Client {
  sharedClient ??= testS3Client();
  return sharedClient;
}

/** A valid, unique bucket name starting with (a sanitised) `prefix`. */
export function uniqueBucketName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'test';
  const suffix = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  return `${clean}-${suffix}`.slice(0, 63);
}

/** Creates a uniquely named bucket and returns its name. */
export async function createTestBucket(prefix: string, client: S3Client = defaultClient()): Promise<string> {
  await assertS3TestServerUp();
  const bucket = uniqueBucketName(prefix);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    explain(error, `CreateBucket ${bucket}`);
  }
  return bucket;
}

/** Deletes every object (and pending multipart upload) in `bucket`, then the bucket. Missing bucket: no-op. */
export async function emptyAndDeleteBucket(bucket: string, client: S3Client = defaultClient()): Promise<void> {
  await assertS3TestServerUp();
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, MaxKeys: 1000 }));
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      if (keys.length > 0) {
        const res = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
        if (res.Errors && res.Errors.length > 0) {
          const first = res.Errors[0];
          throw new Error(`DeleteObjects in ${bucket}: ${res.Errors.length} errors, first ${first?.Key}: ${first?.Code} ${first?.Message}`);
        }
      }
      // Keys were deleted, so restarting from the beginning is as good as the token.
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);

    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of uploads.Uploads ?? []) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (error instanceof S3ServiceException && error.name === 'NoSuchBucket') return;
    explain(error, `Emptying and deleting bucket ${bucket}`);
  }
}

/**
 * Writes one small object per key, at most `concurrency` requests in flight.
 * The body defaults to the key itself.
 */
export async function putObjects(
  client: S3Client,
  bucket: string,
  keys: readonly string[],
  concurrency = 32,
  body: (key: string) => string | Uint8Array = (key) => key,
): Promise<void> {
  await assertS3TestServerUp();
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < keys.length) {
      const key = keys[next++] as string;
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body(key) }));
      } catch (error) {
        failed = true; // stop the other workers
        explain(error, `PutObject ${bucket}/${key}`);
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, keys.length)) }, worker);
  await Promise.all(workers);
}
