import type { Context } from 'hono';
import type { CommandArgs, CommandKind, CommandResult } from '../../streams/commands.js';
import { ConfigError } from '../config/load.js';
import type { ServiceDetailsRow } from '../db/service-details.js';
import type { ReloadResult } from '../reload.js';
import { HttpError, quote, toHttpError } from './errors.js';
import type { HealthReport } from '../health/daemon-health.js';
import { healthAnswers } from './health-answer.js';
import { route, type Reply, type RouteDef } from './route.js';
import { dashboardPage } from './dashboard/assets.js';
import { docsPage } from './docs/swagger-ui.js';
import { recentEventsData, recentEventsQuery, tenantsData, tenantsQuery, type TenantsData } from './tenants-schema.js';
import * as s from './schemas.js';

/** What the handlers need; each one either reads or pushes a command into the tenant's loop. */
export interface RouteDeps {
  /** Runs a command in the tenant's loop and resolves with its result. */
  dispatch<K extends CommandKind>(tenant: string, kind: K, args: CommandArgs<K>): Promise<CommandResult<K>>;
  /** Queues a command without waiting for it; a refusal (not the leader, shutting down) throws at once. */
  enqueue<K extends CommandKind>(tenant: string, kind: K, args: CommandArgs<K>): Promise<CommandResult<K>>;
  health(): Promise<HealthReport>;
  /** The health report when one can be given without waiting (a recent enough database ping has settled); else undefined. */
  recentHealth(): HealthReport | undefined;
  serviceDetails(tenant: string): Promise<(ServiceDetailsRow & { appLogsDelayMinutes?: number | null })[]>;
  /** What the tenant's Spark stream knows, with its lease; undefined when no Spark stream runs for it. */
  sparkStatus(tenant: string): object | undefined;
  /** Like the health report, but a component the tenant does not configure is SKIPPED. */
  pipelineHealth(
    tenant: string,
  ): Promise<{ status: 'UP' | 'DOWN'; checks: { name: string; status: 'UP' | 'DOWN' | 'SKIPPED'; message?: string }[] } & Record<string, unknown>>;
  events(query: { tenant?: string; type?: string }, c: Context): Response;
  /** The Prometheus text, UTF-8. */
  metrics(): Promise<Uint8Array<ArrayBuffer>>;
  openapi(): unknown;
  /** Every tenant at a glance (the dashboard, `logwise status`); only `tenant` when given. */
  tenants(query: { tenant?: string }): Promise<TenantsData>;
  /** The tenant's last notable events (what a page opened now shows before the live ones). */
  recentEvents(tenant: string): { tenant: string; events: readonly unknown[] };
  /**
   * The tenant's latest delay sample when it is younger than `maxAgeMs` (what `sample-delay`
   * would answer from memory), read without a round through the loop; undefined when a new
   * sample is needed (or none is kept), and the handler then pushes `sample-delay`.
   */
  recentDelay(tenant: string, maxAgeMs: number): { minutes: number | null } | undefined;
  /** Logs a failure of work that runs after the answer was sent. */
  background(what: string, tenant: string, error: unknown): void;
  delaySampleIntervalMs: number;
  /** Re-reads the config file and applies its tenants; rejects with a ConfigError (nothing changed) when it is invalid. */
  reload(): Promise<ReloadResult>;
  /** The replicas and who acts for each tenant. */
  cluster(): s.ClusterData;
}

