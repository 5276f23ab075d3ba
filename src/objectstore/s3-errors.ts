/**
 * What S3 failures mean for a retry: the code, the HTTP status and whether trying again may
 * succeed, read from whatever the SDK, the lean listing request (`s3-list-request.ts`) or
 * Node's networking beneath them threw.
 */
const THROTTLING_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'ProvisionedThroughputExceededException',
  'PriorRequestNotComplete',
]);
const TRANSIENT_CODES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

export interface Classified {
  code: string;
  status: number | undefined;
  retryable: boolean;
  throttling: boolean;
  detail: string;
}

/** Reads the code, status and retryability of whatever the SDK (or Node's networking beneath it) threw. */
export function classifyS3Error(error: unknown): Classified {
  const e = (error ?? {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
    $retryable?: { throttling?: boolean };
    $metadata?: { httpStatusCode?: number };
  };
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  // Service errors carry their S3 code as `name`; Node network errors as `code` (possibly on a cause,
  // or on each error of an AggregateError when several addresses were tried).
  const networkCode = findNetworkCode(error, 0);
  const name = typeof e.name === 'string' ? e.name : undefined;
  const code =
    typeof e.Code === 'string'
      ? e.Code
      : name !== undefined && name !== 'Error' && name !== 'AggregateError' && name !== 'TypeError'
        ? name
        : (networkCode ?? (status !== undefined ? `HTTP${status}` : 'Unknown'));
  const throttling = status === 429 || THROTTLING_CODES.has(code) || e.$retryable?.throttling === true;
  const retryable =
    code !== 'AbortError' &&
    (throttling ||
      e.$retryable !== undefined ||
      TRANSIENT_CODES.has(code) ||
      (networkCode !== undefined && TRANSIENT_CODES.has(networkCode)) ||
      (status !== undefined && status >= 500));
  let detail = typeof e.message === 'string' && e.message !== '' ? e.message : code;
  if (networkCode !== undefined && networkCode !== code && !detail.includes(networkCode)) detail += ` (${networkCode})`;
  if (status !== undefined && !detail.includes(String(status))) detail += ` (HTTP ${status})`;
  return { code, status, retryable, throttling, detail: detail.length > 500 ? `${detail.slice(0, 500)}…` : detail };
}

function findNetworkCode(error: unknown, depth: number): string | undefined {
  if (error === null || typeof error !== 'object' || depth > 5) return undefined;
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && /^(E[A-Z_]+|ERR_[A-Z_]+|UND_ERR_[A-Z_]+)$/.test(e.code)) return e.code;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = findNetworkCode(inner, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return findNetworkCode(e.cause, depth + 1);
}
