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

/** AWS access key ids: long-term (AKIA…), temporary (ASIA…, from STS: an assumed role, a web identity, SSO, instance metadata) and the other IAM id kinds. */
const AWS_KEY_ID = String.raw`\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Z0-9]{16}\b`;
/** STS session tokens: base64 of a binary blob whose first bytes are always the same ("IQoJb3JpZ2lu…", older "FwoGZXIvYXdz…", "FQoGZXIvYXdz…", "AQoDYXdz…"). */
const AWS_SESSION_TOKEN = String.raw`(?:IQoJb3JpZ2lu|AgoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz|AQoDYXdz)[A-Za-z0-9+/]{16,}={0,2}`;
const CREDENTIAL_SHAPES = new RegExp(`${AWS_KEY_ID}|${AWS_SESSION_TOKEN}`, 'g');
/**
 * A value under a credential's name, whatever its shape: `aws_secret_access_key = …`,
 * `"SessionToken":"…"`, `<SecretAccessKey>…`, `X-Amz-Security-Token=…`, `x-amz-credential: …`,
 * `fs.s3a.secret.key=…` (a value already masked is left as it is).
 */
const NAMED_CREDENTIAL =
  /((?:aws_?)?(?:secret_?access_?key|session_?token|security_?token)|x-amz-security-token|x-amz-credential|fs\.s3a\.(?:secret\.key|session\.token))(["']?\s*[:=>]\s*["']?)(?!\[redacted\])([^\s"'<>&,;)}\]]{8,})/gi;
/** A quick test before the replaces (a fraction of a microsecond for a log line): most text holds none of these. */
const CREDENTIAL_HINT = /A[KS]IA|A[BC]CA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|IQoJ|AgoJ|FwoG|FQoG|AQoD|secret|token|credential/i;

/**
 * Credentials recognisable by their shape or their name, masked: AWS access key ids, STS session
 * tokens, values given under a secret access key's or a session token's name (a secret access
 * key has no shape of its own: alone, it is not recognised; AWS never quotes it back). These are the credentials nobody configured — fetched by the AWS SDK at run time (a
 * profile, an assumed role, a web identity, instance metadata) — which `Redactor` cannot know by
 * value, when a server or a driver quotes them back (an S3 error quoting the signing key id and
 * token, a Spark master echoing a request).
 */
export function scrubCredentialPatterns(text: string): string {
  if (!CREDENTIAL_HINT.test(text)) return text;
  return text.replace(NAMED_CREDENTIAL, (_m: string, name: string, separator: string) => `${name}${separator}${MASK}`).replace(CREDENTIAL_SHAPES, MASK);
}

/**
 * The masking rule: each secret in turn, longest first, masked wherever it is in the text as the
 * previous ones left it. `secrets` is in that order; `only`, when given, skips the others.
 */
function maskOneByOne(text: string, secrets: readonly string[], only?: (secret: string) => boolean): string {
  let out = text;
  for (const secret of secrets) if ((only === undefined || only(secret)) && out.includes(secret)) out = out.split(secret).join(MASK);
  return out;
}

/** Up to this many secrets, a scrub searches the text for each in turn (a native search each); beyond, `SecretIndex` reads it once. */
const SEARCHED_ONE_BY_ONE = 32;
/** Characters hashed at each position of the text: the low bytes of four fill a 32-bit key (no more than MIN_SCRUB_LENGTH). */
const WINDOW = 4;
/** Fibonacci hashing: the key times 2^32 / golden ratio, its top bits the slot. */
const HASH_MULTIPLIER = 0x9e3779b1;
/** Windows of a secret considered for its place in the index (its first ones). */
const WINDOW_CHOICES = 32;

