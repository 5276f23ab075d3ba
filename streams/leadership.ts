/**
 * Whether this process acts for a tenant (SPEC §4.5), decided in one place: the lease keeper
 * gives each tenant's loop a `LoopGate`. The loop refuses acting commands while the gate is
 * shut and skips acting ticks; the Spark executor asks it again right before each effect
 * (`StreamContext.assertActing`); discovery's writes are fenced by it (`FencedServiceDetailsRepository`).
 */
import type { Observable } from 'rxjs';

/**
 * This process does not act for the tenant now: another replica holds its lease, or this
 * one's lapsed. The HTTP layer answers 503 `NOT_LEADER` naming the holder.
 */
export class NotLeaderError extends Error {
  constructor(
    readonly tenant: string,
    /** The replica that holds the lease, when one does. */
    readonly holder: string | null,
    /** Until when (wall clock, ISO) the holder's lease runs at least, when known. */
    readonly holderValidUntil: string | null = null,
  ) {
    super(
      holder
        ? `this replica does not act for tenant ${tenant}: ${holder} holds its lease; send actions there`
        : `this replica does not act for tenant ${tenant}: no replica holds its lease right now; try again shortly`,
    );
    this.name = 'NotLeaderError';
  }
}

/** While a process may not act for a tenant, ticks of acting streams do nothing (no error, no backoff) and acting commands are refused; reads run anyway. */
export interface LoopGate {
  /** Whether this process holds the tenant's lease now: effects may go ahead. */
  isActing(): boolean;
  /**
   * Whether new acting work may start (default: whenever `isActing`). False while the lease is
   * being handed to another replica: the action in flight finishes, nothing new starts.
   */
  accepting?(): boolean;
  /** The refusal of an acting command (names the holder). */
  refusal(): NotLeaderError;
  /** The lease's fencing token while this process holds it (it grows with every new term), else null. */
  term?(): number | null;
  /**
   * Emits when this process starts acting for the tenant (its lease acquired, again after a
   * database outage outlived it, or taken over): acting streams then tick at once instead of at
   * their next interval, so work that failed or was skipped meanwhile resumes promptly.
   */
  readonly acquired$?: Observable<unknown>;
}
