/**
 * The hot request of discovery, ListObjectsV2, sent without the SDK's middleware stack: signed
 * with SigV4 (`s3-sigv4.ts`) with the client's resolved credentials provider (the default chain,
 * an assumed role), to the endpoint the client's own endpoint rules resolve for the bucket, sent
 * with Node's own HTTP client and parsed by `s3-list-xml.ts`. Retries, backoff and their
 * counting stay with the caller (`S3ObjectStore.send`), as for the SDK's requests; errors carry
 * what `classifyS3Error` reads (name = S3 code, HTTP status).
 *
 * Node's HTTP client parses answers with the native llhttp. undici parses with a WebAssembly
 * build of it, which V8 recompiles with TurboFan on a background thread once a sync makes it
 * hot: a transient ~30 MB of compiler memory in the middle of the first sync.
 */
import http from 'node:http';
import https from 'node:https';
import type { S3Client } from '@aws-sdk/client-s3';
import { watchAbort } from './abort-watch.js';
import { parseListObjectsV2, parseS3Error, type ListObjectsV2Page } from './s3-list-xml.js';
import { escapeUri, GetSigner, type SigningCredentials } from './s3-sigv4.js';
/** Connections per origin, as the SDK's default agent allows. */
const MAX_CONNECTIONS = 50;

export interface ListObjectsV2Request {
  prefix: string;
  delimiter?: string | undefined;
  continuationToken?: string | undefined;
  maxKeys?: number | undefined;
}

export interface ListRequestOptions {
  connectionTimeoutMs: number;
  /** Longest wait for the answer's headers, and between two chunks of its body. */
  requestTimeoutMs: number;
}

