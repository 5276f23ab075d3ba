/**
 * The XML scanner of `s3-list-xml.ts` against the regular-expression walker it replaced (kept
 * here as the reference): the same pages, and an error where it failed, for random documents
 * built of the markup S3 answers hold and of the malformed pieces around it.
 */
import { describe, expect, it } from 'vitest';
import { parseListObjectsV2, S3XmlError, type ListObjectsV2Page } from '../../src/objectstore/s3-list-xml.js';

// ---------------------------------------------------------------- the reference (the former parser)

const MARKUP = /<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>/g;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    const named = ENTITIES[ref];
    if (named === undefined) throw new S3XmlError(`malformed XML: unknown entity ${whole}`);
    return named;
  });
}

function referenceWalk(xml: string, onText: (path: string, text: string) => void): string {
  const stack: string[] = [];
  const paths: string[] = [];
  let root = '';
  let text = '';
  let hadChild = false;
  let last = 0;
  MARKUP.lastIndex = 0;
  for (let m = MARKUP.exec(xml); m !== null; m = MARKUP.exec(xml)) {
    if (stack.length > 0 && m.index > last) text += decodeEntities(xml.slice(last, m.index));
    last = MARKUP.lastIndex;
    const [whole, closing, name, selfClosing, cdata] = m;
    if (cdata !== undefined) {
      if (stack.length > 0) text += cdata;
    } else if (name === undefined || whole.startsWith('<!') || whole.startsWith('<?')) {
      continue;
    } else if (closing) {
      if (stack[stack.length - 1] !== name) throw new S3XmlError(`malformed XML: </${name}> closes <${stack[stack.length - 1] ?? ''}>`);
      if (!hadChild && stack.length > 1) onText(paths[paths.length - 1]!, text);
      stack.pop();
      paths.pop();
      hadChild = true;
      text = '';
    } else {
      if (stack.length === 0) {
        if (root !== '') throw new S3XmlError('malformed XML: more than one root element');
        root = name;
      }
      const parent = paths[paths.length - 1];
      const path = parent === undefined ? '' : parent === '' ? name : `${parent}/${name}`;
      if (selfClosing) {
        if (stack.length > 0) onText(path, '');
        hadChild = true;
      } else {
        stack.push(name);
        paths.push(path);
        hadChild = false;
      }
      text = '';
    }
  }
  if (stack.length > 0 || root === '') throw new S3XmlError('malformed XML');
  return root;
}

function referenceParse(xml: string): ListObjectsV2Page {
  const prefixes: string[] = [];
  const keys: string[] = [];
  let isTruncated: string | undefined;
  let nextContinuationToken: string | undefined;
  let keyCount: string | undefined;
  let encodingType: string | undefined;
  const root = referenceWalk(xml, (path, text) => {
    if (path === 'CommonPrefixes/Prefix') prefixes.push(text);
    else if (path === 'Contents/Key') keys.push(text);
    else if (path === 'IsTruncated') isTruncated = text;
    else if (path === 'NextContinuationToken') nextContinuationToken = text;
    else if (path === 'KeyCount') keyCount = text;
    else if (path === 'EncodingType') encodingType = text;
  });
  if (root !== 'ListBucketResult') throw new S3XmlError('not a ListBucketResult');
  if (isTruncated !== undefined && isTruncated !== 'true' && isTruncated !== 'false') throw new S3XmlError('IsTruncated');
  const decode = encodingType?.toLowerCase() === 'url' ? (v: string) => decodeURIComponent(v.replace(/\+/g, ' ')) : (v: string) => v;
  return {
    prefixes: encodingType ? prefixes.map(decode) : prefixes,
    keys: encodingType ? keys.map(decode) : keys,
    isTruncated: isTruncated === 'true',
    nextContinuationToken: nextContinuationToken === '' ? undefined : nextContinuationToken,
    keyCount: keyCount === undefined ? undefined : Number(keyCount),
  };
}

// ---------------------------------------------------------------- random documents

const PIECES = [
  '<CommonPrefixes>',
  '</CommonPrefixes>',
  '<Prefix>',
  '</Prefix>',
  '<Prefix/>',
  '<Contents>',
  '</Contents>',
  '<Key>',
  '</Key>',
  '<IsTruncated>',
  '</IsTruncated>',
  '<NextContinuationToken>',
  '</NextContinuationToken>',
  '<KeyCount>',
  '</KeyCount>',
  '<EncodingType>',
  '</EncodingType>',
  'true',
  'false',
  'url',
  '3',
  'logs/env=prod/',
  'a+b%2Fc',
  ' ',
  '\n  ',
  'x y',
  '&amp;',
  '&lt;',
  '&#x1F600;',
  '&#233;',
  '&bogus;',
  '&',
  '<![CDATA[x<y>&z]]>',
  '<![CDATA[',
  ']]>',
  '<!-- a comment -->',
  '<!--',
  '<?pi x?>',
  '<?',
  '<!DOCTYPE d>',
  '<!x>',
  '<',
  '>',
  '/',
  '<a b="/">',
  '</a>',
  '<a/>',
  '<a />',
  '<1x>',
  '< a>',
  '</ a>',
  '<a:b.c-d_e>',
  '</a:b.c-d_e>',
  '<ListBucketResult>',
  '</ListBucketResult>',
];

/** A deterministic pseudo-random sequence (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function outcome(parse: (xml: string) => ListObjectsV2Page, xml: string): ListObjectsV2Page | 'error' {
  try {
    return parse(xml);
  } catch (error) {
    if (error instanceof S3XmlError || error instanceof URIError) return 'error';
    throw error;
  }
}

describe('the XML scanner', () => {
  it('reads every random document as the former parser did, and fails where it failed', () => {
    const next = random(17);
    let parsed = 0;
    for (let i = 0; i < 30_000; i++) {
      const body = Array.from({ length: Math.floor(next() * 24) }, () => PIECES[Math.floor(next() * PIECES.length)]!).join('');
      const xml = next() < 0.8 ? `<?xml version="1.0"?><ListBucketResult xmlns="x">${body}</ListBucketResult>` : body;
      const expected = outcome(referenceParse, xml);
      expect(outcome(parseListObjectsV2, xml), xml).toEqual(expected);
      if (expected !== 'error') parsed += 1;
    }
    // Enough of them are valid listings for the comparison to mean something.
    expect(parsed).toBeGreaterThan(2_000);
  });

  it('reads a page of a thousand prefixes as the former parser did', () => {
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>logs/</Prefix>` +
      `<KeyCount>1000</KeyCount><IsTruncated>true</IsTruncated><NextContinuationToken>t/1==</NextContinuationToken>` +
      Array.from({ length: 1000 }, (_, i) => `<CommonPrefixes><Prefix>logs/env=e/service_name=s-${i} &amp; &#x41;/</Prefix></CommonPrefixes>`).join('') +
      `</ListBucketResult>`;
    expect(parseListObjectsV2(xml)).toEqual(referenceParse(xml));
  });
});