/**
 * `maskOneByOne`'s result, at a cost that does not grow with the number of secrets: each secret
 * is filed under the hash of one window of four of its characters, chosen where the fewest
 * others are filed (access key ids share "AKIA", session tokens a dozen characters), and the text
 * is read once, hashing the four characters ending at each position; a filed window that matches
 * points at a place the secret may start, checked whole.
 *
 * Where every occurrence stands alone (none overlaps another) and no secret could appear across a
 * mask once one is in, the rule's result is the text with each occurrence masked, built in one
 * go. Otherwise the rule itself runs, over the secrets that can be there: those found, and those
 * that could appear across a mask. A mask always starts with "[" and ends with "]", and so does
 * every run of characters that masks left, so such a secret holds a bracket or lies inside "redacted".
 */
class SecretIndex {
  /** Slot (a window's hash) → 1 + its place in `filed`; 0: nothing filed there. */
  private readonly slots: Int32Array;
  private readonly shift: number;
  /** By slot: the secrets filed there and the offset of their window. */
  private readonly filed: { secret: string; offset: number }[][] = [];
  private readonly maskShaped: Set<string>;

  constructor(private readonly secrets: readonly string[]) {
    const bits = Math.min(20, Math.max(12, Math.ceil(Math.log2(secrets.length * 64))));
    this.slots = new Int32Array(1 << bits);
    this.shift = 32 - bits;
    for (const secret of secrets) {
      let best = -1;
      let bestSize = Number.POSITIVE_INFINITY;
      for (let offset = 0; offset <= Math.min(secret.length - WINDOW, WINDOW_CHOICES - 1); offset++) {
        const slot = this.slotOf(windowKey(secret, offset));
        const size = this.slots[slot] === 0 ? 0 : this.filed[this.slots[slot]! - 1]!.length;
        if (size < bestSize) [best, bestSize] = [offset, size];
      }
      const slot = this.slotOf(windowKey(secret, best));
      if (this.slots[slot] === 0) this.slots[slot] = this.filed.push([]);
      this.filed[this.slots[slot]! - 1]!.push({ secret, offset: best });
    }
    this.maskShaped = new Set(secrets.filter((s) => s.includes('[') || s.includes(']') || MASK.includes(s)));
  }

  private slotOf(key: number): number {
    return Math.imul(key, HASH_MULTIPLIER) >>> this.shift;
  }

  mask(text: string): string {
    // Occurrences as [start, end, start, end, …], in the order they are found.
    let spans: number[] | undefined;
    let found: Set<string> | undefined;
    const { slots, shift } = this;
    let key = 0;
    for (let i = 0, n = text.length; i < n; i++) {
      key = (key << 8) | (text.charCodeAt(i) & 0xff);
      const at = slots[Math.imul(key, HASH_MULTIPLIER) >>> shift]!;
      if (at === 0 || i < WINDOW - 1) continue;
      for (const { secret, offset } of this.filed[at - 1]!) {
        const start = i - (WINDOW - 1) - offset;
        if (start < 0 || !text.startsWith(secret, start)) continue;
        (spans ??= []).push(start, start + secret.length);
        (found ??= new Set()).add(secret);
      }
    }
    if (spans === undefined || found === undefined) return text;
    const ordered = this.maskShaped.size === 0 ? apart(spans) : undefined;
    if (ordered === undefined) {
      const there = found;
      return maskOneByOne(text, this.secrets, (s) => there.has(s) || this.maskShaped.has(s));
    }
    let out = '';
    let from = 0;
    for (let j = 0; j < ordered.length; j += 2) {
      out += text.slice(from, ordered[j]) + MASK;
      from = ordered[j + 1]!;
    }
    return out + text.slice(from);
  }
}

/** The key `SecretIndex.mask` computes at the end of a window: the low bytes of its four characters. */
function windowKey(text: string, start: number): number {
  let key = 0;
  for (let i = start; i < start + WINDOW; i++) key = (key << 8) | (text.charCodeAt(i) & 0xff);
  return key;
}

/** The spans sorted by start, or undefined when two of them overlap. */
function apart(spans: number[]): number[] | undefined {
  const order = Array.from({ length: spans.length / 2 }, (_, j) => j).sort((a, b) => spans[2 * a]! - spans[2 * b]!);
  const out: number[] = [];
  for (const j of order) {
    if (out.length > 0 && spans[2 * j]! < out[out.length - 1]!) return undefined;
    out.push(spans[2 * j]!, spans[2 * j + 1]!);
  }
  return out;
}

