/**
 * An oracle for Spark fault schedules (SPEC §4.2, §4.3), shared by the simulator's randomized
 * schedules (test/integration/spark-fault-schedules.test.ts) and the real-cluster ones
 * (test/real-spark/fault-schedules.test.ts).
 *
 * It is fed two kinds of facts, in the order they happened:
 *  - what the SCHEDULE did, which the test knows without asking the product: the starting point
 *    (`start`), every fault that touched drivers (`fault`: a death, a worker loss, a kill from
 *    outside) with the drivers alive before and after it, and the replay it planned (`planReplay`);
 *  - every create and kill the MASTER served (`create`, `kill`), whatever the client saw of the
 *    answer, with what the master listed when it handled it.
 * and it decides whether each create and kill was called for. The rules (each a `violation`):
 *
 *  N  needs. The tenant needs a submission when the schedule leaves it without an owned alive
 *     driver: the starting point has none, or a fault takes the last one (a death, a worker lost
 *     under a driver that is not supervised, a kill from outside). A supervised driver on a lost
 *     worker is relaunched by the master under a new id: no need (the replacement is the tenant's).
 *  C1 every create that started a driver consumes something: the outstanding need, or the replay
 *     step due (start, then resume), or both at once (a "merge": the submission that was needed
 *     anyway is the replay's). A create with nothing to consume is a needless submission; a create
 *     the master processed whose answer the client never got (5xx after processing, dropped, timed
 *     out) consumed the need, so the client must not submit again for it.
 *  C2 a create that started nothing is explained by a fault: its answer was lost or replaced by
 *     the fault injection, or the master was not ALIVE. A 4xx/`success:false` from an ALIVE
 *     master means the product sent a bad request.
 *  C3 after a create that may have gone through (5xx, dropped, timed out) and in fact started
 *     nothing, no create before `submitGraceMs` have passed (the product cannot know it started
 *     nothing before the grace period is over).
 *  C4 no create while a driver of the tenant that was killed is still in `activedrivers`, nor
 *     while the master's relaunch of a killed driver is alive (a worker lost during the kill: the
 *     master relaunches a supervised driver under a new id whatever kill was asked for): two
 *     drivers must never write to one checkpoint.
 *  C5 arguments: before the replay start is due, no `kafka.startingOffsetsTimestamp`; the first
 *     create at or after the start time carries exactly `kafka.startingOffsetsTimestamp=<start>`
 *     (appArgs; nothing about it in sparkProperties); creates between that and the resume time
 *     (a death during the replay: "replay-continue") carry it too; the first create at or after
 *     the resume time (once started) carries none, nor does any later one. Each step exactly once,
 *     start before resume.
 *  K1 a kill names a driver the master knows, of the tenant's main class, owned by the tenant
 *     (never another tenant's driver of the same class, never another class).
 *  K2 a kill of an alive owned driver that nobody is killing yet is legitimate only for a replay
 *     step that is due and not done, or for a duplicate: a newer owned alive driver (not being
 *     killed) exists, which is kept. A re-kill of a driver already being killed or gone is harmless.
 *  A  at every request the master serves, the tenant never has more owned alive drivers (not being
 *     killed) than before, once it is down to one (a ratchet from the starting point, raised
 *     only by a fault: the master relaunching drivers that were being killed).
 *  E  at the end: no need outstanding, exactly one owned alive driver, both replay steps done, and
 *     the count of creates that started a driver equals needs + replay steps − merges.
 *
 * Ownership: the drivers of the tenant's main class, unless another tenant on the master has the
 * same class (`shared`): then only the drivers the tenant's creates started and the master's
 * relaunches of those (`own`, `relaunch`).
 */

export interface OracleDriver {
  id: string;
  mainClass: string;
  /** Epoch ms (the master's `starttime`). */
  startTime: number;
}

export interface OracleOptions {
  mainClass: string;
  /** Another tenant on the master has the same main class. */
  shared: boolean;
  submitGraceMs: number;
  crashLoop: { threshold: number; windowMs: number; baseBackoffMs: number; maxBackoffMs: number };
  /** Renders a time for the log lines (default ISO). */
  time?: (at: number) => string;
}

