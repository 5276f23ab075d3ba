import { HttpError } from './errors.js';
import type { HealthReport } from '../health/daemon-health.js';
import type { Reply } from './route.js';

/**
 * The health answer of a report: a 503 naming the failing checks when it is DOWN; else the
 * previous answer while the report says the same, frozen so that the shell serializes it once
 * (see Reply).
 */
export function healthAnswers(): (report: HealthReport) => Reply {
  let last: { report: HealthReport; answer: Reply } | undefined;
  return (report) => {
    if (report.status === 'DOWN') {
      const failing = report.checks.filter((ch) => ch.status === 'DOWN').map((ch) => `${ch.name}: ${ch.message ?? 'DOWN'}`);
      throw new HttpError(503, 'UNHEALTHY', failing.join('; '), { checks: checksByName(report) });
    }
    if (last && sameHealth(last.report, report)) return last.answer;
    const answer = { data: Object.freeze({ status: report.status, checks: deepFreeze(checksByName(report)) }) };
    last = { report, answer };
    return answer;
  };
}

/** As the Java orchestrator: the health checks by name (`mysql`), each with its status. */
function checksByName(report: HealthReport): Record<string, { status: 'UP' | 'DOWN'; type: string; message?: string }> {
  return Object.fromEntries(
    report.checks.map((ch) => [
      ch.type ?? ch.name,
      { status: ch.status, type: ch.type ?? ch.name, ...(ch.message !== undefined ? { message: ch.message } : {}) },
    ]),
  );
}

function sameHealth(a: HealthReport, b: HealthReport): boolean {
  if (a.status !== b.status || a.checks.length !== b.checks.length) return false;
  for (let i = 0; i < a.checks.length; i++) {
    const x = a.checks[i]!;
    const y = b.checks[i]!;
    if (x.name !== y.name || x.type !== y.type || x.status !== y.status || x.message !== y.message) return false;
  }
  return true;
}

function deepFreeze<T extends object>(value: T): T {
  for (const v of Object.values(value)) if (v !== null && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(value);
}
