import { HoconDepthError, HoconSyntaxError, HoconUnsetVariableError } from './errors.js';
import { describeToken, Tokenizer, type Token } from './tokenizer.js';

/**
 * A HOCON parser for the subset the Java orchestrator's configs use, one pass over the tokens
 * (tokenizer.ts): its time is linear in the text, and it recurses only into `{ }` and `[ ]`
 * (a few frames per level, bounded by `maxDepth`), never along the document's length.
 *
 * Supported: a root object with or without braces (or a root list); `=`, `:` and `{` after a
 * key; `+=` (append to a list); dotted keys (`a.b.c = 1`, quoted parts stay whole:
 * `"a.b".c`); duplicate keys (objects merge key by key, anything else: the later value wins);
 * commas or new lines between fields and elements, one trailing comma; comments `#` and `//`;
 * quoted strings (JSON escapes), `"""` strings, unquoted strings; numbers (JSON's syntax),
 * `true`, `false`, `null`; value concatenation (`"s3a://bucket/"${PATH}`, `a b c`, `[1] [2]`,
 * `{ a = 1 } { b = 2 }`); substitutions from the environment: `${NAME}` (required: an error
 * naming it when the variable is unset) and `${?NAME}` (optional: unset, the field is not set,
 * a previous value of it stays, and a list element is left out).
 *
 * Not supported (an error at its line and column): `include`; substitutions of other config
 * paths (`${a.b}` reads the environment variable `a.b`, as a last resort of HOCON's lookup).
 * An environment variable's value is a string, as in HOCON; an empty one is the empty string,
 * unless `emptyIsUnset` makes it count as unset (whatever the substitution's form).
 */
export interface HoconOptions {
  /** Where `${NAME}` is looked up; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Levels of `{ }`, `[ ]` and dotted keys inside one another; deeper is a HoconDepthError. */
  maxDepth?: number;
  /**
   * A variable set to the empty string counts as unset, for `${NAME}` as for `${?NAME}`: the
   * field it is the whole value of is not set (a previous value stays), an element is left
   * out, a concatenation goes on without it. (Docker Compose and Kubernetes set variables to
   * "" for "no value"; the Java orchestrator's users rely on that.) Default false: HOCON's "".
   */
  emptyIsUnset?: boolean;
  /**
   * Called for each field or element left unset because every piece of its value was a
   * substitution that is unset (or, with `emptyIsUnset`, empty): its key path (list elements
   * by index) and those variables. Lets a caller say why a required key is missing.
   */
  onUnset?: (unset: UnsetValue) => void;
}

/** A field or element whose value came out unset (see HoconOptions.onUnset). */
export interface UnsetValue {
  path: (string | number)[];
  variables: { name: string; empty: boolean }[];
}

/** A key path as a linked list, built as the parser descends and materialized only for onUnset. */
type PathNode = { parent: PathNode; key: string | number } | undefined;

function pathOf(node: PathNode): (string | number)[] {
  const out: (string | number)[] = [];
  for (let n = node; n; n = n.parent) out.push(n.key);
  return out.reverse();
}

export type HoconValue = string | number | boolean | null | HoconValue[] | { [key: string]: HoconValue };
type HoconObject = { [key: string]: HoconValue };

/** A value that is not there: an optional substitution whose variable is unset. */
const ABSENT = Symbol('absent');
type Parsed = HoconValue | typeof ABSENT;

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

export function parseHocon(text: string, options: HoconOptions = {}): HoconValue {
  return new Parser(text, options).document();
}

class Parser {
  private readonly lexer: Tokenizer;
  private tok: Token;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly maxDepth: number;
  private readonly emptyIsUnset: boolean;
  private readonly onUnset: ((unset: UnsetValue) => void) | undefined;
  /** Each variable read once (process.env is slow to read). */
  private readonly envCache = new Map<string, string | undefined>();

