import { serve, type ServerType } from '@hono/node-server';
import type { Subscription } from 'rxjs';
import { config as rxConfig } from 'rxjs';
import type { StreamContext, StreamDefinition } from '../streams/tenant-loop.js';
import { Supervisor } from '../streams/supervisor.js';
import { tenantStreams } from '../streams/tenant-streams.js';
import { leaseMsOf, type Config, type TenantConfig } from './config/schema.js';
import { createDb, pingDb, type Db, type DbLog } from './db/knex.js';
import { FencedServiceDetailsRepository } from './db/fenced-service-details.js';
import { LeaseRepository } from './db/leases.js';
import { migrateLatest } from './db/migrate.js';
import { ServiceDetailsRepository } from './db/service-details.js';
import { SparkSubmissionsRepository } from './db/spark-submissions.js';
import { SharedReplayReads, SparkSubmitStatusRepository } from './db/spark-submit-status.js';
import { createApp } from './http/app.js';
import { NotImplementedError } from './http/errors.js';
import { openApiDocument } from './http/openapi.js';
import { buildRoutes, type HealthReport } from './http/routes.js';
import { eventStream } from './http/events-sse.js';
import { logEvent, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { createObjectStore, type ObjectStore } from './objectstore/index.js';
import type { Redactor } from './secrets.js';
import { SparkMasterClient } from './spark/master-client.js';
import { sharedReadMaxAgeMs } from './shared-read.js';
import type { ReplayStore, SparkStatusRegistry, SparkStatusView } from '../streams/spark-poll.js';
import { errorMessage } from '../streams/events.js';
import { refreshServiceDelayGauge, withServiceDelays, type ServiceDelayRegistry } from '../streams/service-delays.js';
import type { DelaySampleRegistry } from '../streams/delay-sample.js';
import { otherTenantMainClasses } from '../streams/spark-poll.js';
import { checkPipeline, preloadKafkaClient, type PipelineHealth } from './health/pipeline-health.js';
import { sharedRecentRun, type RunOutcome } from './health/fresh-run.js';
import { ACTING_COMMANDS, LeaseKeeper, type LeaseStatus } from '../streams/lease-keeper.js';

export const VERSION = '0.1.0';

/** How old a database ping may be that answers `GET /healthcheck`. */
export const HEALTH_PING_MAX_AGE_MS = 1_000;

/** What the streams of every tenant share: the configuration, the database and each tenant's store. */
export interface SharedDeps {
  config: Config;
  db: Db;
  services: ServiceDetailsRepository;
  store(tenant: string): ObjectStore;
  /** Replay rows (`spark_submit_status`, read through one shared read for every tenant) and the submissions the loop made (`spark_submissions`). */
  replays: ReplayStore;
  submissions: SparkSubmissionsRepository;
  /** The client of the tenant's Spark master(s): one per distinct master set, shared by its tenants. */
  sparkMaster(tenant: string): SparkMasterClient;
  /** Where each tenant's Spark stream publishes its status (`GET /api/v1/spark/status`). */
  sparkStatus: SparkStatusRegistry;
  /** Aborted on shutdown: long waits (a kill wait) end early instead of holding `stop()`. */
  shutdown: AbortSignal;
  /** Each tenant's per-service delays (tenants with delayMetrics.allServices = true). */
  serviceDelays: ServiceDelayRegistry;
  /** Each tenant's memory of its latest sample-service delay (tenants with a sample service). */
  delaySamples: DelaySampleRegistry;
}

/** Who acts for a tenant: the lease (MySQL, many replicas) or, on SQLite, always this one process. */
export type TenantLeaseStatus = LeaseStatus | { mode: 'single-process'; isThisProcess: true };

/** The streams of one tenant; each capability adds its own. */
export type TenantStreamsFactory = (tenant: TenantConfig, ctx: StreamContext, deps: SharedDeps) => StreamDefinition[];

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
}

