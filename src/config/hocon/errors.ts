/**
 * What the HOCON parser throws. Every error knows where it happened (1-based line and column)
 * and its message never quotes the document's text: a config holds secrets, and its errors are
 * printed before any logger (and its redaction) exists.
 */
export class HoconError extends Error {
  constructor(
    /** What is wrong, without the location. */
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${reason} at line ${line}, column ${column}`);
    this.name = new.target.name;
  }
}

/** The text is not HOCON (or uses a feature this parser does not support). */
export class HoconSyntaxError extends HoconError {}

/** A required substitution `${NAME}` whose environment variable is not set. */
export class HoconUnsetVariableError extends HoconError {
  constructor(
    readonly variable: string,
    line: number,
    column: number,
  ) {
    super(`\${${variable}} is not set`, line, column);
  }
}

/** Objects and lists nested deeper than the parser's `maxDepth`. */
export class HoconDepthError extends HoconError {
  constructor(
    readonly limit: number,
    /** How deep the document goes: the brackets counted from where the limit was passed to the end. */
    readonly depth: number,
    line: number,
    column: number,
  ) {
    super(`nested ${depth} levels deep; at most ${limit} levels are read`, line, column);
  }
}
