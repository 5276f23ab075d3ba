import { HoconSyntaxError } from './errors.js';

/**
 * The tokens of HOCON (https://github.com/lightbend/config/blob/main/HOCON.md), read lazily
 * by `Tokenizer.next()` in one pass over the text: no backtracking, no recursion, so the time
 * is linear in the text's length and the memory is the token in hand.
 *
 * Comments (`#`, `//`) are skipped (the new line that ends one is a token). Whitespace is a
 * token, because in a value concatenation (`a = foo bar`) it is kept between values. `=` and
 * `:` are both the `=` token (its `value` says which).
 */
export type TokenType =
  | 'eof'
  | 'newline'
  | 'ws'
  | '{'
  | '}'
  | '['
  | ']'
  | ','
  | '='
  | '+='
  /** `"…"` or `"""…"""`; `value` is the decoded text. */
  | 'quoted'
  /** Unquoted text (`foo`, `10G`, `1.5`, `a.b.c`, `true`); `value` is the text. */
  | 'unquoted'
  /** `${path}` or `${?path}`; `value` is the path (its quoted parts unquoted), `optional` is `?`. */
  | 'subst';

export interface Token {
  type: TokenType;
  value: string;
  /** `${?…}` */
  optional: boolean;
  /** Where the token starts, both 1-based. */
  line: number;
  column: number;
}

// Classes of the ASCII characters; anything above 127 is unquoted text unless it is whitespace.
const TEXT = 0; // may be part of unquoted text
const WS = 1;
const NEWLINE = 2;
const PUNCT = 3; // { } [ ] , : =
const SPECIAL = 4; // " $ # / + (decided by what follows)
const FORBIDDEN = 5; // must be quoted
const CONTROL = 6;

const CLASS = new Uint8Array(128);
for (let c = 0; c < 32; c++) CLASS[c] = CONTROL;
for (const c of ' \t\r\f\v') CLASS[c.charCodeAt(0)] = WS;
CLASS[10] = NEWLINE;
for (const c of '{}[],:=') CLASS[c.charCodeAt(0)] = PUNCT;
for (const c of '"$#/+') CLASS[c.charCodeAt(0)] = SPECIAL;
for (const c of '`^?!@*&\\') CLASS[c.charCodeAt(0)] = FORBIDDEN;
CLASS[127] = CONTROL;

