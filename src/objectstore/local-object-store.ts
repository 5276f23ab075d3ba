import { realpathSync, statSync, type Stats } from 'node:fs';
import { access, constants, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  MAX_DELETE_BATCH,
  ObjectStoreError,
  compareUtf8,
  type DeleteKeyError,
  type DeleteResult,
  type ObjectStore,
  type ObjectStoreOperation,
  type ObjectStoreStats,
} from './object-store.js';
import { mapLimit } from '../common/concurrency.js';
import { Ancestry } from './ancestry.js';
import { DirectoryListings, type DirEntry } from './directory-listings.js';
import { LocalKeys } from './local-keys.js';
import { inSlice, letTheLoopTurn } from './listing-slice.js';

/** The `objectStore.local` block of a tenant. */
export interface LocalObjectStoreConfig {
  /** A directory laid out like the bucket (relative paths are resolved against the working directory). */
  path: string;
}

export interface LocalObjectStoreOptions {
  /** Deletes in flight at once within one call (default 16); listings read one directory after the other, synchronously. */
  concurrency?: number;
}

/** Errors of the file system that may pass if tried again. */
const RETRYABLE_FS_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EIO', 'ETIMEDOUT', 'ESTALE', 'EINTR']);
/** A path that is not there (or runs through a file): like an absent object or an empty S3 prefix. */
const ABSENT_CODES = new Set(['ENOENT', 'ENOTDIR']);
const FILE = Object.freeze({ type: 'file' as const });
const DIRECTORY = Object.freeze({ type: 'dir' as const });

function fsCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'Unknown';
}

function fsMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * ObjectStore over a plain directory laid out like the bucket: the key `a/b/c.parquet` is the
 * file `<root>/a/b/c.parquet`. Semantics follow S3: a "folder" exists only while some file lies
 * below it (empty directories are not listed), listings are in UTF-8 byte order, a missing
 * directory lists as empty, deleting a missing key succeeds. Deleting prunes the directories it
 * leaves empty, up to (not including) the root.
 *
 * Symbolic links are followed while they stay inside the root (real paths compared, loops cut),
 * and never out of it (the root itself may be a link: its real path is the boundary):
 *  - `listPrefixes` (discovery, delay samples) ignores a link that leaves the root, as if it were
 *    not there; a prefix whose directory lies outside lists as empty;
 *  - `listKeys` (what state cleanup deletes) fails with `OutsideRoot` naming the link, so that a
 *    cleanup never runs on half a checkpoint without saying why;
 *  - `deleteKeys` refuses, per key (`OutsideRoot`), a key whose directory's real path is outside
 *    the root, and deletes nothing there; a key that is itself a link is deleted as a link (the
 *    file it points to stays).
 * (A link swapped in between the check and the unlink could still be followed: the root is
 * assumed not to be writable by anyone hostile.)
 *
 * `stats.listCalls` counts one directory listing per `listPrefixes`/`listKeys` call (the read of
 * the listed prefix), however many directories below it are visited. A directory unchanged since
 * it was last read (its inode and times) is not read again (directory-listings.ts).
 */
export class LocalObjectStore implements ObjectStore {
  readonly stats: ObjectStoreStats = { listCalls: 0, deleteCalls: 0, retries: 0 };
  /** The absolute root directory. */
  readonly root: string;
  private readonly concurrency: number;
  private closed = false;
  /** Keys ↔ paths under the root. */
  private readonly keys: LocalKeys;
  /** The root's real path, once it exists (the boundary links may not cross). */
  private realRoot: string | undefined;
  /** Directory entries, read again only when a directory changed. */
  private readonly listings = new DirectoryListings();

