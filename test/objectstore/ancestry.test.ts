/**
 * The local store's loop detection: a directory is recognised among those a walk came through
 * by device:inode, read only when asked; and no walk goes deeper than any S3 key could.
 */
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ancestry, MAX_WALK_DEPTH, directoryId } from '../../src/objectstore/ancestry.js';
import { LocalObjectStore } from '../../src/objectstore/local-object-store.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'lw-ancestry-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Ancestry', () => {
  it('recognises the directories a walk came through, also through a link to one of them, and no other', async () => {
    await mkdir(path.join(root, 'a', 'b', 'c'), { recursive: true });
    await mkdir(path.join(root, 'other'));
    await symlink(path.join(root, 'a'), path.join(root, 'a', 'b', 'c', 'up'));
    const walk = Ancestry.of(path.join(root, 'a'))
      .below(path.join(root, 'a', 'b'))
      .below(path.join(root, 'a', 'b', 'c'));
    expect(walk.depth).toBe(3);
    expect(walk.includes(directoryId(path.join(root, 'a', 'b', 'c', 'up'))!)).toBe(true);
    expect(walk.includes(directoryId(path.join(root, 'a', 'b'))!)).toBe(true);
    expect(walk.includes(directoryId(path.join(root, 'other'))!)).toBe(false);
  });

  it('takes the id given for a directory reached through a link instead of reading it', async () => {
    await mkdir(path.join(root, 'a'));
    const walk = Ancestry.of(path.join(root, 'a')).below(path.join(root, 'gone'), 'given:1');
    expect(walk.includes('given:1')).toBe(true);
    expect(directoryId(path.join(root, 'gone'))).toBeNull();
  });

  it('the local store walks no deeper than an S3 key could reach', async () => {
    const segments = Array.from({ length: MAX_WALK_DEPTH + 2 }, (_, i) => `d${i % 10}`);
    await mkdir(path.join(root, ...segments), { recursive: true });
    await writeFile(path.join(root, ...segments.slice(0, 3), 'shallow'), 'x');
    await writeFile(path.join(root, ...segments, 'too-deep'), 'x');
    const keys = await new LocalObjectStore({ path: root }).listKeys('');
    expect(keys).toEqual([`${segments.slice(0, 3).join('/')}/shallow`]);
  });
});
