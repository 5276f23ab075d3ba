/**
 * Text as the master's JVM prints it: `java.util.Date.toString()`, the date part of driver and
 * worker ids, Jackson's pretty printer (REST answers and `/json/`), and exceptions as Spark's
 * `formatException` renders them.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `java.util.Date.toString()` in UTC, e.g. `Mon Jan 01 12:05:01 UTC 2024`. */
export function javaDateString(ms: number): string {
  const d = new Date(ms);
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`
  );
}

/** `yyyyMMddHHmmss` in UTC (the simulated JVM runs in UTC). */
export function idDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` + `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

/**
 * Jackson's DefaultPrettyPrinter layout (what Spark's REST server and json4s `pretty` emit):
 * `"key" : value`, two-space object indentation, arrays inline as `[ a, b ]`, empty `[ ]`/`{ }`.
 * With `rest`, null/undefined fields are omitted and keys sorted alphabetically (NON_NULL +
 * alphabetic property order).
 */
export function jacksonPretty(value: unknown, rest = false, nesting = 0): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[ ]';
    return `[ ${value.map((v) => jacksonPretty(v, rest, nesting)).join(', ')} ]`;
  }
  if (typeof value === 'object') {
    let entries = Object.entries(value as Record<string, unknown>);
    if (rest) {
      entries = entries.filter(([, v]) => v !== null && v !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    }
    if (entries.length === 0) return '{ }';
    const ind = '  '.repeat(nesting + 1);
    const body = entries.map(([k, v]) => `\n${ind}${JSON.stringify(k)} : ${jacksonPretty(v, rest, nesting + 1)}`);
    return `{${body.join(',')}\n${'  '.repeat(nesting)}}`;
  }
  return JSON.stringify(value);
}

/** A Java-like exception rendering as Spark's `formatException` prints it (`e.toString` + `\t` frames). */
export function formatException(exceptionClass: string, message: string, frames: string[]): string {
  return `${exceptionClass}: ${message}\n${frames.map((f) => `\t${f}`).join('\n')}`;
}
