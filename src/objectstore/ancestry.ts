import { statSync } from 'node:fs';

/**
 * The directories from where a walk of the local store began down to where it is. A symbolic
 * link to one of them is a loop, and is not followed. Only a link can make a loop (bind mounts
 * aside, which `MAX_WALK_DEPTH` bounds), so a directory's device:inode is read only when a link
 * must be compared with it: a walk without links reads none.
 */
export class Ancestry {
  private constructor(
    private readonly dir: string,
    private id: string | null | undefined,
    private readonly parent: Ancestry | undefined,
    readonly depth: number,
  ) {}

  /** The directory a walk starts in. */
  static of(dir: string): Ancestry {
    return new Ancestry(dir, undefined, undefined, 1);
  }

  /** One level down: `dir`, reached through a link when `id` (its target's device:inode) is given. */
  below(dir: string, id?: string): Ancestry {
    return new Ancestry(dir, id, this, this.depth + 1);
  }

  /**
   * Whether a walk here may go down into a directory: not past MAX_WALK_DEPTH, and not through
   * a link (`id`: its target's device:inode) back to this directory or one above it.
   */
  mayEnter(id: string | undefined): boolean {
    return this.depth < MAX_WALK_DEPTH && (id === undefined || !this.includes(id));
  }

  /** Whether the directory `id` is this one or one above it. */
  includes(id: string): boolean {
    this.id ??= directoryId(this.dir);
    return this.id === id || (this.parent?.includes(id) ?? false);
  }
}

/**
 * Deepest directory level a walk enters below its start. An S3 key is at most 1,024 bytes, so
 * no key has more than 512 segments; deeper directories hold nothing a bucket could.
 */
export const MAX_WALK_DEPTH = 512;

/** `device:inode` of the directory at `dir` (links followed); null when it is none. */
export function directoryId(dir: string): string | null {
  try {
    const st = statSync(dir);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}
