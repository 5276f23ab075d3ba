import { readFile, stat } from 'node:fs/promises';
import type { z } from 'zod';
import { isSecretKey, Redactor } from '../secrets.js';
import { HoconDepthError, HoconError, HoconUnsetVariableError, parseHocon, type UnsetValue } from './hocon/index.js';
import { configSchema, type Config } from './schema.js';

export const DEFAULT_CONFIG_PATH = 'conf/application.conf';

/**
 * Limits of what is read, checked before (size) and while (nesting) the HOCON parser runs, so
 * that a document beyond them is refused at once with one line naming the limit. The parser
 * (src/config/hocon) is linear in the text and recurses only into `{ }` and `[ ]`: 10,000
 * tenants written out like the reference's application.conf (16.5 MB) load in about half a second.
 */
export const CONFIG_LIMITS = {
  /** The whole file: ~40,000 tenants written out in the reference's full format. */
  bytes: 64 * 1024 * 1024,
  /** `{ }`, `[ ]` and the parts of dotted keys inside one another (a tenant is 4 levels deep). */
  nesting: 64,
} as const;

/** A configuration that cannot be used; `problems` holds one line per problem, each naming its key path. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface ConfigLoadOptions {
  /** Where `${VAR}` and the env overrides are read (process.env by default). */
  env?: NodeJS.ProcessEnv;
  /**
   * Called once per key of the Java orchestrator's configs that is accepted and not used here
   * (`kafka.kafkaManagerUrl`, top-level `encryption`, …): one line naming the key (never its value).
   */
  onWarning?: (line: string) => void;
}

/**
 * Keys that either version of the Java orchestrator reads (its `ApplicationConfig`, from the
 * older `logwise-orchestrator` with `encryption` and the Kafka Manager to the newer one with
 * Kafka and Spark scaling) and this orchestrator does not use. Accepted, so that its
 * `application-default.conf` loads unchanged, and removed before validation, each with one
 * warning; any other unknown key is still an error (a typo must not fall back to a default).
 * A key listed here is ignored with everything under it (`encryption { key, iv }`).
 */
export const IGNORED_REFERENCE_KEYS = {
  root: ['encryption'],
  tenant: ['orchestrator'],
  kafka: [
    'kafkaManagerClusterName',
    'kafkaManagerUrl',
    'kafkaType',
    'enablePartitionScaling',
    'maxLagPerPartition',
    'defaultPartitions',
    'mskClusterArn',
    'mskRegion',
    'confluentApiKey',
    'confluentApiSecret',
    'confluentRestEndpoint',
    'sslTruststoreLocation',
    'sslTruststorePassword',
    'sslKeystoreLocation',
    'sslKeystorePassword',
  ],
  spark: ['executorCoresPerMachine', 'perCoreLogsProcess', 'minWorkerCount', 'maxWorkerCount', 'cluster'],
} as const;

/** Keys of the reference the schema keeps (typed, so a wrong value is still reported) but nothing reads: warned about too. */
const UNUSED_REFERENCE_KEYS = { kafka: ['maxProducerRatePerPartition'] } as const;

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

