import type { TenantStreamsFactory } from '../src/orchestrator.js';
import { delaySampleStream } from './delay-sample.js';
import { discoveryStream } from './discovery.js';

/** Every stream a tenant runs. */
export const tenantStreams: TenantStreamsFactory = (tenant, ctx, deps) => {
  const { loop } = deps.config;
  const store = deps.store(tenant.name);
  return [
    discoveryStream(ctx, { tenant, store, services: deps.services, intervalMs: loop.discoverySeconds * 1000 }),
    delaySampleStream(ctx, { tenant, store, intervalMs: loop.delaySampleSeconds * 1000 }),
  ];
};
