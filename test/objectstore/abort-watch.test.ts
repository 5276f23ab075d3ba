import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { watchAbort } from '../../src/objectstore/abort-watch.js';

describe('watchAbort', () => {
  it('runs the callbacks still registered when the signal aborts, with one listener on the signal however many wait', () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const unwatch: (() => void)[] = [];
    for (let i = 0; i < 100; i++) unwatch.push(watchAbort(controller.signal, (reason) => seen.push(`${i}:${String(reason)}`)));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    for (let i = 0; i < 100; i += 2) unwatch[i]!();
    // Freed slots are taken again; a second unwatch of the same registration frees nothing.
    unwatch[0]!();
    const late = watchAbort(controller.signal, (reason) => seen.push(`late:${String(reason)}`));
    watchAbort(controller.signal, (reason) => seen.push(`later:${String(reason)}`));
    late();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort('stop');
    expect(seen.sort()).toEqual([...Array.from({ length: 50 }, (_, k) => `${2 * k + 1}:stop`), 'later:stop'].sort());
    // After the abort, unwatching is harmless.
    for (const u of unwatch) u();
  });

  it('keeps signals apart', () => {
    const a = new AbortController();
    const b = new AbortController();
    const seen: string[] = [];
    watchAbort(a.signal, () => seen.push('a'));
    watchAbort(b.signal, () => seen.push('b'));
    b.abort();
    expect(seen).toEqual(['b']);
    a.abort();
    expect(seen).toEqual(['b', 'a']);
  });
});