export interface ReplayPlan {
  id: number;
  /** The replay starts from here, and is due at this time (SPEC §4.2: `startingOffsetsTimestamp ≤ now`). */
  startingOffsetsTimestamp: number;
  /** The resume is due at this time. */
  resumeAt: number;
}

export interface CreateObservation {
  /** When the master handled it. */
  at: number;
  /** The driver the master started for it; null when it started none. */
  driverId: string | null;
  /** What the client got: the master's answer (`ok`/`error`), or none (`lost`: dropped, timed out). */
  answer: 'ok' | 'error' | 'lost';
  /** HTTP status the client got (0 when lost). */
  status: number;
  /** A fault injection replaced or swallowed the master's answer (or the request never reached the master logic). */
  faulted: boolean;
  /** The request as the master read it (absent when the master logic never saw it). */
  appArgs?: string[];
  sparkProperties?: Record<string, string>;
  /** The master's status when it handled the create. */
  masterStatus?: string;
  /** Alive drivers (SUBMITTED/RUNNING) not being killed, just before the master handled it. */
  aliveBefore?: OracleDriver[];
  /** Drivers in `activedrivers` whose kill was requested, when the master handled it. */
  killedStillActive?: string[];
}

export interface KillObservation {
  at: number;
  id: string;
  /** The driver as the master listed it (active or completed) around the kill; undefined when unknown. */
  target: OracleDriver | undefined;
  /** The target was alive and nobody was killing it yet, just before. */
  targetAlive: boolean;
  /** The other alive drivers not being killed, just before. */
  others: OracleDriver[];
}

export type FaultKind = 'death' | 'worker-loss' | 'outside-kill';

export interface OracleSummary {
  needs: number;
  replaySteps: number;
  merges: number;
  /** Creates that started a driver. */
  started: number;
  /** Creates that started nothing (each explained by a fault). */
  startedNothing: number;
  /** Creates that started a driver although the client got no usable answer. */
  ambiguousStarted: number;
  kills: number;
  ownedDeaths: number;
  /** Replay creates carrying the timestamp after a death during the replay. */
  replayContinues: number;
  duplicateKills: number;
  replayKills: number;
  /** Replay steps whose create started the driver although the client got no usable answer. */
  ambiguousSteps: number;
}

const TS_ARG = 'kafka.startingOffsetsTimestamp=';

export class FaultOracle {
  readonly log: string[] = [];
  readonly violations: string[] = [];
  private readonly ownedIds = new Set<string>();
  private need = false;
  private readonly needLog: { at: number; why: string }[] = [];
  private replay: (ReplayPlan & { startedAt: number | null; resumedAt: number | null }) | null = null;
  /** Time of the last create that may have gone through and started nothing (C3); null once a later create came. */
  private ambiguousNothingAt: number | null = null;
  private readonly ownedDeathTimes: number[] = [];
  /** Owned alive drivers not being killed at the last request: the ratchet of rule A. */
  private aliveCeiling: number | null = null;
  private readonly killedIds = new Set<string>();
  /** The master's relaunches: new id → the id it replaced. */
  private readonly relaunchOf = new Map<string, string>();
  private readonly s: OracleSummary = {
    needs: 0,
    replaySteps: 0,
    merges: 0,
    started: 0,
    startedNothing: 0,
    ambiguousStarted: 0,
    kills: 0,
    ownedDeaths: 0,
    replayContinues: 0,
    duplicateKills: 0,
    replayKills: 0,
    ambiguousSteps: 0,
  };
  private readonly time: (at: number) => string;

  constructor(readonly opts: OracleOptions) {
    this.time = opts.time ?? ((at) => new Date(at).toISOString());
  }

  // ------------------------------------------------------------ ownership

