/**
 * A `java.util.regex.Pattern` as Spark passes `subscribePattern` to Kafka, as a JS RegExp that
 * must match the WHOLE topic name (Kafka uses `pattern.matcher(topic).matches()`).
 * Converted: leading inline flags `(?i)`/`(?s)`/`(?m)`, `\A` `\z` `\Z`, `\Q…\E` quoting and
 * possessive quantifiers (`a*+` → `a*`). Throws a SyntaxError for what JS cannot compile.
 */
export function javaPatternToRegExp(pattern: string): RegExp {
  let source = pattern;
  let flags = '';
  const inline = /^\(\?([imsux]+)\)/.exec(source);
  if (inline) {
    for (const f of inline[1] ?? '') if ((f === 'i' || f === 's' || f === 'm') && !flags.includes(f)) flags += f;
    source = source.slice(inline[0].length);
  }
  let out = '';
  let inClass = false;
  let prevQuantifier = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      const n = source[i + 1];
      i += 1;
      prevQuantifier = false;
      if (n === undefined) throw new SyntaxError('Unexpected trailing backslash');
      if (!inClass && n === 'Q') {
        const end = source.indexOf('\\E', i + 1);
        const literal = end === -1 ? source.slice(i + 1) : source.slice(i + 1, end);
        out += literal.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
        i = end === -1 ? source.length : end + 1;
        continue;
      }
      if (!inClass && n === 'A') out += '^';
      else if (!inClass && n === 'z') out += '$';
      else if (!inClass && n === 'Z') out += '(?=\\n?$)';
      else out += `\\${n}`;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal in Java.
      if (source[i + 1] === '^') out += source[++i];
      if (source[i + 1] === ']') {
        out += '\\]';
        i += 1;
      }
      prevQuantifier = false;
      continue;
    }
    if (c === '+' && prevQuantifier) {
      prevQuantifier = false; // possessive: matched greedily here
      continue;
    }
    out += c;
    prevQuantifier = c === '*' || c === '+' || c === '?' || c === '}';
  }
  return new RegExp(`^(?:${out})$`, flags);
}
