import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { RouteDef } from './route.js';
import { errorEnvelope } from './schemas.js';

/** The OpenAPI 3 document of the route table, from the same schemas that validate requests. */
export function openApiDocument(routes: RouteDef[], version: string): object {
  const registry = new OpenAPIRegistry();
  const tenantHeader = z.object({ 'x-tenant-name': z.string().openapi({ description: 'The tenant, as named in the configuration' }) });
  for (const def of routes) {
    def.paths.forEach((path, i) => {
      registry.registerPath({
        method: def.method,
        path,
        summary: i === 0 ? def.summary : `${def.summary} (alias of ${def.paths[0]})`,
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
  });
}
