import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, mkdir, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/objectstore/local-object-store.js';
import { ObjectStoreError, compareUtf8 } from '../../src/objectstore/object-store.js';
import { createObjectStore } from '../../src/objectstore/index.js';

let root: string;

async function put(...keys: string[]): Promise<void> {
  const files = keys.map((key) => ({ key, file: path.join(root, ...key.split('/')) }));
  for (const dir of new Set(files.map((f) => path.dirname(f.file)))) await mkdir(dir, { recursive: true });
  for (let i = 0; i < files.length; i += 64) {
    await Promise.all(files.slice(i, i + 64).map((f) => writeFile(f.file, f.key)));
  }
}

async function exists(rel: string): Promise<boolean> {
  try {
    await stat(path.join(root, rel));
    return true;
  } catch {
    return false;
  }
}

/** Makes `rel` impossible to unlink for this process; returns the undo. */
async function makeUndeletable(rel: string): Promise<() => Promise<void>> {
  const file = path.join(root, rel);
  if (process.getuid?.() === 0) {
    // Root ignores permission bits; the immutable attribute (ext4, xfs, btrfs) stops it.
    execFileSync('chattr', ['+i', file]);
    return async () => {
      execFileSync('chattr', ['-i', file]);
    };
  }
  await chmod(path.dirname(file), 0o555);
  return () => chmod(path.dirname(file), 0o755);
}

