import { describe, expect, it } from 'vitest';
import { SharedRead, sharedReadMaxAgeMs } from '../src/shared-read.js';

/** A read that resolves when told to, counting how often it was made. */
function controlledRead() {
  const pending: { resolve(v: number): void; reject(e: unknown): void }[] = [];
  let reads = 0;
  const read = () =>
    new Promise<number>((resolve, reject) => {
      reads += 1;
      pending.push({ resolve, reject });
    });
  return { read, pending, reads: () => reads };
}

describe('SharedRead', () => {
  it('joins the read in flight, reuses a result younger than the max age, reads anew after it', async () => {
    let clock = 0;
    const c = controlledRead();
    const shared = new SharedRead(c.read, 100, () => clock);
    const a = shared.get();
    const b = shared.get();
    expect(c.reads()).toBe(1);
    c.pending[0]!.resolve(7);
    expect(await Promise.all([a, b])).toEqual([7, 7]);
    clock = 99;
    expect(await shared.get()).toBe(7);
    expect(c.reads()).toBe(1);
    clock = 100; // the age counts from the start of the read
    const d = shared.get();
    expect(c.reads()).toBe(2);
    c.pending[1]!.resolve(8);
    expect(await d).toBe(8);
  });

  it('peek() answers what get() would answer without reading, and nothing while a read is due or in flight', async () => {
    let clock = 0;
    const c = controlledRead();
    const shared = new SharedRead(c.read, 100, () => clock);
    expect(shared.peek()).toBeUndefined();
    const a = shared.get();
    expect(shared.peek()).toBeUndefined();
    c.pending[0]!.resolve(7);
    await a;
    clock = 99;
    expect(shared.peek()?.value).toBe(7);
    clock = 100;
    expect(shared.peek()).toBeUndefined();
    clock = 50;
    shared.invalidate();
    expect(shared.peek()).toBeUndefined();
    expect(c.reads()).toBe(1);
  });

  it('after invalidate(), neither the read in flight then nor the last result is answered', async () => {
    const c = controlledRead();
    const shared = new SharedRead(c.read, 60_000, () => 0);
    const early = shared.get();
    shared.invalidate();
    const late = shared.get();
    expect(c.reads()).toBe(2);
    c.pending[0]!.resolve(1);
    c.pending[1]!.resolve(2);
    expect([await early, await late]).toEqual([1, 2]);
    // The read started before the invalidation is not kept either.
    expect(await shared.get()).toBe(2);
    shared.invalidate();
    void shared.get();
    expect(c.reads()).toBe(3);
  });

  it('shares a failure only with the callers that waited for it', async () => {
    const c = controlledRead();
    const shared = new SharedRead(c.read, 60_000, () => 0);
    const a = shared.get();
    const b = shared.get();
    c.pending[0]!.reject(new Error('down'));
    await expect(a).rejects.toThrow('down');
    await expect(b).rejects.toThrow('down');
    const next = shared.get();
    expect(c.reads()).toBe(2);
    c.pending[1]!.resolve(3);
    expect(await next).toBe(3);
  });

  it('validates the max age; the poll share is a fifth of the interval, at most 3 s', () => {
    expect(() => new SharedRead(async () => 1, -1)).toThrow(/maxAgeMs/);
    expect(() => new SharedRead(async () => 1, Number.NaN)).toThrow(/maxAgeMs/);
    expect(sharedReadMaxAgeMs(15_000)).toBe(3_000);
    expect(sharedReadMaxAgeMs(200)).toBe(40);
    expect(sharedReadMaxAgeMs(5_000)).toBe(1_000);
    expect(sharedReadMaxAgeMs(300_000)).toBe(3_000);
  });
});