export function buildRoutes(deps: RouteDeps): RouteDef[] {
  // Answers that hold until what they say changes, frozen so that the shell serializes each once (see Reply).
  const delayAnswers = new Map<string, { data: { tenant: string; appLogsDelayMinutes: number | null } }>();
  /** The tenant's delay answer: the previous one while the minutes are the same. */
  const delayAnswer = (tenant: string, minutes: number | null): Reply => {
    const previous = delayAnswers.get(tenant);
    if (previous?.data.appLogsDelayMinutes === minutes) return previous;
    const answer = { data: Object.freeze({ tenant, appLogsDelayMinutes: minutes }) };
    delayAnswers.set(tenant, answer);
    return answer;
  };
  const healthAnswer = healthAnswers();

  const componentSync = route({
    method: 'post',
    paths: ['/api/v1/component/sync', '/component/sync'],
    summary: 'Run one discovery sync of the tenant and answer when it is done',
    tenant: true,
    query: s.componentSyncQuery,
    body: s.componentSyncBody,
    response: { schema: s.successEnvelope(s.componentSyncData), description: 'The sync ran; counts of onboarded and removed services' },
    async handle({ tenant, query, body }) {
      const componentType = body.componentType ?? query.componentType;
      if (componentType !== 'application') {
        throw new HttpError(
          400,
          'INVALID_COMPONENT_TYPE',
          `componentType must be "application", got ${componentType === undefined ? 'nothing' : quote(JSON.stringify(componentType), 64)}`,
        );
      }
      const force = body.force ?? query.force === 'true';
      const outcome = await deps.dispatch(tenant, 'sync', { force });
      const message = outcome.guarded
        ? `Synced componentType: application for tenant: ${tenant}; the deletion guard kept ${outcome.guarded.wouldRemove} of ${outcome.guarded.known} services (repeat with force=true to remove them)`
        : `Successfully synced componentType: application for tenant: ${tenant}`;
      return {
        data: { success: true, message, onboarded: outcome.onboarded, removed: outcome.removed, ...(outcome.guarded ? { guarded: outcome.guarded } : {}) },
      };
    },
  });

  const monitor = route({
    method: 'post',
    paths: ['/monitor-spark-job'],
    summary: 'Poll the Spark master and act now (answers at once, as the reference)',
    tenant: true,
    body: s.monitorSparkJobBody,
    response: { schema: s.successEnvelope(s.messageData), description: 'The poll was queued' },
    handle({ tenant, body }) {
      deps.enqueue(tenant, 'monitor', body).catch((err: unknown) => deps.background('monitor', tenant, err));
      return { data: { success: true, message: `Successfully monitored the spark job for tenant: ${tenant}` } };
    },
  });

  const syncDelay = route({
    method: 'get',
    paths: ['/api/v1/metric/sync-delay', '/metric/sync-delay'],
    summary: 'Minutes between now and the newest minute partition of the sample service',
    tenant: true,
    response: { schema: s.successEnvelope(s.syncDelayData), description: 'null when the sample could not be taken' },
    handle({ tenant }): Reply | Promise<Reply> {
      // A sample younger than one interval is answered from memory (the stream takes one every
      // interval), at once, so dashboards polling this never make the daemon list the store per request.
      const recent = deps.recentDelay(tenant, deps.delaySampleIntervalMs);
      if (recent) return delayAnswer(tenant, recent.minutes);
      return (
        deps
          .dispatch(tenant, 'sample-delay', { maxAgeMs: deps.delaySampleIntervalMs })
          // The reference answers 200 with null when S3 fails; dashboards expect that.
          .catch((err: unknown) => {
            if ([501, 503].includes(toHttpError(err).status)) throw err;
            return null;
          })
          .then((minutes) => delayAnswer(tenant, minutes))
      );
    },
  });

  const serviceDetails = route({
    method: 'get',
    paths: ['/service-details'],
    summary: 'The tenant’s rows of service_details',
    tenant: true,
    response: { schema: s.successEnvelope(s.serviceDetailsData), description: 'Discovered services, under `serviceDetails` as the Java orchestrator answered' },
    async handle({ tenant }) {
      const rows = await deps.serviceDetails(tenant);
      return { data: { serviceDetails: rows.map(({ id: _id, lastCheckedAt, ...r }) => ({ ...r, lastCheckedAt: lastCheckedAt.toISOString() })) } };
    },
  });

  const replay = route({
    method: 'post',
    paths: ['/api/v1/spark/replay'],
    summary: 'Record a timestamp-based reprocessing that the loop carries out',
    tenant: true,
    body: s.sparkReplayBody,
    response: { schema: s.successEnvelope(s.replayData), description: 'The replay was recorded' },
    async handle({ tenant, body }) {
      const row = await deps.dispatch(tenant, 'replay', body);
      return {
        data: {
          id: row.id,
          tenant,
          startingOffsetsTimestamp: row.startingOffsetsTimestamp,
          resumeToSubscribePatternTimestamp: row.resumeToSubscribePatternTimestamp,
        },
      };
    },
  });

  const sparkStatus = route({
    method: 'get',
    paths: ['/api/v1/spark/status'],
    summary: 'What the loop knows of the tenant’s Spark job',
    tenant: true,
    response: {
      schema: s.successEnvelope(s.anyObject),
      description: 'Master status, drivers, last submission, restarts, backoff, and `lease`: which replica acts for the tenant',
    },
    handle({ tenant }) {
      const status = deps.sparkStatus(tenant);
      if (!status) throw new HttpError(501, 'NOT_IMPLEMENTED', `no Spark stream runs for tenant ${tenant}`);
      return { data: status };
    },
  });

  const pipelineHealth = route({
    method: 'get',
    paths: ['/pipeline/health'],
    summary: 'Vector, Kafka, the Spark master and driver, and recent logs in S3',
    tenant: true,
    response: {
      schema: s.successEnvelope(s.anyObject),
      description:
        'Each component UP or DOWN; overall UP only if all are. Beside `data`, the Java orchestrator’s fields at the top: `status`, `message`, `tenant`, `checks: [{component, check: {status, message}}]`',
    },
    async handle({ tenant }): Promise<Reply> {
      const health = await deps.pipelineHealth(tenant);
      const message = health.status === 'UP' ? 'All pipeline components are healthy' : 'One or more pipeline components have issues';
      return {
        data: { ...health, message, tenant },
        topLevel: {
          status: health.status,
          message,
          tenant,
          checks: health.checks.map((ch) => ({
            component: ch.name,
            check: {
              status: ch.status,
              message:
                ch.message ?? (ch.status === 'UP' ? `${ch.name} is healthy` : ch.status === 'SKIPPED' ? `${ch.name} is not configured` : `${ch.name} is down`),
            },
          })),
        },
      };
    },
  });

  const health = route({
    method: 'get',
    // `/health`: what the Java orchestrator's compose file probes (`curl -fsS …/health | grep UP`).
    paths: ['/healthcheck', '/health'],
    summary: 'Liveness of the daemon and its database',
    tenant: false,
    response: {
      schema: s.successEnvelope(s.healthData),
      description:
        'UP; 503 with the failing check otherwise. Answered at once from the latest database ping (one every half second, in the background); DOWN also while a ping has waited more than 2 s',
    },
    handle(): Reply | Promise<Reply> {
      // At once from the latest database ping; only before the first one settled, when it does (within its budget).
      const recent = deps.recentHealth();
      return recent ? healthAnswer(recent) : deps.health().then(healthAnswer);
    },
  });

  const liveness = route({
    method: 'get',
    paths: ['/liveness'],
    summary: 'The process runs (the Java orchestrator’s probe): 200 `Success`, without asking the database',
    tenant: false,
    response: { description: 'text/plain `Success`', contentType: 'text/plain' },
    handle({ c }) {
      return c.text('Success');
    },
  });

  const events = route({
    method: 'get',
    paths: ['/api/v1/events'],
    summary: 'Server-Sent Events: the live event stream',
    tenant: false,
    query: s.eventsQuery,
    response: { description: 'text/event-stream of events', contentType: 'text/event-stream' },
    handle({ query, c }) {
      return deps.events(query, c);
    },
  });

  const metrics = route({
    method: 'get',
    paths: ['/metrics'],
    summary: 'Prometheus metrics',
    tenant: false,
    response: { description: 'Prometheus text format', contentType: 'text/plain; version=0.0.4' },
    async handle({ c }) {
      return c.body(await deps.metrics(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    },
  });

  const openapi = route({
    method: 'get',
    paths: ['/openapi.json'],
    summary: 'This API, as OpenAPI 3',
    tenant: false,
    response: { description: 'The OpenAPI document' },
    handle({ c }) {
      return c.json(deps.openapi() as object);
    },
  });

  const docs = route({
    method: 'get',
    paths: ['/docs'],
    summary: 'The API reference (Swagger UI on /openapi.json, served by the daemon), with try-it-out',
    tenant: false,
    response: { description: 'HTML', contentType: 'text/html' },
    handle({ c }) {
      return docsPage(c);
    },
  });

  const tenants = route({
    method: 'get',
    paths: ['/api/v1/tenants'],
    summary: 'Every tenant at a glance: lease, Spark master and driver, restarts, services, discovery, delay and its last hours',
    tenant: false,
    query: tenantsQuery,
    response: { schema: s.successEnvelope(tenantsData), description: 'From what the loops hold in memory, and one grouped count of service_details' },
    async handle({ query }) {
      return { data: await deps.tenants(query) };
    },
  });

  const recentEvents = route({
    method: 'get',
    paths: ['/api/v1/events/recent'],
    summary: 'The tenant’s last 20 notable events (polls that did nothing and delay samples left out), kept in memory',
    tenant: false,
    query: recentEventsQuery,
    response: { schema: s.successEnvelope(recentEventsData), description: 'Oldest first; empty after a restart until something happens' },
    handle({ query }) {
      return { data: deps.recentEvents(query.tenant) };
    },
  });

  const dashboard = route({
    method: 'get',
    paths: ['/'],
    summary: 'The operators’ live dashboard (HTML; its scripts read /api/v1/tenants and /api/v1/events)',
    tenant: false,
    response: { description: 'HTML', contentType: 'text/html' },
    handle({ c }) {
      return dashboardPage(c);
    },
  });

  const cluster = route({
    method: 'get',
    paths: ['/api/v1/cluster'],
    summary: 'The replicas sharing the tenants and which one acts for each (on SQLite: this process, for all)',
    tenant: false,
    response: { schema: s.successEnvelope(s.clusterData), description: 'From the lease keeper’s last round (no query of its own)' },
    handle() {
      return { data: deps.cluster() };
    },
  });

  const reload = route({
    method: 'post',
    paths: ['/api/v1/admin/reload'],
    summary: 'Re-read the config file and apply its tenants, as SIGHUP does: added ones start, removed ones stop, changed ones restart',
    tenant: false,
    response: {
      schema: s.successEnvelope(s.reloadData),
      description:
        'What changed; settings that need a restart are listed and not applied. An invalid file: 400 `INVALID_CONFIG` with `problems` (one line each), nothing changed',
    },
    async handle() {
      try {
        return { data: await deps.reload() };
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        const n = err.problems.length;
        throw new HttpError(400, 'INVALID_CONFIG', `the config file has ${n} problem${n === 1 ? '' : 's'}; nothing was changed`, { problems: err.problems });
      }
    },
  });

  return [
    health,
    liveness,
    componentSync,
    monitor,
    syncDelay,
    serviceDetails,
    pipelineHealth,
    replay,
    sparkStatus,
    tenants,
    cluster,
    events,
    recentEvents,
    metrics,
    reload,
    openapi,
    docs,
    dashboard,
  ];
}