async function rejection(p: Promise<unknown>): Promise<ObjectStoreError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ObjectStoreError);
  return error as ObjectStoreError;
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'lw-local-store-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('LocalObjectStore', () => {
  it('lists the partition folders of the default layout, with = in names, as full prefixes', async () => {
    await put(
      'logs/env=prod/service_name=orders/component_name=api/year=2025/month=01/day=02/hour=03/minute=04/part-0.parquet',
      'logs/env=prod/service_name=billing/component_name=worker/year=2025/month=01/day=02/hour=03/minute=04/part-0.parquet',
      'logs/env=stag/service_name=orders/component_name=api/part-0.parquet',
    );
    const store = new LocalObjectStore({ path: root });
    expect(await store.listPrefixes('')).toEqual(['logs/']);
    expect(await store.listPrefixes('logs/')).toEqual(['logs/env=prod/', 'logs/env=stag/']);
    expect(await store.listPrefixes('logs/env=prod/')).toEqual(['logs/env=prod/service_name=billing/', 'logs/env=prod/service_name=orders/']);
    expect(await store.listPrefixes('logs/env=prod/service_name=orders/component_name=api/year=2025/month=01/day=02/hour=03/')).toEqual([
      'logs/env=prod/service_name=orders/component_name=api/year=2025/month=01/day=02/hour=03/minute=04/',
    ]);
    // One directory read of the listed prefix per call.
    expect(store.stats.listCalls).toBe(4);
    expect(store.describe()).toBe(`local:${root}`);
  });

  it('keeps URL-special and unicode characters exactly, and sorts like S3 (UTF-8 bytes)', async () => {
    const names = [
      'service_name=a b',
      'service_name=a+b',
      'service_name=a%20b',
      'service_name=a&b=c',
      'service_name=a?x#y',
      'service_name=ünïcødé',
      'service_name=日本',
      'service_name=😀',
      'service_name=\uFF21', // fullwidth A: above the surrogates in UTF-8 order, below them in UTF-16
      "service_name=it's;@,$!~*()[]",
      'service_name=A',
      'service_name=a-b',
      'service_name=a',
    ];
    await put(...names.map((n) => `logs/env=prod/${n}/part-0.parquet`));
    const store = new LocalObjectStore({ path: root });

    const prefixes = await store.listPrefixes('logs/env=prod/');
    const expected = names.map((n) => `logs/env=prod/${n}/`).sort(compareUtf8);
    expect(prefixes).toEqual(expected);
    // Byte order differs from JS string order here: 😀 (F0…) after Ａ (EF…), though its UTF-16 surrogates sort first.
    expect(prefixes.indexOf('logs/env=prod/service_name=😀/')).toBeGreaterThan(prefixes.indexOf('logs/env=prod/service_name=\uFF21/'));
    // A "folder" sorts by its full prefix: "a-b/" before "a/" ('-' < '/').
    expect(prefixes.indexOf('logs/env=prod/service_name=a-b/')).toBeLessThan(prefixes.indexOf('logs/env=prod/service_name=a/'));

    const keys = await store.listKeys('logs/env=prod/');
    expect(keys).toEqual(names.map((n) => `logs/env=prod/${n}/part-0.parquet`).sort(compareUtf8));
    // Listing one of them by its exact prefix works too.
    expect(await store.listKeys('logs/env=prod/service_name=a&b=c/')).toEqual(['logs/env=prod/service_name=a&b=c/part-0.parquet']);
  });

  it('lists every key below a prefix, recursively, sorted; and supports a partial last segment like S3', async () => {
    await put('checkpoint/offsets/0', 'checkpoint/offsets/1', 'checkpoint/commits/0', 'checkpoint/metadata', 'checkpointer/x', 'logs/a/b');
    const store = new LocalObjectStore({ path: root });
    expect(await store.listKeys('checkpoint/')).toEqual(['checkpoint/commits/0', 'checkpoint/metadata', 'checkpoint/offsets/0', 'checkpoint/offsets/1']);
    expect(await store.listKeys('')).toEqual([
      'checkpoint/commits/0',
      'checkpoint/metadata',
      'checkpoint/offsets/0',
      'checkpoint/offsets/1',
      'checkpointer/x',
      'logs/a/b',
    ]);
    expect(await store.listKeys('checkpoint')).toHaveLength(5);
    expect(await store.listPrefixes('checkpoint/o')).toEqual(['checkpoint/offsets/']);
  });

  it('ignores empty folders (a folder exists only while a file lies below it), and plain files in listPrefixes', async () => {
    await put('logs/env=prod/service_name=a/component_name=x/part-0', 'logs/env=prod/file-not-folder');
    await mkdir(path.join(root, 'logs/env=prod/service_name=empty/component_name=y/year=2025'), { recursive: true });
    await mkdir(path.join(root, 'logs/env=dev'), { recursive: true });
    const store = new LocalObjectStore({ path: root });
    expect(await store.listPrefixes('logs/')).toEqual(['logs/env=prod/']);
    expect(await store.listPrefixes('logs/env=prod/')).toEqual(['logs/env=prod/service_name=a/']);
    expect(await store.listKeys('logs/env=prod/service_name=empty/')).toEqual([]);
  });

  it('lists a missing directory (or a missing root) as empty', async () => {
    const store = new LocalObjectStore({ path: root });
    expect(await store.listPrefixes('nothing/here/')).toEqual([]);
    expect(await store.listKeys('nothing/here/')).toEqual([]);
    await put('file');
    expect(await store.listPrefixes('file/')).toEqual([]); // a prefix running through a file

    const missing = new LocalObjectStore({ path: path.join(root, 'does-not-exist') });
    expect(await missing.listPrefixes('')).toEqual([]);
    expect(await missing.listKeys('logs/')).toEqual([]);
    const err = await rejection(missing.ping());
    expect(err.code).toBe('ENOENT');
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('follows symbolic links, and cuts loops', async () => {
    await put('real/env=prod/part-0', 'real/env=dev/part-0');
    await mkdir(path.join(root, 'logs'));
    await symlink(path.join(root, 'real', 'env=prod'), path.join(root, 'logs', 'env=prod'));
    await symlink(path.join(root, 'logs'), path.join(root, 'logs', 'loop')); // back to the listed folder
    await symlink(path.join(root, 'real'), path.join(root, 'real', 'env=dev', 'up')); // back to an ancestor
    await symlink(path.join(root, 'nowhere'), path.join(root, 'logs', 'dangling'));
    const store = new LocalObjectStore({ path: root });
    expect(await store.listPrefixes('logs/')).toEqual(['logs/env=prod/']);
    expect(await store.listKeys('logs/')).toEqual(['logs/env=prod/part-0']);
    expect(await store.listKeys('real/')).toEqual(['real/env=dev/part-0', 'real/env=prod/part-0']);
  });

  it('follows links that stay inside the root; ignores, in listPrefixes (discovery), links that leave it', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'lw-local-outside-'));
    try {
      await put('logs/env=prod/service_name=a/part-0', 'shared/env=stag/service_name=b/part-0');
      await mkdir(path.join(outside, 'env=evil', 'service_name=x'), { recursive: true });
      await writeFile(path.join(outside, 'env=evil', 'service_name=x', 'part-0'), 'x');
      await writeFile(path.join(outside, 'file'), 'x');
      await symlink(path.join(root, 'shared', 'env=stag'), path.join(root, 'logs', 'env=stag')); // inside: followed
      await symlink(path.join(outside, 'env=evil'), path.join(root, 'logs', 'env=evil')); // outside: ignored
      await symlink('../../../..' + outside, path.join(root, 'logs', 'env=relative')); // outside through a relative link
      await mkdir(path.join(root, 'logs', 'env=linked-file', 'service_name=y'), { recursive: true });
      await symlink(path.join(outside, 'file'), path.join(root, 'logs', 'env=linked-file', 'service_name=y', 'part-0')); // a file outside
      const store = new LocalObjectStore({ path: root });
      expect(await store.listPrefixes('logs/')).toEqual(['logs/env=prod/', 'logs/env=stag/']);
      expect(await store.listPrefixes('logs/env=stag/')).toEqual(['logs/env=stag/service_name=b/']);
      // Listed through the link that leaves the root: nothing there, as for a missing folder.
      expect(await store.listPrefixes('logs/env=evil/')).toEqual([]);
      expect(await store.listPrefixes('logs/env=linked-file/')).toEqual([]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('a state cleanup through a checkpoint link that leaves the root deletes nothing outside it', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'lw-local-outside-'));
    try {
      for (const f of ['offsets/0', 'commits/0', 'metadata']) {
        await mkdir(path.dirname(path.join(outside, f)), { recursive: true });
        await writeFile(path.join(outside, f), f);
      }
      await put('logs/_spark_metadata/0');
      await symlink(outside, path.join(root, 'checkpoint'));
      const store = new LocalObjectStore({ path: root });
      // What the replay's state cleanup does: list the keys under checkpoint/, delete them.
      const listing = await rejection(store.listKeys('checkpoint/'));
      expect(listing).toMatchObject({ code: 'OutsideRoot', retryable: false });
      expect(listing.message).toMatch(/"checkpoint\/".*leaves the root .*symbolic link/);
      // Keys named by hand (or listed before the link appeared) are refused one by one, and nothing outside goes.
      const res = await store.deleteKeys(['checkpoint/offsets/0', 'checkpoint/commits/0', 'checkpoint/metadata', 'logs/_spark_metadata/0']);
      expect(res.deleted).toBe(1);
      expect(res.errors.map((e) => [e.key, e.code])).toEqual([
        ['checkpoint/offsets/0', 'OutsideRoot'],
        ['checkpoint/commits/0', 'OutsideRoot'],
        ['checkpoint/metadata', 'OutsideRoot'],
      ]);
      expect((await readdir(outside)).sort()).toEqual(['commits', 'metadata', 'offsets']);
      expect(await readdir(path.join(outside, 'offsets'))).toEqual(['0']);
      expect(await exists('logs/_spark_metadata/0')).toBe(false);
      expect(await exists('checkpoint')).toBe(true); // the link itself stays

      // A link deeper down: the real files beside it are listed and deleted, the link's are not.
      await rm(path.join(root, 'checkpoint'));
      await put('checkpoint/metadata', 'checkpoint/sources/0');
      await symlink(path.join(outside, 'offsets'), path.join(root, 'checkpoint', 'offsets'));
      const deeper = await rejection(store.listKeys('checkpoint/'));
      expect(deeper.message).toContain('"checkpoint/offsets"');
      const res2 = await store.deleteKeys(['checkpoint/metadata', 'checkpoint/offsets/0', 'checkpoint/sources/0']);
      expect(res2).toMatchObject({ deleted: 2, errors: [{ key: 'checkpoint/offsets/0', code: 'OutsideRoot' }] });
      expect(await readdir(path.join(outside, 'offsets'))).toEqual(['0']);

      // A key that is itself a link to a file outside: the link is deleted, never its target.
      await symlink(path.join(outside, 'metadata'), path.join(root, 'checkpoint', 'linked-metadata'));
      expect(await store.deleteKeys(['checkpoint/linked-metadata'])).toEqual({ deleted: 1, errors: [] });
      expect(await readdir(outside)).toContain('metadata');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('works under a root that is itself a symbolic link', async () => {
    await put('real/logs/env=prod/part-0', 'real/checkpoint/0');
    await symlink(path.join(root, 'real'), path.join(root, 'alias'));
    const store = new LocalObjectStore({ path: path.join(root, 'alias') });
    expect(await store.listPrefixes('logs/')).toEqual(['logs/env=prod/']);
    expect(await store.listKeys('checkpoint/')).toEqual(['checkpoint/0']);
    expect(await store.deleteKeys(['checkpoint/0'])).toEqual({ deleted: 1, errors: [] });
    expect(await exists('real/checkpoint')).toBe(false);
  });

  it('deletes keys in batches of at most 1,000 and prunes the directories left empty, not the root', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 2100; i++) keys.push(`checkpoint/sources/0/${String(i).padStart(4, '0')}`);
    keys.push('checkpoint/offsets/0', 'checkpoint/metadata', 'logs/_spark_metadata/0', 'logs/_spark_metadata/1.compact');
    await put(...keys, 'logs/env=prod/service_name=a/part-0');
    const store = new LocalObjectStore({ path: root });

    const spark = await store.listKeys('logs/_spark_metadata/');
    const checkpoint = await store.listKeys('checkpoint/');
    expect(checkpoint).toHaveLength(2102);
    const res = await store.deleteKeys([...checkpoint, ...spark]);
    expect(res).toEqual({ deleted: 2104, errors: [] });
    expect(store.stats.deleteCalls).toBe(3);

    expect(await store.listKeys('checkpoint/')).toEqual([]);
    expect(await store.listPrefixes('')).toEqual(['logs/']);
    expect(await exists('checkpoint')).toBe(false);
    expect(await exists('logs/_spark_metadata')).toBe(false);
    expect(await exists('logs/env=prod/service_name=a/part-0')).toBe(true);

    // Deleting the last file prunes up to, not including, the root.
    expect(await store.deleteKeys(['logs/env=prod/service_name=a/part-0'])).toEqual({ deleted: 1, errors: [] });
    expect(await readdir(root)).toEqual([]);
    expect(await exists('')).toBe(true);
  });

  it('treats missing keys as deleted (as S3 does), dedupes keys, and returns per-key failures instead of throwing', async () => {
    await put('a/b/c', 'a/keep');
    const store = new LocalObjectStore({ path: root });
    const res = await store.deleteKeys(['a/b/c', 'a/b/c', 'a/missing', 'a/b', '']);
    expect(res.deleted).toBe(3);
    expect(res.errors).toEqual([{ key: '', code: 'InvalidKey', message: 'an object key must not be empty' }]);
    expect(await exists('a/b')).toBe(false);
    expect(await exists('a/keep')).toBe(true);
    expect(await store.deleteKeys([])).toEqual({ deleted: 0, errors: [] });

    // A file the process may not delete: read-only directory for a normal user, immutable file for root.
    await put('ro/x');
    const undo = await makeUndeletable('ro/x');
    try {
      const denied = await store.deleteKeys(['ro/x', 'a/keep']);
      expect(denied.deleted).toBe(1);
      expect(denied.errors).toHaveLength(1);
      expect(denied.errors[0]).toMatchObject({ key: 'ro/x', code: expect.stringMatching(/^(EACCES|EPERM)$/) });
      expect(denied.errors[0]?.message).toContain('unlink');
      expect(await exists('ro/x')).toBe(true);
    } finally {
      await undo();
    }
  });

  it('rejects path traversal and absolute keys with an error, deleting nothing', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'lw-local-outside-'));
    try {
      await writeFile(path.join(outside, 'victim'), 'x');
      await put('inside/file');
      const store = new LocalObjectStore({ path: path.join(root, 'inside') });
      const rel = path.relative(path.join(root, 'inside'), path.join(outside, 'victim'));

      for (const key of [rel, '../inside/file', 'a/../../x', path.join(outside, 'victim'), '/etc/passwd', 'a/./b', 'a//b']) {
        const err = await rejection(store.deleteKeys(['file', key]));
        expect(err.code).toBe('InvalidKey');
        expect(err.retryable).toBe(false);
        expect(err.message).toContain('deleteKeys');
      }
      for (const prefix of ['../', '../../', 'a/../../', '/', '/etc/']) {
        expect((await rejection(store.listKeys(prefix))).code).toBe('InvalidKey');
        expect((await rejection(store.listPrefixes(prefix))).code).toBe('InvalidKey');
      }
      expect(await exists('inside/file')).toBe(true);
      expect((await stat(path.join(outside, 'victim'))).isFile()).toBe(true);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('a listing sees what was written before it started, even in the same turn of the loop (read-after-write, as S3)', async () => {
    await put('logs/env=prod/service_name=a/part-0');
    const store = new LocalObjectStore({ path: root });
    expect(await store.listPrefixes('logs/env=prod/')).toEqual(['logs/env=prod/service_name=a/']);
    // Written synchronously: no turn of the loop between the two listings.
    mkdirSync(path.join(root, 'logs', 'env=prod', 'service_name=b', 'year=2026'), { recursive: true });
    writeFileSync(path.join(root, 'logs', 'env=prod', 'service_name=b', 'year=2026', 'part-0'), 'b');
    expect(await store.listPrefixes('logs/env=prod/')).toEqual(['logs/env=prod/service_name=a/', 'logs/env=prod/service_name=b/']);
    expect(await store.listPrefixes('logs/env=prod/service_name=b/')).toEqual(['logs/env=prod/service_name=b/year=2026/']);
  });

  it('lets the event loop turn while it lists a large tree (it reads directories synchronously, in slices)', async () => {
    await put(...Array.from({ length: 6000 }, (_, i) => `logs/service_name=s${i}/part-0.json`));
    const store = new LocalObjectStore({ path: root });
    let turns = 0;
    let done = false;
    const spin = () => {
      turns++;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    const listed = await store.listPrefixes('logs/');
    done = true;
    expect(listed).toHaveLength(6000);
    // 6,000 stats and reads take tens of milliseconds; the loop turned every couple of them.
    expect(turns).toBeGreaterThan(3);
  });

  it('honours an aborted signal and close()', async () => {
    await put('a/b');
    const store = new LocalObjectStore({ path: root });
    const err = await rejection(store.listKeys('a/', AbortSignal.abort()));
    expect(err.code).toBe('AbortError');
    store.close();
    expect((await rejection(store.listPrefixes(''))).code).toBe('Closed');
  });

  it('is what createObjectStore builds for objectStore.local', async () => {
    await put('logs/env=prod/x');
    const store = createObjectStore({ local: { path: root } });
    expect(store).toBeInstanceOf(LocalObjectStore);
    expect(await store.listPrefixes('logs/')).toEqual(['logs/env=prod/']);
    expect(() => createObjectStore({})).toThrow(/exactly one/);
  });
});
