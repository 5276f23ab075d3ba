/**
 * The Java orchestrator's deployment as fixtures (test/fixtures/reference/): its compose
 * environment and its crontab, read as they are written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REFERENCE_FIXTURES = join(import.meta.dirname, '../fixtures/reference');

/** The compose environment of the reference's orchestrator container (compose.env: KEY=VALUE lines). */
export function composeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(REFERENCE_FIXTURES, 'compose.env'), 'utf8').split('\n')) {
    if (line.startsWith('#') || !line.includes('=')) continue;
    const at = line.indexOf('=');
    env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

/** One curl request of the crontab: its arguments as the shell would pass them (the `|| echo …` after it dropped). */
export interface CronRequest {
  schedule: string;
  args: string[];
  url: string;
}

/** The crontab's curl commands: continuation lines joined, each command split into arguments as sh does (double quotes only). */
export function crontabRequests(file = join(REFERENCE_FIXTURES, 'crontab')): CronRequest[] {
  const joined = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  const out: CronRequest[] = [];
  for (const line of joined.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.trim().split(/\s+/);
    const schedule = fields.slice(0, 5).join(' ');
    const command = line.trim().split(/\s+/).slice(5).join(' ').split(' || ')[0]!;
    const args = [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    if (args[0] !== 'curl') continue;
    out.push({ schedule, args: args.slice(1), url: args.find((a) => /^https?:\/\//.test(a))! });
  }
  return out;
}
