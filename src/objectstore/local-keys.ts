import path from 'node:path';
import { ObjectStoreError, type ObjectStoreOperation } from './object-store.js';

/**
 * Keys ↔ paths of a local object store: the key `a/b/c.parquet` is the file `<root>/a/b/c.parquet`.
 * Keys that could escape the root or that no file can represent ("..", ".", empty segments,
 * absolute keys, NUL) are refused with an `InvalidKey` error before anything is read.
 */
export class LocalKeys {
  constructor(
    /** The absolute root directory. */
    private readonly root: string,
    /** The store as errors name it. */
    private readonly store: string,
  ) {}

  /**
   * Splits a prefix into the directory it names ("a/b/") and the start of the names wanted in
   * it ("" for a prefix ending with '/', as the interface asks; "x" for "a/b/x", as S3 allows).
   */
  splitPrefix(operation: ObjectStoreOperation, prefix: string): { dirKey: string; namePrefix: string; dirPath: string } {
    const slash = prefix.lastIndexOf('/');
    const dirKey = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    if (namePrefix.includes('\0')) throw this.invalid(operation, prefix, 'contains a NUL character');
    const dirPath = dirKey === '' ? this.root : this.keyPath(operation, dirKey.slice(0, -1), true);
    return { dirKey, namePrefix, dirPath };
  }

  /** The file of `key` (or of the folder `key/` when `isPrefix`) under the root. */
  keyPath(operation: ObjectStoreOperation, key: string, isPrefix: boolean): string {
    if (key.startsWith('/') || path.isAbsolute(key)) throw this.invalid(operation, key, 'absolute keys are not allowed', isPrefix);
    if (key.includes('\0')) throw this.invalid(operation, key, 'contains a NUL character', isPrefix);
    const segments = key.split('/');
    for (const s of segments) {
      if (s === '..' || s === '.') throw this.invalid(operation, key, `"${s}" path segments are not allowed (path traversal)`, isPrefix);
      if (s === '') throw this.invalid(operation, key, 'empty path segments ("//") cannot be stored in a directory', isPrefix);
    }
    const file = path.join(this.root, ...segments);
    if (!file.startsWith(this.root + path.sep)) throw this.invalid(operation, key, 'resolves outside the root', isPrefix);
    return file;
  }

  /** The key (or prefix) of a path under the root. */
  keyOf(file: string): string {
    return path.relative(this.root, file).split(path.sep).join('/');
  }

  private invalid(operation: ObjectStoreOperation, key: string, why: string, isPrefix = true): ObjectStoreError {
    return new ObjectStoreError({
      operation,
      store: this.store,
      prefix: key,
      code: 'InvalidKey',
      retryable: false,
      detail: `${isPrefix ? 'prefix' : 'key'} ${JSON.stringify(key)} ${why}`,
    });
  }
}
