/**
 * DirectoryListings: a directory is read again exactly when it changed, never answered from a
 * listing taken while it was still changing, and what it keeps is bounded.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as fs from 'node:fs';
import { DirectoryListings, SETTLED_AFTER_MS, type DirEntry } from '../../src/objectstore/directory-listings.js';

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return { ...real, readdirSync: vi.fn(real.readdirSync) };
});
const reads = vi.mocked(fs.readdirSync);

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'lw-listings-'));
  reads.mockClear();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** The directory's mtime set to a time of its own: a change is seen even within one tick of the file system's clock (the settle rule covers that case). */
let stamp = 0;
function changed(dir: string): void {
  const t = new Date(Date.now() - 3_600_000 + ++stamp * 1_000);
  utimesSync(dir, t, t);
}
function dirWith(names: string[]): string {
  const dir = path.join(root, 'd');
  mkdirSync(dir, { recursive: true });
  for (const n of names) writeFileSync(path.join(dir, n), '');
  return dir;
}
const names = (entries: DirEntry[]) => entries.map((e) => e.name).sort();
/** A clock SETTLED_AFTER_MS + 1 s ahead of the file system's: what was just written looks settled. */
const later = () => Date.now() + SETTLED_AFTER_MS + 1_000;

describe('DirectoryListings', () => {
  it('answers an unchanged, settled directory from its last read, without reading it again', () => {
    const dir = dirWith(['a', 'b']);
    const listings = new DirectoryListings(100, later);
    expect(names(listings.read(dir))).toEqual(['a', 'b']);
    expect(names(listings.read(dir))).toEqual(['a', 'b']);
    expect(names(listings.read(dir))).toEqual(['a', 'b']);
    expect(reads).toHaveBeenCalledTimes(1);
  });

  it('answers from memory the same names and kinds as the read: files, folders, links, other names', () => {
    const dir = dirWith(['part-00000.json', 'a b', 'x=ü', '.hidden']);
    mkdirSync(path.join(dir, 'year=2026'));
    symlinkSync(path.join(dir, 'year=2026'), path.join(dir, 'link'));
    const listings = new DirectoryListings(100, later);
    const kinds = (entries: DirEntry[]) =>
      entries.map((e) => [e.name, e.isFile(), e.isDirectory(), e.isSymbolicLink()]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const read = kinds(listings.read(dir));
    expect(read).toHaveLength(6);
    expect(kinds(listings.read(dir))).toEqual(read);
    expect(reads).toHaveBeenCalledTimes(1);
    const empty = path.join(root, 'empty');
    mkdirSync(empty);
    listings.read(empty);
    expect(listings.read(empty)).toEqual([]);
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('reads again after an entry is added, removed, renamed or replaced by a directory', () => {
    const dir = dirWith(['a']);
    const listings = new DirectoryListings(100, later);
    listings.read(dir);
    writeFileSync(path.join(dir, 'b'), '');
    changed(dir);
    expect(names(listings.read(dir))).toEqual(['a', 'b']);
    rmSync(path.join(dir, 'a'));
    changed(dir);
    expect(names(listings.read(dir))).toEqual(['b']);
    renameSync(path.join(dir, 'b'), path.join(dir, 'c'));
    changed(dir);
    expect(names(listings.read(dir))).toEqual(['c']);
    rmSync(path.join(dir, 'c'));
    mkdirSync(path.join(dir, 'c'));
    changed(dir);
    const entries = listings.read(dir);
    expect(entries.map((e) => [e.name, e.isDirectory()])).toEqual([['c', true]]);
    expect(reads).toHaveBeenCalledTimes(5);
  });

  it('reads again a directory replaced by another at the same path, or a link pointed elsewhere', () => {
    const a = dirWith(['x']);
    const b = path.join(root, 'other');
    mkdirSync(b);
    writeFileSync(path.join(b, 'y'), '');
    const link = path.join(root, 'link');
    symlinkSync(a, link);
    const listings = new DirectoryListings(100, later);
    expect(names(listings.read(link))).toEqual(['x']);
    rmSync(link);
    symlinkSync(b, link);
    expect(names(listings.read(link))).toEqual(['y']);
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('keeps nothing of a directory that changed within SETTLED_AFTER_MS of its read (a later change in the same clock tick would go unseen)', () => {
    const dir = dirWith(['a']);
    const listings = new DirectoryListings(100); // the real clock: the directory has just changed
    listings.read(dir);
    listings.read(dir);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(listings.size).toBe(0);
    // The same directory once its last change is more than SETTLED_AFTER_MS old (the clock moved on): kept from then on.
    const settled = new DirectoryListings(100, later);
    settled.read(dir);
    settled.read(dir);
    expect(reads).toHaveBeenCalledTimes(3);
  });

  it('throws as readdirSync does for a directory that is gone and for a file', () => {
    const dir = dirWith(['a']);
    const listings = new DirectoryListings(100, later);
    listings.read(dir);
    rmSync(dir, { recursive: true });
    expect(() => listings.read(dir)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const file = path.join(root, 'f');
    writeFileSync(file, '');
    expect(() => listings.read(file)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });

  it('keeps at most maxListings directories, the oldest kept going first', () => {
    const listings = new DirectoryListings(2, later);
    const dirs = ['p', 'q', 'r'].map((n) => {
      const d = path.join(root, n);
      mkdirSync(d);
      return d;
    });
    for (const d of dirs) listings.read(d);
    expect(listings.size).toBe(2);
    reads.mockClear();
    listings.read(dirs[2]!);
    listings.read(dirs[1]!);
    expect(reads).toHaveBeenCalledTimes(0);
    listings.read(dirs[0]!);
    expect(reads).toHaveBeenCalledTimes(1);
  });
});
