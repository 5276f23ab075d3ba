import { serve, type ServerType } from '@hono/node-server';
import type { Subscription } from 'rxjs';
import { config as rxConfig } from 'rxjs';
import type { StreamContext, StreamDefinition } from '../streams/tenant-loop.js';
import { Supervisor } from '../streams/supervisor.js';
import type { Config, TenantConfig } from './config/schema.js';
import { createDb, pingDb, type Db } from './db/knex.js';
import { migrateLatest } from './db/migrate.js';
import { ServiceDetailsRepository } from './db/service-details.js';
import { createApp } from './http/app.js';
import { openApiDocument } from './http/openapi.js';
import { buildRoutes, type HealthReport } from './http/routes.js';
import { logEvent, type Logger } from './log.js';
import type { Redactor } from './secrets.js';
import { errorMessage } from '../streams/events.js';

export const VERSION = '0.1.0';

/** The streams of one tenant; each capability adds its own. */
export type TenantStreamsFactory = (tenant: TenantConfig, ctx: StreamContext) => StreamDefinition[];

export interface OrchestratorOptions {
  config: Config;
  log: Logger;
  redactor: Redactor;
  streams?: TenantStreamsFactory;
  /** Bind the HTTP server (false in tests that call `app.request` directly). */
  listen?: boolean;
}

/** Everything the daemon runs, wired from the configuration; `stop()` takes it down in order. */
export class Orchestrator {
  readonly db: Db;
  readonly supervisor: Supervisor;
  readonly app: ReturnType<typeof createApp>;
  private server: ServerType | undefined;
  private eventLog: Subscription | undefined;
  private readonly services: ServiceDetailsRepository;

  constructor(private readonly opts: OrchestratorOptions) {
    const { config } = opts;
    this.db = createDb(config.database);
    this.services = new ServiceDetailsRepository(this.db);
    const backoff = { minMs: config.loop.backoff.minSeconds * 1000, maxMs: config.loop.backoff.maxSeconds * 1000 };
    this.supervisor = new Supervisor(
      config.tenants.map((t) => ({
        tenant: t.name,
        backoff,
        firstTickSpreadMs: 15_000,
        streams: (ctx: StreamContext) => opts.streams?.(t, ctx) ?? [],
      })),
    );
    const routes = buildRoutes({
      dispatch: (tenant, command, args) => this.supervisor.dispatch(tenant, command, args),
      health: () => this.health(),
      serviceDetails: (tenant) => this.services.listByTenant(tenant),
      openapi: () => openApi,
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

  async health(): Promise<HealthReport> {
    const database = await pingDb(this.db).then(
      () => ({ name: 'database', status: 'UP' as const }),
      (err: unknown) => ({ name: 'database', status: 'DOWN' as const, message: errorMessage(err) }),
    );
    return { status: database.status, checks: [database] };
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
    await this.supervisor.stop();
    await closed;
    this.eventLog?.unsubscribe();
    await this.db.destroy();
  }
}
