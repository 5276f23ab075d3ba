import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { OrchestratorEvent } from '../streams/events.js';
import { maskSecretKeys, type Redactor } from './secrets.js';

export type { Logger };

export interface LogOptions {
  level?: string;
  format?: 'json' | 'pretty';
  redactor: Redactor;
  /** Where lines go; stdout unless a test captures them. */
  destination?: pino.DestinationStream;
}

/**
 * pino JSON logs (or pretty ones for people). Secrets are removed twice: by key name
 * anywhere in a logged object, and by value from the finished line, so a secret quoted
 * inside an error message never reaches the output either.
 */
export function createLogger(opts: LogOptions): Logger {
  const level = opts.level ?? 'info';
  // Pretty: still one line per event (an event's fields inline), so a tail stays readable.
  const destination =
    opts.format === 'pretty'
      ? prettyStream()({
          colorize: opts.destination ? false : process.stdout.isTTY,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
          singleLine: true,
          // 'error' fields here are messages (strings): inline, not on lines of their own
          errorLikeObjectKeys: ['err'],
          sync: true,
          destination: opts.destination ?? 1,
        })
      : (opts.destination ?? pino.destination({ fd: 1, sync: true }));
  return pino(
    {
      level,
      base: undefined,
      hooks: { streamWrite: (line: string) => opts.redactor.scrub(line) },
      // Secret keys by name, at any depth: a walk that copies only when one is there (pino's own
      // `redact` paths with wildcards cost about 80 µs a line, 16 times the rest of the line).
      formatters: { level: (label) => ({ level: label }), log: maskSecretKeys },
    },
    destination,
  );
}

/** pino-pretty (and its dependencies) loaded only for pretty logs: a JSON-logging daemon never needs them. */
function prettyStream(): typeof PinoPretty {
  return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
}

const WARN_EVENTS = new Set<string>([
  'stream.retrying',
  'command.failed',
  'discovery.failed',
  'discovery.guarded',
  'layout.ambiguous',
  'delay.failed',
  'spark.submit-failed',
  'spark.crashloop',
  'spark.master-unreachable',
  'spark.split-brain',
  'lease.lost',
  'lease.renew-failed',
]);
/** Routine events that would flood the log at info level (one per tenant per poll). */
const DEBUG_EVENTS = new Set<string>(['spark.polled', 'spark.waiting']);

/** One log line per event: tenant, event type and the event's figures. */
export function logEvent(log: Logger, event: OrchestratorEvent, level?: 'debug'): void {
  const { type } = event;
  const chosen = WARN_EVENTS.has(type) ? 'warn' : (level ?? (DEBUG_EVENTS.has(type) ? 'debug' : 'info'));
  // The line's object is built only for a level that is written (a poll's debug event is not, at info).
  if (!log.isLevelEnabled(chosen)) return;
  const { tenant, at: _at, ...figures } = event;
  log[chosen]({ tenant, event: type, ...figures }, type);
}

/**
 * The daemon's event log: as `logEvent`, but a `delay.sampled` whose delay equals the tenant's
 * previous sample goes to debug: with many tenants sampling every minute, an unchanged delay is
 * most of the log and says nothing new.
 */
export function eventLogger(log: Logger): (event: OrchestratorEvent) => void {
  const lastDelay = new Map<string, number | null>();
  return (event) => {
    if (event.type !== 'delay.sampled') return logEvent(log, event);
    const unchanged = lastDelay.has(event.tenant) && lastDelay.get(event.tenant) === event.appLogsDelayMinutes;
    lastDelay.set(event.tenant, event.appLogsDelayMinutes);
    logEvent(log, event, unchanged ? 'debug' : undefined);
  };
}
