import { describe, expect, it } from 'vitest';
import { ReloadableRedactor } from '../../src/reloadable-redactor.js';
import { Redactor, scrubCredentialPatterns } from '../../src/secrets.js';

const MASK = '[redacted]';

/**
 * The rule `Redactor.scrub` keeps, written the plain way: the secrets of at least four characters,
 * once each, longest first (equal lengths in the order given), each masked wherever it is in the
 * text the previous ones left; then the credential patterns.
 */
function referenceScrub(values: readonly string[], text: string): string {
  const secrets = [...new Set(values.filter((v) => v.length >= 4))].sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(MASK);
  return scrubCredentialPatterns(out);
}

/** A seeded generator: a failing case names its seed and is the same at every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Small alphabets, so that secrets overlap, contain one another and occur by chance; "š" has the
 * low byte of "a" and "Ł" that of "A" (the index hashes low bytes), the emoji is two code units,
 * and brackets and the letters of "redacted" let secrets appear across a mask.
 */
const ALPHABETS = ['ab', 'abc', 'abš', 'aAŁ', '[]redact', 'ab]d[', 'xy🚀', '01.'];
/** Never in the generated texts: secrets from it only make the count (the index takes over above 32). */
const FILLER = 'QWERTYUIOPLKJHGFDSAZXCVBNM0123456789+/';

interface Case {
  values: string[];
  text: string;
}

function generate(seed: number, fillers: number): Case {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const alphabet = ALPHABETS[int(ALPHABETS.length)]!;
  const chars = [...alphabet];
  const word = (min: number, max: number) => Array.from({ length: min + int(max - min + 1) }, () => chars[int(chars.length)]).join('');
  const values: string[] = [];
  for (let i = 0, n = 1 + int(10); i < n; i++) {
    const pick = int(7);
    const other = values.length > 0 ? values[int(values.length)]! : word(4, 8);
    if (pick === 0)
      values.push(other.slice(0, 1 + int(other.length))); // a prefix of another
    else if (pick === 1)
      values.push(other.slice(int(other.length))); // a suffix
    else if (pick === 2)
      values.push(other + word(1, 3)); // contains another
    else if (pick === 3)
      values.push(MASK.slice(int(5), 5 + int(6))); // a piece of the mask
    else values.push(word(1, 9)); // some shorter than four: not scrubbed
  }
  for (let i = 0; i < fillers; i++) values.push(Array.from({ length: 4 + int(30) }, () => FILLER[int(FILLER.length)]).join(''));
  if (random() < 0.1) values.push(values[0]!); // the same secret twice
  let text = '';
  for (let i = 0, n = int(14); i < n; i++) {
    const pick = int(6);
    const secret = values[int(values.length)]!;
    if (pick === 0)
      text += secret + secret; // adjacent occurrences
    else if (pick === 1)
      text += secret.slice(0, int(secret.length + 1)); // a broken one
    else if (pick === 2) text += MASK.slice(int(4));
    else if (pick === 3) text += word(0, 6);
    else text += secret;
  }
  // Fillers go in the constructor at random places, so their order among equal lengths varies too.
  return { values: values.sort(() => random() - 0.5), text };
}

