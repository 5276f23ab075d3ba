import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import type { Logger } from '../log.js';
import { stringsScrubbedIn, type Redactor } from '../secrets.js';
import { HttpError, MAX_ERROR_MESSAGE, quote, toHttpError } from './errors.js';
import type { Reply, RouteDef } from './route.js';
import { keepTickObjectShape } from './tick-shape.js';

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The success envelope of each frozen data object answered, as JSON, and the strings in it. A
 * handler answers frozen data when the same answer holds for a while (a tenant's delay until the
 * next sample, the health report until a ping changes it): then it is serialized and walked once,
 * not on every request. Frozen objects cannot change, so both stay right; deep-freeze what is nested.
 */
const envelopes = new WeakMap<object, { body: string; strings: string[] }>();
/** The Content-Type c.json sets. */
const JSON_CONTENT_TYPE = { 'Content-Type': 'application/json' };

/** Probes that stay open under protectReads: the health check (and its alias) and the liveness probe. */
const PROBES = new Set(['/healthcheck', '/health', '/liveness']);

/** The configured tenants, asked at every request (a config reload adds and removes them); a Set will do. */
export interface TenantNames {
  has(tenant: string): boolean;
}

export interface AppOptions {
  routes: RouteDef[];
  tenants: TenantNames;
  redactor: Redactor;
  log: Logger;
  authToken?: string;
  protectReads?: boolean;
  /** GETs that stay open under protectReads (pages and assets that hold no data). */
  publicPaths?: (path: string) => boolean;
}

/**
 * The HTTP shell: envelope, tenant header, body limit, auth and validation around thin
 * handlers. Every failure, including malformed input, is answered with the error envelope.
 */
