/**
 * What may be said about a failure of the database to a client (an HTTP answer, a health
 * check): the kind of failure in a few words, never the driver's text, which quotes SQL, host
 * names and ports ("select * from `service_details` where … - Connection lost", "connect
 * ECONNREFUSED 10.0.0.7:3306"). The driver's text still goes to the log, for operators.
 */
export interface DatabaseFailure {
  /** An outage (the server cannot be reached, refuses connections, is busy or read-only): trying again later may succeed. */
  unavailable: boolean;
  /** A few words naming the failure ("connection refused"), or the driver's error code when it has no description here. */
  reason: string;
}

/** Driver and network codes of an unavailable database, with what an answer says about them. */
const UNAVAILABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection lost',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  PROTOCOL_CONNECTION_LOST: 'connection lost',
  PROTOCOL_SEQUENCE_TIMEOUT: 'no answer in time',
  ER_ACCESS_DENIED_ERROR: 'access denied',
  ER_DBACCESS_DENIED_ERROR: 'access denied',
  ER_BAD_DB_ERROR: 'unknown database',
  ER_CON_COUNT_ERROR: 'too many connections',
  ER_TOO_MANY_USER_CONNECTIONS: 'too many connections',
  ER_HOST_IS_BLOCKED: 'host blocked by the server',
  ER_SERVER_SHUTDOWN: 'server shutting down',
  ER_NORMAL_SHUTDOWN: 'server shutting down',
  ER_LOCK_WAIT_TIMEOUT: 'lock wait timeout',
  ER_LOCK_DEADLOCK: 'deadlock',
  ER_OPTION_PREVENTS_STATEMENT: 'server is read-only',
  ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: 'server is read-only',
  SQLITE_BUSY: 'database file busy',
  SQLITE_LOCKED: 'database file locked',
  SQLITE_CANTOPEN: 'cannot open the database file',
  SQLITE_IOERR: 'I/O error on the database file',
  SQLITE_FULL: 'disk full',
  SQLITE_READONLY: 'database file is read-only',
  SQLITE_PROTOCOL: 'database file lock protocol error',
};

/**
 * The database failure `error` is (or wraps, through `cause`), as something a client may be
 * told; undefined when it is not an error of the database driver or of knex's pool.
 *
 * Recognised: knex's pool timeout (`KnexTimeoutError`) and its "Unable to acquire a connection"
 * of a closed pool; mysql2's errors (they carry `sqlState`, or `fatal` on connection errors; a
 * network error of another client, such as undici's, carries neither); better-sqlite3's
 * `SqliteError` (`SQLITE_*` codes, extended ones such as `SQLITE_IOERR_WRITE` included).
 */
export function databaseFailure(error: unknown): DatabaseFailure | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const found = classify(e as Record<string, unknown>);
    if (found) return found;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function classify(e: Record<string, unknown>): DatabaseFailure | undefined {
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  if (name === 'KnexTimeoutError') return { unavailable: true, reason: 'no connection from the pool in time' };
  if (e.message === 'Unable to acquire a connection') return { unavailable: true, reason: 'connection pool closed' };
  if (name === 'SqliteError' || code.startsWith('SQLITE_')) {
    const base = /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? 'SQLITE_ERROR';
    const known = UNAVAILABLE[base];
    return known ? { unavailable: true, reason: known } : { unavailable: false, reason: code || base };
  }
  const mysql = typeof e.sqlState === 'string' || typeof e.fatal === 'boolean' || /^(ER_|PROTOCOL_)/.test(code);
  if (!mysql) return undefined;
  const known = UNAVAILABLE[code];
  if (known) return { unavailable: true, reason: known };
  // A connection-level failure without a code described here is an outage too.
  if (e.fatal === true) return { unavailable: true, reason: code ? code.toLowerCase().replaceAll('_', ' ') : 'connection failed' };
  return { unavailable: false, reason: code || `SQLSTATE ${String(e.sqlState)}` };
}

/** One line about a failed database call for a client: the failure's kind, or `fallback` for an error that is not the database's. */
export function describeDatabaseError(error: unknown, fallback: (error: unknown) => string): string {
  const failure = databaseFailure(error);
  if (!failure) return fallback(error);
  return failure.unavailable ? `unavailable (${failure.reason})` : `error (${failure.reason})`;
}
