/**
 * The HTTP exchanges with Spark masters: one connection pool, one timeout for every call
 * (connect, headers, body and an overall AbortSignal), a cap on the size of an answer, and
 * transport failures turned into SparkUnreachableError / SparkTimeoutError. Nothing is retried:
 * a retried create could start a second driver, so the caller decides.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { firstLine } from '../common/text.js';
import { SparkError, SparkProtocolError, SparkTimeoutError, SparkUnreachableError } from './errors.js';
import { urlHost } from './hosts.js';

export interface CallOptions {
  /** Cancels the call (e.g. on shutdown); the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

export class MasterTransport {
  private readonly agent: Agent;
  private closed = false;

  constructor(
    readonly timeoutMs: number,
    private readonly maxResponseBytes: number,
  ) {
    this.agent = new Agent({
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 10_000,
      connections: 4,
    });
  }

  assertOpen(): void {
    if (this.closed) throw new Error('SparkMasterClient is closed');
  }

  /** Closes the connection pool; later calls throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.agent.close();
  }

  /** One HTTP exchange with the per-call timeout; transport failures become SparkUnreachableError. */
  async call(host: string, port: number, method: 'GET' | 'POST', path: string, body: string | undefined, opts: CallOptions): Promise<RawResponse> {
    this.assertOpen();
    const target = `${host}:${port}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = anySignal(timeout, opts.signal) ?? timeout;
    const headers: Record<string, string> = { accept: 'application/json, text/json;q=0.9, */*;q=0.1', 'user-agent': 'logwise-orchestrator' };
    if (body !== undefined) headers['content-type'] = 'application/json;charset=UTF-8';
    let sent = false;
    try {
      const res: Dispatcher.ResponseData = await request(`http://${urlHost(host)}:${port}${path}`, {
        dispatcher: this.agent,
        method,
        headers,
        body: body ?? null,
        signal,
      });
      sent = true;
      const text = await readLimited(res.body, this.maxResponseBytes, target);
      const ct = res.headers['content-type'];
      return { status: res.statusCode, contentType: Array.isArray(ct) ? (ct[0] ?? '') : (ct ?? ''), text };
    } catch (err) {
      if (err instanceof SparkError) throw err;
      if (opts.signal?.aborted) throw opts.signal.reason;
      const code = errorCode(err);
      if (timeout.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
        const connectOnly = code === 'UND_ERR_CONNECT_TIMEOUT';
        throw new SparkTimeoutError(`Spark master ${target}: ${method} ${path} timed out after ${this.timeoutMs} ms${connectOnly ? ' (connecting)' : ''}`, {
          target,
          timeoutMs: this.timeoutMs,
          maybeProcessed: !connectOnly,
          cause: err,
        });
      }
      const notSent = !sent && (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH');
      throw new SparkUnreachableError(`Spark master ${target}: ${method} ${path} failed: ${describeCode(code, err)}`, {
        target,
        maybeProcessed: !notSent && method === 'POST',
        cause: err,
      });
    }
  }
}

/** A short, single-line rendering of a non-JSON (or unexpected) body: the HTML title, or the text. */
export function summarizeBody(res: RawResponse): string {
  const title = /<title>([^<]*)<\/title>/i.exec(res.text)?.[1];
  if (title) return title.trim();
  const text = res.text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text === '') return '(empty body)';
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a && b) return AbortSignal.any([a, b]);
  return a ?? b;
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number, target: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > limit) {
      body.destroy();
      throw new SparkProtocolError(`Spark master ${target} sent a response larger than ${limit} bytes`, { target });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && typeof e === 'object' && e !== null; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function describeCode(code: string | undefined, err: unknown): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
      return 'connection reset';
    case 'UND_ERR_SOCKET':
      return 'connection closed before an answer';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return code ?? firstLine(err instanceof Error ? err.message : String(err), 120);
  }
}
