export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Growth per attempt; 2 doubles the delay each time. */
  factor?: number;
  /** Fraction of the delay that is random (0 = none, 0.5 = between half and all of it). */
  jitter?: number;
  random?: () => number;
}

/** Delay before retry number `attempt` (1-based): exponential, capped at maxMs, with jitter. */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const { minMs, maxMs, factor = 2, jitter = 0.5, random = Math.random } = opts;
  const base = Math.min(maxMs, minMs * factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - jitter + jitter * random()));
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  error: unknown;
}
