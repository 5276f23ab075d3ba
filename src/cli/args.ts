import { parseArgs } from 'node:util';

/** A wrong command line: the message and the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export const USAGE = `logwise: the command line of logwise-orchestrator

Usage:
  logwise status [--tenant T]
      every tenant: lease holder, Spark master, driver, state, restarts, delay, services
  logwise events [--tenant T] [--type PREFIX]
      a live tail of the event stream, one line per event (reconnects; Ctrl-C stops)
  logwise sync --tenant T [--force]
      one discovery sync; prints how many services it onboarded and removed
  logwise monitor --tenant T [--driver-cores N] [--driver-memory-gb N]
      an immediate Spark poll; the overrides apply to a submission it makes
  logwise replay --tenant T --from ISO-TIME --resume ISO-TIME
      replay Kafka from --from, back to the normal subscription at --resume
  logwise config check FILE
      the daemon's own validation of a config file, offline (exit 2: one line per problem)

Options:
  --url URL     the daemon (default: $LOGWISE_URL, else ${DEFAULT_URL})
  --json        JSON output for scripts (events: one JSON object per line)
  -h, --help    this help

Requests carry the bearer token from $ORCHESTRATOR_AUTH_TOKEN when it is set.
Exit codes: 0 done; 1 the daemon refused, failed or could not be reached; 2 bad usage or an invalid config.
`;

export type Command =
  | { kind: 'help' }
  | { kind: 'status'; tenant?: string }
  | { kind: 'events'; tenant?: string; type?: string }
  | { kind: 'sync'; tenant: string; force: boolean }
  | { kind: 'monitor'; tenant: string; driverCores?: number; driverMemoryInGb?: number }
  | { kind: 'replay'; tenant: string; from: number; resume: number }
  | { kind: 'config-check'; file: string };

export interface Invocation {
  command: Command;
  url: string;
  json: boolean;
}

/** Options each command accepts besides --url, --json and --help. */
const ALLOWED: Record<string, string[]> = {
  status: ['tenant'],
  events: ['tenant', 'type'],
  sync: ['tenant', 'force'],
  monitor: ['tenant', 'driver-cores', 'driver-memory-gb'],
  replay: ['tenant', 'from', 'resume'],
  config: [],
};

export function parseInvocation(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        tenant: { type: 'string', short: 't' },
        type: { type: 'string' },
        force: { type: 'boolean' },
        'driver-cores': { type: 'string' },
        'driver-memory-gb': { type: 'string' },
        from: { type: 'string' },
        resume: { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  const url = (v.url ?? env.LOGWISE_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  const json = v.json ?? false;
  const name = positionals[0];
  if (v.help || name === undefined || name === 'help') return { command: { kind: 'help' }, url, json };
  const allowed = ALLOWED[name];
  if (!allowed) throw new UsageError(`unknown command "${name}"`);
  for (const key of Object.keys(v)) {
    if (!['url', 'json', 'help', ...allowed].includes(key)) throw new UsageError(`${name} does not take --${key}`);
  }
  const extra = name === 'config' ? positionals.slice(3) : positionals.slice(1);
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const tenant = () => {
    if (!v.tenant) throw new UsageError(`${name} needs --tenant`);
    return v.tenant;
  };
  const command = ((): Command => {
    switch (name) {
      case 'status':
        return { kind: 'status', ...(v.tenant ? { tenant: v.tenant } : {}) };
      case 'events':
        return { kind: 'events', ...(v.tenant ? { tenant: v.tenant } : {}), ...(v.type ? { type: v.type } : {}) };
      case 'sync':
        return { kind: 'sync', tenant: tenant(), force: v.force ?? false };
      case 'monitor': {
        const cores = v['driver-cores'] === undefined ? undefined : positiveNumber('--driver-cores', v['driver-cores'], true);
        const memory = v['driver-memory-gb'] === undefined ? undefined : positiveNumber('--driver-memory-gb', v['driver-memory-gb'], false);
        return {
          kind: 'monitor',
          tenant: tenant(),
          ...(cores !== undefined ? { driverCores: cores } : {}),
          ...(memory !== undefined ? { driverMemoryInGb: memory } : {}),
        };
      }
      case 'replay': {
        const t = tenant();
        if (v.from === undefined || v.resume === undefined) throw new UsageError('replay needs --from and --resume');
        return { kind: 'replay', tenant: t, from: timeArg('--from', v.from), resume: timeArg('--resume', v.resume) };
      }
      default: {
        // config check FILE
        if (positionals[1] !== 'check') throw new UsageError('expected "config check FILE"');
        const file = positionals[2];
        if (!file) throw new UsageError('config check needs a FILE');
        return { kind: 'config-check', file };
      }
    }
  })();
  return { command, url, json };
}

function positiveNumber(flag: string, text: string, whole: boolean): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || (whole && !Number.isInteger(n))) {
    throw new UsageError(`${flag}: expected a positive ${whole ? 'whole number' : 'number'}, got "${text}"`);
  }
  return n;
}

/** An ISO 8601 time with a date (e.g. 2026-12-04T20:00:00Z; without a zone: local time), or epoch milliseconds. */
export function timeArg(flag: string, text: string): number {
  const ms = /^\d{10,}$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`${flag}: expected an ISO time such as 2026-12-04T20:00:00Z, got "${text}"`);
  return ms;
}
