/**
 * The lean ListObjectsV2 path of S3ObjectStore (`s3-list-request.ts`): the same pages as the
 * SDK's on the Ceph RGW, and the request it signs, its retries and timeouts against a small
 * HTTP server that answers as S3 would (throttling, a hang, a skewed clock).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { ObjectStoreError } from '../../src/objectstore/object-store.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../../src/objectstore/s3-object-store.js';
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

const listing = (prefixes: string[], next?: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>logs/</Prefix>` +
  `<KeyCount>${prefixes.length}</KeyCount><IsTruncated>${next ? 'true' : 'false'}</IsTruncated>${next ? `<NextContinuationToken>${next}</NextContinuationToken>` : ''}` +
  prefixes.map((p) => `<CommonPrefixes><Prefix>${p}</Prefix></CommonPrefixes>`).join('') +
  `</ListBucketResult>`;
const s3Error = (code: string) => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} said the server</Message></Error>`;

/** A server that hands each request to `answer` and records it. */
async function fakeS3(answer: (req: IncomingMessage, n: number) => { status: number; body: string; headers?: Record<string, string> } | 'hang') {
  const requests: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req);
    const a = answer(req, requests.length);
    if (a === 'hang') return;
    res.writeHead(a.status, { 'content-type': 'application/xml', ...a.headers }).end(a.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    requests,
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function storeAt(endpoint: string, bucket: string, opts: S3ObjectStoreOptions = {}): S3ObjectStore {
  return new S3ObjectStore({ region: s3TestRegion, bucket, endpointOverride: endpoint }, { credentials, retry: { baseDelayMs: 10, maxDelayMs: 20 }, ...opts });
}

describe('the lean ListObjectsV2 path', () => {
  const client = testS3Client();
  let bucket: string | undefined;
  afterAll(async () => {
    if (bucket) await emptyAndDeleteBucket(bucket, client);
    client.destroy();
  });

  it('lists the same keys and prefixes as the SDK on the Ceph RGW, with the same calls', { timeout: 60_000 }, async () => {
    bucket = await createTestBucket('lw-lean-list');
    const names = ['a b', 'a+b', 'a%20b', 'x&y=z', '<tag>', 'q\'uote"', 'ünï', '日本', 'tab\there', ' lead', 'trail '];
    await putObjects(client, bucket, [...names.map((n) => `logs/service_name=${n}/part-0`), 'logs/top.txt']);
    const lean = storeAt(s3TestEndpoint, bucket);
    const sdk = storeAt(s3TestEndpoint, bucket, { listing: 'sdk' });
    try {
      const leanPrefixes = await lean.listPrefixes('logs/');
      expect(leanPrefixes.sort()).toEqual(names.map((n) => `logs/service_name=${n}/`).sort());
      expect(leanPrefixes.sort()).toEqual((await sdk.listPrefixes('logs/')).sort());
      expect((await lean.listKeys('logs/')).sort()).toEqual((await sdk.listKeys('logs/')).sort());
      expect(lean.stats).toEqual(sdk.stats);
      expect(await lean.listPrefixes('logs/service_name=a b/')).toEqual([]);
    } finally {
      lean.close();
      sdk.close();
    }
  });

  it('signs with SigV4 and the configured credentials, and follows continuation tokens', async () => {
    const s3 = await fakeS3((req) => ({
      status: 200,
      body: new URL(req.url!, 'http://x').searchParams.get('continuation-token') === 'next/1+=' ? listing(['logs/b=2/']) : listing(['logs/a=1/'], 'next/1+='),
    }));
    const store = new S3ObjectStore(
      { region: 'eu-west-3', bucket: 'my-bucket', endpointOverride: s3.endpoint },
      { credentials: async () => ({ ...credentials, sessionToken: 'SESSION-TOKEN' }) },
    );
    try {
      expect(await store.listPrefixes('logs/x y+z/')).toEqual(['logs/a=1/', 'logs/b=2/']);
      expect(store.stats).toMatchObject({ listCalls: 2, retries: 0 });
      const [first, second] = s3.requests;
      const url = new URL(first!.url!, 'http://x');
      expect(url.pathname).toBe('/my-bucket');
      expect(Object.fromEntries(url.searchParams)).toEqual({ 'list-type': '2', prefix: 'logs/x y+z/', delimiter: '/' });
      expect(first!.url).toContain('prefix=logs%2Fx%20y%2Bz%2F');
      expect(first!.headers.authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${s3TestAccessKeyId}/\\d{8}/eu-west-3/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$`,
        ),
      );
      expect(first!.headers['x-amz-security-token']).toBe('SESSION-TOKEN');
      expect(new URL(second!.url!, 'http://x').searchParams.get('continuation-token')).toBe('next/1+=');
    } finally {
      store.close();
      s3.close();
    }
  });

  it('retries throttling and 5xx with backoff, counted, and fails at once on what retrying cannot fix', async () => {
    const s3 = await fakeS3((req, n) =>
      n === 1
        ? { status: 503, body: s3Error('SlowDown') }
        : n === 2
          ? { status: 500, body: 'no xml here' }
          : n === 3
            ? { status: 200, body: listing(['logs/a=1/']) }
            : { status: 403, body: s3Error('AccessDenied') },
    );
    const store = storeAt(s3.endpoint, 'b');
    try {
      expect(await store.listPrefixes('logs/')).toEqual(['logs/a=1/']);
      expect(store.stats).toMatchObject({ listCalls: 3, retries: 2 });
      const denied = await store.listPrefixes('logs/').catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(ObjectStoreError);
      expect(denied).toMatchObject({ code: 'AccessDenied', status: 403, retryable: false, attempts: 1 });
      expect((denied as Error).message).toContain('AccessDenied said the server');
    } finally {
      store.close();
      s3.close();
    }
  });

  it('times out a request whose answer does not come, and retries it', async () => {
    const s3 = await fakeS3(() => 'hang');
    const store = storeAt(s3.endpoint, 'b', { requestTimeoutMs: 150, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 } });
    try {
      const started = Date.now();
      const err = await store.listPrefixes('logs/').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'TimeoutError', retryable: true, attempts: 2 });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(store.stats).toMatchObject({ listCalls: 2, retries: 1 });
    } finally {
      store.close();
      s3.close();
    }
  });

  it('signs again with the server clock after RequestTimeTooSkewed', async () => {
    const serverNow = Date.now() + 3 * 3600_000;
    const s3 = await fakeS3((req) => {
      const amzDate = String(req.headers['x-amz-date']);
      const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      return Math.abs(signedAt - serverNow) < 60_000
        ? { status: 200, body: listing(['logs/a=1/']) }
        : { status: 403, body: s3Error('RequestTimeTooSkewed'), headers: { date: new Date(serverNow).toUTCString() } };
    });
    const store = storeAt(s3.endpoint, 'b');
    try {
      expect(await store.listPrefixes('logs/')).toEqual(['logs/a=1/']);
      expect(store.stats).toMatchObject({ listCalls: 2, retries: 1 });
    } finally {
      store.close();
      s3.close();
    }
  });
});