/** What the SDK throws for an S3 error answer, as far as `classifyS3Error` reads it. */
export class S3HttpError extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $retryable: { throttling?: boolean } | undefined;

  constructor(code: string | undefined, message: string, status: number, retryable?: { throttling?: boolean }) {
    super(message);
    // The SDK names its exceptions by the S3 code; without one, classifyS3Error falls back to the status.
    this.name = code ?? 'Error';
    this.$metadata = { httpStatusCode: status };
    this.$retryable = retryable;
  }
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Timeouts {
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/** A timeout, as `classifyS3Error` reads it (retryable); `code` says which wait ran out. */
function timeoutError(code: string, what: string): Error {
  return Object.assign(new Error(`the request timed out (${what})`), { name: 'TimeoutError', code });
}

/**
 * A GET whose whole answer is read as text. The connection must be made within the connect
 * timeout; then the socket may stay silent at most the request timeout (waiting for the
 * headers, or between two chunks of the body). An abort of `signal` destroys the request.
 */
function get(agent: http.Agent, url: URL, path: string, headers: Record<string, string>, timeouts: Timeouts, signal: AbortSignal | undefined): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let connectTimer: NodeJS.Timeout | undefined;
    let settled = false;
    let unwatch: (() => void) | undefined;
    const settle = () => {
      settled = true;
      clearTimeout(connectTimer);
      unwatch?.();
    };
    const fail = (error: Error) => {
      if (settled) return;
      settle();
      reject(error);
    };
    const request = (url.protocol === 'https:' ? https : http).request({
      agent,
      protocol: url.protocol,
      // An IPv6 literal without its URL brackets, as Node's own URL-to-options conversion does.
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port,
      path,
      method: 'GET',
      headers,
    });
    const onAbort = (reason: unknown) => request.destroy(reason instanceof Error ? reason : new DOMException('aborted', 'AbortError'));
    request.once('socket', (socket) => {
      // A reused keep-alive socket is connected already.
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => request.destroy(timeoutError('ERR_SOCKET_CONNECTION_TIMEOUT', 'connect')), timeouts.connectionTimeoutMs);
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    // Idle time of the socket once connected (Node arms it after the connection is made).
    request.setTimeout(timeouts.requestTimeoutMs, () => request.destroy(timeoutError('ETIMEDOUT', 'no data')));
    request.once('error', fail);
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', fail);
      response.once('end', () => {
        if (settled) return;
        settle();
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    if (signal?.aborted) onAbort(signal.reason);
    else if (signal) unwatch = watchAbort(signal, onAbort);
    request.end();
  });
}

export class S3ListRequester {
  private readonly agent: http.Agent;
  /** Added to the clock when signing: set from the server's Date after a RequestTimeTooSkewed. */
  private clockOffsetMs: number;

  private constructor(
    private readonly url: URL,
    private readonly credentials: () => Promise<SigningCredentials>,
    private readonly signer: GetSigner,
    private readonly timeouts: ListRequestOptions,
    clockOffsetMs: number,
  ) {
    this.clockOffsetMs = clockOffsetMs;
    const agentOptions: http.AgentOptions = { keepAlive: true, maxSockets: MAX_CONNECTIONS };
    this.agent = url.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /**
   * A requester for `bucket` with the client's settings, or undefined when the endpoint its rules
   * resolve wants another signing scheme than SigV4 (SigV4a multi-region access points, S3
   * Express sessions): those stay with the SDK.
   */
  static async forClient(client: S3Client, bucket: string, opts: ListRequestOptions): Promise<S3ListRequester | undefined> {
    const cfg = client.config;
    const custom = cfg.endpoint ? await cfg.endpoint() : undefined;
    const endpoint = cfg.endpointProvider({
      Bucket: bucket,
      Region: await cfg.region(),
      UseFIPS: await cfg.useFipsEndpoint(),
      UseDualStack: await cfg.useDualstackEndpoint(),
      ForcePathStyle: cfg.forcePathStyle ?? false,
      Accelerate: cfg.useAccelerateEndpoint ?? false,
      ...(custom ? { Endpoint: `${custom.protocol}//${custom.hostname}${custom.port ? `:${custom.port}` : ''}${custom.path}` } : {}),
    });
    const schemes = (endpoint.properties?.authSchemes ?? [{ name: 'sigv4' }]) as { name?: string; signingName?: string; signingRegion?: string }[];
    const scheme = schemes[0];
    // Endpoint headers come with schemes this path does not implement (S3 Express and the like).
    if (scheme?.name !== 'sigv4' || Object.keys(endpoint.headers ?? {}).length > 0) return undefined;
    const region = scheme.signingRegion ?? (await cfg.region());
    const service = scheme.signingName ?? 's3';
    // The client's provider: the default chain or an assumed role, cached and refreshed before expiry.
    const credentials = () => cfg.credentials();
    return new S3ListRequester(new URL(endpoint.url.href), credentials, new GetSigner(region, service), opts, cfg.systemClockOffset ?? 0);
  }

  /** One ListObjectsV2 request (one page). */
  async list(req: ListObjectsV2Request, signal?: AbortSignal): Promise<ListObjectsV2Page> {
    // The canonical query (names in sorted order, escaped), sent as it is signed.
    let query = '';
    if (req.continuationToken !== undefined) query += `continuation-token=${escapeUri(req.continuationToken)}&`;
    if (req.delimiter !== undefined) query += `delimiter=${escapeUri(req.delimiter)}&`;
    query += 'list-type=2';
    if (req.maxKeys !== undefined) query += `&max-keys=${req.maxKeys}`;
    if (req.prefix !== '') query += `&prefix=${escapeUri(req.prefix)}`;
    const { url } = this;
    const path = url.pathname === '' ? '/' : url.pathname;
    const headers = this.signer.sign(url.host, path, query, await this.credentials(), new Date(Date.now() + this.clockOffsetMs));
    const res = await get(this.agent, url, `${path}?${query}`, headers, this.timeouts, signal);
    if (res.status !== 200) throw this.httpError(res.status, res.body, res.headers.date);
    return parseListObjectsV2(res.body);
  }

  close(): void {
    this.agent.destroy();
  }

  private httpError(status: number, body: string, date: string | string[] | undefined): S3HttpError {
    const parsed = parseS3Error(body);
    const code = parsed?.code;
    const message = parsed?.message || code || `HTTP ${status}`;
    const serverTime = typeof date === 'string' ? Date.parse(date) : NaN;
    if (code === 'RequestTimeTooSkewed' && Number.isFinite(serverTime)) {
      // Signed again with the server's clock, the next attempt goes through (as the SDK corrects skew).
      this.clockOffsetMs = serverTime - Date.now();
      return new S3HttpError(code, message, status, {});
    }
    return new S3HttpError(code, message, status);
  }
}
