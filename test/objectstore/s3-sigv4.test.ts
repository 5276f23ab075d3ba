/**
 * The lean ListObjectsV2 request's SigV4 (`s3-sigv4.ts`): AWS's own worked example, and the same
 * Authorization as the SDK's signer for the requests the lean path sends. (Ceph RGW checks real
 * signatures in s3-list-request.test.ts.)
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { EMPTY_SHA256, escapeUri, GetSigner } from '../../src/objectstore/s3-sigv4.js';

const EXAMPLE = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Data) =>
  typeof data === 'string' ? data : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);

/** SHA-256 (HMAC with a secret) as the SDK's signer takes it. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: Data) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Data): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}

/** The query as the lean path builds it: escaped, sorted by name. */
function canonical(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${escapeUri(k)}=${escapeUri(params[k]!)}`)
    .join('&');
}

describe('GetSigner', () => {
  it("signs AWS's worked example (GET Bucket, max-keys=2&prefix=J) to the documented signature", () => {
    const headers = new GetSigner('us-east-1', 's3').sign(
      'examplebucket.s3.amazonaws.com',
      '/',
      'max-keys=2&prefix=J',
      EXAMPLE,
      new Date('2013-05-24T00:00:00Z'),
    );
    expect(headers).toEqual({
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
    });
  });

  const cases: { name: string; host: string; path: string; params: Record<string, string>; region: string; sessionToken?: string }[] = [
    {
      name: 'path style, port, delimiter',
      host: '127.0.0.1:7480',
      path: '/my-bucket',
      params: { 'list-type': '2', prefix: 'logs/env=prod/', delimiter: '/' },
      region: 'us-east-1',
    },
    {
      name: 'special characters, a continuation token and a session token',
      host: 'b.s3.eu-west-3.amazonaws.com',
      path: '/',
      params: { 'list-type': '2', prefix: "logs/service_name=a b+c&d=e!'()*~ü/", delimiter: '/', 'continuation-token': '1/ab+c==' },
      region: 'eu-west-3',
      sessionToken: 'FwoGZXIvYXdzEJr//////////wEaDOSESSION+TOKEN=',
    },
    { name: 'no prefix, max-keys', host: 's3.amazonaws.com', path: '/bucket.with.dots', params: { 'list-type': '2', 'max-keys': '1' }, region: 'us-east-1' },
  ];

  for (const c of cases) {
    it(`gives the Authorization of the SDK's signer: ${c.name}`, async () => {
      const credentials = { ...EXAMPLE, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) };
      const date = new Date('2026-12-06T01:02:03.456Z');
      const sdk = new SignatureV4({ credentials, region: c.region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: true });
      const [hostname, port] = c.host.split(':');
      const expected = await sdk.sign(
        {
          method: 'GET',
          protocol: 'https:',
          hostname: hostname!,
          ...(port ? { port: Number(port) } : {}),
          path: c.path,
          query: c.params,
          headers: { host: c.host, 'x-amz-content-sha256': EMPTY_SHA256 },
        },
        { signingDate: date },
      );
      const ours = new GetSigner(c.region, 's3').sign(c.host, c.path, canonical(c.params), credentials, date);
      expect(ours.authorization).toBe(expected.headers.authorization);
      expect(ours['x-amz-date']).toBe(expected.headers['x-amz-date']);
      expect(ours['x-amz-security-token']).toBe(expected.headers['x-amz-security-token']);
    });
  }

  it('derives the signing key again for other credentials and another day', () => {
    const signer = new GetSigner('us-east-1', 's3');
    const sign = (secretAccessKey: string, at: string) =>
      signer.sign('h', '/', 'list-type=2', { accessKeyId: 'AK', secretAccessKey }, new Date(at)).authorization!.split('Signature=')[1];
    const first = sign('secret-1', '2026-12-06T10:00:00Z');
    expect(sign('secret-2', '2026-12-06T10:00:00Z')).not.toBe(first);
    expect(sign('secret-1', '2026-12-06T10:00:00Z')).toBe(first);
    const nextDay = new GetSigner('us-east-1', 's3').sign(
      'h',
      '/',
      'list-type=2',
      { accessKeyId: 'AK', secretAccessKey: 'secret-1' },
      new Date('2026-12-07T10:00:00Z'),
    );
    expect(sign('secret-1', '2026-12-07T10:00:00Z')).toBe(nextDay.authorization!.split('Signature=')[1]);
  });
});
