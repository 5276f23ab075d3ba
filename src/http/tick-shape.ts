import { executionAsyncResource } from 'node:async_hooks';

let keptTickObject: object | undefined;

/**
 * Keeps one of Node's `process.nextTick` tick objects alive for the life of the process, so that
 * all of them keep one hidden class. Node builds each tick object with the same object literal
 * (computed symbol keys first); while none is alive, a major GC may collect the hidden classes of
 * that shape, and the next tick builds new ones. Each rebuild adds a class to what the literal's
 * inline caches have seen; after four of them the caches go megamorphic for good and V8's runtime
 * builds every tick object, five to seven of them per HTTP request: a daemon (a large heap, many
 * major GCs while it starts) got there in most runs, a small server hardly ever. One live tick
 * object holds its class chain, and with it the shape every later tick object takes.
 */
export function keepTickObjectShape(): void {
  if (keptTickObject) return;
  // Inside a tick's callback, the current execution resource is that tick's object.
  process.nextTick(() => (keptTickObject = executionAsyncResource()));
}
