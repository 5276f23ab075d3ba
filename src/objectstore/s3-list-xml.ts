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

/** A tag name's first character: a letter or `_`. */
function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** A tag name's other characters: letters, digits, `_`, `.`, `:` and `-`. */
function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 58;
}

/**
 * Tag names and element paths seen before, one string each (an S3 answer repeats the same few
 * thousands of times): a page is read without a new string per tag. Bounded, for answers that
 * are not what they should be.
 */
const knownNames: string[] = [];
const knownPaths = new Map<string, Map<string, string>>();
const MAX_KNOWN = 64;

function nameAt(xml: string, start: number, end: number): string {
  const length = end - start;
  for (const name of knownNames) if (name.length === length && xml.startsWith(name, start)) return name;
  const name = xml.slice(start, end);
  if (knownNames.length < MAX_KNOWN) knownNames.push(name);
  return name;
}

function childPath(parent: string, name: string): string {
  if (parent === '') return name;
  let children = knownPaths.get(parent);
  const known = children?.get(name);
  if (known !== undefined) return known;
  const path = `${parent}/${name}`;
  if (!children && knownPaths.size < MAX_KNOWN) knownPaths.set(parent, (children = new Map()));
  if (children && children.size < MAX_KNOWN) children.set(name, path);
  return path;
}

/** Where a construct that `<!` or `<?` opens ends (past its terminator), and the CDATA it holds; undefined when it is not one. */
function specialEnd(xml: string, lt: number): { end: number; cdata?: [number, number] } | undefined {
  if (xml.startsWith('<![CDATA[', lt)) {
    const close = xml.indexOf(']]>', lt + 9);
    return close === -1 ? undefined : { end: close + 3, cdata: [lt + 9, close] };
  }
  if (xml.startsWith('<!--', lt)) {
    const close = xml.indexOf('-->', lt + 4);
    return close === -1 ? undefined : { end: close + 3 };
  }
  if (xml.startsWith('<?', lt)) {
    const close = xml.indexOf('?>', lt + 2);
    return close === -1 ? undefined : { end: close + 2 };
  }
  if (xml.startsWith('<!DOCTYPE', lt)) {
    const close = xml.indexOf('>', lt + 9);
    return close === -1 ? undefined : { end: close + 1 };
  }
  return undefined;
}

/**
 * Calls `onText(path, text)` for every element that holds text only, `path` being the names of
 * its ancestors and its own joined with '/' below the root (`CommonPrefixes/Prefix`); returns
 * the root element's name. A scanner over the string (no match object or substring per tag):
 * ten thousand pages make a large discovery sync.
 */
function walkXml(xml: string, onText: (path: string, text: string) => void): string {
  const stack: string[] = [];
  /** The path of each open element below the root ('' for the root). */
  const paths: string[] = [];
  let root = '';
  /** The innermost element's text taken so far (across CDATA sections and comments); the rest runs from `textFrom`. */
  let text = '';
  let textFrom = 0;
  /** Whether the innermost open element has had a child (then its text is not a value). */
  let hadChild = false;
  /** The first `&` at or after `textFrom` (-1: none): text without one needs no decoding. */
  let amp = xml.indexOf('&');
  /** Takes the text from `textFrom` to `to` (entities decoded: an unknown one is an error wherever it is). */
  const takeText = (to: number, keep: boolean) => {
    if (amp !== -1 && amp < textFrom) amp = xml.indexOf('&', textFrom);
    const needsDecoding = amp !== -1 && amp < to;
    if (!keep && !needsDecoding) return;
    const piece = needsDecoding ? decodeEntities(xml.slice(textFrom, to)) : xml.slice(textFrom, to);
    if (keep) text = text === '' ? piece : text + piece;
  };
  let pos = 0;
  for (let lt = xml.indexOf('<'); lt !== -1; lt = xml.indexOf('<', pos)) {
    const next = xml.charCodeAt(lt + 1);
    if (next === 0x21 || next === 0x3f) {
      // `<!` or `<?`: CDATA (its content is text), a comment, a processing instruction or a DOCTYPE.
      const special = specialEnd(xml, lt);
      if (!special) {
        pos = lt + 1; // not markup: part of the text
        continue;
      }
      if (stack.length > 0) {
        if (lt > textFrom) takeText(lt, true);
        if (special.cdata) text += xml.slice(special.cdata[0], special.cdata[1]);
      }
      pos = textFrom = special.end;
      continue;
    }
    const closing = next === 0x2f;
    const nameStart = closing ? lt + 2 : lt + 1;
    if (!isNameStart(xml.charCodeAt(nameStart))) {
      pos = lt + 1;
      continue;
    }
    let nameEnd = nameStart + 1;
    while (nameEnd < xml.length && isNameChar(xml.charCodeAt(nameEnd))) nameEnd++;
    const gt = xml.indexOf('>', nameEnd);
    if (gt === -1) {
      pos = lt + 1;
      continue;
    }
    pos = gt + 1;
    if (closing) {
      const open = stack[stack.length - 1];
      if (open === undefined || open.length !== nameEnd - nameStart || !xml.startsWith(open, nameStart)) {
        throw new S3XmlError(`malformed XML: </${xml.slice(nameStart, nameEnd)}> closes <${open ?? ''}>`);
      }
      const leaf = !hadChild && stack.length > 1;
      if (lt > textFrom) takeText(lt, leaf);
      if (leaf) onText(paths[paths.length - 1]!, text);
      stack.pop();
      paths.pop();
      hadChild = true;
    } else {
      if (stack.length > 0 && lt > textFrom) takeText(lt, false);
      const name = nameAt(xml, nameStart, nameEnd);
      if (stack.length === 0) {
        if (root !== '') throw new S3XmlError('malformed XML: more than one root element');
        root = name;
      }
      const parent = paths[paths.length - 1];
      const path = parent === undefined ? '' : childPath(parent, name);
      if (gt > nameEnd && xml.charCodeAt(gt - 1) === 0x2f) {
        // Self-closed: empty text.
        if (stack.length > 0) onText(path, '');
        hadChild = true;
      } else {
        stack.push(name);
        paths.push(path);
        hadChild = false;
      }
    }
    text = '';
    textFrom = pos;
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
