import type { Config } from './config/schema.js';
import { isSecretKey, Redactor } from './secrets.js';

/**
 * The daemon's redactor across config reloads: the secrets of the config it started with (and
 * of its environment), plus those of every config a reload has read since — a reload may add a
 * tenant with keys of its own, and the secrets of a removed one may still be quoted by work that
 * was in flight. The logger, the event stream and the HTTP answers all hold this one object.
 */
export class ReloadableRedactor extends Redactor {
  private readonly learned = new Set<string>();
  private extra: Redactor | undefined;
  private learnedGeneration = 0;

  constructor(private readonly base: Redactor) {
    super([]);
  }

  /** Also masks the secret values of `config` from now on. */
  learn(config: Config): void {
    const before = this.learned.size;
    for (const value of secretValues(config)) this.learned.add(value);
    if (this.learned.size === before) return;
    this.extra = new Redactor(this.learned);
    this.learnedGeneration += 1;
  }

  override get generation(): number {
    return this.learnedGeneration;
  }

  override scrub(text: string): string {
    const once = this.base.scrub(text);
    return this.extra ? this.extra.scrub(once) : once;
  }
}

/** The values under secret-named keys anywhere in a config (database password, auth token, the tenants' Spark keys). */
export function secretValues(value: unknown, underSecret = false, out: string[] = []): string[] {
  if (typeof value === 'string' || typeof value === 'number') {
    if (underSecret) out.push(String(value));
  } else if (Array.isArray(value)) {
    for (const v of value) secretValues(v, underSecret, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) secretValues(v, underSecret || isSecretKey(k), out);
  }
  return out;
}
