import { describeDatabaseError } from '../db/errors.js';
import { errorMessage } from '../../streams/events.js';
import { CheckOverdueError, type RunOutcome } from './fresh-run.js';

/** The daemon's own health (`/healthcheck`): its database, checked by a background ping. */
export interface HealthReport {
  status: 'UP' | 'DOWN';
  /** `name` says what is checked in messages ("database"); `type` is the check's key in the answer ("mysql"), `name` when absent. */
  checks: { name: string; type?: string; status: 'UP' | 'DOWN'; message?: string }[];
}

/** The health report of a database ping's outcome: the failure's kind, never the driver's text (it names hosts and ports). */
export function databaseHealthReport(ping: RunOutcome<unknown>, type: string): HealthReport {
  const database = ping.ok
    ? { name: 'database', type, status: 'UP' as const }
    : {
        name: 'database',
        type,
        status: 'DOWN' as const,
        message:
          ping.error instanceof CheckOverdueError
            ? `no answer to a ping for ${Math.round(ping.error.runningMs)} ms (DOWN after ${ping.error.budgetMs} ms)`
            : describeDatabaseError(ping.error, errorMessage),
      };
  return { status: database.status, checks: [database] };
}
