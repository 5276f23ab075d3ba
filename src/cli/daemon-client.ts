/** A request the daemon refused or failed, or one that did not reach it: one line, exit code 1. */
export class DaemonError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when the daemon was not reached. */
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'DaemonError';
  }
}

/** Requests to the daemon's API: the envelope unwrapped, the token and tenant header added. */
export class DaemonClient {
  constructor(
    readonly url: string,
    private readonly token: string | undefined,
  ) {}

  get<T>(path: string, tenant?: string): Promise<T> {
    return this.call<T>('GET', path, tenant);
  }

  post<T>(path: string, body: unknown, tenant: string): Promise<T> {
    return this.call<T>('POST', path, tenant, body);
  }

  headers(tenant?: string, accept = 'application/json'): Record<string, string> {
    return {
      accept,
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...(tenant ? { 'x-tenant-name': tenant } : {}),
    };
  }

  /** `fetch` with the daemon's address in the error when it cannot be reached. */
  async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.url + path, init);
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new DaemonError(`cannot reach the daemon at ${this.url} (${reason(err)}); set --url or LOGWISE_URL`, 0, 'UNREACHABLE');
    }
  }

  private async call<T>(method: string, path: string, tenant?: string, body?: unknown): Promise<T> {
    const headers = this.headers(tenant);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetch(path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    let parsed: { data?: T; error?: { code?: string; message?: string } } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    if (res.ok && parsed && 'data' in parsed) return parsed.data as T;
    throw errorOf(res.status, parsed?.error);
  }
}

export function errorOf(status: number, error: { code?: string; message?: string } | undefined): DaemonError {
  const code = error?.code ?? `HTTP_${status}`;
  const hint = status === 401 ? ' (set ORCHESTRATOR_AUTH_TOKEN to the daemon’s http.authToken)' : '';
  return new DaemonError(`${status} ${code}: ${error?.message ?? 'the daemon answered without the usual envelope'}${hint}`, status, code);
}

/** The system error of a failed fetch (ECONNREFUSED, ENOTFOUND, …), not undici's "fetch failed". */
function reason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
