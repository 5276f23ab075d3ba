/**
 * Reads of the masters' state (`GET /json/` of every listed master, for Spark HA): which one is
 * ALIVE (the one REST calls go to), what a split brain looks like, and the one read every tenant
 * of a master set shares.
 *
 * Every tenant on a master shares its client, and the client shares its state reads: callers
 * that arrive while a read is in flight get that read, and a state younger than
 * `stateMaxAgeMs` is answered again without a new read: a master read per max age, whatever
 * the number of tenants polling it. A kill through the client invalidates both (see submissions.ts), so whoever reads
 * after it (the wait until the killed driver has left `activedrivers`) gets a state read after it.
 */
import { firstLine } from '../common/text.js';
import { SharedRead } from '../shared-read.js';
import { SparkMalformedStateError, SparkProtocolError, SparkTimeoutError, SparkUnreachableError } from './errors.js';
import { urlHost } from './hosts.js';
import { parseMasterState, reportedStatusOf } from './master-state-schema.js';
import { summarizeBody, type CallOptions, type MasterTransport } from './transport.js';
import type { MasterState, SparkDriver } from './types.js';

export class MasterStateReader {
  private alive: string | undefined;
  /** The state read every caller shares (see the top of this file). */
  private readonly sharedState: SharedRead<MasterState>;
  /** Each host's last state: what has not changed since is handed out again (see sharingUnchanged). */
  private readonly lastStates = new Map<string, MasterState>();
  /** The last split-brain view and the states it was made of (handed out again while they are unchanged). */
  private lastSplit: { parts: MasterState[]; view: MasterState } | undefined;
  /** The host last read ALIVE: with several ALIVE, actions stay on it (kept when a failure makes `alive` forgotten). */
  private lastAlive: string | undefined;
  /** Told of every state read that differs from the one before (see onState). */
  private readonly listeners = new Set<(state: MasterState) => void>();
  private lastTold: MasterState | undefined;

  constructor(
    private readonly transport: MasterTransport,
    readonly hosts: readonly string[],
    readonly webUiPort: number,
    stateMaxAgeMs: number,
  ) {
    this.sharedState = new SharedRead(() => this.readState().then((state) => this.tell(state)), stateMaxAgeMs);
  }

  /**
   * The host that answered ALIVE most recently (undefined when none is known to be): the one
   * REST calls go to. With several ALIVE (a split brain) it stays the same while it is ALIVE.
   */
  get aliveHost(): string | undefined {
    return this.alive;
  }

  /**
   * `GET http://host:webUiPort/json/` on every host in parallel, waiting for each (within the
   * timeout): with two ALIVE masters, deciding from whichever answered first would act on each
   * in turn. Returns the ALIVE master's state; with several ALIVE, the state of the one acted on
   * (the one acted on before while it stays ALIVE, else the first in `hosts` order) with the
   * drivers of every ALIVE master and `splitBrain` set; if none is ALIVE, the state of the first
   * host (in `hosts` order) that answered. Throws SparkMalformedStateError when a host that is
   * or may be ALIVE answered a document that is not a usable state (its drivers are unknown),
   * SparkUnreachableError if none answered. A host that does not answer (or answers an HTTP
   * error, or no JSON) is left out, as in an HA pair with a master down.
   *
   * Shared (see the top of this file): the read in flight, or one that started less than
   * `stateMaxAgeMs` ago, unless a kill came since. A failed read is shared only by
   * the callers that were waiting for it. The state is frozen: callers share it. A caller's
   * `signal` ends its own wait, not the shared read.
   */
  async read(opts: CallOptions = {}): Promise<MasterState> {
    this.transport.assertOpen();
    opts.signal?.throwIfAborted();
    const shared = this.sharedState.get();
    return opts.signal ? untilAborted(shared, opts.signal) : shared;
  }

  /** The shared state, when a `read()` now would answer it without reading: no wait, no I/O. */
  latest(): MasterState | undefined {
    return this.sharedState.peek()?.value;
  }

