import type { Dirent } from 'node:fs';

/**
 * What a local store's listings read in the current turn of the event loop: each directory's
 * entries, and the directories known to lie inside the root (a listed folder whose real path was
 * checked, and every folder a listing entered from one). A delay sample lists four nested folders
 * one after the other, and a discovery walk lists each folder it has just looked into for a
 * file; in one turn they read each directory, and resolve a real path, once.
 *
 * Dropped when the turn ends, so nothing is remembered from one turn to the next: a listing sees
 * a directory as it was at most one turn earlier (listings give the loop a turn every couple of
 * ms, listing-slice.ts), as the folders one listing call visits already are. The memory dies young.
 */
export class TurnReads {
  private readonly dirs = new Map<string, Dirent[]>();
  private readonly inside = new Set<string>();
  private clearing = false;

  /** The entries of `dir` read in this turn, if it was. */
  entries(dir: string): Dirent[] | undefined {
    return this.dirs.get(dir);
  }

  remember(dir: string, entries: Dirent[]): void {
    this.dirs.set(dir, entries);
    this.clearAtTurnEnd();
  }

  /** Whether `dir` was found inside the root in this turn. */
  isInside(dir: string): boolean {
    return this.inside.has(dir);
  }

  markInside(dir: string): void {
    this.inside.add(dir);
    this.clearAtTurnEnd();
  }

  /** Forgets at once (the store is about to change what it read). */
  forget(): void {
    this.dirs.clear();
    this.inside.clear();
  }

  private clearAtTurnEnd(): void {
    if (this.clearing) return;
    this.clearing = true;
    setImmediate(() => {
      this.clearing = false;
      this.forget();
    });
  }
}
