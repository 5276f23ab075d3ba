/**
 * The daemon in-process for a test: an orchestrator (startTestOrchestrator: temp dir, SQLite)
 * on the given tenants and loop settings, the loop events it emits, and requests to its HTTP
 * API as a tenant (through the app, no socket needed).
 */
import type { DatabaseConfig } from '../../src/config/schema.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import type { TenantStreamsFactory } from '../../streams/ports.js';
import { loopHocon, type LoopSettings } from './daemon-config.js';
import { readAnswer, type HttpAnswer } from './http-answer.js';
import { startTestOrchestrator, type TestOrchestrator } from './orchestrator.js';

export interface DaemonOptions {
  /** The tenants' HOCON blocks (`tenantHocon`, `sparkTenant`, `realSparkTenant`). */
  tenants: string[];
  /** Settings the test picks; TEST_LOOP's for the others. */
  loop?: Partial<LoopSettings>;
  /** Default: the orchestrator's own (every stream). */
  streams?: TenantStreamsFactory;
  /** Instead of the temp SQLite file. */
  database?: DatabaseConfig;
  /** Listen on a real port (`t.orchestrator.port`). */
  listen?: boolean;
  /** No timer ticks: the streams run only on commands. */
  quietTicks?: boolean;
  /** More top-level HOCON (e.g. an `http { }` block). */
  settings?: string;
}

export interface Daemon {
  t: TestOrchestrator;
  /** Every loop event since the start, in order. */
  events: OrchestratorEvent[];
  eventsOf<K extends OrchestratorEvent['type']>(type: K, tenant?: string): Extract<OrchestratorEvent, { type: K }>[];
  request(path: string, init: RequestInit, tenant: string): Promise<HttpAnswer>;
  get(path: string, tenant: string): Promise<HttpAnswer>;
  post(path: string, body: unknown, tenant: string): Promise<HttpAnswer>;
  stop(): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const t = await startTestOrchestrator(`${opts.settings ?? ''}\ntenants = [${opts.tenants.join(',\n')}]\n${loopHocon(opts.loop)}`, {
    ...(opts.streams ? { streams: opts.streams } : {}),
    ...(opts.listen ? { listen: true } : {}),
    ...(opts.quietTicks ? { quietTicks: true } : {}),
    ...(opts.database ? { config: (c) => ({ ...c, database: opts.database! }) } : {}),
  });
  const events: OrchestratorEvent[] = [];
  const sub = t.orchestrator.supervisor.events$.subscribe((e) => events.push(e));
  // Arrow functions all: tests pass them around unbound (`const ev = daemon.eventsOf`).
  const request = async (path: string, init: RequestInit, tenant: string): Promise<HttpAnswer> => {
    const headers = new Headers(init.headers);
    headers.set('X-Tenant-Name', tenant);
    return readAnswer(await t.orchestrator.app.request(path, { ...init, headers }));
  };
  return {
    t,
    events,
    eventsOf: (type, tenant) => events.filter((e) => e.type === type && (tenant === undefined || e.tenant === tenant)) as never,
    request,
    get: (path, tenant) => request(path, {}, tenant),
    post: (path, body, tenant) => request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }, tenant),
    stop: async () => {
      await t.stop();
      sub.unsubscribe();
    },
  };
}
