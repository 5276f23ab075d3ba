/**
 * The Spark stream driven directly, without a loop (unit tests of its own rules): a context built
 * by hand, in-memory replay rows and submission records, a memory object store, and `poll()`, one
 * run as the `monitor` command runs it.
 */
import { asyncScheduler, firstValueFrom, from, Subject, type SchedulerLike } from 'rxjs';
import { parseConfig } from '../../src/config/load.js';
import type { TenantConfig } from '../../src/config/schema.js';
import type { ReplayRow, ReplayStepAttempt, ReplayStepFlag } from '../../src/db/spark-submit-status.js';
import type { SubmissionRecord } from '../../src/db/spark-submissions.js';
import type { DeleteResult, ObjectStore } from '../../src/objectstore/object-store.js';
import { SparkMasterClient, type SparkMasterClientOptions } from '../../src/spark/master-client.js';
import type { MonitorArgs, SparkRunResult } from '../../streams/commands.js';
import type { EventInput, OrchestratorEvent } from '../../streams/events.js';
import { NotLeaderError } from '../../streams/leadership.js';
import type { ReplayStore, SubmissionStore } from '../../streams/spark/ports.js';
import { sparkStream, type SparkStream, type SparkStreamDeps } from '../../streams/spark/stream.js';
import { TenantLoop, type StreamContext } from '../../streams/tenant-loop.js';
import { SparkMasterSimulator, type MasterSimulatorOptions } from '../spark-sim/master-simulator.js';

/** A context as a loop gives it; `lease.acting` switches whether this process acts. */
export function handContext(tenant: string, opts: { now?: () => number; emit?: (e: EventInput) => void; lease?: { acting: boolean } } = {}): StreamContext {
  const lease = opts.lease;
  return {
    tenant,
    now: opts.now ?? (() => Date.now()),
    emit: opts.emit ?? (() => undefined),
    scheduler: asyncScheduler,
    isActing: () => lease?.acting ?? true,
    assertActing: () => {
      if (lease && !lease.acting) throw new NotLeaderError(tenant, 'other-replica');
    },
    actingTerm: () => (lease ? (lease.acting ? 1 : null) : 0),
  };
}

/**
 * A master simulator, a client of it and the tenant ABC configured on it (its store is never
 * read: the stream gets one directly). `cleanups` gets the client's close and the simulator's stop.
 */
export async function simulatedTenant(
  cleanups: (() => Promise<unknown>)[],
  opts: { sim?: MasterSimulatorOptions; client?: Partial<SparkMasterClientOptions> } = {},
): Promise<{ sim: SparkMasterSimulator; client: SparkMasterClient; tenant: TenantConfig }> {
  const sim = await new SparkMasterSimulator(opts.sim).start();
  const client = new SparkMasterClient({ hosts: [sim.host], webUiPort: sim.uiPort, restPort: sim.restPort, timeoutMs: 2_000, ...opts.client });
  cleanups.push(
    () => sim.stop(),
    () => client.close(),
  );
  const config = await parseConfig(`tenants = [{
    name = "ABC", objectStore.local.path = "/nowhere", kafka.kafkaBrokersHost = "k"
    spark { sparkMasterHost = "${sim.host}", sparkMasterWebUiPort = ${sim.uiPort}, sparkMasterRestPort = ${sim.restPort}, sparkJarPath = "file:///a.jar" }
  }]`);
  return { sim, client, tenant: config.tenants[0]! };
}

/** The stream, and one run of it as `monitor` does it (outside any lane). */
export function directSparkStream(ctx: StreamContext, deps: SparkStreamDeps): SparkStream & { poll(args?: MonitorArgs): Promise<SparkRunResult> } {
  const stream = sparkStream(ctx, deps);
  return { ...stream, poll: (args = {}) => firstValueFrom(from(stream.definition.commands.monitor!(args))) };
}

