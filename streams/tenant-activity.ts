import type { Observable, Subscription } from 'rxjs';
import type { OrchestratorEvent } from './events.js';

/** The delay history's resolution and reach: 90 buckets of 2 minutes, the last 3 hours. */
export const DELAY_BUCKET_MS = 2 * 60_000;
export const DELAY_BUCKETS = 90;
/** Notable events kept per tenant, so a page opened now shows what happened before it. */
export const RECENT_EVENTS = 20;

export interface DiscoveryActivity {
  lastSync: { at: number; onboarded: number; removed: number; present: number; durationMs: number } | null;
  lastFailure: { at: number; error: string } | null;
}

export interface DelayActivity {
  /** The latest sample: minutes, or null when it failed; undefined before the first one. */
  latest: { at: number; minutes: number | null } | undefined;
  /** Oldest first, one value per bucket ending at the bucket of `now`: the bucket's last good sample, null when none. */
  history(now: number): (number | null)[];
}

export interface TenantActivityView {
  discovery: DiscoveryActivity;
  delay: DelayActivity;
  /** The last `stream.retrying` of the tenant (a stream failing and backing off). */
  lastRetry: { at: number; stream: string; attempt: number; error: string } | null;
  lastEventAt: number | null;
  /** The last notable events, oldest first (polls and delay samples left out; a repeated one kept once, at its latest). */
  recent: readonly OrchestratorEvent[];
}

/**
 * What the dashboard shows that only the event stream knows: the last discovery sync and the
 * delay samples of the last hours. Recorded per tenant as events pass, in fixed memory (a ring
 * of buckets), so that `GET /api/v1/tenants` answers from memory for any number of tenants.
 */
export class TenantActivity {
  private readonly tenants = new Map<string, TenantRecord>();

  follow(events$: Observable<OrchestratorEvent>): Subscription {
    return events$.subscribe((event) => this.record(event));
  }

  record(event: OrchestratorEvent): void {
    const r = this.recordOf(event.tenant);
    r.lastEventAt = event.at;
    if (isNotable(event)) {
      // The same event again (a wait reported every poll) replaces the last one instead of filling the list.
      if (r.recent.length && sameEvent(r.recent[r.recent.length - 1]!, event)) r.recent[r.recent.length - 1] = event;
      else r.recent.push(event);
      if (r.recent.length > RECENT_EVENTS) r.recent.shift();
    }
    switch (event.type) {
      case 'delay.sampled':
        r.delay.add(event.at, event.appLogsDelayMinutes);
        break;
      case 'delay.failed':
        r.delay.add(event.at, null);
        break;
      case 'discovery.synced':
        r.discovery.lastSync = { at: event.at, onboarded: event.onboarded, removed: event.removed, present: event.present, durationMs: event.durationMs };
        break;
      case 'discovery.failed':
        r.discovery.lastFailure = { at: event.at, error: event.error };
        break;
      case 'stream.retrying':
        r.lastRetry = { at: event.at, stream: event.stream, attempt: event.attempt, error: event.error };
        break;
      default:
        break;
    }
  }

  view(tenant: string): TenantActivityView {
    return this.recordOf(tenant);
  }

  private recordOf(tenant: string): TenantRecord {
    let r = this.tenants.get(tenant);
    if (!r) {
      r = { discovery: { lastSync: null, lastFailure: null }, delay: new DelayRing(), lastRetry: null, lastEventAt: null, recent: [] };
      this.tenants.set(tenant, r);
    }
    return r;
  }
}

interface TenantRecord extends TenantActivityView {
  delay: DelayRing;
  recent: OrchestratorEvent[];
}

/** Polls (their outcome has an event of its own) and delay samples (the sparkline shows them) come all the time. */
function isNotable(event: OrchestratorEvent): boolean {
  return event.type !== 'spark.polled' && event.type !== 'delay.sampled' && event.type !== 'delay.service-sampled';
}

function sameEvent(a: OrchestratorEvent, b: OrchestratorEvent): boolean {
  const { at: _a, ...restA } = a as OrchestratorEvent & { durationMs?: number };
  const { at: _b, ...restB } = b as OrchestratorEvent & { durationMs?: number };
  delete restA.durationMs;
  delete restB.durationMs;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

/** The last good delay of each 2-minute bucket over 3 hours; a failed sample leaves its bucket as it was. */
export class DelayRing implements DelayActivity {
  latest: { at: number; minutes: number | null } | undefined;
  private readonly slots: (number | null)[] = new Array<number | null>(DELAY_BUCKETS).fill(null);
  /** The bucket number (time / bucket size) of the newest slot written. */
  private head: number | null = null;

  add(at: number, minutes: number | null): void {
    this.latest = { at, minutes };
    if (minutes === null) return;
    const bucket = Math.floor(at / DELAY_BUCKET_MS);
    // A sample older than the newest bucket (a clock step back) is kept as the latest only.
    if (this.head !== null && bucket < this.head) return;
    if (this.head !== null) this.clear(this.head + 1, bucket);
    this.head = bucket;
    this.slots[slotOf(bucket)] = minutes;
  }

  history(now: number): (number | null)[] {
    const end = Math.max(Math.floor(now / DELAY_BUCKET_MS), this.head ?? 0);
    const out: (number | null)[] = [];
    for (let b = end - DELAY_BUCKETS + 1; b <= end; b++) {
      out.push(this.head !== null && b <= this.head && b > this.head - DELAY_BUCKETS ? this.slots[slotOf(b)]! : null);
    }
    return out;
  }

  /** Empties the slots of buckets [from, to] (they had no sample; at most one lap of the ring). */
  private clear(from: number, to: number): void {
    for (let b = from; b <= to && b < from + DELAY_BUCKETS; b++) this.slots[slotOf(b)] = null;
  }
}

function slotOf(bucket: number): number {
  return ((bucket % DELAY_BUCKETS) + DELAY_BUCKETS) % DELAY_BUCKETS;
}
