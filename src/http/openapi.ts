import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { isPublicPage } from './public-pages.js';
import type { RouteDef } from './route.js';
import { errorEnvelope } from './schemas.js';

/** The OpenAPI 3 document of the route table, from the same schemas that validate requests. */
export function openApiDocument(routes: RouteDef[], version: string): object {
  const registry = new OpenAPIRegistry();
  // Try-it-out in /docs sends the token once entered under Authorize.
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'http.authToken (env ORCHESTRATOR_AUTH_TOKEN): required on every POST when set, and on GETs too with http.protectReads',
  });
  const tenantHeader = z.object({ 'x-tenant-name': z.string().openapi({ description: 'The tenant, as named in the configuration' }) });
  for (const def of routes) {
    def.paths.forEach((path, i) => {
      registry.registerPath({
        method: def.method,
        path,
        summary: i === 0 ? def.summary : `${def.summary} (alias of ${def.paths[0]})`,
        security: securityOf(def.method, path),
        tags: [tagOf(path)],
        request: {
          ...(def.tenant ? { headers: tenantHeader } : {}),
          ...(def.query ? { query: def.query as z.ZodObject } : {}),
          ...(def.body ? { body: { required: false, content: { 'application/json': { schema: def.body } } } } : {}),
        },
        responses: {
          200: {
            description: def.response.description,
            ...(def.response.schema
              ? { content: { 'application/json': { schema: def.response.schema } } }
              : def.response.contentType
                ? { content: { [def.response.contentType]: { schema: z.string() } } }
                : {}),
          },
          '4XX': { description: 'Bad input: missing or unknown tenant, invalid body or query', content: { 'application/json': { schema: errorEnvelope } } },
          '5XX': { description: 'The action failed or a dependency is down', content: { 'application/json': { schema: errorEnvelope } } },
        },
      });
    });
  }
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title: 'logwise-orchestrator', version, description: 'Control plane of a Logwise log pipeline' },
    // The order of the groups in /docs (tagOf below puts each path in one).
    tags: [
      { name: 'status', description: 'Every tenant at a glance, and the live event stream' },
      { name: 'spark', description: 'The Spark job: status, an immediate poll, replay from a timestamp' },
      { name: 'discovery', description: 'Services discovered from object storage' },
      { name: 'delay', description: 'Log sync delay' },
      { name: 'health', description: 'Health checks and Prometheus metrics' },
      { name: 'pages', description: 'The dashboard, this reference and the OpenAPI document' },
    ],
  });
}

/** POSTs need the token (when one is set); data GETs take it (needed with protectReads); the rest are open. */
function securityOf(method: RouteDef['method'], path: string): Record<string, string[]>[] {
  if (method === 'post') return [{ bearerAuth: [] }];
  if (path === '/healthcheck' || path === '/health' || path === '/liveness' || isPublicPage(path)) return [];
  return [{}, { bearerAuth: [] }];
}

/** Groups in /docs, by what an operator looks for. */
function tagOf(path: string): string {
  if (/^\/(healthcheck|health|liveness|pipeline\/health|metrics)$/.test(path)) return 'health';
  if (/sync-delay$/.test(path)) return 'delay';
  if (/component\/sync$|^\/service-details$/.test(path)) return 'discovery';
  if (path === '/monitor-spark-job' || path.startsWith('/api/v1/spark/')) return 'spark';
  if (path === '/api/v1/tenants' || path.startsWith('/api/v1/events')) return 'status';
  if (isPublicPage(path)) return 'pages';
  return 'other';
}
