import { concatMap, defer, from, map, Subject, timer, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { toHttpError } from '../src/http/errors.js';
import type { OrchestratorEvent } from './events.js';
import { Supervisor } from './supervisor.js';
import type { CommandHandlers } from './tenant-loop.js';
import { NotLeaderError, type LoopGate } from './leadership.js';
import type { StreamContext, StreamDefinition } from './tenant-loop.js';

const noJitter = { minMs: 10, maxMs: 1000, jitter: 0 };

function virtualTime(body: (scheduler: TestScheduler) => void): void {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run(() => body(scheduler));
}

/** A gate whose answer the test switches (acting commands: `sync`, `monitor`, `replay`). */
function switchGate(holder = 'other-replica'): LoopGate & { acting$: boolean } {
  const gate = {
    acting$: false,
    isActing: () => gate.acting$,
    refusal: () => new NotLeaderError('A', holder),
  };
  return gate;
}

interface Run {
  command: string;
  start: number;
  effects: number[];
  end?: number;
  error?: string;
}

/**
 * An acting stream (`sync`, ticking; its runs recorded as `act`) whose run makes two effects 10 ms
 * apart, each behind `ctx.assertActing()`, and a read command (`sample-delay`, recorded as `read`) in its own stream.
 */
function streams(ctx: StreamContext, runs: Run[], intervalMs: number): StreamDefinition[] {
  const act = (): Observable<string> =>
    defer(() => {
      const run: Run = { command: 'act', start: ctx.now(), effects: [] };
      runs.push(run);
      return from([0, 10]).pipe(
        concatMap((d) => timer(d, ctx.scheduler)),
        map(() => {
          try {
            ctx.assertActing();
          } catch (err) {
            run.error = (err as Error).name;
            throw err;
          }
          run.effects.push(ctx.now());
        }),
        map(() => {
          run.end = ctx.now();
          return 'acted';
        }),
      );
    });
  const read = (): Observable<string> =>
    defer(() => {
      runs.push({ command: 'read', start: ctx.now(), effects: [] });
      return timer(1, ctx.scheduler).pipe(map(() => 'read'));
    });
  return [
    { name: 'acting', intervalMs, tick: { command: 'sync', args: { force: false } }, commands: { sync: act } as unknown as CommandHandlers },
    {
      name: 'reading',
      intervalMs: 1_000_000,
      tick: { command: 'sample-delay', args: { maxAgeMs: 1 } },
      commands: { 'sample-delay': read } as unknown as CommandHandlers,
    },
  ];
}

describe('tenant loop gate (many replicas)', () => {
  it('skips ticks while not acting (no error, no backoff) and runs them once the lease is held', () => {
    const runs: Run[] = [];
    const events: OrchestratorEvent[] = [];
    const gate = switchGate();
    virtualTime((scheduler) => {
      const sup = new Supervisor([{ tenant: 'A', backoff: noJitter, random: () => 0, scheduler, gate, streams: (ctx) => streams(ctx, runs, 100) }]);
      sup.events$.subscribe((e) => events.push(e));
      sup.start();
      scheduler.schedule(() => (gate.acting$ = true), 250);
      scheduler.schedule(() => void sup.stop(), 450);
    });
    // Ticks at 0, 100, 200 skipped; from 300 on they act, on the regular schedule.
    expect(runs.filter((r) => r.command === 'act').map((r) => r.start)).toEqual([300, 400]);
    expect(events.filter((e) => e.type === 'stream.retrying' || e.type === 'command.failed')).toEqual([]);
  });

  it('ticks at once when the gate says it acts again (lease regained), not at the next interval; a run in flight is not doubled', () => {
    const runs: Run[] = [];
    const events: OrchestratorEvent[] = [];
    const acquired = new Subject<void>();
    const gate = { ...switchGate(), acquired$: acquired.asObservable() };
    let acting = true;
    gate.isActing = () => acting;
    virtualTime((scheduler) => {
      const sup = new Supervisor([{ tenant: 'A', backoff: noJitter, random: () => 0, scheduler, gate, streams: (ctx) => streams(ctx, runs, 1_000) }]);
      sup.events$.subscribe((e) => events.push(e));
      sup.start();
      // Acting at 0 (the tick at 0 runs); lost at 100, regained at 1_500: the tick at 1_000 was skipped.
      scheduler.schedule(() => (acting = false), 100);
      scheduler.schedule(() => {
        acting = true;
        acquired.next();
      }, 1_500);
      // Regained again while the run of the tick at 2_000 is in flight (it ends at 2_010).
      scheduler.schedule(() => acquired.next(), 2_005);
      scheduler.schedule(() => void sup.stop(), 2_500);
    });
    expect(runs.filter((r) => r.command === 'act').map((r) => [r.start, r.end])).toEqual([
      [0, 10],
      [1_500, 1_510],
      [2_000, 2_010],
    ]);
    expect(events.filter((e) => e.type === 'stream.retrying' || e.type === 'command.failed')).toEqual([]);
  });

  it('refuses acting commands with NotLeaderError naming the holder, and serves reads', async () => {
    const runs: Run[] = [];
    const events: OrchestratorEvent[] = [];
    const gate = switchGate('host-b:42:beef');
    let refused: Promise<unknown> = Promise.resolve();
    let read: Promise<unknown> = Promise.resolve();
    virtualTime((scheduler) => {
      const sup = new Supervisor([{ tenant: 'A', backoff: noJitter, random: () => 0.999, scheduler, gate, streams: (ctx) => streams(ctx, runs, 1000) }]);
      sup.events$.subscribe((e) => events.push(e));
      sup.start();
      scheduler.schedule(() => {
        refused = sup.dispatch('A', 'sync', { force: false });
        read = sup.dispatch('A', 'sample-delay', { maxAgeMs: 0 });
      }, 5);
      scheduler.schedule(() => void sup.stop(), 50);
    });
    const err = await refused.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotLeaderError);
    expect(await read).toBe('read');
    expect(runs.map((r) => r.command)).toEqual(['read']);
    // Routine on a replica that does not act: not a failure event.
    expect(events.filter((e) => e.type === 'command.failed')).toEqual([]);
    const http = toHttpError(err);
    expect([http.status, http.code]).toEqual([503, 'NOT_LEADER']);
    expect(http.message).toContain('host-b:42:beef');
    expect(http.details).toMatchObject({ holder: 'host-b:42:beef' });
  });

  it('stops a run mid-way when the lease is lost between two effects; the next tick is on schedule, without backoff', () => {
    const runs: Run[] = [];
    const events: OrchestratorEvent[] = [];
    const gate = switchGate();
    gate.acting$ = true;
    virtualTime((scheduler) => {
      const sup = new Supervisor([{ tenant: 'A', backoff: noJitter, random: () => 0, scheduler, gate, streams: (ctx) => streams(ctx, runs, 100) }]);
      sup.events$.subscribe((e) => events.push(e));
      sup.start();
      // The run of the tick at 100 made its first effect at 100; the lease is lost at 105.
      scheduler.schedule(() => (gate.acting$ = false), 105);
      scheduler.schedule(() => (gate.acting$ = true), 150);
      scheduler.schedule(() => void sup.stop(), 250);
    });
    const acts = runs.filter((r) => r.command === 'act');
    expect(acts.map((r) => [r.start, r.effects, r.error ?? null])).toEqual([
      [0, [0, 10], null],
      [100, [100], 'NotLeaderError'],
      [200, [200, 210], null],
    ]);
    expect(events.filter((e) => e.type === 'stream.retrying')).toEqual([]);
  });

  it('a command queued while acting is refused when it starts after the lease was lost', async () => {
    const runs: Run[] = [];
    const gate = switchGate();
    gate.acting$ = true;
    const outcomes: string[] = [];
    const settle = (name: string, p: Promise<unknown>) =>
      p.then(
        (v) => outcomes.push(`${name}:${String(v)}`),
        (e: unknown) => outcomes.push(`${name}:${(e as Error).name}`),
      );
    let settled: Promise<unknown> = Promise.resolve();
    virtualTime((scheduler) => {
      const sup = new Supervisor([{ tenant: 'A', backoff: noJitter, random: () => 0.999, scheduler, gate, streams: (ctx) => streams(ctx, runs, 1000) }]);
      sup.start();
      scheduler.schedule(() => {
        settled = Promise.all([settle('first', sup.dispatch('A', 'sync', { force: false })), settle('second', sup.dispatch('A', 'sync', { force: true }))]);
      }, 5);
      // The first makes its effects at 5 and 15; the lease is lost at 12: the first stops
      // before its second effect, and the second, queued behind it, never starts.
      scheduler.schedule(() => (gate.acting$ = false), 12);
      scheduler.schedule(() => void sup.stop(), 50);
    });
    await settled;
    expect(outcomes.sort()).toEqual(['first:NotLeaderError', 'second:NotLeaderError']);
    expect(runs.filter((r) => r.command === 'act').map((r) => r.effects)).toEqual([[5]]);
  });

  it('without a gate the context always acts', () => {
    const runs: Run[] = [];
    virtualTime((scheduler) => {
      const sup = new Supervisor([{ tenant: 'A', backoff: noJitter, random: () => 0, scheduler, streams: (ctx) => streams(ctx, runs, 100) }]);
      sup.start();
      expect(sup.loop('A').context.isActing?.()).toBe(true);
      scheduler.schedule(() => void sup.stop(), 150);
    });
    expect(runs.filter((r) => r.command === 'act').map((r) => r.effects)).toEqual([
      [0, 10],
      [100, 110],
    ]);
  });
});