export async function loadConfig(path: string, opts: ConfigLoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    // Too large: said without reading it all.
    const { size } = await stat(path);
    if (size > CONFIG_LIMITS.bytes) throw new ConfigError([`${path}: ${tooLarge(size)}`]);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([`${path}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  return parseConfig(text, path, opts);
}

/**
 * Parses HOCON text, applies the env overrides and validates. `${VAR}` and `${?VAR}` read
 * the environment (and nothing else: no other config paths, no includes). A variable set to
 * the empty string counts as unset (SPEC §2, as the Java orchestrator's deployments use it:
 * `AWS_SESSION_TOKEN=`): an optional key it fills is not set; a required key it leaves
 * unset is an error that names the key and the empty variable.
 */
export async function parseConfig(text: string, source = 'config', opts: ConfigLoadOptions = {}): Promise<Config> {
  const env = opts.env ?? process.env;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > CONFIG_LIMITS.bytes) throw new ConfigError([`${source}: ${tooLarge(bytes)}`]);
  let raw: unknown;
  /** Key paths left unset by their substitutions, with why (for "is required" errors). */
  const unset = new Map<string, string>();
  const onUnset = ({ path, variables }: UnsetValue) => {
    unset.set(keyPath(path), variables.map((v) => (v.empty ? `\${${v.name}} is set but empty` : `\${?${v.name}} is not set`)).join(', '));
  };
  try {
    raw = parseHocon(text, { env, maxDepth: CONFIG_LIMITS.nesting, emptyIsUnset: true, onUnset });
  } catch (err) {
    // The file did not parse: its secrets are whatever follows a secret-named key in the text.
    throw new ConfigError(scrubbed([`${source}: ${hoconMessage(err)}`], secretsInText(text)));
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`${source}: expected an object at the top level`]);
  }
  const warnings = setAsideReferenceKeys(raw as Record<string, unknown>);
  applyEnvOverrides(raw as Record<string, unknown>, env);
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(scrubbed(formatIssues(result.error.issues, unset), [...secretsInTree(raw), ...secretsInText(text)]));
  for (const line of warnings) opts.onWarning?.(line);
  return result.data;
}

/**
 * Removes the keys of IGNORED_REFERENCE_KEYS from the parsed tree; returns one warning per
 * key (a key set in several tenants is one warning that counts them), never quoting a value.
 */
function setAsideReferenceKeys(raw: Record<string, unknown>): string[] {
  const seen = new Map<string, number[]>();
  const note = (where: string, tenant?: number) => {
    const list = seen.get(where) ?? [];
    if (tenant !== undefined) list.push(tenant);
    seen.set(where, list);
  };
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  for (const key of IGNORED_REFERENCE_KEYS.root) {
    if (Object.hasOwn(raw, key)) {
      delete raw[key];
      note(key);
    }
  }
  const tenants = raw.tenants;
  if (Array.isArray(tenants)) {
    tenants.forEach((t: unknown, i) => {
      if (!isObject(t)) return;
      for (const key of IGNORED_REFERENCE_KEYS.tenant) {
        if (Object.hasOwn(t, key)) {
          delete t[key];
          note(key, i);
        }
      }
      for (const section of ['kafka', 'spark'] as const) {
        const block = t[section];
        if (!isObject(block)) continue;
        for (const key of IGNORED_REFERENCE_KEYS[section]) {
          if (Object.hasOwn(block, key)) {
            delete block[key];
            note(`${section}.${key}`, i);
          }
        }
        for (const key of section === 'kafka' ? UNUSED_REFERENCE_KEYS.kafka : []) if (Object.hasOwn(block, key)) note(`${section}.${key}`, i);
      }
    });
  }
  const why = 'accepted for compatibility with the Java orchestrator, and not used';
  return [...seen].map(([where, list]) => {
    if (list.length === 0) return `${where}: ${why}`;
    if (list.length === 1) return `tenants[${list[0]}].${where}: ${why}`;
    return `tenants[*].${where} (in ${list.length} tenants): ${why}`;
  });
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

/**
 * The reference's environment variables win over the file, as they did there; an empty one is
 * unset. The database is MySQL when the reference's variables (or the keys) name a server and
 * no client is chosen (`DB_CLIENT` or `database.client`): its deployments set `DB_MASTER_HOST`
 * and friends, never a client. Its database is always `log_central`: `DB_NAME` (which its
 * compose file sets for the MySQL container, to another name) does not select it;
 * `ORCHESTRATOR_DB_NAME` or `database.database` does.
 */
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
    ['ORCHESTRATOR_DB_NAME', 'database'],
  ];
  for (const [name, key] of db) if (env[name] !== undefined && env[name] !== '') section('database')[key] = env[name];
  const database = raw.database;
  if (database !== null && typeof database === 'object' && !Array.isArray(database)) {
    const d = database as Record<string, unknown>;
    if (d.client === undefined && MYSQL_KEYS.some((k) => d[k] !== undefined)) d.client = 'mysql';
  }
}

/** Database keys that only a MySQL server has: any of them set (by key or variable) and no client chosen means MySQL. */
const MYSQL_KEYS = ['host', 'port', 'user', 'password', 'database'] as const;

function formatIssues(issues: z.core.$ZodIssue[], unset: ReadonlyMap<string, string> = new Map()): string[] {
  return issues
    .map((issue) => {
      const path = keyPath(issue.path);
      // A required key its substitution left unset: say which variable (set but empty, or not set).
      const why = issue.message.startsWith('is required') ? unset.get(path) : undefined;
      if (why) return `${path}: ${issue.message} (${why})`;
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `${keyPath([...issue.path, k])}: unknown key`).join('\n');
      }
      const last = issue.path.at(-1);
      // "got number 1234" names the value: for a secret only its type (it is scrubbed as well, but a short one would not be).
      const message =
        typeof last === 'string' && isSecretKey(last) ? issue.message.replace(/ got (string|number|boolean|bigint) .*$/s, ' got a $1') : issue.message;
      return `${path || '(top level)'}: ${message}`;
    })
    .flatMap((line) => line.split('\n'));
}

function keyPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '');
}

function tooLarge(bytes: number): string {
  return `the config is ${(bytes / (1024 * 1024)).toFixed(1)} MiB (${bytes} bytes); at most ${CONFIG_LIMITS.bytes / (1024 * 1024)} MiB (${CONFIG_LIMITS.bytes} bytes) is read`;
}

function hoconMessage(err: unknown): string {
  if (err instanceof HoconUnsetVariableError) return `\${${err.variable}} is not set (use \${?${err.variable}} if it is optional)`;
  if (err instanceof HoconDepthError) {
    return `nested ${err.depth} levels deep at line ${err.line}; at most ${err.limit} levels of { }, [ ] and dotted keys are read`;
  }
  // Its message names the line and column and what was expected, never the text found there.
  if (err instanceof HoconError) return `invalid HOCON: ${err.message}`;
  // Not the parser's own error (it should throw no other): said as what it is, not as bad syntax.
  if (err instanceof RangeError)
    return `too large to be read (${err.message}); at most ${CONFIG_LIMITS.bytes / (1024 * 1024)} MiB and ${CONFIG_LIMITS.nesting} levels of nesting are read`;
  throw err;
}
