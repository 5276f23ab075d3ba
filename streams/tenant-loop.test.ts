import { defer, map, throwError, timer, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { OrchestratorEvent } from './events.js';
import { LoopStoppedError } from './lane.js';
import { Supervisor } from './supervisor.js';
import type { AnyCommand, CommandHandlers, StreamContext, StreamDefinition } from './tenant-loop.js';

const noJitter = { minMs: 10, maxMs: 1000, jitter: 0 };

/**
 * Runs `body` in virtual time. Loops tick forever, so every test stops its supervisor at a
 * frame of its choosing; the scheduler then runs until the last action has finished.
 */
function virtualTime(body: (scheduler: TestScheduler) => void): void {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run(() => body(scheduler));
}

interface RunRecord {
  tenant: string;
  stream: string;
  command: string;
  args: unknown;
  start: number;
  end?: number;
  failed?: boolean;
}

/** A stream whose action takes `durationMs` of virtual time, fails when told to, and records every run. */
function recordingStream(
  ctx: StreamContext,
  name: string,
  intervalMs: number,
  runs: RunRecord[],
  opts: { durationMs?: number; failWhen?: (run: number) => boolean; commands?: string[] } = {},
): StreamDefinition {
  let count = 0;
  const action =
    (command: string) =>
    (args: unknown): Observable<string> =>
      defer(() => {
        count += 1;
        const record: RunRecord = { tenant: ctx.tenant, stream: name, command, args, start: ctx.now() };
        runs.push(record);
        if (opts.failWhen?.(count)) {
          record.failed = true;
          return throwError(() => new Error(`${name} run ${count} failed`));
        }
        const result = `${name}#${count}`;
        return timer(opts.durationMs ?? 0, ctx.scheduler).pipe(
          map(() => {
            record.end = ctx.now();
            return result;
          }),
        );
      });
  const commands = Object.fromEntries([name, ...(opts.commands ?? [])].map((c) => [c, action(c)]));
  // Kinds and results are the test's own: the loop routes by kind and passes results through.
  return { name, intervalMs, tick: { command: name, args: {} } as AnyCommand, commands: commands as CommandHandlers };
}

const starts = (runs: RunRecord[], tenant: string, stream: string) => runs.filter((r) => r.tenant === tenant && r.stream === stream).map((r) => r.start);

describe('tenant loop', () => {
  it('retries a failing stream with growing delays while other streams and tenants keep ticking', () => {
    const runs: RunRecord[] = [];
    const events: OrchestratorEvent[] = [];
    virtualTime((scheduler) => {
      const sup = new Supervisor([
        {
          tenant: 'A',
          backoff: noJitter,
          random: () => 0,
          scheduler,
          streams: (ctx) => [recordingStream(ctx, 'monitor', 100, runs, { failWhen: (n) => n <= 3 }), recordingStream(ctx, 'sync', 100, runs)],
        },
        { tenant: 'B', backoff: noJitter, random: () => 0, scheduler, streams: (ctx) => [recordingStream(ctx, 'monitor', 100, runs)] },
      ]);
      sup.events$.subscribe((e) => events.push(e));
      sup.start();
      scheduler.schedule(() => void sup.stop(), 350);
    });

    // A/poll fails at 0, 10 and 30 (waiting 10, 20, 40), succeeds at 70, then ticks every 100.
    expect(starts(runs, 'A', 'monitor')).toEqual([0, 10, 30, 70, 170, 270]);
    const retrying = events.filter((e) => e.type === 'stream.retrying');
    expect(retrying.map((e) => [e.tenant, e.at, 'attempt' in e && e.attempt, 'delayMs' in e && e.delayMs])).toEqual([
      ['A', 0, 1, 10],
      ['A', 10, 2, 20],
      ['A', 30, 3, 40],
    ]);
    // The other stream of A and tenant B never noticed.
    expect(starts(runs, 'A', 'sync')).toEqual([0, 100, 200, 300]);
    expect(starts(runs, 'B', 'monitor')).toEqual([0, 100, 200, 300]);
  });

  it('never overlaps two commands of one kind, nor a command and a tick, and queues them in order', () => {
    const runs: RunRecord[] = [];
    const replies: string[] = [];
    virtualTime((scheduler) => {
      const sup = new Supervisor([
        {
          tenant: 'A',
          backoff: noJitter,
          random: () => 0.5,
          scheduler,
          streams: (ctx) => [recordingStream(ctx, 'sync', 100, runs, { durationMs: 30, commands: ['replay'] })],
        },
      ]);
      sup.start();
      // The first tick comes at 50 (half the interval) and runs until 80.
      scheduler.schedule(() => {
        void sup.dispatch('A', 'sync', { force: true }).then((r) => replies.push(`force:${r}`));
        void sup.dispatch('A', 'replay', { startingOffsetsTimestamp: 1, resumeToSubscribePatternTimestamp: 2 }).then((r) => replies.push(`replay:${r}`));
      }, 60);
      scheduler.schedule(() => void sup.stop(), 120);
    });
    const spans = runs.map((r) => [r.command, r.start, r.end]);
    expect(spans).toEqual([
      ['sync', 50, 80],
      ['sync', 80, 110],
      ['replay', 110, 140],
    ]);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end!);
    return Promise.resolve().then(() => expect(replies).toEqual(['force:sync#2', 'replay:sync#3']));
  });

  it('lets identical concurrent commands share the run in flight and replies to every caller', async () => {
    const runs: RunRecord[] = [];
    const replies: Promise<unknown>[] = [];
    virtualTime((scheduler) => {
      const sup = new Supervisor([
        { tenant: 'A', backoff: noJitter, random: () => 0.99, scheduler, streams: (ctx) => [recordingStream(ctx, 'sync', 1000, runs, { durationMs: 40 })] },
      ]);
      sup.start();
      scheduler.schedule(() => replies.push(sup.dispatch('A', 'sync', { force: false })), 5);
      scheduler.schedule(() => replies.push(sup.dispatch('A', 'sync', { force: false })), 20);
      scheduler.schedule(() => replies.push(sup.dispatch('A', 'sync', { force: true })), 20);
      scheduler.schedule(() => void sup.stop(), 100);
    });
    expect(runs.map((r) => [r.args, r.start])).toEqual([
      [{ force: false }, 5],
      [{ force: true }, 45],
    ]);
    expect(await Promise.all(replies)).toEqual(['sync#1', 'sync#1', 'sync#2']);
  });

  it('answers a failed command with its error and keeps the stream running', async () => {
    const runs: RunRecord[] = [];
    const events: OrchestratorEvent[] = [];
    let failed: Promise<unknown> = Promise.resolve();
    virtualTime((scheduler) => {
      const sup = new Supervisor([
        {
          tenant: 'A',
          backoff: noJitter,
          random: () => 0,
          scheduler,
          streams: (ctx) => [recordingStream(ctx, 'sync', 100, runs, { failWhen: (n) => n === 2 })],
        },
      ]);
      sup.events$.subscribe((e) => events.push(e));
      sup.start();
      scheduler.schedule(() => (failed = sup.dispatch('A', 'sync', { force: true })), 50);
      scheduler.schedule(() => void sup.stop(), 250);
    });
    await expect(failed).rejects.toThrow('sync run 2 failed');
    expect(events.some((e) => e.type === 'command.failed')).toBe(true);
    expect(events.some((e) => e.type === 'stream.retrying')).toBe(false);
    expect(starts(runs, 'A', 'sync')).toEqual([0, 50, 100, 200]);
  });

  it('spreads the ticks of a long interval over the whole interval, while the first comes within the first-tick spread', () => {
    const runs: RunRecord[] = [];
    virtualTime((scheduler) => {
      const draws = [0.5, 0.7, 0.1, 0.2];
      const sup = new Supervisor(
        ['A', 'B'].map((tenant) => ({
          tenant,
          backoff: noJitter,
          firstTickSpreadMs: 20,
          random: () => draws.shift()!,
          scheduler,
          streams: (ctx: StreamContext) => [recordingStream(ctx, 'sync', 1000, runs)],
        })),
      );
      sup.start();
      scheduler.schedule(() => void sup.stop(), 2500);
    });
    // A: first at 0.5 × 20, then on its place 0.7 × 1000 in the interval; B: 0.1 × 20, then 200 + 1000 (200 is too soon after 2).
    expect(starts(runs, 'A', 'sync')).toEqual([10, 700, 1700]);
    expect(starts(runs, 'B', 'sync')).toEqual([2, 1200, 2200]);
  });

  it('on shutdown stops the ticks, lets the action in flight finish and refuses new commands', async () => {
    const runs: RunRecord[] = [];
    let stopped = false;
    let lateCommand: Promise<unknown> = Promise.resolve();
    let eventsCompletedAt = -1;
    virtualTime((scheduler) => {
      const sup = new Supervisor([
        { tenant: 'A', backoff: noJitter, random: () => 0, scheduler, streams: (ctx) => [recordingStream(ctx, 'monitor', 100, runs, { durationMs: 50 })] },
      ]);
      sup.events$.subscribe({ complete: () => (eventsCompletedAt = scheduler.now()) });
      sup.start();
      // The tick at 100 is running (until 150) when the stop comes at 120.
      scheduler.schedule(() => {
        void sup.stop().then(() => (stopped = true));
        lateCommand = sup.dispatch('A', 'monitor', {});
      }, 120);
    });
    expect(runs.map((r) => [r.start, r.end])).toEqual([
      [0, 50],
      [100, 150],
    ]);
    await expect(lateCommand).rejects.toBeInstanceOf(LoopStoppedError);
    await Promise.resolve();
    expect(stopped).toBe(true);
    expect(eventsCompletedAt).toBe(150);
  });

  it('records a tick its stream calls quiet without running it, unless the lane is busy; commands always run', () => {
    const runs: RunRecord[] = [];
    const asked: number[] = [];
    virtualTime((scheduler) => {
      const sup = new Supervisor([
        {
          tenant: 'A',
          backoff: noJitter,
          random: () => 0,
          scheduler,
          streams: (ctx) => {
            const stream = recordingStream(ctx, 'monitor', 100, runs, { durationMs: 150, commands: ['replay'] });
            // Quiet from 200 on: the ticks at 0 and 100 run, the later ones do not.
            return [{ ...stream, quietTick: () => (asked.push(ctx.now()), ctx.now() >= 200) }];
          },
        },
      ]);
      sup.start();
      scheduler.schedule(() => void sup.dispatch('A', 'replay', { startingOffsetsTimestamp: 1, resumeToSubscribePatternTimestamp: 2 }), 390);
      scheduler.schedule(() => void sup.stop(), 560);
    });
    // 0 runs until 150; the tick at 100 found a run in flight (dropped). 200 and 300 are quiet.
    // The command at 390 runs until 540: the tick at 400 finds the lane busy, is not asked and
    // queues behind it; the tick at 500 finds that run still to come (dropped, not asked).
    expect(runs.map((r) => [r.command, r.start])).toEqual([
      ['monitor', 0],
      ['replay', 390],
      ['monitor', 540],
    ]);
    expect(asked).toEqual([0, 200, 300]);
  });
});
