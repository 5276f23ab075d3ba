import { asyncScheduler, retry, timer, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';

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

/**
 * Resubscribes to a failed source after a growing, jittered delay, forever: a daemon's
 * stream must come back once its dependency does. The attempt count starts again after
 * the source emits, so one failure after a long healthy run waits only the minimum.
 */
export function retryWithBackoff<T>(opts: BackoffOptions & { scheduler?: SchedulerLike; onRetry?: (info: RetryInfo) => void }): MonoTypeOperatorFunction<T> {
  return retry({
    resetOnSuccess: true,
    delay: (error: unknown, attempt: number) => {
      const delayMs = backoffDelay(attempt, opts);
      opts.onRetry?.({ attempt, delayMs, error });
      return timer(delayMs, opts.scheduler ?? asyncScheduler);
    },
  });
}