export function createApp(opts: AppOptions): Hono {
  // Node's per-request stream bookkeeping schedules its ticks at V8's fast speed only while their shape holds (see there).
  keepTickObjectShape();
  const app = new Hono();

  app.onError((err, c) => sendError(c, toHttpError(err), opts, err));
  app.notFound((c) => sendError(c, new HttpError(404, 'NOT_FOUND', `no route for ${quote(c.req.method, 16)} ${quote(c.req.path, 200)}`), opts));

  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${MAX_BODY_BYTES} bytes`);
    },
  });

  for (const def of opts.routes) {
    for (const path of def.paths) {
      const respond = (c: Context, reply: Reply): Response => {
        if (reply instanceof Response) return reply;
        const status = reply.status ?? 200;
        // Frozen data with nothing to mask in it is the same bytes each time it is answered. Its
        // strings are checked on every answer all the same: a reload may add secrets to mask.
        if (!reply.topLevel && reply.data !== null && typeof reply.data === 'object' && Object.isFrozen(reply.data)) {
          const envelope = frozenEnvelope(reply.data);
          if (nothingToMask(envelope.strings, opts.redactor)) return c.body(envelope.body, status, JSON_CONTENT_TYPE);
        }
        // Answers quote what the loop knows (the last Spark or S3 error, a lease error): no secret value leaves in them.
        const data = opts.redactor.scrubStrings(reply.data);
        if (reply.topLevel) return c.json({ ...opts.redactor.scrubStrings(reply.topLevel), data }, status);
        return c.json({ data }, status);
      };
      // Synchronous as long as the route's handler answers synchronously (a read from memory):
      // @hono/node-server then writes the answer at once, without the bookkeeping of a pending one.
      const handler = (c: Context): Response | Promise<Response> => {
        const tenant = def.tenant ? tenantOf(c, opts.tenants) : '';
        const query = def.query ? validate(def.query, c.req.query(), 'query') : {};
        const { body: bodySchema } = def;
        if (bodySchema) return readJson(c).then(async (json) => respond(c, await def.handle({ tenant, query, body: validate(bodySchema, json, 'body'), c })));
        const reply = def.handle({ tenant, query, body: {}, c });
        return reply instanceof Promise ? reply.then((r) => respond(c, r)) : respond(c, reply);
      };
      if (def.method === 'post') app.post(path, limit, handler);
      else app.get(path, handler);
    }
  }
  if (opts.authToken) guardWithToken(app, opts.authToken, opts);
  return app;
}

/**
 * The bearer token, checked before routing, for every request whatever serves it (the routes,
 * the dashboard's and the API reference's assets mounted on the app afterwards, a path without a
 * route): POSTs need it; GETs too under protectReads, except the probes and the public pages.
 * It is synchronous, so a request that passes goes on exactly as without a token. (As an
 * `app.use('*')` middleware it put every request, the probes included, through Hono's middleware
 * composition and made every answer asynchronous: a third more CPU per request.)
 */
function guardWithToken(app: Hono, token: string, opts: AppOptions): void {
  const expected = Buffer.from(token);
  const dispatch = app.fetch;
  app.fetch = (request, env, executionCtx) => {
    let guarded = true;
    if (request.method === 'GET' || request.method === 'HEAD') {
      // The path as Hono routes it (what c.req.path is).
      const path = opts.protectReads ? app.getPath(request, { env }) : '';
      guarded = Boolean(opts.protectReads) && !PROBES.has(path) && !opts.publicPaths?.(path);
    }
    if (guarded) {
      const raw = rawHeader(env, 'authorization');
      if (!bearerMatches(raw === null ? (request.headers.get('authorization') ?? undefined) : raw, expected)) {
        const err = new HttpError(401, 'UNAUTHORIZED', 'missing or wrong bearer token');
        // What c.json answers, without a Context (there is none before routing). Answered a
        // microtask later, as the middleware's was: by then Node's parser has read the rest of
        // what arrived, so a malformed body gets answerMalformedRequests' 400 alone, not a 401
        // and then a 400 on one connection.
        return Promise.resolve(new Response(JSON.stringify(errorBody(err, opts)), { status: err.status, headers: { 'Content-Type': 'application/json' } }));
      }
    }
    return dispatch(request, env, executionCtx);
  };
}

function frozenEnvelope(data: object): { body: string; strings: string[] } {
  let envelope = envelopes.get(data);
  if (envelope === undefined) envelopes.set(data, (envelope = { body: JSON.stringify({ data }), strings: stringsScrubbedIn(data) }));
  return envelope;
}

/** True when `redactor.scrubStrings` would return the data these strings came from unchanged. */
function nothingToMask(strings: string[], redactor: Redactor): boolean {
  for (const s of strings) if (redactor.scrub(s) !== s) return false;
  return true;
}

function sendError(c: Context, err: HttpError, opts: AppOptions, cause?: unknown): Response {
  // NOT_LEADER is routine on a replica that does not act for the tenant (the client retries elsewhere).
  if (err.status >= 500 && err.status !== 501 && err.code !== 'NOT_LEADER') {
    // The answer says what failed in a few words; the log keeps what the failing part said (a driver's text, scrubbed of secrets).
    const detail = cause !== undefined && cause !== err && cause instanceof Error && cause.message !== err.message ? { cause: cause.message } : {};
    opts.log.error({ err: { message: err.message, code: err.code }, ...detail, method: c.req.method, path: c.req.path }, 'request failed');
  }
  return c.json(errorBody(err, opts), err.status);
}

/** The error envelope of `err`. */
function errorBody(err: HttpError, opts: AppOptions): { error: Record<string, unknown> } {
  // Bounded whatever produced it: an answer never carries the input back at length.
  const message = quote(opts.redactor.scrub(err.message), MAX_ERROR_MESSAGE);
  const details = err.details ? opts.redactor.scrubValue(err.details) : {};
  // `cause` as the Java orchestrator's error bodies have it (there: the exception's message).
  return { error: { code: err.code, message, cause: message, ...details } };
}

function tenantOf(c: Context, tenants: TenantNames): string {
  const tenant = requestHeader(c, 'x-tenant-name');
  if (tenant === undefined || tenant.trim() === '') throw new HttpError(400, 'MISSING_TENANT', 'the X-Tenant-Name header is required');
  if (!tenants.has(tenant)) throw new HttpError(400, 'INVALID_TENANT', `unknown tenant "${quote(tenant, 128)}"`);
  return tenant;
}

/**
 * One request header (`name` in lower case), as Fetch's `Headers.get` gives it: every value of a
 * repeated header joined with ", ". Served by @hono/node-server, read from the socket's raw
 * header lines, so that a request whose handler reads a header builds neither a Fetch Headers
 * object of all of them nor Node's `headers` object (which would also keep only the first of
 * repeated `Authorization` lines); else (app.request in tests, another runtime) from the Fetch request.
 */
function requestHeader(c: Context, name: string): string | undefined {
  const value = rawHeader(c.env, name);
  return value === null ? c.req.header(name) : value;
}

/** `requestHeader` from the socket's raw header lines; null when the request did not come through @hono/node-server (no lines to read). */
function rawHeader(env: unknown, name: string): string | undefined | null {
  const raw = (env as { incoming?: { rawHeaders?: string[] } } | undefined)?.incoming?.rawHeaders;
  if (!raw) return null;
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length === name.length && key.toLowerCase() === name) value = value === undefined ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
  }
  return value;
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
  // The first few problems, each with its key path and message cut short (a body of 5,000 unknown keys is not listed back).
  const shown = 3;
  const problems = result.error.issues.slice(0, shown).map((i) => `${quote([where, ...i.path.map(String)].join('.'), 100)}: ${quote(i.message, 160)}`);
  const more = result.error.issues.length - shown;
  throw new HttpError(400, 'INVALID_REQUEST', problems.join('; ') + (more > 0 ? `; and ${more} more` : ''));
}

function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!.trim());
  // Compare equal-length buffers only, in constant time; the length check leaks only the length.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Requests Node's HTTP parser refuses before they reach the app (a malformed request line, a
 * `#` in the target, broken chunking, headers over the size limit) are answered with the error
 * envelope too, instead of Node's bare "400 Bad Request" without a body; the connection closes.
 */
export function answerMalformedRequests(server: {
  on(event: 'clientError', listener: (err: Error & { code?: string }, socket: import('node:stream').Duplex) => void): unknown;
}): void {
  server.on('clientError', (err, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({
      error: tooLarge
        ? { code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large', cause: 'the request headers are too large' }
        : { code: 'BAD_REQUEST', message: 'malformed HTTP request', cause: 'malformed HTTP request' },
    });
    socket.end(
      `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
