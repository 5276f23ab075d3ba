import { hostname } from 'node:os';
import { serve, type ServerType } from '@hono/node-server';
import type { Subscription } from 'rxjs';
import { config as rxConfig } from 'rxjs';
import type { StreamContext } from '../streams/tenant-loop.js';
import { Supervisor, UnknownTenantError, type SupervisedLoopOptions } from '../streams/supervisor.js';
import { TICK_QUANTUM_MS } from '../streams/tick-grid.js';
import { TenantActivity } from '../streams/tenant-activity.js';
import { tenantStreams } from '../streams/tenant-streams.js';
import { leaseMsOf, type Config } from './config/schema.js';
import { createDb, pingDb, type Db, type DbLog } from './db/knex.js';
import { FencedServiceDetailsRepository } from './db/fenced-service-details.js';
import { LeaseRepository } from './db/leases.js';
import { migrateLatest } from './db/migrate.js';
import { ServiceDetailsRepository } from './db/service-details.js';
import { SparkSubmissionsRepository } from './db/spark-submissions.js';
import { SharedReplayReads, SparkSubmitStatusRepository } from './db/spark-submit-status.js';
import { answerMalformedRequests, createApp } from './http/app.js';
import { mountDashboardAssets } from './http/dashboard/assets.js';
import { mountDocsAssets } from './http/docs/swagger-ui.js';
import { isPublicPage } from './http/public-pages.js';
import type { TenantsData } from './http/tenants-schema.js';
import { serviceCountsReader, tenantsSummary } from './tenant-summary.js';
import { openApiDocument } from './http/openapi.js';
import { databaseHealthReport, type HealthReport } from './health/daemon-health.js';
import { buildRoutes } from './http/routes.js';
import { eventStream } from './http/events-sse.js';
import { eventLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import type { Redactor } from './secrets.js';
import { sharedReadMaxAgeMs } from './shared-read.js';
import { DriverOwners } from '../streams/spark/driver-owners.js';
import { TenantResources } from './tenant-resources.js';
import { TenantReloader, type ReloadResult } from './reload.js';
import type { ClusterData } from './http/schemas.js';
import type { SharedDeps, TenantStreamsFactory, TenantViews } from '../streams/ports.js';
import { errorMessage } from '../streams/events.js';
import { refreshServiceDelayGauge, withServiceDelays, type ServiceDelayState } from '../streams/service-delays.js';
import { otherTenantMainClasses } from '../streams/spark/ownership.js';
import { checkPipeline, type PipelineHealth } from './health/pipeline-health.js';
import { BackgroundCheck } from './health/fresh-run.js';
import { LeaseKeeper } from '../streams/lease-keeper.js';
import type { TenantLeaseStatus } from '../streams/lease-views.js';
import type { TenantConfig } from './config/schema.js';

export const VERSION = '0.1.0';

/** `GET /healthcheck`: a database ping starts this often, in the background. */
export const HEALTH_PING_INTERVAL_MS = 500;
/** `GET /healthcheck` reports the database DOWN while a ping has been waiting for an answer this long. */
export const HEALTH_PING_BUDGET_MS = 2_000;
/** A ping still unanswered after this long is given up (failed), so that the next one can start. */
const HEALTH_PING_GIVE_UP_MS = 10_000;

export interface OrchestratorOptions {
  config: Config;
  log: Logger;
  redactor: Redactor;
  /** The streams of each tenant (default: all of them; tests pass their own). */
  streams?: TenantStreamsFactory;
  /** Bind the HTTP server (false in tests that call `app.request` directly). */
  listen?: boolean;
  /** First ticks fall at random in [0, min(interval, this)) so tenants do not poll in step (default 15 s). */
  firstTickSpreadMs?: number;
  /** Source of randomness for tick spreading and backoff jitter (tests pin it). */
  random?: () => number;
  /** Re-reads the config file the daemon started with (`reload()`; main: `configFileSource`). Absent: reload answers 501. */
  readConfig?: () => Promise<Config>;
}

/** Everything the daemon runs, wired from the configuration; `stop()` takes it down in order. */
export class Orchestrator {
  readonly db: Db;
  readonly supervisor: Supervisor<TenantViews>;
  readonly app: ReturnType<typeof createApp>;
  private server: ServerType | undefined;
  readonly metrics: Metrics;
  private eventLog: Subscription | undefined;
  private metricsFeed: Subscription | undefined;
  /** What the dashboard's overview shows that only the events know (last discovery, delay history). */
  private readonly activity = new TenantActivity();
  private activityFeed: Subscription | undefined;
  private readonly services: ServiceDetailsRepository;
  private readonly submissions: SparkSubmissionsRepository;
  /** Each tenant's config block, object store, partition layout and (shared) Spark master client. */
  private readonly resources: TenantResources;
  /** The tenants a config reload adds, removes and changes while the daemon runs. */
  private readonly reloader: TenantReloader<TenantViews>;
  private readonly shutdown = new AbortController();
  private startedAt = Date.now();
  /** Many replicas (MySQL): the tenants' leases; undefined on SQLite (one process acts for all). */
  readonly leases: LeaseKeeper | undefined;
  private readonly leaseDb: Db | undefined;
  private readonly leaseStore: LeaseRepository | undefined;

  constructor(private readonly opts: OrchestratorOptions) {
    const { config } = opts;
    const dbLog: DbLog = (level, message) => opts.log[level]({ detail: message }, 'database client');
    this.db = createDb(config.database, { log: dbLog });
    this.services = new ServiceDetailsRepository(this.db);
    this.submissions = new SparkSubmissionsRepository(this.db);
    const leaseMs = leaseMsOf(config);
    if (leaseMs !== null) {
      // A pool of its own: renewals never queue behind the streams' slow queries.
      this.leaseDb = createDb({ ...config.database, poolMax: 2 }, { log: dbLog });
      this.leaseStore = new LeaseRepository(this.leaseDb);
      this.leases = new LeaseKeeper({
        store: this.leaseStore,
        tenants: config.tenants.map((t) => t.name),
        leaseMs,
        // Not through the loop: a reload takes an added tenant's lease before its loop exists.
        emit: (tenant, event) => this.supervisor.emit(tenant, event),
        // A lease handed to another replica waits for the tenant's action in flight.
        drain: (tenant) => (this.supervisor.has(tenant) ? this.supervisor.loop(tenant).drained() : Promise.resolve()),
        onRound: (round) => opts.log.debug(round, 'lease round'),
      });
    }
    const leases = this.leases;
    const resources = new TenantResources({ stateMaxAgeMs: sharedReadMaxAgeMs(config.loop.sparkPollSeconds * 1000) });
    this.resources = resources;
    // New tenants' resources are ready at once (only a replacement waits, for the old ones to close).
    for (const t of config.tenants) void resources.set(t);
    this.metrics = new Metrics();
    const leaseStore = this.leaseStore;
    if (leaseStore) this.metrics.leaseStatements = () => leaseStore.statements;
    const reloader = new TenantReloader<TenantViews>({
      config,
      log: opts.log,
      ...(opts.readConfig ? { readConfig: opts.readConfig } : {}),
      supervisor: () => this.supervisor,
      ...(leases ? { leases } : {}),
      resources,
      metrics: this.metrics,
      loopOptions: (t) => loopOptions(t),
    });
    this.reloader = reloader;
    const shared: SharedDeps = {
      // Read when a tenant's streams are built: the tenants of the latest reload (and the removed ones, whose drivers still run).
      get config() {
        return reloader.ownershipConfig;
      },
      // Discovery's writes check the tenant's loop gate right before each statement.
      services: leases ? new FencedServiceDetailsRepository(this.db, (tenant) => this.supervisor.loop(tenant).context.assertActing()) : this.services,
      store: (tenant) => resources.store(tenant),
      replays: new SharedReplayReads(new SparkSubmitStatusRepository(this.db), sharedReadMaxAgeMs(config.loop.sparkPollSeconds * 1000)),
      // Whose each driver is, remembered once read: tenants sharing a main class see each other's drivers on every poll.
      submissions: new DriverOwners(this.submissions),
      sparkMaster: (tenant) => resources.sparkClient(tenant),
      shutdown: this.shutdown.signal,
      layout: (tenant) => resources.layout(tenant),
    };
    // Loop timings are the daemon's (a reload does not change them: they need a restart).
    const backoff = { minMs: config.loop.backoff.minSeconds * 1000, maxMs: config.loop.backoff.maxSeconds * 1000 };
    const loopOptions = (t: TenantConfig): SupervisedLoopOptions<TenantViews> => ({
      tenant: t.name,
      backoff,
      firstTickSpreadMs: opts.firstTickSpreadMs ?? 15_000,
      tickQuantumMs: TICK_QUANTUM_MS,
      ...(opts.random ? { random: opts.random } : {}),
      ...(leases ? { gate: leases.gate(t.name) } : {}),
      streams: (ctx: StreamContext) => (opts.streams ?? tenantStreams)(t, ctx, shared),
    });
    this.supervisor = new Supervisor<TenantViews>(
      config.tenants.map(loopOptions),
      // Secret values never travel further than the event that quoted them (SPEC §4.6).
      { scrub: (event) => opts.redactor.scrubStrings(event) },
    );
    this.metrics.initTenants(config.tenants.map((t) => t.name));
    let openApi: object | undefined;
    // One function for every scrape: one made per scrape was optimized again at every scrape.
    const scrubMetricText = (text: string) => opts.redactor.scrub(text);
    const routes = buildRoutes({
      dispatch: (tenant, kind, args) => this.supervisor.dispatch(tenant, kind, args),
      enqueue: (tenant, kind, args) => this.supervisor.enqueue(tenant, kind, args),
      health: () => this.health(),
      recentHealth: () => this.recentHealth(),
      serviceDetails: async (tenant) => withServiceDelays(await this.services.listByTenant(tenant), this.views(tenant)?.serviceDelays),
      pipelineHealth: (tenant) => this.pipelineHealth(tenant),
      // On a replica that does not act for the tenant, the Spark figures are its own (it does not poll); `lease` names who acts.
      sparkStatus: (tenant) => {
        const status = this.views(tenant)?.spark;
        return status ? { ...status(), lease: this.leaseStatus(tenant) } : undefined;
      },
      // Built at the first request: the document and its generator's work are not kept by a daemon nobody asks.
      openapi: () => (openApi ??= openApiDocument(routes, VERSION)),
      tenants: (query) => this.tenantsSummary(query),
      recentEvents: (tenant) => {
        if (!this.supervisor.has(tenant)) throw new UnknownTenantError(tenant);
        return { tenant, events: this.activity.view(tenant).recent };
      },
      events: eventStream({ events$: this.supervisor.events$, redactor: opts.redactor, metrics: this.metrics }),
      metrics: async () => {
        refreshServiceDelayGauge(this.metrics.serviceDelay, this.serviceDelayStates());
        return this.metrics.body({ scrub: scrubMetricText, scrubGeneration: opts.redactor.generation });
      },
      // While the loops run (a stopping daemon answers 503 SHUTTING_DOWN through the loop, as before).
      recentDelay: (tenant, maxAgeMs) => (this.shutdown.signal.aborted ? undefined : this.views(tenant)?.delaySample?.recall(maxAgeMs)),
      background: (what, tenant, error) => opts.log.warn({ tenant, command: what, error: errorMessage(error) }, `${what} failed`),
      delaySampleIntervalMs: config.loop.delaySampleSeconds * 1000,
      reload: () => this.reload(),
      cluster: () => this.cluster(),
    });
    this.app = createApp({
      routes,
      // The tenants of the moment: a reload adds and removes them.
      tenants: { has: (tenant) => this.supervisor.has(tenant) },
      redactor: opts.redactor,
      log: opts.log,
      ...(config.http.authToken ? { authToken: config.http.authToken } : {}),
      protectReads: config.http.protectReads,
      publicPaths: isPublicPage,
    });
    mountDashboardAssets(this.app);
    mountDocsAssets(this.app);
  }

  async start(): Promise<void> {
    const { log, config } = this.opts;
    // A throwing subscriber (a log sink, an SSE client) must never take the loop down.
    rxConfig.onUnhandledError = (err) => log.error({ error: errorMessage(err) }, 'unhandled error in an event subscriber');
    const ran = await migrateLatest(this.db);
    if (ran.length) log.info({ migrations: ran }, 'database migrated');
    this.startedAt = Date.now();
    this.pingDatabase.start();
    this.db.on('query-response', this.databaseAnswered);
    this.eventLog = this.supervisor.events$.subscribe(eventLogger(log));
    this.metricsFeed = this.metrics.follow(this.supervisor.events$);
    this.activityFeed = this.activity.follow(this.supervisor.events$);
    if (this.leases) {
      // The first round before the first tick: a replica that holds a lease acts from its first tick.
      this.leases.start();
      await this.leases.ready();
      log.info(
        {
          holder: this.leases.holderId,
          leaseMs: this.leases.timing.leaseMs,
          holding: config.tenants.map((t) => t.name).filter((t) => this.leases!.view(t).isHolder()),
        },
        'tenant leases kept in MySQL',
      );
    }
    this.supervisor.start();
    if (this.opts.listen !== false) {
      await new Promise<void>((resolve, reject) => {
        this.server = serve({ fetch: this.app.fetch, port: config.http.port, hostname: config.http.host }, () => resolve());
        this.server.once('error', reject);
        answerMalformedRequests(this.server);
      });
      log.info({ port: this.port, tenants: this.supervisor.tenants, database: config.database.client }, 'orchestrator listening');
    }
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.opts.config.http.port;
  }

  /** What the tenant's streams show (undefined for a tenant not configured). */
  private views(tenant: string): TenantViews | undefined {
    return this.supervisor.has(tenant) ? this.supervisor.loop(tenant).views : undefined;
  }

  private serviceDelayStates(): Map<string, ServiceDelayState> {
    const states = new Map<string, ServiceDelayState>();
    for (const tenant of this.supervisor.tenants) {
      const state = this.views(tenant)?.serviceDelays;
      if (state) states.set(tenant, state);
    }
    return states;
  }

  /** Who acts for the tenant (`GET /api/v1/spark/status`). */
  leaseStatus(tenant: string): TenantLeaseStatus {
    return this.leases ? this.leases.status(tenant) : { mode: 'single-process', isThisProcess: true };
  }

  /**
   * The database check of `GET /healthcheck`: a ping every half second in the background
   * (`BackgroundCheck`, from `start()` to `stop()`), whatever the number of clients, and none in a
   * half second in which the database answered another statement (`databaseAnswered`). A check
   * answers at once from the latest answer, and DOWN when the ping in flight has waited
   * longer than its budget: a hung database (SIGSTOPped, a dead network path) is reported DOWN
   * within the interval plus the budget, and never makes a probe wait.
   */
  private readonly pingDatabase = new BackgroundCheck(() => pingDb(this.db, HEALTH_PING_GIVE_UP_MS), {
    intervalMs: HEALTH_PING_INTERVAL_MS,
    budgetMs: HEALTH_PING_BUDGET_MS,
  });

  /** Any statement the database answers is as good as a ping: at 1,000 tenants most pings are then not needed. */
  private readonly databaseAnswered = (): void => this.pingDatabase.observe(undefined);

  /** The health report: at once, except before the first ping settled (then at most the ping's budget later). */
  health(): Promise<HealthReport> {
    // The check is named by the database (`mysql`, as the Java orchestrator names it; or `sqlite`).
    return this.pingDatabase.verdict().then((ping) => databaseHealthReport(ping, this.opts.config.database.client));
  }

  /** The health report now, without waiting; undefined only before the first ping settled. */
  recentHealth(): HealthReport | undefined {
    const outcome = this.pingDatabase.current();
    return outcome ? databaseHealthReport(outcome, this.opts.config.database.client) : undefined;
  }

  /** `GET /api/v1/tenants`: every tenant (or the one asked for) at a glance, from memory and one grouped count. */
  private async tenantsSummary(query: { tenant?: string }): Promise<TenantsData> {
    const { http } = this.opts.config;
    if (query.tenant !== undefined && !this.supervisor.has(query.tenant)) throw new UnknownTenantError(query.tenant);
    return tenantsSummary({
      tenants: query.tenant !== undefined ? [query.tenant] : this.supervisor.tenants,
      sparkStatus: (tenant) => this.views(tenant)?.spark?.(),
      lease: (tenant) => this.leaseStatus(tenant),
      activity: this.activity,
      serviceCounts: await this.serviceCounts(),
      replica: this.leases?.holderId ?? null,
      auth: { postsNeedToken: Boolean(http.authToken), readsNeedToken: Boolean(http.authToken && http.protectReads) },
      now: Date.now(),
    });
  }

  // One grouped count a second at most, however many dashboards poll; a second stale at worst after a sync.
  private readonly serviceCounts = serviceCountsReader(() => this.services.countAllTenants(), { maxAgeMs: 1_000, waitMs: 1_000 });

  /** Vector, Kafka, the Spark master and driver, and recent logs, each within its own timeout. */
  async pipelineHealth(name: string): Promise<PipelineHealth> {
    const tenant = this.resources.config(name);
    // Bounded: a slow database must not hang the endpoint (without ids, ownership falls back to the main class).
    const submittedDriverIds = await Promise.race([
      this.submissions.recent(name).then((rows) => new Set(rows.map((r) => r.submissionId))),
      new Promise<Set<string>>((resolve) => setTimeout(() => resolve(new Set()), 1_000).unref()),
    ]).catch(() => new Set<string>());
    return checkPipeline(tenant, {
      spark: this.resources.sparkClient(name),
      store: this.resources.store(name),
      now: Date.now,
      otherTenantMainClasses: otherTenantMainClasses(this.reloader.ownershipConfig.tenants, name),
      submittedDriverIds,
      layout: this.resources.layout(name),
    });
  }

  /**
   * Re-reads the config file and applies its tenants (SIGHUP, `POST /api/v1/admin/reload`; see
   * src/reload.ts). Rejects with the ConfigError of an invalid file, which changed nothing.
   */
  reload(): Promise<ReloadResult> {
    return this.reloader.reload();
  }

  /** `GET /api/v1/cluster`: the replicas and who acts for each tenant; on SQLite this process for all. */
  cluster(): ClusterData {
    if (this.leases) return { mode: 'lease', ...this.leases.cluster() };
    const self = `${hostname()}:${process.pid}`;
    const now = new Date().toISOString();
    const tenants = this.supervisor.tenants;
    return {
      mode: 'single-process',
      self,
      replicas: [{ id: self, host: hostname(), startedAt: new Date(this.startedAt).toISOString(), lastHeartbeatAt: now, tenantsHeld: tenants.length }],
      tenants: tenants.map((tenant) => ({ tenant, actingReplica: self, validUntil: null })),
      readAt: now,
    };
  }

  /** Stop ticking, let the actions in flight finish, stop serving, close the pools. */
  async stop(): Promise<void> {
    const server = this.server;
    const closed = server
      ? new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Keep-alive and SSE connections would hold close() open.
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        })
      : Promise.resolve();
    this.shutdown.abort();
    this.pingDatabase.stop();
    this.db.off('query-response', this.databaseAnswered);
    // A reload in flight finishes first (its loop stops and starts), so that every loop is stopped below.
    await this.reloader.stop();
    await this.supervisor.stop();
    // After the loops finished their actions: hand the leases over so another replica takes over at once.
    if (this.leases) {
      const released = await this.leases.stop();
      this.opts.log.info({ holder: this.leases.holderId, released }, 'tenant leases released');
    }
    await this.leaseDb?.destroy();
    await closed;
    this.eventLog?.unsubscribe();
    this.metricsFeed?.unsubscribe();
    this.activityFeed?.unsubscribe();
    await this.resources.closeAll();
    await this.db.destroy();
  }
}
