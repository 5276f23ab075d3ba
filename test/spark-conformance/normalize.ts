/**
 * Turns a Spark master's answers into what two masters running the same scenario must agree on:
 * field names, JSON types and order, and every value with the run-specific parts (ids, hosts,
 * ports, dates, stack frames, the test jar's path) replaced by placeholders.
 */

const DRIVER_ID = /driver-\d{14}-\d{4,}/g;
const WORKER_ID = /worker-\d{14}-[\w.:-]+?-\d+/g;
const APP_ID = /app-\d{14}-\d{4,}/g;
const JAVA_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d \d\d:\d\d:\d\d [A-Z]{2,5} \d{4}$/;
/** Numbers that differ from run to run (epoch ms, ephemeral ports). */
const VOLATILE_NUMBERS = new Set(['lastheartbeat', 'port', 'starttime', 'duration']);

export class Normalizer {
  private readonly labels = new Map<string, string>();

  constructor(private readonly jar: string) {}

  /** From now on `id` is written `<name>` (a driver the scenario created). */
  label(id: string, name: string): void {
    this.labels.set(id, `<${name}>`);
  }

  labelOf(id: string): string {
    return this.labels.get(id) ?? '<driver-id>';
  }

  /** A string value: ids, addresses, dates and the jar's path as placeholders. */
  str(s: string): string {
    let out = s.split(this.jar).join('<jar>');
    out = out.replace(DRIVER_ID, (id) => this.labelOf(id));
    out = out.replace(WORKER_ID, '<worker-id>').replace(APP_ID, '<app-id>');
    out = out.replace(/\b(spark|https?):\/\/[\w.-]+:\d+/g, '$1://<host>:<port>');
    out = out.replace(/^[\w.-]+:\d+$/, '<host>:<port>');
    if (JAVA_DATE.test(out)) return '<date>';
    if (/^\d+$/.test(out)) return '<digits>';
    return out;
  }

  /**
   * A REST `message`: without stack frames (lines starting with a tab); a Jackson parser
   * error keeps its exception class only (the wording is Jackson's, not Spark's protocol).
   */
  message(s: string): string {
    const jackson = /^(.*?com\.fasterxml\.jackson\.[\w.]+(?:Exception|Error)): /s.exec(s);
    if (jackson) return this.str(`${jackson[1]}: …`);
    return this.str(
      s
        .split('\n')
        .filter((l) => !l.startsWith('\t'))
        .join('\n'),
    );
  }

  /** The JSON value with normalized leaves (same keys, same order). */
  skeleton(v: unknown, key = ''): unknown {
    if (typeof v === 'string') {
      if (key === 'host') return '<host>';
      return key === 'message' ? this.message(v) : this.str(v);
    }
    if (typeof v === 'number') return VOLATILE_NUMBERS.has(key) ? '<number>' : v;
    if (Array.isArray(v)) return v.map((x) => this.skeleton(x, key));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, this.skeleton(x, k)]));
    }
    return v;
  }

  /** Jetty's HTML error page as lines, without the stack trace's frames; another page by its title. */
  html(body: string): string[] {
    if (!body.includes('<title>Error ')) return [this.str(/<title>([^<]*)<\/title>/.exec(body)?.[1] ?? '(no title)')];
    return body
      .split('\n')
      .filter((l) => !l.startsWith('\tat '))
      .map((l) => this.str(l).replace(/(Servlet|\$\$anon\$\d+)-[0-9a-f]+</g, '$1-<hash><'));
  }
}

/** `path:type` of every field, in the order met; array elements share the path `name[]`. */
export function fieldTypes(v: unknown, path = '', out: string[] = []): string[] {
  const add = (s: string) => {
    if (!out.includes(s)) out.push(s);
  };
  if (Array.isArray(v)) {
    if (path) add(`${path}:array`);
    for (const x of v) fieldTypes(x, `${path}[]`, out);
  } else if (v !== null && typeof v === 'object') {
    if (path) add(`${path}:object`);
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) fieldTypes(x, path ? `${path}.${k}` : k, out);
  } else {
    add(`${path}:${v === null ? 'null' : typeof v}`);
  }
  return out;
}

/** Consecutive repeats collapsed: timing decides how often a state is seen, not which states. */
export function collapse(states: string[]): string[] {
  return states.filter((s, i) => i === 0 || s !== states[i - 1]);
}
