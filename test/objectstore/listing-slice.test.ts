/**
 * The local store's listings share one slice of the event loop: a listing that holds the loop
 * longer than the slice lets it turn, and one that begins after a pause does not pay a turn.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { inSlice, letTheLoopTurn } from '../../src/objectstore/listing-slice.js';

/** Whether a setImmediate queued before `listing` ran before the listing's read. */
async function immediateRanFirst(listing: (read: () => void) => Promise<void>): Promise<boolean> {
  const order: string[] = [];
  setImmediate(() => order.push('immediate'));
  await listing(() => order.push('read'));
  await new Promise((resolve) => setImmediate(resolve));
  return order[0] === 'immediate';
}

describe('listing slices', () => {
  it('a listing that begins after a pause reads at once', async () => {
    await sleep(10);
    const first = await immediateRanFirst((read) =>
      inSlice(async () => {
        await letTheLoopTurn();
        read();
      }),
    );
    expect(first).toBe(false);
  });

  it('a listing that has held the loop longer than the slice lets it turn before its next read', async () => {
    await sleep(10);
    const first = await immediateRanFirst((read) =>
      inSlice(async () => {
        const until = performance.now() + 5;
        while (performance.now() < until);
        await letTheLoopTurn();
        read();
      }),
    );
    expect(first).toBe(true);
  });
});
