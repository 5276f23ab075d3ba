import { readFile } from 'node:fs/promises';
import parseHocon from '@pushcorn/hocon-parser';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export const DEFAULT_CONFIG_PATH = 'conf/application.conf';

/** A configuration that cannot be used; `problems` holds one line per problem, each naming its key path. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** `--config <file>` (or `--config=<file>`), else `ORCHESTRATOR_CONFIG`, else the embedded default. */
export function configPathFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const i = argv.indexOf('--config');
  if (i >= 0) {
    const path = argv[i + 1];
    if (!path || path.startsWith('--')) throw new ConfigError(['--config: expected a file path after --config']);
    return path;
  }
  const inline = argv.find((a) => a.startsWith('--config='));
  if (inline) return inline.slice('--config='.length);
  return env.ORCHESTRATOR_CONFIG || DEFAULT_CONFIG_PATH;
}

export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  return parseConfig(text, path);
}

/**
 * Parses HOCON text, applies the env overrides and validates. `${VAR}` and `${?VAR}` read
 * process.env: the parser looks there and nowhere else.
 */
export async function parseConfig(text: string, source = 'config'): Promise<Config> {
  const env = process.env;
  const raw = await parseHocon({ text, strict: true }).catch((err: unknown) => {
    throw new ConfigError([`${source}: ${hoconMessage(err)}`]);
  });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`${source}: expected an object at the top level`]);
  }
  applyEnvOverrides(raw as Record<string, unknown>, env);
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues));
  return result.data;
}

/** The reference's environment variables win over the file, as they did there. */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const section = (key: string): Record<string, unknown> => {
    const value = raw[key];
    if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) return {}; // left for validation to report
    return (raw[key] ??= {}) as Record<string, unknown>;
  };
  if (env.PORT) section('http').port = env.PORT;
  if (env.ORCHESTRATOR_AUTH_TOKEN) section('http').authToken = env.ORCHESTRATOR_AUTH_TOKEN;
  const db: [string, string][] = [
    ['DB_CLIENT', 'client'],
    ['DB_MASTER_HOST', 'host'],
    ['DB_PORT', 'port'],
    ['DB_USERNAME', 'user'],
    ['DB_PASSWORD', 'password'],
    ['DB_NAME', 'database'],
  ];
  for (const [name, key] of db) if (env[name] !== undefined && env[name] !== '') section('database')[key] = env[name];
}

function formatIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = keyPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${keyPath([...issue.path, k])}: unknown key`).join('\n');
    }
    return `${path || '(top level)'}: ${issue.message}`;
  }).flatMap((line) => line.split('\n'));
}

function keyPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '');
}

function hoconMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // "Unable to resolve 'X'" is how a missing required `${X}` shows up.
  const unresolved = /Unable to resolve '([^']+)'/.exec(message);
  if (unresolved) return `\${${unresolved[1]}} is not set (use \${?${unresolved[1]}} if it is optional)`;
  return `invalid HOCON: ${message.replace(/\(Source: [^,]*, /, '(')}`;
}
