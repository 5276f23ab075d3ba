/**
 * The parts of S3 XML answers the object store reads, parsed exactly and without a general XML
 * parser: a ListObjectsV2 result (`ListBucketResult`) and an error (`Error`). Text is taken as
 * it is (no trimming: keys may begin or end with spaces), with XML's entities and CDATA
 * sections decoded; with `EncodingType` `url` the keys and prefixes are URL-decoded as S3
 * encodes them (`+` for a space).
 */

export interface ListObjectsV2Page {
  /** CommonPrefixes/Prefix, in the order listed. */
  prefixes: string[];
  /** Contents/Key, in the order listed. */
  keys: string[];
  isTruncated: boolean;
  nextContinuationToken: string | undefined;
  keyCount: number | undefined;
}

export class S3XmlError extends Error {
  override readonly name = 'S3XmlError';
}

/** Tags, CDATA sections, comments and processing instructions, in document order. */
const MARKUP = /<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>/g;

/**
 * Calls `onText(path, text)` for every element that holds text only, `path` being the names of
 * its ancestors and its own joined with '/' below the root (`CommonPrefixes/Prefix`); returns
 * the root element's name.
 */
function walkXml(xml: string, onText: (path: string, text: string) => void): string {
  const stack: string[] = [];
  /** The path of each open element below the root ('' for the root). */
  const paths: string[] = [];
  let root = '';
  let text = '';
  /** Whether the innermost open element has had a child (then its text is not a value). */
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
  if (stack.length > 0 || root === '') throw new S3XmlError(`malformed XML: ${root === '' ? 'no root element' : `<${stack[stack.length - 1]}> is not closed`}`);
  return root;
}

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

/** S3's `encoding-type=url`: percent-encoding with `+` for a space. */
function urlDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

export function parseListObjectsV2(xml: string): ListObjectsV2Page {
  const prefixes: string[] = [];
  const keys: string[] = [];
  let isTruncated: string | undefined;
  let nextContinuationToken: string | undefined;
  let keyCount: string | undefined;
  let encodingType: string | undefined;
  const root = walkXml(xml, (path, text) => {
    switch (path) {
      case 'CommonPrefixes/Prefix':
        prefixes.push(text);
        break;
      case 'Contents/Key':
        keys.push(text);
        break;
      case 'IsTruncated':
        isTruncated = text;
        break;
      case 'NextContinuationToken':
        nextContinuationToken = text;
        break;
      case 'KeyCount':
        keyCount = text;
        break;
      case 'EncodingType':
        encodingType = text;
        break;
    }
  });
  if (root !== 'ListBucketResult') throw new S3XmlError(`expected a ListBucketResult, got <${root}>`);
  if (isTruncated !== undefined && isTruncated !== 'true' && isTruncated !== 'false') throw new S3XmlError(`IsTruncated is ${JSON.stringify(isTruncated)}`);
  const decode = encodingType?.toLowerCase() === 'url' ? urlDecode : (v: string) => v;
  return {
    prefixes: encodingType ? prefixes.map(decode) : prefixes,
    keys: encodingType ? keys.map(decode) : keys,
    isTruncated: isTruncated === 'true',
    nextContinuationToken: nextContinuationToken === '' ? undefined : nextContinuationToken,
    keyCount: keyCount === undefined ? undefined : Number(keyCount),
  };
}

/** An S3 error body (`<Error><Code>…</Code><Message>…</Message></Error>`); undefined when the body is not one. */
export function parseS3Error(xml: string): { code: string | undefined; message: string | undefined } | undefined {
  let code: string | undefined;
  let message: string | undefined;
  try {
    const root = walkXml(xml, (path, text) => {
      if (path === 'Code') code = text;
      else if (path === 'Message') message = text;
    });
    return root === 'Error' ? { code, message } : undefined;
  } catch {
    return undefined;
  }
}