/**
 * Removes known secret values from any text (log lines, event payloads, error bodies), and the
 * credentials recognisable by shape or name (`scrubCredentialPatterns`). Keys are masked by name
 * where structure is known; this catches the same values anywhere else, e.g. inside an error
 * message that quotes a URL or a request.
 */
export class Redactor {
  private readonly secrets: string[];
  private readonly index: SecretIndex | undefined;

  constructor(values: Iterable<string | undefined>) {
    this.secrets = [...new Set([...values].filter((v): v is string => typeof v === 'string' && v.length >= MIN_SCRUB_LENGTH))]
      // Longest first, so a secret that contains another is masked whole.
      .sort((a, b) => b.length - a.length);
    this.index = this.secrets.length > SEARCHED_ONE_BY_ONE ? new SecretIndex(this.secrets) : undefined;
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

  /** Changes whenever the secrets masked change (never, here; a reload's redactor learns more). */
  get generation(): number {
    return 0;
  }

  scrub(text: string): string {
    return scrubCredentialPatterns(this.index ? this.index.mask(text) : maskOneByOne(text, this.secrets));
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
    return scrubStringsDeep(value, this, 0) as T;
  }
}

/** The strings `Redactor.scrubStrings` scrubs in `value`, found by the same walk (for answers that are checked many times). */
export function stringsScrubbedIn(value: unknown, depth = 0, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (walked(value, depth)) for (const v of Array.isArray(value) ? value : Object.values(value)) stringsScrubbedIn(v, depth + 1, out);
  return out;
}

const SECRET_KEY_NAMES: ReadonlySet<string> = new Set(SECRET_KEYS);

/**
 * `value` with the value under every key named in SECRET_KEYS masked, at any depth of its plain
 * objects and arrays: what a log line's object goes through. Returns `value` itself when no such
 * key is there, so the usual line allocates nothing.
 */
export function maskSecretKeys<T>(value: T): T {
  return rewriteDeep(value, 0, (key, v) => (key !== undefined && SECRET_KEY_NAMES.has(key) && v !== undefined ? MASK : GO_IN)) as T;
}

/** Arrays and plain objects, down to a depth of 32: what the string walks go into. */
function walked(value: unknown, depth: number): value is object {
  if (depth > 32 || value === null || typeof value !== 'object' || value instanceof Date) return false;
  return Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;
}

function scrubStringsDeep(value: unknown, r: Redactor, depth: number): unknown {
  return rewriteDeep(value, depth, (_key, v) => (typeof v === 'string' ? r.scrub(v) : GO_IN));
}

/** What a `rewriteDeep` rule answers to walk into the value (or keep it, when it is not walked). */
const GO_IN: unique symbol = Symbol('go in');

/**
 * Copy-on-write walk of plain objects and arrays: `rule(key, value)` (key undefined at the top
 * and in arrays) gives a value's replacement, or GO_IN. A container is copied only when something
 * in it changed, so a value with nothing to change is returned as it is.
 */
function rewriteDeep(value: unknown, depth: number, rule: (key: string | undefined, value: unknown) => unknown, key?: string): unknown {
  const replaced = rule(key, value);
  if (replaced !== GO_IN) return replaced;
  if (!walked(value, depth)) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = rewriteDeep(value[i], depth + 1, rule);
      if (v !== value[i]) (out ??= [...value])[i] = v;
    }
    return out ?? value;
  }
  const record = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k in record) {
    const v = rewriteDeep(record[k], depth + 1, rule, k);
    if (v !== record[k]) (out ??= { ...record })[k] = v;
  }
  return out ?? value;
}

function scrubDeep(value: unknown, r: Redactor): unknown {
  if (typeof value === 'string') return r.scrub(value);
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, r));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSecretKey(k) && v != null ? MASK : scrubDeep(v, r)]));
  }
  return value;
}

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase();
  return SECRET_KEYS.some((s) => k === s.toLowerCase()) || /secret|password|token|credential/.test(k);
}