  /** A driver the tenant's create started, or the master's relaunch of one of its drivers. */
  own(id: string, why: string): void {
    if (this.ownedIds.has(id)) return;
    this.ownedIds.add(id);
    if (this.opts.shared) this.note(`  (${id} is the tenant's: ${why})`);
  }

  /** The master relaunched `oldId` under `newId` (a worker loss under a supervised driver). */
  relaunch(old: Pick<OracleDriver, 'id' | 'mainClass'>, newId: string): void {
    this.relaunchOf.set(newId, old.id);
    if (this.owns(old)) this.own(newId, `the master's relaunch of ${old.id}`);
  }

  /** The killed driver whose relaunch (or relaunch of a relaunch) `id` is, if any. */
  private killedAncestor(id: string): string | undefined {
    for (let at = this.relaunchOf.get(id); at !== undefined; at = this.relaunchOf.get(at)) if (this.killedIds.has(at)) return at;
    return undefined;
  }

  owns(d: Pick<OracleDriver, 'id' | 'mainClass'>): boolean {
    if (d.mainClass !== this.opts.mainClass) return false;
    return this.opts.shared ? this.ownedIds.has(d.id) : true;
  }

  // ------------------------------------------------------------ the schedule

  planReplay(plan: ReplayPlan): void {
    this.replay = { ...plan, startedAt: null, resumedAt: null };
    this.note(`replay #${plan.id}: start due at ${this.time(plan.startingOffsetsTimestamp)}, resume due at ${this.time(plan.resumeAt)}`);
  }

  /** The starting point: the alive drivers (not being killed) before the first poll. */
  start(at: number, alive: readonly OracleDriver[]): void {
    const owned = alive.filter((d) => this.owns(d));
    this.aliveCeiling = Math.max(1, owned.length);
    if (owned.length === 0) this.addNeed(at, 'the starting point has no driver of the tenant');
    else this.note(`starting point: the tenant's ${owned.map((d) => d.id).join(', ')}`);
  }

  /**
   * A fault that touched drivers. `before`/`after`: the alive drivers not being killed just
   * before and after it (register the master's relaunches with `relaunch` first); `relaunched`: the
   * ids the master relaunched under new ids (a worker loss under supervised drivers): those are
   * no deaths. Every other owned driver it ended is a death (for the crash-loop bound).
   */
  fault(at: number, kind: FaultKind, what: string, before: readonly OracleDriver[], after: readonly OracleDriver[], relaunched: readonly string[] = []): void {
    const ownedBefore = before.filter((d) => this.owns(d));
    const ownedAfter = new Set(after.filter((d) => this.owns(d)).map((d) => d.id));
    const deaths = ownedBefore.filter((d) => !ownedAfter.has(d.id) && !relaunched.includes(d.id)).length;
    for (let i = 0; i < deaths; i++) this.ownedDeathTimes.push(at);
    this.s.ownedDeaths += deaths;
    this.note(`fault (${kind}): ${what}`);
    // A fault may raise the count (the master relaunching a driver that was being killed): not the product's doing.
    if (this.aliveCeiling !== null) this.aliveCeiling = Math.max(this.aliveCeiling, ownedAfter.size);
    if (ownedBefore.length > 0 && ownedAfter.size === 0) this.addNeed(at, `${what} left the tenant without a driver`);
  }

  // ------------------------------------------------------------ what the master served

