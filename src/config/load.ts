import { readFile } from 'node:fs/promises';
import parseHocon from '@pushcorn/hocon-parser';
import type { z } from 'zod';
import { isSecretKey, Redactor } from '../secrets.js';
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
    // The file did not parse: its secrets are whatever follows a secret-named key in the text.
    throw new ConfigError(scrubbed([`${source}: ${hoconMessage(err)}`], secretsInText(text)));
  });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`${source}: expected an object at the top level`]);
  }
  applyEnvOverrides(raw as Record<string, unknown>, env);
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(scrubbed(formatIssues(result.error.issues), [...secretsInTree(raw), ...secretsInText(text)]));
  return result.data;
}

/**
 * A config error is printed before any logger exists: the values of secret-named keys (a
 * password written as a number is quoted by "expected a string, got number …"; a parse error
 * may quote the token it stopped at) are removed from its lines here.
 */
function scrubbed(problems: string[], secrets: string[]): string[] {
  const redactor = new Redactor(secrets);
  return problems.map((line) => redactor.scrub(line));
}

/** The values held under secret-named keys anywhere in the parsed tree, whatever their type. */
function secretsInTree(value: unknown, underSecret = false, out: string[] = [], depth = 0): string[] {
  if (depth > 32) return out;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    if (underSecret) out.push(String(value));
  } else if (Array.isArray(value)) {
    for (const v of value) secretsInTree(v, underSecret, out, depth + 1);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) secretsInTree(v, underSecret || isSecretKey(k), out, depth + 1);
  }
  return out;
}

/** `key = value` / `key: value` / `"key" = "value"` of secret-named keys in HOCON text (the value unquoted too). */
function secretsInText(text: string): string[] {
  const out: string[] = [];
  const assignment = /([A-Za-z_][\w-]*)"?\s*(?:=|:|\+=)\s*("{3}[\s\S]*?"{3}|"(?:[^"\\\n]|\\.)*"?|[^\s,}\]#]+)/g;
  for (const m of text.matchAll(assignment)) {
    const value = m[2]!;
    // `${VAR}` names a variable, not a secret (and its name is what the error must say).
    if (!isSecretKey(m[1]!) || value.startsWith('${')) continue;
    out.push(value, value.replace(/^"{1,3}|"{1,3}$/g, ''));
  }
  return out;
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
    const last = issue.path.at(-1);
    // "got number 1234" names the value: for a secret only its type (it is scrubbed as well, but a short one would not be).
    const message = typeof last === 'string' && isSecretKey(last) ? issue.message.replace(/ got (string|number|boolean|bigint) .*$/s, ' got a $1') : issue.message;
    return `${path || '(top level)'}: ${message}`;
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
  // Where it stopped, not the token it stopped at (that can be a secret value): "(Token: { value: "…", line: 2, col: 3 })" → "(line 2, column 3)".
  const located = message
    .replace(/\(Source: [^,]*, /, '(')
    .replace(/Token: \{ value: [\s\S]*?, line: (\d+), col: (\d+) \}/g, 'line $1, column $2')
    .replace(/text: '[\s\S]*?', line: (\d+), col: (\d+)/g, 'line $1, column $2');
  return `invalid HOCON: ${located}`;
}
