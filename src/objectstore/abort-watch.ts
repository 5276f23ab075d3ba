/**
 * Callbacks run when an AbortSignal aborts, with one listener on the signal however many
 * requests wait on it (a discovery sync sends ten thousand listings on one signal), kept so
 * that a finished request leaves nothing behind that points at it.
 *
 * Not one `addEventListener` per request: Node keeps a signal's listeners in a linked list whose
 * removed nodes still point at their neighbours. Once one node has been promoted to V8's old
 * generation, every later node is reachable from it until the next full collection, so every
 * request's closure (its ClientRequest, its answer) survives the young-generation collections
 * and is promoted too: ~60 MB of garbage in old space over a 100,000-partition sync. Nor a Set:
 * a Set that shrinks is rehashed into a new table that the old one keeps pointing at, the same
 * chain once a table is old (~2 MB promoted per young collection in a sync, against ~0.01 MB
 * here). The callbacks sit in the slots of an array that never shrinks, freed slots reused.
 */
interface Watchers {
  slots: (((reason: unknown) => void) | undefined)[];
  /** Indexes of empty slots. */
  free: number[];
}

const watchersOf = new WeakMap<AbortSignal, Watchers>();

/**
 * Runs `onAbort` with the signal's reason when `signal` aborts (the signal must not have aborted
 * yet); returns the function that unregisters it, to be called once the work is over.
 */
export function watchAbort(signal: AbortSignal, onAbort: (reason: unknown) => void): () => void {
  let watchers = watchersOf.get(signal);
  if (!watchers) {
    const created: Watchers = { slots: [], free: [] };
    signal.addEventListener(
      'abort',
      () => {
        const waiting = created.slots.filter((fn) => fn !== undefined);
        created.slots.fill(undefined);
        for (const fn of waiting) fn(signal.reason);
      },
      { once: true },
    );
    watchersOf.set(signal, (watchers = created));
  }
  const { slots, free } = watchers;
  const slot = free.length > 0 ? free.pop()! : slots.length;
  slots[slot] = onAbort;
  let registered = true;
  return () => {
    if (!registered) return;
    registered = false;
    if (slots[slot] === onAbort) {
      slots[slot] = undefined;
      free.push(slot);
    }
  };
}
