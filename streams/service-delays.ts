import { defer, Subscription, timer, type SchedulerLike } from 'rxjs';
import type { TenantConfig } from '../src/config/schema.js';
import type { ServiceDetailsRepository, ServicePartition } from '../src/db/service-details.js';
import { mapLimit } from '../src/common/concurrency.js';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import { sampleDelay } from './delay-decision.js';
import { errorMessage } from './events.js';
import { PartitionLayout } from './partition-layout.js';
import { DEFAULT_ABANDON_AFTER, DEFAULT_CONCURRENCY, DEFAULT_SPREAD_FRACTION, planRound, serviceKey, shouldAbandonRound } from './service-delays-plan.js';
import type { StreamContext, StreamDefinition } from './tenant-loop.js';
import type { ServiceDelayRound } from './commands.js';

export interface ServiceDelaysDeps {
  tenant: TenantConfig;
  store: ObjectStore;
  services: Pick<ServiceDetailsRepository, 'listByTenant'>;
  /** A round every interval (`loop.delaySampleSeconds`); its samples are spread over `spreadFraction` of it. */
  intervalMs: number;
  /** Services sampled at once (default 16). */
  concurrency?: number;
  /** Default 0.8. */
  spreadFraction?: number;
  /** Give up on the rest of a round once this many samples failed in a row (default 32). */
  abandonAfter?: number;
  /**
   * Shutdown: a paced round lasts most of an interval, and the loop waits for the action in
   * flight. On abort, the round starts no further sample, aborts its listings and ends.
   */
  signal?: AbortSignal;
  /** The tenant's partition layout, shared with its discovery (default: one of its own). */
  layout?: PartitionLayout;
}

/** The latest delay of one service. */
export interface ServiceDelay extends ServicePartition {
  /** Minutes (1…180; 180 when nothing was written in the window); null when the sample failed. */
  minutes: number | null;
  /** The newest minute partition found (epoch ms), null when none or failed. */
  newestPartition: number | null;
  /** When the sample was taken (the stream's clock). */
  sampledAt: number;
  error?: string;
}

/**
 * The in-memory values of one tenant: the latest delay of each service of the last round.
 * Values are replaced service by service as a round goes; services gone from service_details
 * are dropped at the end of a round.
 */
export class ServiceDelayState {
  private readonly values = new Map<string, ServiceDelay>();
  /** The last finished round, null before the first. */
  lastRound: ServiceDelayRound | null = null;

  /** Minutes (null when the last sample failed) by `serviceKey` (`["env","serviceName","componentName"]` as JSON). */
  latestServiceDelays(): Map<string, number | null> {
    return new Map([...this.values].map(([key, v]) => [key, v.minutes]));
  }

  /** The latest sample of a service, undefined when it has not been sampled yet. */
  get(service: ServicePartition): ServiceDelay | undefined {
    return this.values.get(serviceKey(service));
  }

  all(): ServiceDelay[] {
    return [...this.values.values()];
  }

  get size(): number {
    return this.values.size;
  }

  /** @internal */
  set(key: string, value: ServiceDelay): void {
    this.values.set(key, value);
  }

