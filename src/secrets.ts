import type { Config } from './config/schema.js';

const MASK = '[redacted]';
/** Values shorter than this are not scrubbed from text: masking "a" would garble every line. */
const MIN_SCRUB_LENGTH = 4;

/** Config keys whose values are secrets, wherever they appear. */
export const SECRET_KEYS = [
  'password',
  'authToken',
  'awsAccessKeyId',
  'awsSecretAccessKey',
  'awsSessionToken',
  's3aAccessKey',
  's3aSecretKey',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  'authorization',
] as const;

/**
 * Removes known secret values from any text (log lines, event payloads, error bodies). Keys
 * are masked by name where structure is known; this catches the same values anywhere else,
 * e.g. inside an error message that quotes a URL or a request.
 */
export class Redactor {
  private readonly secrets: string[];

  constructor(values: Iterable<string | undefined>) {
    this.secrets = [...new Set([...values].filter((v): v is string => typeof v === 'string' && v.length >= MIN_SCRUB_LENGTH))]
      // Longest first, so a secret that contains another is masked whole.
      .sort((a, b) => b.length - a.length);
  }

  static fromConfig(config: Config, env: NodeJS.ProcessEnv = process.env): Redactor {
    const values: (string | undefined)[] = [config.database.password, config.http.authToken];
    for (const t of config.tenants) {
      const s = t.spark;
      values.push(s.awsAccessKeyId, s.awsSecretAccessKey, s.awsSessionToken, s.s3aAccessKey, s.s3aSecretKey);
    }
    values.push(env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN, env.DB_PASSWORD, env.ORCHESTRATOR_AUTH_TOKEN);
    return new Redactor(values);
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
    return out;
  }

  /** A deep copy with secret keys masked and secret values scrubbed from every string. */
  scrubValue<T>(value: T): T {
    return scrubDeep(value, this) as T;
  }

  /**
   * Secret values scrubbed from every string inside `value` (keys are left alone: an event's or a
   * status's `token` is a fencing number, not a secret). Returns `value` itself when nothing had
   * to change, so the common case allocates nothing.
   */
  scrubStrings<T>(value: T): T {
    return this.secrets.length === 0 ? value : (scrubStringsDeep(value, this, 0) as T);
  }
}

function scrubStringsDeep(value: unknown, r: Redactor, depth: number): unknown {
  if (typeof value === 'string') return r.scrub(value);
  if (depth > 32 || value === null || typeof value !== 'object' || value instanceof Date) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const s = scrubStringsDeep(v, r, depth + 1);
      if (s !== v) (out ??= [...value])[i] = s;
    });
    return out ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const s = scrubStringsDeep(v, r, depth + 1);
    if (s !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = s;
  }
  return out ?? value;
}

function scrubDeep(value: unknown, r: Redactor): unknown {
  if (typeof value === 'string') return r.scrub(value);
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, r));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, isSecretKey(k) && v != null ? MASK : scrubDeep(v, r)]),
    );
  }
  return value;
}

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase();
  return SECRET_KEYS.some((s) => k === s.toLowerCase()) || /secret|password|token|credential/.test(k);
}
