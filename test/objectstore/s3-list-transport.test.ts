/**
 * The lean ListObjectsV2 request's transport (Node's HTTP client in `s3-list-request.ts`): a
 * body that stops coming times out, an abort ends the requests in flight and their connections,
 * and connections are kept alive between listings. Against a small HTTP server.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../src/objectstore/s3-object-store.js';

const page = (prefixes: string[]) =>
  `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>false</IsTruncated>` +
  prefixes.map((p) => `<CommonPrefixes><Prefix>${p}</Prefix></CommonPrefixes>`).join('') +
  `</ListBucketResult>`;

async function server(answer: (res: ServerResponse, n: number) => void) {
  const sockets = new Set<Socket>();
  let requests = 0;
  let connections = 0;
  const http = createServer((_req, res) => answer(res, ++requests));
  http.on('connection', (socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    open: () => sockets.size,
    connections: () => connections,
    requests: () => requests,
    close: () => {
      http.closeAllConnections();
      http.close();
    },
  };
}

const storeAt = (endpoint: string, requestTimeoutMs = 60_000) =>
  new S3ObjectStore(
    { region: 'us-east-1', bucket: 'b', endpointOverride: endpoint },
    { credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' }, requestTimeoutMs, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 } },
  );

describe('the lean listing transport', () => {
  it('times out an answer whose body stops coming, and retries it', async () => {
    const s3 = await server((res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.write('<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated>');
    });
    const store = storeAt(s3.endpoint, 200);
    try {
      const started = Date.now();
      const err = await store.listPrefixes('logs/').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'TimeoutError', retryable: true, attempts: 2 });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(s3.requests()).toBe(2);
    } finally {
      store.close();
      s3.close();
    }
  });

  it('ends the requests in flight and their connections at once on an abort', async () => {
    const s3 = await server(() => undefined);
    const store = storeAt(s3.endpoint);
    const controller = new AbortController();
    try {
      const listings = ['a/', 'b/', 'c/'].map((prefix) => store.listPrefixes(prefix, controller.signal).catch((e: unknown) => e));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(s3.open()).toBe(3);
      const aborted = Date.now();
      controller.abort();
      for (const err of await Promise.all(listings)) expect(err).toMatchObject({ code: 'AbortError', retryable: false });
      expect(Date.now() - aborted).toBeLessThan(1_000);
      // The requests were destroyed, not left to the server: their connections close.
      for (let i = 0; i < 50 && s3.open() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(s3.open()).toBe(0);
    } finally {
      store.close();
      s3.close();
    }
  });

  it('keeps its connections alive from one listing to the next', async () => {
    const s3 = await server((res) => res.writeHead(200, { 'content-type': 'application/xml' }).end(page(['logs/a=1/'])));
    const store = storeAt(s3.endpoint);
    try {
      for (let i = 0; i < 20; i++) expect(await store.listPrefixes('logs/')).toEqual(['logs/a=1/']);
      expect(s3.requests()).toBe(20);
      expect(s3.connections()).toBe(1);
    } finally {
      store.close();
      s3.close();
    }
  });
});