  constructor(text: string, options: HoconOptions) {
    this.lexer = new Tokenizer(text);
    this.env = options.env ?? process.env;
    this.maxDepth = options.maxDepth ?? 64;
    this.emptyIsUnset = options.emptyIsUnset ?? false;
    this.onUnset = options.onUnset;
    this.tok = this.lexer.next();
  }

  document(): HoconValue {
    this.skipBlank();
    let root: HoconValue;
    if (this.tok.type === '[') root = this.array(0, undefined);
    else if (this.tok.type === '{') root = this.bracedObject({}, 0, undefined);
    else {
      root = {};
      this.fields(root, undefined, 0, undefined);
    }
    this.skipBlank();
    if (this.tok.type !== 'eof') throw this.unexpected(this.tok, 'the end of the file');
    return root;
  }

  // ---- tokens ----

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  private skipWs(): void {
    while (this.tok.type === 'ws') this.advance();
  }

  private skipBlank(): void {
    while (this.tok.type === 'ws' || this.tok.type === 'newline') this.advance();
  }

  private error(reason: string, at: { line: number; column: number }): HoconSyntaxError {
    return new HoconSyntaxError(reason, at.line, at.column);
  }

  private unexpected(t: Token, expected: string): HoconSyntaxError {
    let hint = '';
    if (t.type === '=' && t.value === ':') hint = " (quote a value that holds ':', e.g. a URL)";
    return this.error(`expected ${expected}, found ${describeToken(t)}${hint}`, t);
  }

  private notClosed(open: Token, at: Token): HoconSyntaxError {
    return this.error(`the '${open.value}' at line ${open.line}, column ${open.column} is not closed before the end of the file`, at);
  }

  /** One more level: past maxDepth, how deep the document goes (its brackets, from here to the end). */
  private enter(depth: number, at: Token): void {
    if (depth <= this.maxDepth) return;
    let deepest = depth;
    let level = depth;
    try {
      for (let t = this.tok; t.type !== 'eof'; t = this.lexer.next()) {
        if (t.type === '{' || t.type === '[') deepest = Math.max(deepest, ++level);
        else if (t.type === '}' || t.type === ']') level--;
      }
    } catch {
      // a syntax error further on: the depth so far is the answer
    }
    throw new HoconDepthError(this.maxDepth, deepest, at.line, at.column);
  }

  // ---- objects ----

  /** `{ fields }` into `target` (a new object, or the previous value of the key, to merge into). */
  private bracedObject(target: HoconObject, depth: number, path: PathNode): HoconObject {
    const open = this.advance();
    this.enter(depth + 1, open);
    this.fields(target, open, depth + 1, path);
    return target;
  }

  /** Fields up to the `}` closing `open`, or to the end of the file for a root without braces. */
  private fields(target: HoconObject, open: Token | undefined, depth: number, path: PathNode): void {
    for (;;) {
      this.skipBlank();
      const t = this.tok;
      if (open && t.type === '}') {
        this.advance();
        return;
      }
      if (t.type === 'eof') {
        if (open) throw this.notClosed(open, t);
        return;
      }
      this.field(target, depth, path);
      this.skipWs();
      const sep = this.tok;
      if (sep.type === ',') this.advance();
      else if (sep.type === 'eof' && open) throw this.notClosed(open, sep);
      else if (sep.type !== 'newline' && !(open ? sep.type === '}' : sep.type === 'eof')) {
        throw this.unexpected(sep, open ? "',', a new line or '}' after a field" : "',' or a new line after a field");
      }
    }
  }

