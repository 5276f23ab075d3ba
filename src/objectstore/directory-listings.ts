import { readdirSync, statSync, type Dirent, type Stats } from 'node:fs';

/**
 * How long after a directory last changed its listing may be kept: a change made within the same
 * tick of the file system's clock as the one read could leave its times as they were read (the
 * "racy" case), so a directory that changed this recently is read again every time.
 */
export const SETTLED_AFTER_MS = 2_000;
/** Directories whose listing a store keeps at most (the oldest kept goes first). */
export const DEFAULT_MAX_LISTINGS = 20_000;

/** What a listing's callers use of an entry: `fs.Dirent` has it, and so does a listing answered from memory. */
export interface DirEntry {
  readonly name: string;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/**
 * The entries of directories, read again only when the directory changed. Adding, removing or
 * renaming an entry changes the directory's mtime and ctime, so a `stat` that finds them (and the
 * inode) as they were before the last read answers with that read. A stat costs a tenth of a read
 * and never touches the directory's blocks, which a machine may have evicted meanwhile (a folder
 * discovery lists every 5 minutes is read from disk each time otherwise).
 *
 * Only a directory that had not changed for SETTLED_AFTER_MS before it was read is kept; the times
 * are taken before reading, so a change during the read makes the next stat differ. Each listing
 * is kept by inode as one string, what stat said and then the entries (a thousand tenants'
 * folders cost a couple of megabytes).
 */
export class DirectoryListings {
  private readonly kept = new Map<number, string>();

  constructor(
    private readonly maxListings = DEFAULT_MAX_LISTINGS,
    private readonly now: () => number = Date.now,
  ) {}

  /** `readdirSync(dir, { withFileTypes: true })`, answered from the last read while the directory is unchanged; throws as it does. */
  read(dir: string): DirEntry[] {
    const st = statSync(dir);
    // Not a directory: readdir says so (ENOTDIR), as it did without this memory.
    if (!st.isDirectory()) return readdirSync(dir, { withFileTypes: true });
    const stamp = stampOf(st);
    const kept = this.kept.get(st.ino);
    if (kept !== undefined && kept.startsWith(stamp)) return decode(kept, stamp.length);
    const entries = readdirSync(dir, { withFileTypes: true });
    if (this.now() - Math.max(st.mtimeMs, st.ctimeMs) > SETTLED_AFTER_MS) this.keep(st.ino, stamp + encode(entries));
    else this.kept.delete(st.ino);
    return entries;
  }

  get size(): number {
    return this.kept.size;
  }

  private keep(ino: number, listing: string): void {
    this.kept.delete(ino);
    if (this.kept.size >= this.maxListings) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(ino, listing);
  }
}

/** What stat says of a directory that changes when an entry is added, removed or renamed, ending in '|' (no figure holds one). */
function stampOf(st: Stats): string {
  return `${st.dev}:${st.mtimeMs}:${st.ctimeMs}:${st.nlink}:${st.size}|`;
}

const FILE = 'f';
const DIRECTORY = 'd';
const LINK = 'l';
const OTHER = 'o';

function encode(entries: Dirent[]): string {
  return entries.map((e) => (e.isFile() ? FILE : e.isDirectory() ? DIRECTORY : e.isSymbolicLink() ? LINK : OTHER) + e.name).join('/');
}

function decode(kept: string, from: number): DirEntry[] {
  const entries: DirEntry[] = [];
  if (kept.length === from) return entries;
  for (const item of kept.slice(from).split('/')) entries.push(new KeptEntry(item.slice(1), item[0]!));
  return entries;
}

class KeptEntry implements DirEntry {
  constructor(
    readonly name: string,
    private readonly kind: string,
  ) {}
  isFile(): boolean {
    return this.kind === FILE;
  }
  isDirectory(): boolean {
    return this.kind === DIRECTORY;
  }
  isSymbolicLink(): boolean {
    return this.kind === LINK;
  }
}