  /** @internal Drops the services not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const key of this.values.keys()) if (!keep.has(key)) this.values.delete(key);
  }
}

/**
 * The per-service delay stream (`delayMetrics.allServices = true`): every interval, read the
 * tenant's rows of service_details and sample each service's delay with the same walk as the
 * sample service (at most four delimiter listings), spread over the interval with bounded
 * concurrency. A failing service is null and does not fail the round; after 32 failures in a
 * row the round gives up on the rest (the store is down) rather than retrying thousands of listings.
 * One `delay.service-sampled` event per round. Only reading the rows can fail the round (the
 * loop then retries with backoff, and the previous values stay).
 */
export function serviceDelaysStream(ctx: StreamContext, deps: ServiceDelaysDeps): { definition: StreamDefinition; state: ServiceDelayState } {
  const state = new ServiceDelayState();
  const concurrency = Math.max(1, Math.floor(deps.concurrency ?? DEFAULT_CONCURRENCY));
  const fraction = deps.spreadFraction ?? DEFAULT_SPREAD_FRACTION;
  const abandonAfter = deps.abandonAfter ?? DEFAULT_ABANDON_AFTER;
  const { signal } = deps;
  const layout = deps.layout ?? new PartitionLayout(deps.tenant, deps.store);

  // Pacing and duration are measured on the scheduler the round sleeps on; the delays on the stream's clock.
  const clock = () => ctx.scheduler.now();

  const round = async (): Promise<ServiceDelayRound> => {
    const started = clock();
    const rows = await deps.services.listByTenant(ctx.tenant);
    const timers = new Timers(ctx.scheduler, signal);
    // The layout (configured, or read from the bucket); when it cannot be read (the store is
    // down), no folder can be built: every service is null for this round, which still ends.
    let partitionKeys: readonly string[] | undefined;
    let layoutError = '';
    try {
      partitionKeys = await layout.keys(ctx.emit, signal);
    } catch (err) {
      layoutError = `the partition layout could not be read from the bucket: ${errorMessage(err)}`;
    }
    const plan = partitionKeys
      ? planRound(rows, { logsDir: deps.tenant.spark.logsDir, partitionKeys }, deps.intervalMs, fraction)
      : {
          jobs: [],
          unbuildable: rows.map((r) => {
            const service = { env: r.env, serviceName: r.serviceName, componentName: r.componentName };
            return { key: serviceKey(service), service, reason: layoutError };
          }),
        };
    const keys = new Set<string>();
    let failed = 0;
    let skipped = 0;
    let listings = 0;
    let failedInARow = 0;
    let abandoned = false;

    for (const u of plan.unbuildable) {
      keys.add(u.key);
      state.set(u.key, { ...u.service, minutes: null, newestPartition: null, sampledAt: ctx.now(), error: u.reason });
      failed += 1;
    }

    await mapLimit(plan.jobs, concurrency, async (job) => {
      keys.add(job.key);
      if (!abandoned && !signal?.aborted) await timers.sleep(started + job.offsetMs - clock());
      if (signal?.aborted) {
        skipped += 1; // shutting down: the previous value stays
        return;
      }
      if (abandoned) {
        skipped += 1;
        failed += 1;
        state.set(job.key, {
          ...job.service,
          minutes: null,
          newestPartition: null,
          sampledAt: ctx.now(),
          error: `not sampled: ${abandonAfter} services in a row failed before it in this round`,
        });
        return;
      }
      const now = ctx.now();
      try {
        const result = await sampleDelay(now, (hourPath) => {
          listings += 1;
          return deps.store.listPrefixes(job.prefix + hourPath, signal);
        });
        failedInARow = 0;
        state.set(job.key, { ...job.service, minutes: result.minutes, newestPartition: result.newest, sampledAt: now });
      } catch (err) {
        if (signal?.aborted) {
          skipped += 1;
          return;
        }
        failed += 1;
        failedInARow += 1;
        state.set(job.key, { ...job.service, minutes: null, newestPartition: null, sampledAt: now, error: errorMessage(err) });
        if (!abandoned && shouldAbandonRound(failedInARow, abandonAfter)) {
          abandoned = true;
          timers.wakeAll(); // the services waiting for their turn are skipped now, not at their turn
        }
      }
    }).finally(() => timers.close());

    const aborted = signal?.aborted === true;
    // An aborted round has not seen every service: keep what it did not reach.
    if (!aborted) state.retain(keys);
    const result: ServiceDelayRound = {
      services: plan.jobs.length + plan.unbuildable.length,
      failed,
      skipped,
      listings,
      durationMs: clock() - started,
      abandoned,
      aborted,
    };
    state.lastRound = result;
    ctx.emit({ type: 'delay.service-sampled', services: result.services, failed: result.failed, durationMs: result.durationMs });
    return result;
  };

  return {
    state,
    definition: {
      name: 'service-delays',
      intervalMs: deps.intervalMs,
      tick: { command: 'sample-service-delays', args: {} },
      commands: { 'sample-service-delays': () => defer(() => round()) },
    },
  };
}

/** The pacing waits of one round, on the loop's scheduler; an abort ends all of them at once (one listener per round). */
class Timers {
  private readonly waiting = new Set<{ sub: Subscription; resolve: () => void }>();
  /** Ends every wait now. */
  readonly wakeAll = () => {
    for (const w of this.waiting) {
      w.sub.unsubscribe();
      w.resolve();
    }
    this.waiting.clear();
  };

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener('abort', this.wakeAll, { once: true });
  }

  /** Resolves after `ms`, or at once when aborted. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = { sub: Subscription.EMPTY, resolve };
      this.waiting.add(entry);
      entry.sub = timer(ms, this.scheduler).subscribe(() => {
        this.waiting.delete(entry);
        resolve();
      });
    });
  }

  close(): void {
    this.signal?.removeEventListener('abort', this.wakeAll);
    this.wakeAll();
  }
}

/**
 * The rows of `GET /service-details` with each service's latest delay: `appLogsDelayMinutes`
 * is the value (null when its sample failed or it has not been sampled yet) when per-service
 * delay is on for the tenant (`state` given), and absent otherwise (the reference's rows).
 */
export function withServiceDelays<R extends ServicePartition>(
  rows: readonly R[],
  state: ServiceDelayState | undefined,
): (R & { appLogsDelayMinutes?: number | null })[] {
  if (!state) return [...rows];
  return rows.map((row) => ({ ...row, appLogsDelayMinutes: state.get(row)?.minutes ?? null }));
}

export interface ServiceDelaySeries {
  labels: { tenant: string; env: string; service: string; component: string };
  /** Minutes; NaN when the service's last sample failed (as `logwise_log_sync_delay_minutes` after `delay.failed`). */
  value: number;
}

/** Each tenant's per-service delays, by tenant name; only tenants with `delayMetrics.allServices = true` have one. */

/**
 * The series of the gauge `logwise_service_log_delay_minutes{tenant,env,service,component}`:
 * one per service of the tenant's last round, NaN for a service whose sample failed (the series
 * stays, so a failing service is visible as `x != x`; a removed service's series goes).
 */
export function serviceDelaySeries(tenant: string, state: ServiceDelayState): ServiceDelaySeries[] {
  return state.all().map((d) => ({ labels: { tenant, env: d.env, service: d.serviceName, component: d.componentName }, value: d.minutes ?? Number.NaN }));
}

/** Sets a labelled gauge (prom-client's `Gauge`) to exactly the series of every tenant: call it before each scrape. */
export function refreshServiceDelayGauge(
  gauge: { reset(): void; set(labels: ServiceDelaySeries['labels'], value: number): void },
  registry: ReadonlyMap<string, ServiceDelayState>,
): void {
  gauge.reset();
  for (const [tenant, state] of registry) for (const { labels, value } of serviceDelaySeries(tenant, state)) gauge.set(labels, value);
}