/** Everything the daemon runs, wired from the configuration; `stop()` takes it down in order. */
export class Orchestrator {
  readonly db: Db;
  readonly supervisor: Supervisor;
  readonly app: ReturnType<typeof createApp>;
  private server: ServerType | undefined;
  readonly metrics: Metrics;
  private eventLog: Subscription | undefined;
  private metricsFeed: Subscription | undefined;
  private readonly services: ServiceDetailsRepository;
  private readonly submissions: SparkSubmissionsRepository;
  private readonly stores = new Map<string, ObjectStore>();
  /** Spark master clients by master set (hosts + ports); `sparkClientOf` maps tenants to them. */
  private readonly sparkClients = new Map<string, SparkMasterClient>();
  private readonly sparkClientOf = new Map<string, SparkMasterClient>();
  private readonly sparkStatus: SparkStatusRegistry = new Map();
  private readonly shutdown = new AbortController();
  private readonly serviceDelays: ServiceDelayRegistry = new Map();
  private readonly delaySamples: DelaySampleRegistry = new Map();
  /** Many replicas (MySQL): the tenants' leases; undefined on SQLite (one process acts for all). */
  readonly leases: LeaseKeeper | undefined;
  private readonly leaseDb: Db | undefined;

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
      this.leases = new LeaseKeeper({
        store: new LeaseRepository(this.leaseDb),
        tenants: config.tenants.map((t) => t.name),
        leaseMs,
        emit: (tenant, event) => this.supervisor.loop(tenant).context.emit(event),
        onRound: (round) => opts.log.debug(round, 'lease round'),
      });
    }
    const leases = this.leases;
    for (const t of config.tenants) this.stores.set(t.name, createObjectStore(t.objectStore));
    for (const t of config.tenants) {
      const { sparkMasterHost, sparkMasterWebUiPort, sparkMasterRestPort } = t.spark;
      const key = JSON.stringify([[...sparkMasterHost].map((h) => h.trim().toLowerCase()).sort(), sparkMasterWebUiPort, sparkMasterRestPort]);
      let client = this.sparkClients.get(key);
      if (!client) {
        client = new SparkMasterClient({
          hosts: [...sparkMasterHost],
          webUiPort: sparkMasterWebUiPort,
          restPort: sparkMasterRestPort,
          stateMaxAgeMs: sharedReadMaxAgeMs(config.loop.sparkPollSeconds * 1000),
        });
        this.sparkClients.set(key, client);
      }
      this.sparkClientOf.set(t.name, client);
    }
    const shared: SharedDeps = {
      config,
      db: this.db,
      // Discovery's writes check the lease right before each statement.
      services: leases ? new FencedServiceDetailsRepository(this.db, (tenant) => leases.assertActing(tenant)) : this.services,
      store: (tenant) => this.stores.get(tenant)!,
      replays: new SharedReplayReads(new SparkSubmitStatusRepository(this.db), sharedReadMaxAgeMs(config.loop.sparkPollSeconds * 1000)),
      submissions: this.submissions,
      sparkMaster: (tenant) => this.sparkClientOf.get(tenant)!,
      sparkStatus: this.sparkStatus,
      shutdown: this.shutdown.signal,
      serviceDelays: this.serviceDelays,
      delaySamples: this.delaySamples,
    };
    const backoff = { minMs: config.loop.backoff.minSeconds * 1000, maxMs: config.loop.backoff.maxSeconds * 1000 };
    this.supervisor = new Supervisor(
      config.tenants.map((t) => ({
        tenant: t.name,
        backoff,
        firstTickSpreadMs: opts.firstTickSpreadMs ?? 15_000,
        ...(opts.random ? { random: opts.random } : {}),
        ...(leases ? { gate: leases.gate(t.name) } : {}),
        streams: (ctx: StreamContext) => (opts.streams ?? tenantStreams)(t, ctx, shared),
      })),
      // Secret values never travel further than the event that quoted them (SPEC §4.6).
      { scrub: (event) => opts.redactor.scrubStrings(event) },
    );
    this.metrics = new Metrics();
    this.metrics.initTenants(config.tenants.map((t) => t.name));
    const routes = buildRoutes({
      dispatch: (tenant, command, args) => {
        // Refused here, before queueing, on a replica that does not act for the tenant: the
        // monitor route answers without waiting for the loop, and must answer 503 NOT_LEADER.
        if (leases && ACTING_COMMANDS.has(command) && this.supervisor.has(tenant)) leases.assertActing(tenant);
        return this.supervisor.dispatch(tenant, command, args);
      },
      health: () => this.health(),
      recentHealth: () => this.recentHealth(),
      serviceDetails: async (tenant) => withServiceDelays(await this.services.listByTenant(tenant), this.serviceDelays.get(tenant)),
      pipelineHealth: (tenant) => this.pipelineHealth(tenant),
      sparkStatus: (tenant): SparkStatusView & { lease: TenantLeaseStatus } => {
        const status = this.sparkStatus.get(tenant);
        if (!status) throw new NotImplementedError('Spark status (no Spark stream runs for this tenant)');
        // On a replica that does not act for the tenant, the Spark figures are its own (it does not poll); `lease` names who acts.
        return { ...status(), lease: this.leaseStatus(tenant) };
      },
      openapi: () => openApi,
      events: eventStream({ events$: this.supervisor.events$, redactor: opts.redactor, metrics: this.metrics }),
      metrics: async () => {
        refreshServiceDelayGauge(this.metrics.serviceDelay, this.serviceDelays);
        return opts.redactor.scrub(await this.metrics.text());
      },
      // While the loops run (a stopping daemon answers 503 SHUTTING_DOWN through the loop, as before).
      recentDelay: (tenant, maxAgeMs) => (this.shutdown.signal.aborted ? undefined : this.delaySamples.get(tenant)?.recall(maxAgeMs)),
      background: (what, tenant, error) => opts.log.warn({ tenant, command: what, error: errorMessage(error) }, `${what} failed`),
      delaySampleIntervalMs: config.loop.delaySampleSeconds * 1000,
    });
    const openApi = openApiDocument(routes, VERSION);
    this.app = createApp({
      routes,
      tenants: new Set(config.tenants.map((t) => t.name)),
      redactor: opts.redactor,
      log: opts.log,
      ...(config.http.authToken ? { authToken: config.http.authToken } : {}),
      protectReads: config.http.protectReads,
    });
  }

  async start(): Promise<void> {
    const { log, config } = this.opts;
    // A throwing subscriber (a log sink, an SSE client) must never take the loop down.
    rxConfig.onUnhandledError = (err) => log.error({ error: errorMessage(err) }, 'unhandled error in an event subscriber');
    const ran = await migrateLatest(this.db);
    if (ran.length) log.info({ migrations: ran }, 'database migrated');
    this.eventLog = this.supervisor.events$.subscribe((event) => logEvent(log, event));
    this.metricsFeed = this.metrics.follow(this.supervisor.events$);
    if (this.leases) {
      // The first round before the first tick: a replica that holds a lease acts from its first tick.
      this.leases.start();
      await this.leases.ready();
      log.info({ holder: this.leases.holderId, leaseMs: this.leases.timing.leaseMs, holding: config.tenants.map((t) => t.name).filter((t) => this.leases!.view(t).isHolder()) }, 'tenant leases kept in MySQL');
    }
    // Loading the Kafka client takes a second or two; do it before the first health request.
    void preloadKafkaClient().catch(() => undefined);
    this.supervisor.start();
    if (this.opts.listen !== false) {
      await new Promise<void>((resolve, reject) => {
        this.server = serve({ fetch: this.app.fetch, port: config.http.port, hostname: config.http.host }, () => resolve());
        this.server.once('error', reject);
      });
      log.info({ port: this.port, tenants: this.supervisor.tenants, database: config.database.client }, 'orchestrator listening');
    }
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.opts.config.http.port;
  }

  /** Who acts for the tenant (`GET /api/v1/spark/status`). */
  leaseStatus(tenant: string): TenantLeaseStatus {
    return this.leases ? this.leases.status(tenant) : { mode: 'single-process', isThisProcess: true };
  }

  /**
   * The database check of `GET /healthcheck`: one ping shared by the checks that wait for it,
   * and a ping that began at most a second before a check answers it (`sharedRecentRun`; the
   * next one starts in the background after half a second). Many clients polling the health
   * then cost about two pings a second instead of one per request, and no request waits for a
   * database round trip while the database answers; one that stops answering fails the checks
   * at most a second (plus the ping's timeout) later.
   */
  private readonly pingDatabase = sharedRecentRun(() => pingDb(this.db), { maxAgeMs: HEALTH_PING_MAX_AGE_MS, refreshAfterMs: HEALTH_PING_MAX_AGE_MS / 2 });

  health(): Promise<HealthReport> {
    return this.pingDatabase().then(
      () => healthReport({ ok: true, value: undefined }),
      (error: unknown) => healthReport({ ok: false, error }),
    );
  }

  /** `health()` when a ping young enough has settled (the common case under many clients), without waiting; else undefined. */
  recentHealth(): HealthReport | undefined {
    const outcome = this.pingDatabase.settled();
    return outcome ? healthReport(outcome) : undefined;
  }

  /** Vector, Kafka, the Spark master and driver, and recent logs, each within its own timeout. */
  async pipelineHealth(name: string): Promise<PipelineHealth> {
    const { config } = this.opts;
    const tenant = config.tenants.find((t) => t.name === name)!;
    // Bounded: a slow database must not hang the endpoint (without ids, ownership falls back to the main class).
    const submittedDriverIds = await Promise.race([
      this.submissions.recent(name).then((rows) => new Set(rows.map((r) => r.submissionId))),
      new Promise<Set<string>>((resolve) => setTimeout(() => resolve(new Set()), 1_000).unref()),
    ]).catch(() => new Set<string>());
    return checkPipeline(tenant, {
      spark: this.sparkClientOf.get(name)!,
      store: this.stores.get(name)!,
      now: Date.now,
      otherTenantMainClasses: otherTenantMainClasses(config.tenants, name),
      submittedDriverIds,
    });
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
    for (const store of this.stores.values()) store.close();
    await Promise.all([...this.sparkClients.values()].map((c) => c.close()));
    await this.db.destroy();
  }
}

/** The health report of a database ping's outcome. */
function healthReport(ping: RunOutcome<unknown>): HealthReport {
  const database = ping.ok ? { name: 'database', status: 'UP' as const } : { name: 'database', status: 'DOWN' as const, message: errorMessage(ping.error) };
  return { status: database.status, checks: [database] };
}
