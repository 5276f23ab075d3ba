/**
 * The hot request of discovery, ListObjectsV2, sent without the SDK's middleware stack: signed
 * with SigV4 by the SDK's own signer (`@smithy/signature-v4`) with the client's resolved
 * credentials provider (the default chain, an assumed role), to the endpoint the client's own
 * endpoint rules resolve for the bucket, sent with undici and parsed by `s3-list-xml.ts`.
 * Retries, backoff and their counting stay with the caller (`S3ObjectStore.send`), as for the
 * SDK's requests; errors carry what `classifyS3Error` reads (name = S3 code, HTTP status).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Agent, type Dispatcher } from 'undici';
import { parseListObjectsV2, parseS3Error, type ListObjectsV2Page } from './s3-list-xml.js';

/** SHA-256 of an empty body: a GET's payload hash, known in advance. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Connections per origin, as the SDK's default agent allows. */
const MAX_CONNECTIONS = 50;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

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

/** RFC 3986 escaping, as SigV4's canonical query string has it (the URL sent must match it). */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A GET whose whole answer is read as text, through undici's dispatch handler interface: no
 * body stream per request (a listing page is small, and ten thousand of them are sent).
 */
function get(agent: Agent, origin: string, path: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let answerHeaders: Answer['headers'] = {};
    let controller: Dispatcher.DispatchController | undefined;
    const onAbort = () => controller?.abort(signal?.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError'));
    const settle = () => signal?.removeEventListener('abort', onAbort);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (signal?.aborted) onAbort();
      },
      onResponseStart(_c, statusCode, responseHeaders) {
        status = statusCode;
        answerHeaders = responseHeaders;
      },
      onResponseData(_c, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        settle();
        resolve({ status, headers: answerHeaders, body: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8') });
      },
      onResponseError(_c, error) {
        settle();
        reject(error);
      },
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    agent.dispatch({ origin, path, method: 'GET', headers }, handler);
  });
}

export class S3ListRequester {
  private readonly agent: Agent;
  /** Added to the clock when signing: set from the server's Date after a RequestTimeTooSkewed. */
  private clockOffsetMs: number;

  private constructor(
    private readonly url: URL,
    private readonly signer: SignatureV4,
    private readonly signingRegion: string,
    private readonly signingService: string,
    opts: ListRequestOptions,
    clockOffsetMs: number,
  ) {
    this.clockOffsetMs = clockOffsetMs;
    this.agent = new Agent({
      connections: MAX_CONNECTIONS,
      connect: { timeout: opts.connectionTimeoutMs },
      headersTimeout: opts.requestTimeoutMs,
      bodyTimeout: opts.requestTimeoutMs,
    });
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
    // S3 signs the path as it is sent (no double escaping), as the SDK's S3 client does.
    const signer = new SignatureV4({ credentials: cfg.credentials, region, service, sha256: cfg.sha256, uriEscapePath: false, applyChecksum: true });
    return new S3ListRequester(new URL(endpoint.url.href), signer, region, service, opts, cfg.systemClockOffset ?? 0);
  }

  /** One ListObjectsV2 request (one page). */
  async list(req: ListObjectsV2Request, signal?: AbortSignal): Promise<ListObjectsV2Page> {
    const query: Record<string, string> = { 'list-type': '2' };
    if (req.prefix !== '') query.prefix = req.prefix;
    if (req.delimiter !== undefined) query.delimiter = req.delimiter;
    if (req.continuationToken !== undefined) query['continuation-token'] = req.continuationToken;
    if (req.maxKeys !== undefined) query['max-keys'] = String(req.maxKeys);
    const { url } = this;
    const path = url.pathname === '' ? '/' : url.pathname;
    const signed = await this.signer.sign(
      {
        method: 'GET',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path,
        query,
        headers: { host: url.host, 'x-amz-content-sha256': EMPTY_SHA256 },
      },
      { signingDate: new Date(Date.now() + this.clockOffsetMs), signingRegion: this.signingRegion, signingService: this.signingService },
    );
    const search = Object.entries(query)
      .map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`)
      .join('&');
    let res: Answer;
    try {
      res = await get(this.agent, url.origin, `${path}?${search}`, signed.headers, signal);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
        throw Object.assign(new Error(`the request timed out (${code})`, { cause: error }), { name: 'TimeoutError', code });
      }
      throw error;
    }
    if (res.status !== 200) throw this.httpError(res.status, res.body, res.headers.date);
    return parseListObjectsV2(res.body);
  }

  close(): void {
    void this.agent.destroy().catch(() => undefined);
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
