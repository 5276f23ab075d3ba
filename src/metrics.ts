import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Observable, Subscription } from 'rxjs';
import type { OrchestratorEvent } from '../streams/events.js';
import { ExpositionBodies, expositionText, type ExpositionOptions } from './metrics-exposition.js';
import { registerProcessMetrics } from './process-metrics.js';

const MASTER_STATUSES = ['ALIVE', 'STANDBY', 'RECOVERING', 'COMPLETING_RECOVERY'] as const;
const SUBMIT_PURPOSES = ['keep-alive', 'replay-start', 'replay-continue', 'replay-resume'] as const;

/**
 * The Prometheus metrics, fed from the event stream: every figure here is one the loop
 * already reported as an event, so metrics, logs and the SSE stream always agree.
 * Labels are bounded: tenants come from the config, types and purposes from fixed sets.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly bodies = new ExpositionBodies(this.registry);

  private readonly events = new Counter({
    name: 'logwise_events_total',
    help: 'Events emitted by the control loop, by type',
    labelNames: ['tenant', 'type'],
    registers: [this.registry],
  });
  private readonly streamRetries = new Counter({
    name: 'logwise_stream_retries_total',
    help: 'Retries of a failed stream (with backoff)',
    labelNames: ['tenant', 'stream'],
    registers: [this.registry],
  });
  private readonly commandFailures = new Counter({
    name: 'logwise_command_failures_total',
    help: 'Commands (HTTP or cron) whose action failed',
    labelNames: ['tenant', 'command'],
    registers: [this.registry],
  });

  private readonly masterStatus = new Gauge({
    name: 'logwise_spark_master_status',
    help: "1 for the status the tenant's Spark master reported at the last poll",
    labelNames: ['tenant', 'status'],
    registers: [this.registry],
  });
  private readonly masterReachable = new Gauge({
    name: 'logwise_spark_master_reachable',
    help: '1 when the last poll reached a Spark master',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly aliveDrivers = new Gauge({
    name: 'logwise_spark_alive_drivers',
    help: "The tenant's drivers in SUBMITTED or RUNNING at the last poll",
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly lastPoll = new Gauge({
    name: 'logwise_spark_last_successful_poll_timestamp_seconds',
    help: "When the tenant's Spark master was last read successfully",
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly submissions = new Counter({
    name: 'logwise_spark_submissions_total',
    help: 'Driver submissions accepted by the master, by purpose',
    labelNames: ['tenant', 'purpose'],
    registers: [this.registry],
  });
  private readonly submitFailures = new Counter({
    name: 'logwise_spark_submission_failures_total',
    help: 'Driver submissions that failed',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly kills = new Counter({
    name: 'logwise_spark_kills_total',
    help: 'Drivers killed by the orchestrator',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly crashLooping = new Gauge({
    name: 'logwise_spark_crashloop',
    help: "1 while the tenant's driver is crash-looping and submissions are spaced out",
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly splitBrain = new Gauge({
    name: 'logwise_spark_split_brain',
    help: "1 while more than one of the tenant's listed Spark masters is ALIVE (actions go to one of them only)",
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly crashBackoff = new Gauge({
    name: 'logwise_spark_crashloop_backoff_seconds',
    help: 'Current spacing of submissions of a crash-looping driver',
    labelNames: ['tenant'],
    registers: [this.registry],
  });

  private readonly servicesKnown = new Gauge({
    name: 'logwise_services_known',
    help: 'Services in service_details after the last sync',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly servicesOnboarded = new Counter({
    name: 'logwise_services_onboarded_total',
    help: 'Services onboarded by discovery',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly servicesRemoved = new Counter({
    name: 'logwise_services_removed_total',
    help: 'Services removed by discovery',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly syncsGuarded = new Counter({
    name: 'logwise_discovery_guarded_total',
    help: 'Syncs whose removals the deletion guard held back',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly syncDuration = new Histogram({
    name: 'logwise_discovery_sync_duration_seconds',
    help: 'Duration of a discovery sync',
    labelNames: ['tenant'],
    buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 60, 120],
    registers: [this.registry],
  });

  private readonly delay = new Gauge({
    name: 'logwise_log_sync_delay_minutes',
    help: 'Minutes between now and the newest minute partition of the sample service (NaN when the last sample failed)',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  readonly serviceDelay = new Gauge({
    name: 'logwise_service_log_delay_minutes',
    help: 'Log sync delay of each discovered service (delayMetrics.allServices)',
    labelNames: ['tenant', 'env', 'service', 'component'],
    registers: [this.registry],
  });
  private readonly leaseHeld = new Gauge({
    name: 'logwise_lease_held',
    help: "1 while this replica holds the tenant's lease and acts for it (MySQL, many replicas)",
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly leaseRenewFailures = new Counter({
    name: 'logwise_lease_renew_failures_total',
    help: 'Lease renewal rounds that failed, as seen by each tenant',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  /** Statements the lease keeper sent (its rounds, releases); read from it at each scrape. */
  leaseStatements: () => number = () => 0;
  private readonly leaseStatementsTotal = new Counter({
    name: 'logwise_lease_statements_total',
    help: 'Statements the lease keeper sent to MySQL (renewals, heartbeats, takes, reads, releases), all tenants together',
    registers: [this.registry],
    collect: () => {
      const total = this.leaseStatements();
      const counted = this.leaseStatementsCounted;
      if (total > counted) this.leaseStatementsTotal.inc(total - counted);
      this.leaseStatementsCounted = Math.max(counted, total);
    },
  });
  private leaseStatementsCounted = 0;
  readonly sseDropped = new Counter({
    name: 'logwise_sse_dropped_events_total',
    help: 'Events not sent to a slow /api/v1/events client',
    registers: [this.registry],
  });
  readonly sseClients = new Gauge({ name: 'logwise_sse_clients', help: 'Connected /api/v1/events clients', registers: [this.registry] });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) registerProcessMetrics(this.registry, 'logwise_');
  }

  /** What each tenant's last `spark.polled` set (while master_reachable is 1 from it). */
  private readonly lastPolled = new Map<string, { aliveDrivers: number; masterStatus: string }>();

  /** Follows the event stream until the subscription is closed. */
  follow(events$: Observable<OrchestratorEvent>): Subscription {
    return events$.subscribe((e) => this.record(e));
  }

  record(e: OrchestratorEvent): void {
    const tenant = e.tenant;
    this.events.inc({ tenant, type: e.type });
    switch (e.type) {
      case 'stream.retrying':
        this.streamRetries.inc({ tenant, stream: e.stream });
        break;
      case 'command.failed':
        this.commandFailures.inc({ tenant, command: e.command });
        break;
      case 'spark.polled': {
        this.lastPoll.set({ tenant }, e.at / 1000);
        // Nearly every poll finds what the last one did: the six gauges it would set again are left as they are.
        const last = this.lastPolled.get(tenant);
        if (last?.aliveDrivers === e.aliveDrivers && last.masterStatus === e.masterStatus) break;
        this.lastPolled.set(tenant, { aliveDrivers: e.aliveDrivers, masterStatus: e.masterStatus });
        this.masterReachable.set({ tenant }, 1);
        this.aliveDrivers.set({ tenant }, e.aliveDrivers);
        for (const status of MASTER_STATUSES) this.masterStatus.set({ tenant, status }, status === e.masterStatus ? 1 : 0);
        break;
      }
      case 'spark.master-unreachable':
        this.lastPolled.delete(tenant);
        this.masterReachable.set({ tenant }, 0);
        break;
      case 'spark.submitted':
        this.submissions.inc({ tenant, purpose: 'purpose' in e && typeof e.purpose === 'string' ? e.purpose : 'unknown' });
        break;
      case 'spark.submit-failed':
        this.submitFailures.inc({ tenant });
        break;
      case 'spark.killed':
        this.kills.inc({ tenant }, e.submissionIds.length);
        break;
      case 'spark.crashloop':
        this.crashLooping.set({ tenant }, 1);
        this.crashBackoff.set({ tenant }, e.backoffMs / 1000);
        break;
      case 'spark.crashloop-ended':
        this.crashLoopEnded(tenant);
        break;
      case 'spark.split-brain':
        this.splitBrain.set({ tenant }, 1);
        break;
      case 'spark.split-brain-ended':
        this.splitBrain.set({ tenant }, 0);
        break;
      case 'discovery.synced':
        this.servicesKnown.set({ tenant }, e.present + e.onboarded);
        this.servicesOnboarded.inc({ tenant }, e.onboarded);
        this.servicesRemoved.inc({ tenant }, e.removed);
        this.syncDuration.observe({ tenant }, e.durationMs / 1000);
        break;
      case 'discovery.guarded':
        this.syncsGuarded.inc({ tenant });
        this.servicesKnown.set({ tenant }, e.known);
        break;
      case 'delay.sampled':
        this.delay.set({ tenant }, e.appLogsDelayMinutes);
        break;
      case 'lease.acquired':
        this.leaseHeld.set({ tenant }, 1);
        break;
      case 'lease.lost':
        this.leaseHeld.set({ tenant }, 0);
        break;
      case 'lease.renew-failed':
        this.leaseRenewFailures.inc({ tenant });
        break;
      case 'delay.failed':
        this.delay.set({ tenant }, Number.NaN);
        break;
      default:
        break;
    }
  }

  /** Series that alerts rely on exist from the start (or from the reload that adds the tenant), at zero, for every tenant. */
  initTenants(tenants: readonly string[]): void {
    for (const tenant of tenants) {
      this.crashLooping.set({ tenant }, 0);
      this.crashBackoff.set({ tenant }, 0);
      this.splitBrain.set({ tenant }, 0);
      for (const purpose of SUBMIT_PURPOSES) this.submissions.inc({ tenant, purpose }, 0);
      this.submitFailures.inc({ tenant }, 0);
      this.kills.inc({ tenant }, 0);
      this.servicesOnboarded.inc({ tenant }, 0);
      this.servicesRemoved.inc({ tenant }, 0);
      this.syncsGuarded.inc({ tenant }, 0);
    }
  }

  /**
   * Drops every series of a tenant a reload removed: its gauges would otherwise report its last
   * state (a crash loop, a lease held) for as long as the daemon runs, and keep alerts firing.
   */
  async forgetTenant(tenant: string): Promise<void> {
    this.lastPolled.delete(tenant);
    for (const metric of this.perTenant()) {
      const { values } = await metric.get();
      for (const { labels } of values) {
        // Histogram samples carry `le` (and their series come three per label set): remove by the metric's own labels.
        if (labels.tenant === tenant) metric.remove(Object.fromEntries(Object.entries(labels).filter(([k]) => k !== 'le')));
      }
    }
    // A poll recorded while the series were being removed must set them all again.
    this.lastPolled.delete(tenant);
  }

  private perTenant(): (Counter<string> | Gauge<string> | Histogram<string>)[] {
    return [
      this.events,
      this.streamRetries,
      this.commandFailures,
      this.masterStatus,
      this.masterReachable,
      this.aliveDrivers,
      this.lastPoll,
      this.submissions,
      this.submitFailures,
      this.kills,
      this.crashLooping,
      this.splitBrain,
      this.crashBackoff,
      this.servicesKnown,
      this.servicesOnboarded,
      this.servicesRemoved,
      this.syncsGuarded,
      this.syncDuration,
      this.delay,
      this.leaseHeld,
      this.leaseRenewFailures,
    ];
  }

  private crashLoopEnded(tenant: string): void {
    this.crashLooping.set({ tenant }, 0);
    this.crashBackoff.set({ tenant }, 0);
  }

  /**
   * The exposition text (what `registry.metrics()` gives), built in slices with turns of the event
   * loop between them: with many tenants it is megabytes, and built in one go it held the loop at
   * every scrape.
   */
  text(opts?: ExpositionOptions): Promise<string> {
    return expositionText(this.registry, opts);
  }

  /** The same text as a UTF-8 body (what a scrape sends), built without joining it into one string. */
  body(opts?: ExpositionOptions): Promise<Uint8Array<ArrayBuffer>> {
    return this.bodies.build(opts);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