  /**
   * Calls `listener` with every state read from now on that differs from the one before (an
   * unchanged master hands out the same object again), whoever asked for it: a tenant learns of
   * its driver's death from the read of any tenant of the master. Returns the unsubscribe.
   */
  onState(listener: (state: MasterState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private tell(state: MasterState): MasterState {
    if (state !== this.lastTold) {
      this.lastTold = state;
      for (const listener of this.listeners) listener(state);
    }
    return state;
  }

  /** Forgets the shared state read (the one in flight and the last one): the next caller reads anew. */
  invalidate(): void {
    this.sharedState.invalidate();
  }

  /** The remembered ALIVE master stopped answering (or is not ALIVE any more): rediscover it with a new read. */
  forgetAlive(): void {
    this.alive = undefined;
    this.invalidate();
  }

  /**
   * Several ALIVE masters: the state of the one acted on, with the drivers of all of them (an
   * id listed by two keeps the acting master's entry) and `splitBrain` naming where each driver
   * of another master is. Frozen, and the same object while the masters' states are unchanged.
   */
  private splitView(acting: MasterState, others: MasterState[]): MasterState {
    const parts = [acting, ...others];
    const last = this.lastSplit;
    if (last && last.parts.length === parts.length && last.parts.every((p, i) => p === parts[i])) return last.view;
    const elsewhere = new Map<string, string>();
    const seen = new Set<string>([...acting.activeDrivers, ...acting.completedDrivers].map((d) => d.id));
    const active = [...acting.activeDrivers];
    const completed = [...acting.completedDrivers];
    for (const other of others) {
      for (const d of other.activeDrivers) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        active.push(d);
        elsewhere.set(d.id, other.webUiUrl);
      }
      for (const d of other.completedDrivers) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        completed.push(d);
        elsewhere.set(d.id, other.webUiUrl);
      }
    }
    const view: MasterState = Object.freeze({
      ...acting,
      activeDrivers: Object.freeze(active) as SparkDriver[],
      completedDrivers: Object.freeze(completed) as SparkDriver[],
      splitBrain: Object.freeze({ aliveMasters: parts.map((p) => p.webUiUrl), actingOn: acting.webUiUrl, elsewhere }),
    });
    this.lastSplit = { parts, view };
    return view;
  }

  /** One read of every host (not shared); see `read()`. */
  private async readState(): Promise<MasterState> {
    const results = await Promise.allSettled(this.hosts.map((host) => this.fetchState(host)));
    const reasons = results.map((r) => (r.status === 'rejected' ? r.reason : undefined));
    // A master that is (or may be) ALIVE and whose drivers are unknown: nothing can be decided.
    const malformed = reasons.find(
      (e): e is SparkMalformedStateError => e instanceof SparkMalformedStateError && (e.reportedStatus === undefined || e.reportedStatus === 'ALIVE'),
    );
    if (malformed) {
      this.alive = undefined;
      throw malformed;
    }
    const answered = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ host: this.hosts[i]!, state: r.value }] : []));
    const alive = answered.filter((a) => a.state.status === 'ALIVE');
    if (alive.length === 1) {
      this.alive = this.lastAlive = alive[0]!.host;
      return alive[0]!.state;
    }
    if (alive.length > 1) {
      // Split brain: actions stay on one master (the one acted on so far, while it is ALIVE).
      const acting = alive.find((a) => a.host === this.lastAlive) ?? alive[0]!;
      this.alive = this.lastAlive = acting.host;
      return this.splitView(
        acting.state,
        alive.filter((a) => a !== acting).map((a) => a.state),
      );
    }
    this.alive = undefined;
    if (answered.length > 0) return answered[0]!.state;
    // Nobody answered with a usable document: a protocol error (somebody answered) wins.
    const protocol = reasons.find((e): e is SparkProtocolError => e instanceof SparkProtocolError);
    if (protocol) throw protocol;
    const parts = this.hosts.map((h, i) => `${h}:${this.webUiPort} (${describeFailure(reasons[i])})`);
    throw new SparkUnreachableError(`Spark master unreachable: ${parts.join(', ')}`, {
      target: this.hosts.map((h) => `${h}:${this.webUiPort}`).join(','),
      cause: reasons[0],
    });
  }

  /** `GET /json/` of one host, checked (SparkMalformedStateError when it is no usable state). */
  private async fetchState(host: string): Promise<MasterState> {
    const webUiUrl = `http://${urlHost(host)}:${this.webUiPort}`;
    const res = await this.transport.call(host, this.webUiPort, 'GET', '/json/', undefined, {});
    const target = `${host}:${this.webUiPort}`;
    if (res.status !== 200) {
      throw new SparkProtocolError(`Spark master ${target} answered HTTP ${res.status} to GET /json/: ${summarizeBody(res)}`, {
        target,
        status: res.status,
      });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(res.text);
    } catch {
      throw new SparkProtocolError(`Spark master ${target} answered GET /json/ with a body that is not JSON: ${summarizeBody(res)}`, {
        target,
        status: res.status,
      });
    }
    try {
      const state = sharingUnchanged(parseMasterState(doc, webUiUrl), this.lastStates.get(host));
      this.lastStates.set(host, state);
      return state;
    } catch (e) {
      const reported = reportedStatusOf(doc);
      throw new SparkMalformedStateError(`Spark master ${target} answered GET /json/ with an unexpected document: ${(e as Error).message}`, {
        target,
        status: res.status,
        ...(reported !== undefined ? { reportedStatus: reported } : {}),
      });
    }
  }
}

