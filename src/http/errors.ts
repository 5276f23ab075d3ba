import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { LoopStoppedError } from '../../streams/lane.js';
import { databaseFailure } from '../db/errors.js';
import { ObjectStoreError } from '../objectstore/object-store.js';
import { UnknownTenantError } from '../../streams/supervisor.js';
import { NotLeaderError } from '../../streams/leadership.js';
import { UnknownCommandError } from '../../streams/tenant-loop.js';

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

/** Most characters of a message an error answer carries; what it quotes of the request is cut shorter (`quote`). */
export const MAX_ERROR_MESSAGE = 512;

/**
 * A piece of the request quoted in an error message, at most `max` characters: an answer says
 * what was wrong, it does not echo the input back (a 16 KB path, a 60 KB body value).
 */
export function quote(text: string, max = 100): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** Errors from below the HTTP layer that have a meaning for clients; the rest are 500s. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof UnknownTenantError) return new HttpError(400, 'INVALID_TENANT', err.message);
  if (err instanceof LoopStoppedError) return new HttpError(503, 'SHUTTING_DOWN', err.message);
  if (err instanceof NotLeaderError) return new HttpError(503, 'NOT_LEADER', err.message, { holder: err.holder, holderValidUntil: err.holderValidUntil });
  if (err instanceof ObjectStoreError) return new HttpError(502, 'OBJECT_STORE_ERROR', err.message);
  if (err instanceof UnknownCommandError) return new HttpError(501, 'NOT_IMPLEMENTED', `${err.command} is not available in this version`);
  // A database outage is the client's to retry (503), said in a few words: the driver's text
  // quotes SQL, hosts and ports, and stays in the log.
  const db = databaseFailure(err);
  if (db) {
    return db.unavailable
      ? new HttpError(503, 'DATABASE_UNAVAILABLE', `the database is unavailable (${db.reason}); try again later`)
      : new HttpError(500, 'DATABASE_ERROR', `the database failed the request (${db.reason})`);
  }
  const status = (err as { httpStatus?: unknown }).httpStatus;
  const code = (err as { httpCode?: unknown }).httpCode;
  if (typeof status === 'number' && typeof code === 'string') {
    return new HttpError(status as ContentfulStatusCode, code, (err as Error).message);
  }
  return new HttpError(500, 'INTERNAL_ERROR', err instanceof Error ? err.message : String(err));
}
