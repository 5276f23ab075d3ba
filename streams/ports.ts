/**
 * What every tenant's streams share, as the streams need it: the wiring (`src/orchestrator.ts`)
 * builds it from the edges, tests from fakes. The views are what readers get of each tenant's
 * streams through its loop (`TenantLoop.views`).
 */
import type { Config, TenantConfig } from '../src/config/schema.js';
import type { ServiceDetailsRepository } from '../src/db/service-details.js';
import type { ObjectStore } from '../src/objectstore/object-store.js';
import type { DelaySampleMemory } from './delay-sample.js';
import type { PartitionLayout } from './partition-layout.js';
import type { ServiceDelayState } from './service-delays.js';
import type { ReplayStore, SparkMaster, SubmissionStore } from './spark/ports.js';
import type { SparkStatusView } from './spark/status-view.js';
import type { BuiltStreams, StreamContext, StreamDefinition } from './tenant-loop.js';

export interface SharedDeps {
  config: Config;
  /** `service_details`; its writes are fenced by the tenant's lease on MySQL. */
  services: ServiceDetailsRepository;
  store(tenant: string): ObjectStore;
  /** Replay rows (`spark_submit_status`, with the replay steps) and the submissions the loop made (`spark_submissions`). */
  replays: ReplayStore;
  submissions: SubmissionStore;
  /** The client of the tenant's Spark master(s): one per distinct master set, shared by its tenants. */
  sparkMaster(tenant: string): SparkMaster;
  /** Aborted on shutdown: long waits (a kill wait) end early instead of holding `stop()`. */
  shutdown: AbortSignal;
  /** Each tenant's partition layout (configured, or read from its bucket), shared by its streams and `/pipeline/health`. */
  layout(tenant: string): PartitionLayout;
}

/** What readers see of a tenant's streams. */
export interface TenantViews {
  /** What the Spark stream knows of the tenant's job (`GET /api/v1/spark/status`). */
  spark?: () => SparkStatusView;
  /** The latest sample-service delay (tenants with a sample service). */
  delaySample?: DelaySampleMemory;
  /** The per-service delays (tenants with delayMetrics.allServices = true). */
  serviceDelays?: ServiceDelayState;
}

/** The streams of one tenant; each capability adds its own (a bare list: streams without views, as tests give them). */
export type TenantStreamsFactory = (tenant: TenantConfig, ctx: StreamContext, deps: SharedDeps) => BuiltStreams<TenantViews> | StreamDefinition[];