describe('Redactor.scrub masks exactly what the longest-first rule masks', () => {
  it.each([
    ['few secrets (searched one by one)', 0],
    ['more than 32 (the index)', 40],
    ['2,000 (the index)', 2_000],
  ])('random secrets and texts, %s', (_name, fillers) => {
    const cases = fillers === 2_000 ? 300 : 4_000;
    let masked = 0;
    for (let seed = 1; seed <= cases; seed++) {
      const { values, text } = generate(seed * 7919 + fillers, fillers);
      const expected = referenceScrub(values, text);
      const actual = new Redactor(values).scrub(text);
      if (actual !== expected) expect({ seed, values: values.filter((v) => v.length < 40), text, actual }).toEqual({ seed, values, text, actual: expected });
      if (expected !== text) masked++;
    }
    // The cases do exercise the masking, not only texts without secrets.
    expect(masked).toBeGreaterThan(cases / 3);
  });

  const many = (secrets: string[]) => [...secrets, ...Array.from({ length: 40 }, (_, i) => `filler-secret-${i}-not-in-any-text`)];

  it.each([
    ['one by one', (s: string[]) => s],
    ['by the index', many],
  ])('the rule in worked cases (%s)', (_name, withCount) => {
    const scrub = (secrets: string[], text: string) => new Redactor(withCount(secrets)).scrub(text);
    // Longest first wins even where a shorter secret starts earlier: not leftmost, the rule's order.
    expect(scrub(['cdefgh', 'abcde'], 'abcdefgh')).toBe('ab[redacted]');
    expect(scrub(['abcde', 'cdefgh'], 'xabcdefgh abcde')).toBe('xab[redacted] [redacted]');
    // A secret inside another is masked with it, and alone elsewhere.
    expect(scrub(['pass', 'secretpass'], 'secretpass pass')).toBe('[redacted] [redacted]');
    // Repeated, adjacent, overlapping itself (split takes them left to right).
    expect(scrub(['abab'], 'abababab abab')).toBe('[redacted][redacted] [redacted]');
    expect(scrub(['aaaa'], 'aaaaaaa')).toBe('[redacted]aaa');
    // Equal lengths: the first given wins.
    expect(scrub(['abcd', 'bcde'], 'abcde')).toBe('[redacted]e');
    expect(scrub(['bcde', 'abcd'], 'abcde')).toBe('a[redacted]');
    // A shorter secret that appears only once a longer one is masked: across the mask, or inside it.
    expect(scrub(['XXXXYYYY', 'd]zz'], 'XXXXYYYYzz')).toBe('[redacte[redacted]');
    expect(scrub(['XXXXYYYY', 'dact'], 'XXXXYYYY')).toBe('[re[redacted]ed]');
    // Same low bytes, other characters: not the secret.
    expect(scrub(['abcd'], 'šbcd abcd')).toBe('šbcd [redacted]');
    // Shorter than four: left alone; then the credential patterns.
    expect(scrub(['abc'], 'abc AKIAIOSFODNN7EXAMPLE')).toBe('abc [redacted]');
    expect(scrub(['abcd'], '')).toBe('');
    expect(scrub(['abcd'], 'abc')).toBe('abc');
  });

  it('a ReloadableRedactor over many learned secrets masks them as a plain one does', () => {
    const reloadable = new ReloadableRedactor(new Redactor(['base-password']));
    const keys = Array.from({ length: 500 }, (_, i) => `access-key-${i}`);
    const secretKey = (i: number) => `secret/${i}/${keys[i]}`;
    reloadable.learn({ tenants: keys.map((k, i) => ({ spark: { s3aAccessKey: k, s3aSecretKey: secretKey(i) } })) } as never);
    const text = `${keys[7]} ${secretKey(7)} base-password ${keys[499]}`;
    expect(reloadable.scrub(text)).toBe('[redacted] [redacted] [redacted] [redacted]');
    // The base's rule, then the learned secrets' (each with the credential patterns).
    const learned = keys.flatMap((k, i) => [k, secretKey(i)]);
    expect(reloadable.scrub(text)).toBe(referenceScrub(learned, referenceScrub(['base-password'], text)));
  });

  it("a ReloadableRedactor's generation moves on only when a reload teaches it a secret it did not mask", () => {
    const reloadable = new ReloadableRedactor(new Redactor(['base-password']));
    expect(reloadable.generation).toBe(0);
    const config = { tenants: [{ spark: { s3aAccessKey: 'access-key-1', s3aSecretKey: 'secret-key-1' } }] } as never;
    reloadable.learn(config);
    expect(reloadable.generation).toBe(1);
    reloadable.learn(config);
    expect(reloadable.generation).toBe(1);
    reloadable.learn({ tenants: [{ spark: { s3aAccessKey: 'access-key-2' } }] } as never);
    expect(reloadable.generation).toBe(2);
    expect(new Redactor(['x-secret']).generation).toBe(0);
  });
});
