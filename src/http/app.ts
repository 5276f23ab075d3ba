import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';
import { HttpError, toHttpError } from './errors.js';
import type { RouteDef } from './route.js';

export const MAX_BODY_BYTES = 64 * 1024;

export interface AppOptions {
  routes: RouteDef[];
  tenants: ReadonlySet<string>;
  redactor: Redactor;
  log: Logger;
  authToken?: string;
  protectReads?: boolean;
}

/**
 * The HTTP shell: envelope, tenant header, body limit, auth and validation around thin
 * handlers. Every failure, including malformed input, is answered with the error envelope.
 */
export function createApp(opts: AppOptions): Hono {
  const app = new Hono();

  app.onError((err, c) => sendError(c, toHttpError(err), opts));
  app.notFound((c) => sendError(c, new HttpError(404, 'NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`), opts));

  if (opts.authToken) {
    const expected = Buffer.from(opts.authToken);
    app.use('*', async (c, next) => {
      const guarded = c.req.method !== 'GET' && c.req.method !== 'HEAD' ? true : opts.protectReads && c.req.path !== '/healthcheck';
      if (guarded && !bearerMatches(c.req.header('authorization'), expected)) {
        throw new HttpError(401, 'UNAUTHORIZED', 'missing or wrong bearer token');
      }
      await next();
    });
  }

  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${MAX_BODY_BYTES} bytes`);
    },
  });

  for (const def of opts.routes) {
    for (const path of def.paths) {
      const handler = async (c: Context) => {
        const tenant = def.tenant ? tenantOf(c, opts.tenants) : '';
        const query = def.query ? validate(def.query, c.req.query(), 'query') : {};
        const body = def.body ? validate(def.body, await readJson(c), 'body') : {};
        const reply = await def.handle({ tenant, query, body, c });
        if (reply instanceof Response) return reply;
        // Answers quote what the loop knows (the last Spark or S3 error, a lease error): no secret value leaves in them.
        return c.json({ data: opts.redactor.scrubStrings(reply.data) }, reply.status ?? 200);
      };
      if (def.method === 'post') app.post(path, limit, handler);
      else app.get(path, handler);
    }
  }
  return app;
}

function sendError(c: Context, err: HttpError, opts: AppOptions): Response {
  // NOT_LEADER is routine on a replica that does not act for the tenant (the client retries elsewhere).
  if (err.status >= 500 && err.status !== 501 && err.code !== 'NOT_LEADER') opts.log.error({ err: { message: err.message, code: err.code }, method: c.req.method, path: c.req.path }, 'request failed');
  const message = opts.redactor.scrub(err.message);
  const details = err.details ? opts.redactor.scrubValue(err.details) : {};
  return c.json({ error: { code: err.code, message, ...details } }, err.status);
}

function tenantOf(c: Context, tenants: ReadonlySet<string>): string {
  const tenant = c.req.header('x-tenant-name');
  if (tenant === undefined || tenant.trim() === '') throw new HttpError(400, 'MISSING_TENANT', 'the X-Tenant-Name header is required');
  if (!tenants.has(tenant)) throw new HttpError(400, 'INVALID_TENANT', `unknown tenant "${tenant.slice(0, 128)}"`);
  return tenant;
}

/**
 * The body as JSON whatever its Content-Type: cron jobs post with `curl -d`, which labels
 * JSON as a form. An empty body is an empty object.
 */
async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'the request body is not valid JSON');
  }
}

function validate<T extends z.ZodType>(schema: T, value: unknown, where: 'query' | 'body'): z.infer<T> {
  if (where === 'body' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw new HttpError(400, 'INVALID_REQUEST', 'the request body must be a JSON object');
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`);
  throw new HttpError(400, 'INVALID_REQUEST', problems.join('; '));
}

function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!.trim());
  // Compare equal-length buffers only, in constant time; the length check leaks only the length.
  return given.length === expected.length && timingSafeEqual(given, expected);
}
