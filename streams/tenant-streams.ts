import type { TenantStreamsFactory } from '../src/orchestrator.js';

/** Every stream a tenant runs. */
export const tenantStreams: TenantStreamsFactory = () => [];
