import { describe, expect, it } from 'vitest';
import { HoconDepthError, HoconError, HoconSyntaxError, HoconUnsetVariableError, parseHocon, type HoconOptions } from '../../src/config/hocon/index.js';

const env = { SET: 'v', EMPTY: '', NUM: '42', SPACED: ' a b ', PATH: 'jars/app.jar' };
const parse = (text: string, options: HoconOptions = {}) => parseHocon(text, { env, ...options });

/** The error parseHocon throws for `text`. */
function errorOf(text: string, options: HoconOptions = {}): HoconError {
  try {
    parse(text, options);
  } catch (err) {
    if (err instanceof HoconError) return err;
    throw err;
  }
  throw new Error('expected a HoconError');
}

describe('HOCON parser (src/config/hocon)', () => {
  describe('objects, keys and separators', () => {
    it('reads `=`, `:` and `{` after a key, with or without root braces', () => {
      expect(parse('a = 1\nb : 2\nc { d = 3 }')).toEqual({ a: 1, b: 2, c: { d: 3 } });
      expect(parse('{ a = 1, b { c = 2 } }')).toEqual({ a: 1, b: { c: 2 } });
      expect(parse('')).toEqual({});
      expect(parse('# nothing\n// at all\n')).toEqual({});
      expect(parse('[1, 2]')).toEqual([1, 2]);
    });

    it('separates fields and elements by commas or new lines, one trailing comma allowed', () => {
      expect(parse('a = 1, b = 2\nc = 3,\n\n d = [1, 2,]\ne { f = 1, }')).toEqual({ a: 1, b: 2, c: 3, d: [1, 2], e: { f: 1 } });
      expect(parse('a = [\n  1\n  2\n]')).toEqual({ a: [1, 2] });
      expect(errorOf('a = [1,,2]').message).toBe("expected a value, found ',' at line 1, column 8");
      expect(errorOf('a { b = 1 c = 2 }').message).toBe("expected ',', a new line or '}' after a field, found '=' at line 1, column 13");
    });

    it('reads dotted keys as nested objects; quoted parts stay whole', () => {
      expect(parse('a.b.c = 1\na.b.d = 2\n"x.y" = 3\n"p".q = 4\n1.2 = x')).toEqual({ a: { b: { c: 1, d: 2 } }, 'x.y': 3, p: { q: 4 }, 1: { 2: 'x' } });
      expect(parse('objectStore.aws { region = r }')).toEqual({ objectStore: { aws: { region: 'r' } } });
      expect(errorOf('a..b = 1').message).toMatch(/^an empty part in a key .* at line 1, column 1$/);
    });

    it('merges duplicate objects key by key; any other later value wins', () => {
      expect(parse('a { b = 1, c { d = 1 } }\na { c { e = 2 } }\na.f = 3')).toEqual({ a: { b: 1, c: { d: 1, e: 2 }, f: 3 } });
      expect(parse('a = { b = 1 }\na = { b = 2 }')).toEqual({ a: { b: 2 } });
      expect(parse('a { b = 1 }\na = 5')).toEqual({ a: 5 });
      expect(parse('a { b = 1 }\na = 5\na { c = 2 }')).toEqual({ a: { c: 2 } });
      expect(parse('a = [1]\na = [2]')).toEqual({ a: [2] });
      expect(parse('a = 1\na.b = 2')).toEqual({ a: { b: 2 } });
      expect(parse('t = [{ x = 1, x = 2 }]')).toEqual({ t: [{ x: 2 }] });
    });

    it('appends with +=', () => {
      expect(parse('a = [1]\na += 2\nb += "x"')).toEqual({ a: [1, 2], b: ['x'] });
      expect(errorOf('a = 1\na += 2').message).toBe("'+=' appends to a list, and this key holds something else at line 2, column 6");
    });

    it('keeps __proto__ an ordinary key', () => {
      const value = parse('__proto__ { polluted = 1 }\na { __proto__ = 2 }') as Record<string, unknown>;
      expect(Object.keys(value)).toEqual(['__proto__', 'a']);
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getOwnPropertyDescriptor(value.a, '__proto__')?.value).toBe(2);
    });
  });

  describe('values', () => {
    it('reads numbers (JSON syntax), booleans and null; anything else unquoted is a string', () => {
      expect(parse('a = 1, b = -3, c = 1.5, d = 1e3, e = 10G, f = 007, g = 0x10, h = true, i = false, j = null, k = yes, l = 1.5e400')).toEqual({
        a: 1,
        b: -3,
        c: 1.5,
        d: 1000,
        e: '10G',
        f: '007',
        g: '0x10',
        h: true,
        i: false,
        j: null,
        k: 'yes',
        l: '1.5e400',
      });
      expect(parse('a = "1", b = "true", c = ^logs.*'.replace('^logs.*', '"^logs.*"'))).toEqual({ a: '1', b: 'true', c: '^logs.*' });
    });

    it('reads quoted strings with JSON escapes, and """ strings over several lines', () => {
      expect(parse('a = "t\\tn\\u0041\\"q\\\\ \\/"')).toEqual({ a: 't\tnA"q\\ /' });
      expect(parse('a = """x\n  "y" \\n"""\nb = """""q"""""')).toEqual({ a: 'x\n  "y" \\n', b: '""q""' });
      expect(parse('a = "# not // a comment"')).toEqual({ a: '# not // a comment' });
    });

    it('skips comments (# and //) to the end of the line', () => {
      expect(parse('a = 1 # one\n// whole line\nb = x // two\nc = "s" # three')).toEqual({ a: 1, b: 'x', c: 's' });
    });

    it('concatenates values on one line, keeping the whitespace between them', () => {
      expect(parse('a = foo bar  baz\nb = 1 2\nc = true"x"\nd = "s3a://b/"${PATH}\ne = [1] [2]\nf = { x = 1 } { y = 2 }')).toEqual({
        a: 'foo bar  baz',
        b: '1 2',
        c: 'truex',
        d: 's3a://b/jars/app.jar',
        e: [1, 2],
        f: { x: 1, y: 2 },
      });
      expect(errorOf('a = [1] foo').message).toBe('cannot concatenate a string with a list at line 1, column 9');
      expect(errorOf('a = foo { b = 1 }').message).toBe('cannot concatenate an object with a string at line 1, column 9');
    });

    it('accepts Windows line ends, a byte order mark and Unicode spaces', () => {
      expect(parse('\uFEFFa = 1\r\nb = "x"\r\nc =\u00a0y\r\n')).toEqual({ a: 1, b: 'x', c: 'y' });
    });
  });

  describe('substitutions from the environment', () => {
    it('${NAME} is the variable’s value, a string; unset, an error naming it and where', () => {
      expect(parse('a = ${SET}\nb = ${NUM}\nc = ${SPACED}\nd = ${"SET"}')).toEqual({ a: 'v', b: '42', c: ' a b ', d: 'v' });
      const err = errorOf('a = 1\nb = ${LW_NOT_SET}');
      expect(err).toBeInstanceOf(HoconUnsetVariableError);
      expect(err).toMatchObject({ variable: 'LW_NOT_SET', line: 2, column: 5 });
    });

    it('${?NAME} unset: the field is not set, a previous value stays, a list leaves the element out', () => {
      expect(parse('a = ${?LW_NOT_SET}\nb = 1\nb = ${?LW_NOT_SET}\nc = [1, ${?LW_NOT_SET}, 2]\nd = ${?SET}')).toEqual({ b: 1, c: [1, 2], d: 'v' });
      expect(parse('o { x = 1 }\no = ${?LW_NOT_SET}')).toEqual({ o: { x: 1 } });
    });

    it('${?NAME} in a concatenation is empty when unset', () => {
      expect(parse('a = "x"${?LW_NOT_SET}\nb = foo ${?LW_NOT_SET}\nc = ${?LW_NOT_SET}${?LW_NOT_SET}')).toEqual({ a: 'x', b: 'foo ' });
    });

    it('an empty variable is the empty string (what an empty value means to a key is the schema’s business)', () => {
      expect(parse('a = 1\na = ${?EMPTY}\nb = ${EMPTY}')).toEqual({ a: '', b: '' });
    });

    it('reads process.env by default', () => {
      process.env.LW_HOCON_TEST_VAR = 'from-process';
      try {
        expect(parseHocon('a = ${LW_HOCON_TEST_VAR}')).toEqual({ a: 'from-process' });
      } finally {
        delete process.env.LW_HOCON_TEST_VAR;
      }
    });

    it('a substitution is no key, and its name has no whitespace', () => {
      expect(errorOf('${SET} = 1').message).toBe('expected a key, found a substitution at line 1, column 1');
      expect(errorOf('a = ${ SET }').message).toMatch(/^a substitution holds a name .* at line 1, column 7$/);
      expect(errorOf('a = ${SET').message).toBe("a substitution is not closed by '}' at line 1, column 5");
    });
  });

  describe('errors: line and column, never the text', () => {
    it.each([
      ['a = "abc', 'a quoted string is not closed before the end of the file at line 1, column 5'],
      ['a = "x\ny"', 'a quoted string is not closed before the end of the line (use """…""" for several lines) at line 1, column 5'],
      ['a = """x', 'a """ string is not closed before the end of the file at line 1, column 5'],
      ['a = "\\q"', 'an unknown escape in a quoted string (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX are known) at line 1, column 6'],
      ['a = ', 'expected a value, found the end of the file at line 1, column 5'],
      ['a = \nb = 1', 'expected a value, found a new line at line 1, column 5'],
      ['a = {', "the '{' at line 1, column 5 is not closed before the end of the file at line 1, column 6"],
      ['a = [1', "the '[' at line 1, column 5 is not closed before the end of the file at line 1, column 7"],
      ['a = 1 }', "expected ',' or a new line after a field, found '}' at line 1, column 7"],
      ['{ a = 1 } b', 'expected the end of the file, found unquoted text at line 1, column 11'],
      ['a = s3a://bucket/x', "expected ',' or a new line after a field, found ':' (quote a value that holds ':', e.g. a URL) at line 1, column 8"],
      ['a = foo*bar', "'*' must be quoted at line 1, column 8"],
      ['a = x+y', "'+' must be quoted at line 1, column 6"],
      ['a = $x', "'$' must be quoted (a substitution is written ${NAME}) at line 1, column 5"],
      ['a = 1\nb', "expected '=', ':' or '{' after a key, found the end of the file at line 2, column 2"],
      ['a = "x"\n\n  = 2', "expected a key, found '=' at line 3, column 3"],
      ['a = \u0000', 'unexpected control character U+0000 at line 1, column 5'],
      ['include "other.conf"\na = 1', 'include is not supported: write the settings into this file at line 1, column 1'],
      ['include required(file("x.conf"))', 'include is not supported: write the settings into this file at line 1, column 1'],
    ])('%j → %s', (text, message) => {
      const err = errorOf(text);
      expect(err).toBeInstanceOf(HoconSyntaxError);
      expect(err.message).toBe(message);
    });

    it('counts lines through comments, """ strings and Windows line ends', () => {
      expect(errorOf('# c\na = """1\n2\n3"""\r\nb = "x\ny"')).toMatchObject({ line: 5, column: 5 });
    });

    it('never quotes what it found', () => {
      const secret = 'pw-Sup3rSecret';
      for (const text of [
        `a { password = "${secret}" }}"${secret}"`,
        `password = ${secret} ${secret} {`,
        `a = "${secret}`,
        `"${secret}"`,
        `a = [1] "${secret}"`,
      ]) {
        expect(errorOf(text).message).not.toContain('Sup3r');
      }
    });

    it('`include` stays usable as a key', () => {
      expect(parse('include = 1\nincludes { a = 2 }')).toEqual({ include: 1, includes: { a: 2 } });
    });
  });

  describe('size and depth', () => {
    it('recursion follows the nesting only: long documents, lists and concatenations parse', () => {
      const many = Array.from({ length: 200_000 }, (_, i) => `k${i} = ${i}`).join('\n');
      expect(Object.keys(parse(many) as object)).toHaveLength(200_000);
      expect((parse(`a = [${Array.from({ length: 200_000 }, (_, i) => i).join(', ')}]`) as { a: number[] }).a).toHaveLength(200_000);
      expect((parse(`a = ${'x '.repeat(100_000)}`) as { a: string }).a).toHaveLength(199_999);
      const objects = `t = [${Array.from({ length: 50_000 }, (_, i) => `{ n = ${i}, o { p { q = ${i} } } }`).join(',\n')}]`;
      expect((parse(objects) as { t: unknown[] }).t).toHaveLength(50_000);
    });

    it('reads 64 levels by default and refuses the 65th, saying how deep the document goes', () => {
      const nested = (levels: number) => `${'a { '.repeat(levels)}x = 1${' }'.repeat(levels)}`;
      expect(() => parse(nested(64))).not.toThrow();
      const err = errorOf(`\n${nested(1_000)}`);
      expect(err).toBeInstanceOf(HoconDepthError);
      expect(err).toMatchObject({ limit: 64, depth: 1_000, line: 2, column: 259 });
      expect(errorOf(`a = ${'['.repeat(100)}${']'.repeat(100)}`)).toMatchObject({ limit: 64, depth: 100 });
      // Dotted keys are levels too.
      expect(errorOf(`${Array.from({ length: 100 }, (_, i) => `k${i}`).join('.')} = 1`)).toBeInstanceOf(HoconDepthError);
      expect(() => parse(nested(300), { maxDepth: 300 })).not.toThrow();
    });
  });
});
