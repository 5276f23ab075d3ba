import type { Context } from 'hono';
import type { z } from 'zod';

/**
 * What a handler returns: data for the success envelope, or a whole Response (SSE, text).
 * `topLevel`: fields answered beside `data`, for clients of the Java orchestrator whose answer
 * had them at the top (`/pipeline/health`). Frozen (deeply) `data` that a handler answers again
 * while it holds is serialized once (see createApp).
 */
export type Reply = { status?: 200 | 202; data: unknown; topLevel?: Record<string, unknown> } | Response;

/**
 * One HTTP route, described once: the same schemas validate the request and describe it
 * in /openapi.json.
 */
export interface RouteDef<Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: 'get' | 'post';
  /** The first path is the canonical one; the rest are aliases kept for old clients. */
  paths: string[];
  summary: string;
  /** Needs `X-Tenant-Name` naming a configured tenant. */
  tenant: boolean;
  query?: Q;
  body?: B;
  response: { schema?: z.ZodType; description: string; contentType?: string };
  handle(input: { tenant: string; query: z.infer<Q>; body: z.infer<B>; c: Context }): Promise<Reply> | Reply;
}

/** Keeps the generic parameters of each route while collecting them in one list. */
export function route<Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType>(def: RouteDef<Q, B>): RouteDef {
  return def as unknown as RouteDef;
}
