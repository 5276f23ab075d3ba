/**
 * Listings read the directories with synchronous calls (cheap on a local disk, where the
 * promise API adds a thread-pool hop and a promise per call, and every tenant lists its store
 * every minute), and let the event loop turn whenever they have held it this long, so a
 * listing of a large tree never blocks it for more than about that (BENCHMARKS.md).
 */
const LISTING_SLICE_MS = 2;
let sliceStartedAt = Number.NEGATIVE_INFINITY;
/** Listings (and delete walks) of every store in flight: the first after a pause starts a new slice. */
let listingsInFlight = 0;

/**
 * A turn of the event loop to await if listings have held it for LISTING_SLICE_MS (shared by
 * every store: there is one loop); undefined while the slice lasts, so that a read inside it
 * does not even pay an await (`const turn = letTheLoopTurn(); if (turn) await turn;`).
 */
export function letTheLoopTurn(): Promise<void> | undefined {
  if (performance.now() - sliceStartedAt < LISTING_SLICE_MS) return undefined;
  return new Promise<void>((resolve) =>
    setImmediate(() => {
      sliceStartedAt = performance.now();
      resolve();
    }),
  );
}

/**
 * Runs one listing in the shared slice. One that begins while none is in flight starts a new
 * slice: the loop was free meanwhile, so a listing after a pause (every delay sample) does not
 * pay a turn of the loop before its first read.
 */
export async function inSlice<T>(listing: () => Promise<T>): Promise<T> {
  if (listingsInFlight++ === 0) sliceStartedAt = performance.now();
  try {
    return await listing();
  } finally {
    listingsInFlight--;
  }
}