  constructor(cfg: LocalObjectStoreConfig, opts: LocalObjectStoreOptions = {}) {
    this.root = path.resolve(cfg.path);
    this.keys = new LocalKeys(this.root, this.describe());
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 16));
  }

  describe(): string {
    return `local:${this.root}`;
  }

  close(): void {
    this.closed = true;
  }

  async ping(signal?: AbortSignal): Promise<void> {
    this.check('ping', '', signal);
    let st: Stats;
    try {
      st = await stat(this.root);
      await access(this.root, constants.R_OK | constants.X_OK);
    } catch (error) {
      throw this.fsError('ping', '', error);
    }
    if (!st.isDirectory()) {
      throw new ObjectStoreError({ operation: 'ping', store: this.describe(), code: 'ENOTDIR', retryable: false, detail: `${this.root} is not a directory` });
    }
  }

  listPrefixes(prefix: string, signal?: AbortSignal): Promise<string[]> {
    return inSlice(() => this.prefixesUnder(prefix, signal));
  }

  listKeys(prefix: string, signal?: AbortSignal): Promise<string[]> {
    return inSlice(() => this.keysUnder(prefix, signal));
  }

  deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<DeleteResult> {
    return inSlice(() => this.deleteNow(keys, signal));
  }

  private async prefixesUnder(prefix: string, signal?: AbortSignal): Promise<string[]> {
    this.check('listPrefixes', prefix, signal);
    const { dirKey, namePrefix, dirPath } = this.keys.splitPrefix('listPrefixes', prefix);
    this.stats.listCalls++;
    // A folder reached through a link that leaves the root is not there.
    if ((await this.whereIs(dirPath, 'listPrefixes', prefix)) === 'outside') return [];
    const entries = await this.readDir('listPrefixes', prefix, dirPath);
    const listed = Ancestry.of(dirPath);
    // The calls are synchronous (see listing-slice.ts): one candidate after the other, in the listing's slice.
    const found: string[] = [];
    for (const entry of entries) {
      if (!entry.name.startsWith(namePrefix)) continue;
      this.check('listPrefixes', prefix, signal);
      const full = path.join(dirPath, entry.name);
      const kind = await this.kindOf('listPrefixes', prefix, entry, full, 'skip');
      // A link back to the listed directory is a loop, not a folder (listKeys does not walk it either).
      if (kind?.type !== 'dir' || !listed.mayEnter(kind.id)) continue;
      if (await this.containsFile('listPrefixes', prefix, full, listed.below(full, kind.id), signal)) found.push(`${dirKey}${entry.name}/`);
    }
    return found.sort(compareUtf8);
  }

  private async keysUnder(prefix: string, signal?: AbortSignal): Promise<string[]> {
    this.check('listKeys', prefix, signal);
    const { dirKey, namePrefix, dirPath } = this.keys.splitPrefix('listKeys', prefix);
    this.stats.listCalls++;
    const keys: string[] = [];
    const walk = async (dir: string, key: string, ancestors: Ancestry, filter: string): Promise<void> => {
      this.check('listKeys', prefix, signal);
      for (const entry of await this.readDir('listKeys', prefix, dir)) {
        if (!entry.name.startsWith(filter)) continue;
        const full = path.join(dir, entry.name);
        const kind = await this.kindOf('listKeys', prefix, entry, full, 'fail');
        if (kind === undefined) continue;
        if (kind.type === 'file') keys.push(`${key}${entry.name}`);
        else if (ancestors.mayEnter(kind.id)) await walk(full, `${key}${entry.name}/`, ancestors.below(full, kind.id), '');
      }
    };
    if ((await this.whereIs(dirPath, 'listKeys', prefix)) === 'outside') throw this.outsideRoot('listKeys', prefix, dirKey.slice(0, -1));
    // A listed path that is missing, or a file, lists as empty (readDir).
    await walk(dirPath, dirKey, Ancestry.of(dirPath), namePrefix);
    return keys.sort(compareUtf8);
  }

  private async deleteNow(keys: readonly string[], signal?: AbortSignal): Promise<DeleteResult> {
    this.check('deleteKeys', '', signal);
    const errors: DeleteKeyError[] = [];
    const unique: { key: string; file: string }[] = [];
    const seen = new Set<string>();
    // Every key is checked before anything is deleted: one escaping the root fails the call.
    for (const key of keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      if (key === '') {
        errors.push({ key, code: 'InvalidKey', message: 'an object key must not be empty' });
        continue;
      }
      unique.push({ key, file: this.keys.keyPath('deleteKeys', key, false) });
    }

    let deleted = 0;
    const parents = new Set<string>();
    /** Where each key's directory really is (keys share their directories). */
    const placeOf = new Map<string, Promise<'inside' | 'outside' | 'absent'>>();
    for (let i = 0; i < unique.length; i += MAX_DELETE_BATCH) {
      this.check('deleteKeys', unique[i]?.key ?? '', signal);
      const batch = unique.slice(i, i + MAX_DELETE_BATCH);
      this.stats.deleteCalls++;
      await mapLimit(batch, this.concurrency, async ({ key, file }) => {
        const dir = path.dirname(file);
        let place = placeOf.get(dir);
        if (!place) placeOf.set(dir, (place = this.whereIs(dir, 'deleteKeys', key)));
        let where: 'inside' | 'outside' | 'absent';
        try {
          where = await place;
        } catch (error) {
          // Its directory cannot be resolved (EACCES, …): this key fails, the others go on.
          errors.push({
            key,
            code: error instanceof ObjectStoreError ? error.code : fsCode(error),
            message: error instanceof ObjectStoreError ? error.detail : fsMessage(error),
          });
          return;
        }
        // As in S3, deleting what is not there succeeds.
        if (where === 'absent') return void deleted++;
        if (where === 'outside') {
          errors.push({ key, code: 'OutsideRoot', message: `${JSON.stringify(key)} lies outside the root ${this.root} through a symbolic link; not deleted` });
          return;
        }
        try {
          await unlink(file);
          deleted++;
          parents.add(path.dirname(file));
        } catch (error) {
          const code = fsCode(error);
          // As in S3, deleting what is not an object (absent, or a directory) succeeds.
          if (ABSENT_CODES.has(code) || code === 'EISDIR') deleted++;
          else errors.push({ key, code, message: fsMessage(error) });
        }
      });
    }
    await this.prune(parents);
    return { deleted, errors };
  }

  /** Removes the directories that deleting left empty, deepest first, up to (not including) the root. */
  private async prune(dirs: Set<string>): Promise<void> {
    const pending = [...dirs];
    const removed = new Set<string>();
    // Deepest first, so a parent is tried after its children.
    pending.sort((a, b) => b.split(path.sep).length - a.split(path.sep).length);
    for (const start of pending) {
      let dir = start;
      while (dir !== this.root && dir.startsWith(this.root + path.sep) && !removed.has(dir)) {
        try {
          await rmdir(dir);
        } catch (error) {
          // Not empty (or a symbolic link, or not ours to remove): this chain stops here; a later
          // chain may try the same directory again once its other children are gone.
          if (!ABSENT_CODES.has(fsCode(error))) break;
        }
        removed.add(dir);
        dir = path.dirname(dir);
      }
    }
  }

  /** Whether a file lies somewhere below `dir` (depth first, stops at the first one). */
  private async containsFile(
    operation: ObjectStoreOperation,
    prefix: string,
    dir: string,
    ancestors: Ancestry,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    this.check(operation, prefix, signal);
    const entries = await this.readDir(operation, prefix, dir);
    if (entries.some((e) => e.isFile())) return true;
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const kind = await this.kindOf(operation, prefix, entry, full, 'skip');
      if (kind?.type === 'file') return true;
      if (kind?.type === 'dir' && ancestors.mayEnter(kind.id)) {
        if (await this.containsFile(operation, prefix, full, ancestors.below(full, kind.id), signal)) return true;
      }
    }
    return false;
  }

  /**
   * File, directory or neither (sockets, dangling links, vanished). A symbolic link that leaves
   * the root is neither (`outside` 'skip') or an `OutsideRoot` error ('fail'); one to a directory
   * comes with its target's device:inode, for loop detection (Ancestry). A plain entry costs no
   * call: readdir said what it is.
   */
  private async kindOf(
    operation: ObjectStoreOperation,
    prefix: string,
    entry: DirEntry,
    full: string,
    outside: 'skip' | 'fail',
  ): Promise<{ type: 'file' } | { type: 'dir'; id?: string } | undefined> {
    if (entry.isFile()) return FILE;
    if (entry.isDirectory()) return DIRECTORY;
    if (!entry.isSymbolicLink()) return undefined;
    const where = await this.whereIs(full, operation, prefix);
    if (where === 'absent') return undefined;
    if (where === 'outside') {
      if (outside === 'skip') return undefined;
      throw this.outsideRoot(operation, prefix, this.keys.keyOf(full));
    }
    let st: Stats;
    try {
      const turn = letTheLoopTurn();
      if (turn) await turn;
      st = statSync(full);
    } catch (error) {
      if (ABSENT_CODES.has(fsCode(error)) || fsCode(error) === 'ELOOP') return undefined;
      throw this.fsError(operation, prefix, error);
    }
    if (st.isFile()) return { type: 'file' };
    if (st.isDirectory()) return { type: 'dir', id: `${st.dev}:${st.ino}` };
    return undefined;
  }

  /**
   * Where `file` really is: inside the root (its real path, links resolved, is the root's or
   * below it), outside it, or absent (it, or the root, does not exist; a dangling or looping link).
   */
  private async whereIs(file: string, operation: ObjectStoreOperation, prefix: string): Promise<'inside' | 'outside' | 'absent'> {
    const turn = letTheLoopTurn();
    if (turn) await turn;
    try {
      this.realRoot ??= realpathSync.native(this.root);
      const real = realpathSync.native(file);
      return real === this.realRoot || real.startsWith(this.realRoot.endsWith(path.sep) ? this.realRoot : this.realRoot + path.sep) ? 'inside' : 'outside';
    } catch (error) {
      if (ABSENT_CODES.has(fsCode(error)) || fsCode(error) === 'ELOOP') return 'absent';
      throw this.fsError(operation, prefix, error);
    }
  }

  private outsideRoot(operation: ObjectStoreOperation, prefix: string, key: string): ObjectStoreError {
    return new ObjectStoreError({
      operation,
      store: this.describe(),
      prefix,
      code: 'OutsideRoot',
      retryable: false,
      detail: `${JSON.stringify(key)} leaves the root through a symbolic link; links out of the root are not followed (nothing there is listed or deleted)`,
    });
  }

  /** Entries of `dir`; a directory that is not there lists as empty, like an empty S3 prefix. */
  private async readDir(operation: ObjectStoreOperation, prefix: string, dir: string): Promise<DirEntry[]> {
    const turn = letTheLoopTurn();
    if (turn) await turn;
    try {
      return this.listings.read(dir);
    } catch (error) {
      if (ABSENT_CODES.has(fsCode(error))) return [];
      throw this.fsError(operation, prefix, error);
    }
  }

  private fsError(operation: ObjectStoreOperation, prefix: string, error: unknown): ObjectStoreError {
    const code = fsCode(error);
    return new ObjectStoreError({
      operation,
      store: this.describe(),
      prefix,
      code,
      retryable: RETRYABLE_FS_CODES.has(code) || (operation === 'ping' && code === 'ENOENT'),
      detail: fsMessage(error),
      cause: error,
    });
  }

  private check(operation: ObjectStoreOperation, prefix: string, signal: AbortSignal | undefined): void {
    if (this.closed) {
      throw new ObjectStoreError({ operation, store: this.describe(), prefix, code: 'Closed', retryable: false, detail: 'the object store has been closed' });
    }
    if (signal?.aborted) {
      throw new ObjectStoreError({
        operation,
        store: this.describe(),
        prefix,
        code: 'AbortError',
        retryable: false,
        detail: 'the operation was aborted',
        cause: signal.reason,
      });
    }
  }
}