export class MemoryReplays implements ReplayStore {
  rows: ReplayRow[] = [];
  steps: ReplayStepAttempt[] = [];
  async insert(tenant: string, startingOffsetsTimestamp: number, resumeToSubscribePatternTimestamp: number): Promise<ReplayRow> {
    const row = {
      id: this.rows.length + 1,
      tenant,
      startingOffsetsTimestamp,
      resumeToSubscribePatternTimestamp,
      isSubmittedForOffsetsTimestamp: false,
      isResumedToSubscribePattern: false,
      createdAt: new Date(),
    };
    this.rows.push(row);
    return { ...row };
  }
  async latest(tenant: string) {
    const row = this.rows.filter((r) => r.tenant === tenant).at(-1);
    return row ? { ...row } : undefined;
  }
  async markSubmitted(id: number) {
    const row = this.rows.find((r) => r.id === id)!;
    const changed = !row.isSubmittedForOffsetsTimestamp;
    row.isSubmittedForOffsetsTimestamp = true;
    return changed;
  }
  async markResumed(id: number) {
    const row = this.rows.find((r) => r.id === id)!;
    const changed = !row.isResumedToSubscribePattern;
    row.isResumedToSubscribePattern = true;
    return changed;
  }
  async beginStep(attempt: ReplayStepAttempt) {
    this.steps.push({ ...attempt, knownDriverIds: [...attempt.knownDriverIds] });
  }
  async lastStep(tenant: string, replayId: number, flag: ReplayStepFlag) {
    return this.steps.filter((s) => s.tenant === tenant && s.replayId === replayId && s.flag === flag).at(-1);
  }
}

export class MemorySubmissions implements SubmissionStore {
  rows: SubmissionRecord[] = [];
  /** Reads of the tenant's records (`recent`). */
  reads = 0;
  /** Queries of who recorded which ids (`ownersOf`). */
  ownerQueries = 0;
  async record(s: SubmissionRecord) {
    this.rows.push(s);
  }
  async recent(tenant: string) {
    this.reads++;
    return this.rows.filter((r) => r.tenant === tenant).reverse();
  }
  async ownersOf(ids: readonly string[]) {
    this.ownerQueries++;
    const owners = new Map<string, string>();
    for (const r of this.rows) if (ids.includes(r.submissionId) && !owners.has(r.submissionId)) owners.set(r.submissionId, r.tenant);
    return owners;
  }
}

/** A store holding `keys`, whose deletes fail for the keys in `failing`. */
export function memoryStore(keys: string[], failing: ReadonlySet<string> = new Set()): ObjectStore & { keys: Set<string> } {
  const all = new Set(keys);
  return {
    keys: all,
    stats: { listCalls: 0, deleteCalls: 0, retries: 0 },
    async listPrefixes() {
      return [];
    },
    async listKeys(prefix: string) {
      return [...all].filter((k) => k.startsWith(prefix)).sort();
    },
    async deleteKeys(ks: readonly string[]): Promise<DeleteResult> {
      const errors = ks.filter((k) => failing.has(k)).map((key) => ({ key, code: 'AccessDenied', message: 'Access Denied' }));
      for (const k of ks) if (!failing.has(k)) all.delete(k);
      return { deleted: ks.length - errors.length, errors };
    },
    async ping() {},
    describe: () => 'memory:',
    close() {},
  };
}

/**
 * The Spark stream alone in a tenant loop, as the daemon builds it, on a clock the test holds and
 * with ticks that never fire by themselves: the test drives it with `loop.dispatch('monitor', {})`.
 */
export function drivenSparkLoop(opts: { tenant: string; now: () => number; backoffMs: number; deps: SparkStreamDeps }) {
  const events: OrchestratorEvent[] = [];
  const errors: unknown[] = [];
  const eventSubject = new Subject<OrchestratorEvent>();
  const eventSub = eventSubject.subscribe((e) => events.push(e));
  const scheduler: SchedulerLike = { now: opts.now, schedule: asyncScheduler.schedule.bind(asyncScheduler) as SchedulerLike['schedule'] };
  const loop = new TenantLoop({
    tenant: opts.tenant,
    scheduler,
    random: () => 0.5,
    backoff: { minMs: opts.backoffMs, maxMs: opts.backoffMs },
    events: eventSubject,
    streams: (ctx) => [sparkStream(ctx, opts.deps).definition],
  });
  const loopSub = loop.run().subscribe({ error: (err: unknown) => errors.push(err) });
  return {
    loop,
    events,
    /** Errors the loop itself ended with (none expected). */
    errors,
    async stop(): Promise<void> {
      await loop.stop();
      loopSub.unsubscribe();
      eventSub.unsubscribe();
    },
  };
}