/** HOCON's whitespace beyond ASCII: Unicode space separators, the BOM, the line and paragraph separators. */
function isUnicodeSpace(c: number): boolean {
  return (
    c === 0xa0 || c === 0xfeff || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

export class Tokenizer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private readonly n: number;

  constructor(private readonly text: string) {
    this.n = text.length;
    if (text.charCodeAt(0) === 0xfeff) this.pos = this.lineStart = 1; // a byte order mark
  }

  /** The next token; `eof` at the end, again and again. */
  next(): Token {
    const text = this.text;
    for (;;) {
      const start = this.pos;
      if (start >= this.n) return this.token('eof', '', start);
      const c = text.charCodeAt(start);
      const cls = c < 128 ? CLASS[c]! : isUnicodeSpace(c) ? WS : TEXT;
      switch (cls) {
        case TEXT:
          return this.unquoted(start);
        case WS: {
          let i = start + 1;
          while (i < this.n) {
            const d = text.charCodeAt(i);
            if (d < 128 ? CLASS[d] !== WS : !isUnicodeSpace(d)) break;
            i++;
          }
          this.pos = i;
          return this.token('ws', text.slice(start, i), start);
        }
        case NEWLINE: {
          const token = this.token('newline', '\n', start);
          this.pos = start + 1;
          this.line++;
          this.lineStart = this.pos;
          return token;
        }
        case PUNCT: {
          this.pos = start + 1;
          const ch = text[start]!;
          return this.token(ch === ':' ? '=' : (ch as TokenType), ch, start);
        }
        case SPECIAL:
          if (c === 34) return text.startsWith('"""', start) ? this.tripleQuoted(start) : this.quoted(start);
          if (c === 36) {
            if (text.charCodeAt(start + 1) === 123) return this.substitution(start);
            throw this.error("'$' must be quoted (a substitution is written ${NAME})", start);
          }
          if (c === 43) {
            if (text.charCodeAt(start + 1) === 61) {
              this.pos = start + 2;
              return this.token('+=', '+=', start);
            }
            throw this.error("'+' must be quoted", start);
          }
          if (c === 35 || text.charCodeAt(start + 1) === 47) {
            // `#` or `//`: a comment, to the end of the line (the new line stays a token).
            const end = text.indexOf('\n', start);
            this.pos = end < 0 ? this.n : end;
            continue;
          }
          return this.unquoted(start); // a lone '/'
        case FORBIDDEN:
          throw this.error(`'${text[start]}' must be quoted`, start);
        default:
          throw this.error(`unexpected control character U+${c.toString(16).toUpperCase().padStart(4, '0')}`, start);
      }
    }
  }

  private token(type: TokenType, value: string, start: number, optional = false): Token {
    return { type, value, optional, line: this.line, column: start - this.lineStart + 1 };
  }

  private error(reason: string, at: number): HoconSyntaxError {
    return new HoconSyntaxError(reason, this.line, at - this.lineStart + 1);
  }

  /** Unquoted text: up to whitespace, a new line, a character with a meaning, or `//`. */
  private unquoted(start: number): Token {
    const text = this.text;
    let i = start;
    while (i < this.n) {
      const c = text.charCodeAt(i);
      if (c < 128) {
        const cls = CLASS[c];
        if (cls !== TEXT && !(c === 47 && text.charCodeAt(i + 1) !== 47)) break;
      } else if (isUnicodeSpace(c)) break;
      i++;
    }
    this.pos = i;
    return this.token('unquoted', text.slice(start, i), start);
  }

  /** `"…"` with JSON's escapes, on one line. */
  private quoted(start: number): Token {
    const text = this.text;
    let i = start + 1;
    let value = '';
    let from = i;
    for (;;) {
      if (i >= this.n) throw this.error('a quoted string is not closed before the end of the file', start);
      const c = text.charCodeAt(i);
      if (c === 34) break;
      if (c === 10) throw this.error('a quoted string is not closed before the end of the line (use """…""" for several lines)', start);
      if (c === 92) {
        value += text.slice(from, i);
        const e = text[i + 1];
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error('\\u must be followed by 4 hexadecimal digits', i);
          value += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else if (e !== undefined && e in ESCAPES) {
          value += ESCAPES[e];
          i += 2;
        } else {
          throw this.error('an unknown escape in a quoted string (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX are known)', i);
        }
        from = i;
        continue;
      }
      i++;
    }
    value += text.slice(from, i);
    const token = this.token('quoted', value, start);
    this.pos = i + 1;
    return token;
  }

  /** `"""…"""`: raw text, several lines; quotes just before the closing three belong to the text. */
  private tripleQuoted(start: number): Token {
    const text = this.text;
    let close = text.indexOf('"""', start + 3);
    if (close < 0) throw this.error('a """ string is not closed before the end of the file', start);
    while (text.charCodeAt(close + 3) === 34) close++;
    const token = this.token('quoted', text.slice(start + 3, close), start);
    for (let i = text.indexOf('\n', start); i >= 0 && i < close; i = text.indexOf('\n', i + 1)) {
      this.line++;
      this.lineStart = i + 1;
    }
    this.pos = close + 3;
    return token;
  }

  /** `${path}` / `${?path}`: a path of unquoted and quoted parts, without whitespace. */
  private substitution(start: number): Token {
    const text = this.text;
    let i = start + 2;
    const optional = text.charCodeAt(i) === 63;
    if (optional) i++;
    let path = '';
    for (;;) {
      if (i >= this.n || text.charCodeAt(i) === 10) throw this.error("a substitution is not closed by '}'", start);
      const c = text.charCodeAt(i);
      if (c === 125) break;
      if (c === 34) {
        const close = text.indexOf('"', i + 1);
        const newline = text.indexOf('\n', i + 1);
        if (close < 0 || (newline >= 0 && newline < close)) throw this.error('a quoted string is not closed', i);
        path += text.slice(i + 1, close);
        i = close + 1;
        continue;
      }
      const cls = c < 128 ? CLASS[c] : isUnicodeSpace(c) ? WS : TEXT;
      if (cls !== TEXT && c !== 47) throw this.error(`a substitution holds a name (\${NAME} or \${?NAME}), not '${text[i] === '\t' ? '\\t' : text[i]}'`, i);
      path += text[i];
      i++;
    }
    if (path === '') throw this.error('a substitution without a name', start);
    const token = this.token('subst', path, start, optional);
    this.pos = i + 1;
    return token;
  }
}

/** How a token is named in an error: never its text (a config holds secrets). */
export function describeToken(t: Token): string {
  switch (t.type) {
    case 'eof':
      return 'the end of the file';
    case 'newline':
      return 'a new line';
    case 'ws':
      return 'whitespace';
    case 'quoted':
      return 'a quoted string';
    case 'unquoted':
      return 'unquoted text';
    case 'subst':
      return 'a substitution';
    default:
      return `'${t.value}'`;
  }
}