  create(obs: CreateObservation): void {
    const at = obs.at;
    const answer = obs.answer === 'lost' ? 'no answer' : `answered ${obs.status}${obs.faulted ? ' (fault)' : ''}`;
    if (obs.driverId === null) {
      this.s.startedNothing++;
      this.note(`create ${answer}: started nothing${obs.masterStatus && obs.masterStatus !== 'ALIVE' ? ` (master ${obs.masterStatus})` : ''}`);
      this.checkGrace(at);
      // The client saw a 5xx or no answer: for it the create may have gone through (C3).
      if (obs.answer === 'lost' || obs.status >= 500) this.ambiguousNothingAt = at;
      if (obs.masterStatus !== undefined && obs.masterStatus !== 'ALIVE') return; // refused by a master that is not ALIVE (a fault)
      if (!obs.faulted) this.violation(`C2 a create started nothing and no fault explains it (${answer}, master ${obs.masterStatus ?? 'unknown'})`);
      return;
    }

    const id = obs.driverId;
    this.s.started++;
    if (obs.answer !== 'ok') this.s.ambiguousStarted++;
    this.own(id, 'its create started it');
    this.checkGrace(at);
    this.ambiguousNothingAt = null;
    const stillActive = (obs.killedStillActive ?? []).filter((k) => this.owns({ id: k, mainClass: this.opts.mainClass }));
    if (stillActive.length > 0)
      this.violation(`C4 create of ${id} while the killed ${stillActive.join(', ')} still ${stillActive.length === 1 ? 'is' : 'are'} in activedrivers`);
    for (const d of (obs.aliveBefore ?? []).filter((x) => this.owns(x))) {
      const killed = this.killedAncestor(d.id);
      if (killed) this.violation(`C4 create of ${id} while ${d.id}, the master's relaunch of the killed ${killed}, is alive`);
    }

    const ts = (obs.appArgs ?? []).filter((a) => a.startsWith(TS_ARG)).map((a) => a.slice(TS_ARG.length));
    const propsTs = Object.keys(obs.sparkProperties ?? {}).filter((k) => /startingOffsetsTimestamp/i.test(k));
    if (propsTs.length > 0) this.violation(`C5 create of ${id} has ${propsTs.join(', ')} in sparkProperties`);
    const carries = ts.length === 0 ? 'no startingOffsetsTimestamp' : `startingOffsetsTimestamp=${ts.join(',')}`;
    const ownedAlive = (obs.aliveBefore ?? []).filter((d) => this.owns(d));
    const step = this.stepDue(at);
    const r = this.replay;

    let consumed: string;
    if (step === 'start' && r) {
      if (ts.length !== 1 || ts[0] !== String(r.startingOffsetsTimestamp)) {
        this.violation(`C5 the replay-start create ${id} carries ${carries}, not startingOffsetsTimestamp=${r.startingOffsetsTimestamp}`);
      }
      r.startedAt = at;
      this.s.replaySteps++;
      consumed = 'the replay start';
    } else if (step === 'resume' && r) {
      if (ts.length !== 0) {
        const redone = ts.length === 1 && ts[0] === String(r.startingOffsetsTimestamp) ? ' (the replay start carried out again, instead of the resume?)' : '';
        this.violation(`C5 the replay-resume create ${id} carries ${carries}${redone}; it must use the subscribe pattern`);
      }
      r.resumedAt = at;
      this.s.replaySteps++;
      consumed = 'the replay resume';
    } else {
      const replaying = r !== null && r.startedAt !== null && r.resumedAt === null;
      if (replaying) {
        if (ts.length !== 1 || ts[0] !== String(r.startingOffsetsTimestamp)) {
          this.violation(
            `C5 create ${id} during the replay (before its resume) carries ${carries}, not startingOffsetsTimestamp=${r.startingOffsetsTimestamp}`,
          );
        }
      } else if (ts.length !== 0) {
        this.violation(`C5 create ${id} carries ${carries} although no replay step is due${r?.resumedAt != null ? ' (the replay was resumed)' : ''}`);
      }
      if (!this.need) {
        this.violation(
          `C1 needless submission ${id} (${answer}): no fault left the tenant without a driver since the last submission, and no replay step is due` +
            (ownedAlive.length > 0 ? `; the tenant's ${ownedAlive.map((d) => d.id).join(', ')} ${ownedAlive.length === 1 ? 'is' : 'are'} alive` : ''),
        );
        consumed = 'nothing';
      } else {
        if (replaying) this.s.replayContinues++;
        consumed = replaying ? 'the need (replay continues)' : 'the need';
      }
    }
    if (step !== null && obs.answer !== 'ok') this.s.ambiguousSteps++;
    if (this.need && consumed !== 'nothing') {
      if (step !== null) {
        this.s.merges++;
        consumed += ' and the need';
      }
      if (ownedAlive.length > 0)
        this.violation(`oracle: a need was outstanding but the tenant's ${ownedAlive.map((d) => d.id).join(', ')} alive (model error)`);
      this.need = false;
    }
    this.note(`create ${answer}: started ${id} with ${carries}; consumes ${consumed}`);
  }