  /** `key = value`, `key : value`, `key { … }` or `key += value`. */
  private field(target: HoconObject, depth: number, at: PathNode): void {
    const first = this.tok;
    const path = this.key();
    const sep = this.tok;
    let append = false;
    if (sep.type === '=' || sep.type === '+=') {
      append = sep.type === '+=';
      this.advance();
      this.skipWs();
    } else if (sep.type !== '{') {
      throw this.unexpected(sep, "'=', ':' or '{' after a key");
    }
    // The objects a dotted key goes through: existing ones are merged into.
    let parent = target;
    for (let i = 0; i < path.length - 1; i++) {
      this.enter(depth + i + 1, first);
      const existing = own(parent, path[i]!);
      if (isObject(existing)) parent = existing;
      else {
        const created: HoconObject = {};
        setOwn(parent, path[i]!, created);
        parent = created;
      }
    }
    const name = path[path.length - 1]!;
    const previous = own(parent, name);
    const valueAt = this.tok;
    let node = at;
    for (const part of path) node = { parent: node, key: part };
    const value = this.value(append ? undefined : previous, depth + path.length - 1, node);
    if (value === ABSENT) return;
    if (!append) setOwn(parent, name, value);
    else if (previous === undefined) setOwn(parent, name, [value]);
    else if (Array.isArray(previous)) previous.push(value);
    else throw this.error("'+=' appends to a list, and this key holds something else", valueAt);
  }

