/**
 * The replay rows as many tenants' polls read them: one query for every tenant's newest row,
 * shared for a short max age; writes through it are seen at once, rows written around it
 * (by hand, by another replica) within the max age. On MariaDB and SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedReplayReads, SparkSubmitStatusRepository } from '../../src/db/spark-submit-status.js';
import { freshMysqlDatabase, freshSqliteDatabase, type TestDatabase } from '../support/databases.js';

describe.each([
  ['MariaDB', () => freshMysqlDatabase('shared_replays')],
  ['SQLite', () => freshSqliteDatabase()],
])('shared replay reads on %s', (_kind, open) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await open();
  });
  afterAll(async () => t?.drop());

  it("answers every tenant's latest row from one query, shared for the max age", async () => {
    const repo = new SparkSubmitStatusRepository(t.db);
    await repo.insert('A', 1, 2);
    const a2 = await repo.insert('A', 3, 4);
    const b1 = await repo.insert('B', 5, 6);
    expect(await repo.latestOfEveryTenant()).toEqual(
      new Map([
        ['A', a2],
        ['B', b1],
      ]),
    );

    let clock = 0;
    const shared = new SharedReplayReads(repo, 200, () => clock);
    let queries = 0;
    const count = () => queries++;
    t.db.on('query', count);
    try {
      expect(await Promise.all(['A', 'B', 'C', 'A'].map((x) => shared.latest(x)))).toEqual([a2, b1, undefined, a2]);
      expect(queries).toBe(1);

      // Written around it (by hand, another replica): seen once the max age has passed.
      const byHand = await repo.insert('C', 7, 8);
      expect(await shared.latest('C')).toBeUndefined();
      clock = 200;
      expect(await shared.latest('C')).toEqual(byHand);

      // Written through it: seen at once.
      const before = queries;
      expect(await shared.markSubmitted(byHand.id)).toBe(true);
      expect(await shared.latest('C')).toMatchObject({ id: byHand.id, isSubmittedForOffsetsTimestamp: true, isResumedToSubscribePattern: false });
      expect(await shared.markResumed(byHand.id)).toBe(true);
      expect(await shared.markResumed(byHand.id)).toBe(false);
      expect(await shared.latest('C')).toMatchObject({ isResumedToSubscribePattern: true });
      const inserted = await shared.insert('B', 9, 10);
      expect(await shared.latest('B')).toEqual(inserted);
      expect(queries).toBeGreaterThan(before);
    } finally {
      t.db.off('query', count);
    }
  });
});