  kill(obs: KillObservation): void {
    this.s.kills++;
    const t = obs.target;
    const was = this.killedIds.has(obs.id);
    this.killedIds.add(obs.id);
    if (!t) {
      this.violation(`K1 kill of ${obs.id}, a driver the master does not know`);
      return;
    }
    if (t.mainClass !== this.opts.mainClass) {
      this.violation(`K1 kill of ${t.id}, a driver of another main class (${t.mainClass})`);
      return;
    }
    if (!this.owns(t)) {
      this.violation(`K1 kill of ${t.id}, another tenant's driver of the same main class`);
      return;
    }
    if (!obs.targetAlive) {
      this.note(`kill of ${t.id}: ${was ? 'already being killed' : 'not alive'} (harmless)`);
      return;
    }
    const step = this.stepDue(obs.at);
    if (step) {
      this.s.replayKills++;
      this.note(`kill of ${t.id}: for the replay ${step}`);
      return;
    }
    const newer = obs.others.filter((d) => this.owns(d) && newerThan(d, t));
    if (newer.length > 0) {
      this.s.duplicateKills++;
      this.note(`kill of ${t.id}: duplicate of the newer ${newer.map((d) => d.id).join(', ')}`);
      return;
    }
    const older = obs.others.filter((d) => this.owns(d));
    this.violation(
      `K2 kill of the tenant's healthy driver ${t.id}: no replay step is due and no newer driver of the tenant is alive` +
        (older.length > 0 ? ` (only the older ${older.map((d) => d.id).join(', ')}: the newest must be kept)` : ''),
    );
  }

  /** Rule A, at every request the master served: the owned alive drivers not being killed. */
  observeAlive(alive: readonly OracleDriver[], where: string): void {
    const owned = alive.filter((d) => this.owns(d));
    if (this.aliveCeiling === null) return;
    if (owned.length > this.aliveCeiling) {
      this.violation(`A ${where}: ${owned.length} alive drivers of the tenant (${owned.map((d) => d.id).join(', ')})`);
    }
    this.aliveCeiling = Math.max(1, Math.min(this.aliveCeiling, owned.length));
  }

  // ------------------------------------------------------------ questions

  stepDue(at: number): 'start' | 'resume' | null {
    const r = this.replay;
    if (!r) return null;
    if (r.startedAt === null) return at >= r.startingOffsetsTimestamp ? 'start' : null;
    if (r.resumedAt === null && at >= r.resumeAt) return 'resume';
    return null;
  }

  get needOutstanding(): boolean {
    return this.need;
  }

  /** The planned replay: when each step is due, and when its create started a driver (null: not yet). */
  get replayState(): (ReplayPlan & { startedAt: number | null; resumedAt: number | null }) | null {
    return this.replay ? { ...this.replay } : null;
  }

  get summary(): Readonly<OracleSummary> {
    return this.s;
  }