  /** A key: unquoted parts split at '.', quoted parts whole, whitespace between parts kept. */
  private key(): string[] {
    const first = this.tok;
    if (first.type !== 'unquoted' && first.type !== 'quoted') throw this.unexpected(first, 'a key');
    const path: string[] = [];
    let current = '';
    let quotedPart = false; // `"" = 1` is a key; an empty unquoted part (`a..b`) is not
    let pendingWs = '';
    const close = (at: Token) => {
      if (current === '' && !quotedPart) throw this.error("an empty part in a key (two dots, or a dot at its start or end; quote a key holding '.')", at);
      path.push(current);
      current = '';
      quotedPart = false;
    };
    for (let count = 0; ; count++) {
      const t = this.tok;
      if (t.type === 'ws') {
        pendingWs += t.value;
      } else if (t.type === 'quoted') {
        if (count === 2 && first.type === 'unquoted' && first.value === 'include')
          throw this.error('include is not supported: write the settings into this file', first);
        current += pendingWs + t.value;
        pendingWs = '';
        quotedPart = true;
      } else if (t.type === 'unquoted') {
        if (count === 2 && first.type === 'unquoted' && first.value === 'include' && /^(required|file|url|classpath)\(/.test(t.value))
          throw this.error('include is not supported: write the settings into this file', first);
        const parts = (pendingWs + t.value).split('.');
        pendingWs = '';
        current += parts[0];
        for (let i = 1; i < parts.length; i++) {
          close(t);
          current = parts[i]!;
        }
      } else if (t.type === 'subst') {
        throw this.error('a substitution cannot be (part of) a key', t);
      } else {
        close(t);
        return path;
      }
      this.advance();
    }
  }

  // ---- values ----

  /**
   * A value, with the values concatenated to it on the same line: strings (and numbers,
   * booleans, substitutions: as their text, whitespace between them kept), lists (`[1] [2]`),
   * objects (`{…} {…}`, merged). `previous` is what the key held: an object value merges into it.
   */
  private value(previous: HoconValue | undefined, depth: number, path: PathNode): Parsed {
    const start = this.tok;
    let kind: 'none' | 'text' | 'object' | 'list' = 'none';
    let object: HoconObject | undefined;
    let list: HoconValue[] | undefined;
    let pieces = 0; // simple values, present or not
    let present = 0;
    let single: Parsed = ABSENT;
    let text = '';
    let pendingWs = '';
    /** The substitutions among the pieces (for onUnset). */
    let substitutions: Token[] | undefined;
    for (;;) {
      const t = this.tok;
      if (t.type === 'ws') {
        pendingWs += t.value;
        this.advance();
      } else if (t.type === '{' || t.type === '[') {
        const opensObject = t.type === '{';
        if (present > 0 || kind === (opensObject ? 'list' : 'object'))
          throw this.error(
            `cannot concatenate ${opensObject ? 'an object' : 'a list'} with ${kind === 'text' ? 'a string' : kind === 'object' ? 'an object' : 'a list'}`,
            t,
          );
        if (opensObject) {
          object = this.bracedObject(object ?? (isObject(previous) ? previous : {}), depth, path);
          kind = 'object';
        } else {
          const items = this.array(depth, path, list?.length ?? 0);
          list = list ? list.concat(items) : items;
          kind = 'list';
        }
        pendingWs = '';
      } else if (t.type === 'quoted' || t.type === 'unquoted' || t.type === 'subst') {
        this.advance();
        let piece: string | undefined;
        if (t.type === 'subst') {
          piece = this.lookup(t);
          if (this.onUnset) (substitutions ??= []).push(t);
        } else piece = t.value;
        if (kind === 'object' || kind === 'list') {
          if (piece === undefined) continue; // `[1] ${?UNSET}`: nothing to add
          throw this.error(`cannot concatenate a string with ${kind === 'object' ? 'an object' : 'a list'}`, t);
        }
        kind = 'text';
        if (pieces > 0) text += pendingWs;
        pendingWs = '';
        pieces++;
        if (piece === undefined) continue;
        present++;
        text += piece;
        single = t.type === 'unquoted' ? typed(piece) : piece;
      } else {
        break;
      }
    }
    if (kind === 'object') return object!;
    if (kind === 'list') return list!;
    if (pieces === 0) throw this.unexpected(start, 'a value');
    if (present === 0) {
      if (this.onUnset && substitutions) {
        this.onUnset({ path: pathOf(path), variables: substitutions.map((s) => ({ name: s.value, empty: this.envCache.get(s.value) === '' })) });
      }
      return ABSENT;
    }
    return pieces === 1 ? single : text;
  }

  /** `[ values ]`; optional substitutions that are unset are left out. */
  private array(depth: number, path: PathNode, offset = 0): HoconValue[] {
    const open = this.advance();
    this.enter(depth + 1, open);
    const items: HoconValue[] = [];
    for (;;) {
      this.skipBlank();
      const t = this.tok;
      if (t.type === ']') {
        this.advance();
        return items;
      }
      if (t.type === 'eof') throw this.notClosed(open, t);
      const item = this.value(undefined, depth + 1, { parent: path, key: offset + items.length });
      if (item !== ABSENT) items.push(item);
      this.skipWs();
      const sep = this.tok;
      if (sep.type === ',') this.advance();
      else if (sep.type === 'eof') throw this.notClosed(open, sep);
      else if (sep.type !== 'newline' && sep.type !== ']') throw this.unexpected(sep, "',', a new line or ']' in a list");
    }
  }

  /**
   * A substitution's value: the environment variable's (a string), undefined when an optional
   * one is unset, or (with `emptyIsUnset`) when the variable is empty, whatever the form.
   */
  private lookup(t: Token): string | undefined {
    let value: string | undefined;
    if (this.envCache.has(t.value)) value = this.envCache.get(t.value);
    else {
      value = this.env[t.value];
      this.envCache.set(t.value, value);
    }
    if (value === '' && this.emptyIsUnset) return undefined;
    if (value === undefined && !t.optional) throw new HoconUnsetVariableError(t.value, t.line, t.column);
    return value;
  }
}

/** An unquoted value alone: a number (JSON's syntax), true, false, null, or else the string. */
function typed(text: string): HoconValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (NUMBER.test(text)) {
    const n = Number(text);
    if (Number.isFinite(n)) return n;
  }
  return text;
}

function isObject(v: unknown): v is HoconObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The key's own value (never one inherited from Object.prototype). */
function own(o: HoconObject, key: string): HoconValue | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** Sets an own property, `__proto__` included (as a plain key, never the prototype). */
function setOwn(o: HoconObject, key: string, value: HoconValue): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}