/**
 * `next` made read-only (one read is handed to every tenant of the master), reusing what has
 * not changed since `previous`: equal drivers, equal driver lists, the whole previous state
 * when nothing changed. A master listing 1,000 drivers is read every few seconds and mostly
 * says the same; the drivers of each read lived long enough to reach V8's old generation, and
 * a state handed out again keeps the lookups built over it (streams/spark/master-index.ts).
 */
export function sharingUnchanged(next: MasterState, previous: MasterState | undefined): MasterState {
  if (!previous) return freezeState(next);
  // Plain functions and loops, no closures made per read: V8 drops a closure's optimized code
  // when a full collection finds none of its closures alive, and these loops run over every driver.
  const activeSame = sameDrivers(next.activeDrivers, previous.activeDrivers);
  const completedSame = sameDrivers(next.completedDrivers, previous.completedDrivers);
  const prevById = activeSame && completedSame ? undefined : driversById(previous);
  const activeDrivers = activeSame ? previous.activeDrivers : reuseDrivers(next.activeDrivers, prevById!);
  const completedDrivers = completedSame ? previous.completedDrivers : reuseDrivers(next.completedDrivers, prevById!);
  const same =
    activeDrivers === previous.activeDrivers &&
    completedDrivers === previous.completedDrivers &&
    next.webUiUrl === previous.webUiUrl &&
    next.url === previous.url &&
    next.status === previous.status &&
    next.aliveWorkers === previous.aliveWorkers &&
    next.cores === previous.cores &&
    next.coresUsed === previous.coresUsed &&
    next.memoryMb === previous.memoryMb &&
    next.memoryUsedMb === previous.memoryUsedMb;
  return same ? previous : Object.freeze({ ...next, activeDrivers, completedDrivers });
}

function sameDrivers(list: readonly SparkDriver[], prevList: readonly SparkDriver[]): boolean {
  if (list.length !== prevList.length) return false;
  for (let i = 0; i < list.length; i++) if (!sameDriver(list[i]!, prevList[i]!)) return false;
  return true;
}

/** Every driver of `previous` by id (a completed entry wins over an active one of the same id). */
function driversById(previous: MasterState): Map<string, SparkDriver> {
  const byId = new Map<string, SparkDriver>();
  for (const d of previous.activeDrivers) byId.set(d.id, d);
  for (const d of previous.completedDrivers) byId.set(d.id, d);
  return byId;
}

/** `list` frozen, each driver equal to the previous read's of its id replaced by that one. */
function reuseDrivers(list: readonly SparkDriver[], prevById: ReadonlyMap<string, SparkDriver>): SparkDriver[] {
  const reused: SparkDriver[] = [];
  for (const d of list) {
    const old = prevById.get(d.id);
    reused.push(old && sameDriver(d, old) ? old : Object.freeze(d));
  }
  return Object.freeze(reused) as SparkDriver[];
}

function sameDriver(a: SparkDriver, b: SparkDriver): boolean {
  return (
    a.id === b.id &&
    a.state === b.state &&
    a.startTime === b.startTime &&
    a.worker === b.worker &&
    a.mainClass === b.mainClass &&
    a.cores === b.cores &&
    a.memoryMb === b.memoryMb &&
    a.submitDate === b.submitDate
  );
}

/** The state, its driver lists and drivers made read-only. */
function freezeState(state: MasterState): MasterState {
  for (const d of state.activeDrivers) Object.freeze(d);
  for (const d of state.completedDrivers) Object.freeze(d);
  Object.freeze(state.activeDrivers);
  Object.freeze(state.completedDrivers);
  return Object.freeze(state);
}

/** `promise`, or the signal's reason as soon as it aborts (the promise itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Why one host gave no state, for the message that none answered. */
function describeFailure(reason: unknown): string {
  if (reason instanceof SparkTimeoutError) return `timed out after ${reason.timeoutMs} ms`;
  if (reason instanceof SparkUnreachableError) return reason.message.replace(/^.*failed: /, '');
  if (reason instanceof Error) return firstLine(reason.message, 120);
  return 'no answer';
}
