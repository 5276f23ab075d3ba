import { describe, expect, it } from 'vitest';
import { parseListObjectsV2, parseS3Error } from '../../src/objectstore/s3-list-xml.js';

const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

describe('parseListObjectsV2', () => {
  it('reads the common prefixes, keys and paging fields, and not the request Prefix', () => {
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult ${NS}><Name>b</Name><Prefix>logs/</Prefix><KeyCount>3</KeyCount>` +
      `<MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><NextContinuationToken>1/abc==</NextContinuationToken>` +
      `<Contents><Key>logs/a.txt</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>1</Size></Contents>` +
      `<CommonPrefixes><Prefix>logs/env=prod/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>logs/env=dev/</Prefix></CommonPrefixes></ListBucketResult>`;
    expect(parseListObjectsV2(xml)).toEqual({
      prefixes: ['logs/env=prod/', 'logs/env=dev/'],
      keys: ['logs/a.txt'],
      isTruncated: true,
      nextContinuationToken: '1/abc==',
      keyCount: 3,
    });
  });

  it('decodes entities and CDATA exactly, keeping spaces at either end', () => {
    const xml =
      `<ListBucketResult ${NS}>\n  <IsTruncated>false</IsTruncated>\n  <Contents>\n    <Key> a &amp; b &lt;c&gt; &#x1F600;&#233;&apos;&quot; </Key>\n  </Contents>\n` +
      `  <CommonPrefixes>\n    <Prefix><![CDATA[x<y>&z/]]></Prefix>\n  </CommonPrefixes>\n</ListBucketResult>`;
    const page = parseListObjectsV2(xml);
    expect(page.keys).toEqual([' a & b <c> 😀é\'" ']);
    expect(page.prefixes).toEqual(['x<y>&z/']);
    expect(page.isTruncated).toBe(false);
    expect(page.nextContinuationToken).toBeUndefined();
  });

  it('URL-decodes keys and prefixes when the answer says EncodingType url (+ is a space)', () => {
    const xml = `<ListBucketResult ${NS}><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated><Contents><Key>a+b%2Bc%0A</Key></Contents><CommonPrefixes><Prefix>p%3Dq/</Prefix></CommonPrefixes></ListBucketResult>`;
    expect(parseListObjectsV2(xml)).toMatchObject({ keys: ['a b+c\n'], prefixes: ['p=q/'] });
  });

  it('reads an empty listing, and self-closed elements as empty text', () => {
    expect(
      parseListObjectsV2(`<ListBucketResult ${NS}><Name>b</Name><Prefix/><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`),
    ).toEqual({
      prefixes: [],
      keys: [],
      isTruncated: false,
      nextContinuationToken: undefined,
      keyCount: 0,
    });
  });

  it('refuses what is not a whole ListBucketResult', () => {
    expect(() => parseListObjectsV2(`<Error><Code>NoSuchBucket</Code></Error>`)).toThrow(/ListBucketResult/);
    expect(() => parseListObjectsV2(`<ListBucketResult><Contents><Key>a</Key></ListBucketResult>`)).toThrow(/malformed/);
    expect(() => parseListObjectsV2(`<ListBucketResult><Contents><Key>a`)).toThrow(/not closed/);
    expect(() => parseListObjectsV2(`<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>`)).toThrow(/IsTruncated/);
    expect(() => parseListObjectsV2(`<ListBucketResult><Contents><Key>&bogus;</Key></Contents></ListBucketResult>`)).toThrow(/entity/);
    expect(() => parseListObjectsV2('')).toThrow(/no root/);
  });
});

describe('parseS3Error', () => {
  it('reads the code and message of an error body, and nothing from anything else', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>b</BucketName><RequestId>r</RequestId></Error>`;
    expect(parseS3Error(xml)).toEqual({ code: 'NoSuchBucket', message: 'The specified bucket does not exist' });
    expect(parseS3Error('<html><body>Bad gateway</body></html>')).toBeUndefined();
    expect(parseS3Error('')).toBeUndefined();
  });
});
