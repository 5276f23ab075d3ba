import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { LoopStoppedError } from '../../streams/lane.js';
import { ObjectStoreError } from '../objectstore/object-store.js';
import { UnknownTenantError } from '../../streams/supervisor.js';
import { NotLeaderError, UnknownCommandError } from '../../streams/tenant-loop.js';

/** An answer with the error envelope: `{"error":{"code","message"}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A capability whose route exists but whose implementation has not landed. */
export class NotImplementedError extends Error {
  constructor(what: string) {
    super(`${what} is not available in this version`);
    this.name = 'NotImplementedError';
  }
}

/** Errors from below the HTTP layer that have a meaning for clients; the rest are 500s. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof UnknownTenantError) return new HttpError(400, 'INVALID_TENANT', err.message);
  if (err instanceof LoopStoppedError) return new HttpError(503, 'SHUTTING_DOWN', err.message);
  if (err instanceof NotLeaderError) return new HttpError(503, 'NOT_LEADER', err.message, { holder: err.holder, holderValidUntil: err.holderValidUntil });
  if (err instanceof NotImplementedError) return new HttpError(501, 'NOT_IMPLEMENTED', err.message);
  if (err instanceof ObjectStoreError) return new HttpError(502, 'OBJECT_STORE_ERROR', err.message);
  if (err instanceof UnknownCommandError) return new HttpError(501, 'NOT_IMPLEMENTED', `${err.command} is not available in this version`);
  const status = (err as { httpStatus?: unknown }).httpStatus;
  const code = (err as { httpCode?: unknown }).httpCode;
  if (typeof status === 'number' && typeof code === 'string') {
    return new HttpError(status as ContentfulStatusCode, code, (err as Error).message);
  }
  return new HttpError(500, 'INTERNAL_ERROR', err instanceof Error ? err.message : String(err));
}
