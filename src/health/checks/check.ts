/**
 * What every pipeline check shares: the context it runs in (the abort signal of its timeout,
 * what it is waiting for, what it has seen), what it answers, and how an error is put in words.
 */

/** A component this tenant does not configure is SKIPPED: it does not make the pipeline DOWN. */
export type CheckStatus = 'UP' | 'DOWN' | 'SKIPPED';

export interface CheckContext {
  signal: AbortSignal;
  /** What the check is waiting for now (said in the message if it times out). */
  phase(what: string): void;
  /** Details gathered so far (kept in the answer if it times out). */
  details: Record<string, unknown>;
}

export interface CheckOutcome {
  status: CheckStatus;
  message?: string;
}

/** The most telling message of an error (the Kafka client nests the real cause in `errors` / `cause`). */
export function describeError(error: unknown): string {
  const seen = new Set<unknown>();
  let e: unknown = error;
  let message = '';
  while (e instanceof Error && !seen.has(e)) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    const own = e.message || (typeof code === 'string' ? code : e.name);
    if (!message) message = own;
    else if (!message.includes(own)) message += `: ${own}`;
    const nested: unknown = (e as { errors?: unknown[] }).errors?.[0] ?? e.cause;
    if (nested === undefined) break;
    e = nested;
  }
  if (message) return message;
  return typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
}