  /**
   * When the tenant must have its driver again once the faults stopped at `stoppedAt` (the first
   * poll without faults). Exact unless the crash-loop backoff may be on:
   *  - not before the grace period of a create that may have gone through and started nothing
   *    (C3) is over;
   *  - the product counts a death at most once per poll and only of drivers it saw alive or
   *    submitted, so its deaths are at most the tenant's deaths the schedule caused, all of them
   *    before `stoppedAt` (and all within one window: a schedule's faults last seconds). Below the
   *    threshold it cannot be crash-looping: recovery at the first poll allowed. At or above it,
   *    its backoff is at most base × 2^(deaths − threshold), capped, counted from its last death,
   *    which it sees at the latest at `stoppedAt`: that is the latest.
   */
  recoveryWindow(stoppedAt: number): { earliest: number; latest: number; why: string } {
    const graceEnd = this.ambiguousNothingAt === null ? -Infinity : this.ambiguousNothingAt + this.opts.submitGraceMs;
    const earliest = Math.max(stoppedAt, graceEnd);
    const { threshold, windowMs, baseBackoffMs, maxBackoffMs } = this.opts.crashLoop;
    const deaths = this.ownedDeathTimes.filter((t) => t > stoppedAt - windowMs).length;
    if (deaths < threshold) {
      return {
        earliest,
        latest: earliest,
        why: `${deaths} death(s) < crash-loop threshold ${threshold}${graceEnd > stoppedAt ? `; grace of an unconfirmed create until ${this.time(graceEnd)}` : ''}`,
      };
    }
    const backoff = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (deaths - threshold));
    return {
      earliest,
      latest: Math.max(earliest, stoppedAt + backoff),
      why: `${deaths} death(s) ≥ crash-loop threshold ${threshold}: backoff at most ${backoff} ms after ${this.time(stoppedAt)}`,
    };
  }

  /** Rule E, once the schedule is over; `alive`: the alive drivers not being killed. */
  finish(alive: readonly OracleDriver[]): void {
    const owned = alive.filter((d) => this.owns(d));
    if (this.need) this.violation(`E missed recovery: ${this.needLog.at(-1)?.why ?? 'a need'} and no create followed`);
    if (owned.length !== 1) this.violation(`E ${owned.length} alive drivers of the tenant at the end (${owned.map((d) => d.id).join(', ') || 'none'}), not 1`);
    const r = this.replay;
    if (r && (r.startedAt === null || r.resumedAt === null))
      this.violation(
        `E replay #${r.id} not carried out: start ${r.startedAt === null ? 'missing' : 'done'}, resume ${r.resumedAt === null ? 'missing' : 'done'}`,
      );
    const expected = this.s.needs + this.s.replaySteps - this.s.merges;
    if (this.s.started !== expected) {
      this.violation(
        `E ${this.s.started} creates started a driver; the schedule calls for ${expected} (${this.s.needs} needs + ${this.s.replaySteps} replay steps − ${this.s.merges} merges)`,
      );
    }
    this.note(
      `end: ${this.s.started} creates started a driver = ${this.s.needs} needs + ${this.s.replaySteps} replay steps − ${this.s.merges} merges; ` +
        `${this.s.startedNothing} started nothing, ${this.s.ambiguousStarted} started one without a usable answer; ${this.s.kills} kills`,
    );
  }

  // ------------------------------------------------------------ internals

  private addNeed(at: number, why: string): void {
    if (this.need) return;
    this.need = true;
    this.s.needs++;
    this.needLog.push({ at, why });
    this.note(`need #${this.s.needs}: ${why}`);
  }

  private checkGrace(at: number): void {
    if (this.ambiguousNothingAt !== null && at < this.ambiguousNothingAt + this.opts.submitGraceMs) {
      this.violation(
        `C3 create at ${this.time(at)}, ${at - this.ambiguousNothingAt} ms after a create that may have gone through (it started nothing), within the ${this.opts.submitGraceMs} ms grace period`,
      );
    }
  }

  private note(line: string): void {
    this.log.push(line);
  }

  private violation(line: string): void {
    this.violations.push(line);
    this.log.push(`VIOLATION ${line}`);
  }
}

/** Newer as the product keeps it: later start time, then the later driver id (`driver-<yyyyMMddHHmmss>-<n>`). */
export function newerThan(a: OracleDriver, b: OracleDriver): boolean {
  if (a.startTime !== b.startTime) return a.startTime > b.startTime;
  const na = /^driver-(\d{14})-(\d+)$/.exec(a.id);
  const nb = /^driver-(\d{14})-(\d+)$/.exec(b.id);
  if (na && nb) {
    if (na[1] !== nb[1]) return na[1]! > nb[1]!;
    return Number(na[2]) > Number(nb[2]);
  }
  return a.id > b.id;
}
