/**
 * The errors a Spark master client throws: one class per way a call can fail, so that callers
 * decide by class (or by `kind`) whether the master is down, slow, confused or said no. Messages
 * never carry request bodies (a create request holds credentials) and carry at most the first
 * line of what the master answered.
 */
import { firstLine } from '../common/text.js';
import { scrubCredentialPatterns } from '../secrets.js';

export type SparkErrorKind = 'unreachable' | 'timeout' | 'protocol' | 'rejected';

/** Base of every error this client throws. */
export class SparkError extends Error {
  readonly kind: SparkErrorKind;
  /** `host:port` the failing call went to, when there was one. */
  readonly target: string | undefined;

  constructor(kind: SparkErrorKind, message: string, target?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
    this.target = target;
  }
}

/**
 * No answer: connection refused or reset, DNS failure, dropped connection, timeout.
 * `maybeProcessed` is true when the request may have reached the master before the failure
 * (for a create: a driver may have been started, check `/json/` before submitting again).
 */
export class SparkUnreachableError extends SparkError {
  readonly maybeProcessed: boolean;

  constructor(message: string, opts: { target?: string; maybeProcessed?: boolean; cause?: unknown; kind?: 'unreachable' | 'timeout' } = {}) {
    super(opts.kind ?? 'unreachable', message, opts.target, { cause: opts.cause });
    this.maybeProcessed = opts.maybeProcessed ?? false;
  }
}

/** The call did not complete within its timeout (a kind of unreachable; `maybeProcessed` is true). */
export class SparkTimeoutError extends SparkUnreachableError {
  readonly timeoutMs: number;

  constructor(message: string, opts: { target?: string; timeoutMs: number; maybeProcessed?: boolean; cause?: unknown }) {
    super(message, { target: opts.target, maybeProcessed: opts.maybeProcessed ?? true, cause: opts.cause, kind: 'timeout' });
    this.timeoutMs = opts.timeoutMs;
  }
}

/** The master answered something this client cannot use: non-JSON, wrong shape, HTTP 400/405/468/500. */
export class SparkProtocolError extends SparkError {
  /** HTTP status of the answer. */
  readonly status: number | undefined;

  constructor(message: string, opts: { target?: string; status?: number; cause?: unknown } = {}) {
    super('protocol', message, opts.target, { cause: opts.cause });
    this.status = opts.status;
  }
}

/**
 * The master answered a JSON document that is not a usable state (SPEC §4.2): no usable driver
 * list (missing, null, wrong types) or another field a decision reads. Handled like an
 * unreachable master: nothing is decided from it.
 */
export class SparkMalformedStateError extends SparkProtocolError {
  /** The `status` the document gives, when it gives one (a master that says it is STANDBY is not the one acted on anyway). */
  readonly reportedStatus: string | undefined;

  constructor(message: string, opts: { target?: string; status?: number; reportedStatus?: string } = {}) {
    super(message, opts);
    this.reportedStatus = opts.reportedStatus;
  }
}

/** The master answered `success:false` to a create (or a kill/status on a master that is not ALIVE). */
export class SparkSubmissionRejected extends SparkError {
  /**
   * The master's message, scrubbed: a master may quote the request back (a create carries
   * credentials), so `secrets` (the request's secret values) and every credential recognisable
   * by shape or name (`scrubCredentialPatterns`) are masked, here and in `message`.
   */
  readonly masterMessage: string;
  /** The master's recovery state when the message says it is not ALIVE (e.g. `STANDBY`). */
  readonly masterStatus: string | undefined;

  constructor(masterMessage: string, opts: { target?: string; masterStatus?: string; secrets?: readonly string[] } = {}) {
    const scrubbed = scrubSecrets(masterMessage, opts.secrets ?? []);
    super('rejected', `Spark master rejected the request${opts.target ? ` (${opts.target})` : ''}: ${firstLine(scrubbed, 300)}`, opts.target);
    this.masterMessage = scrubbed;
    this.masterStatus = opts.masterStatus;
  }
}

/** `text` without the given secret values (longest first) and without credentials recognisable by shape or name. */
function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length))
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join('[redacted]');
  return scrubCredentialPatterns(out);
}
