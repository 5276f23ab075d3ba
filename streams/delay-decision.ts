/**
 * Log sync delay (SPEC §4.4) as pure functions of a listing and the clock: which hour
 * folders to look in, and how many minutes lie between now and the newest minute found.
 */

/** Hours walked back from the current UTC hour: the current one and three before it. */
export const HOURS_WALKED = 4;
/** What the API reports when nothing was written in the whole window (the reference's maximum). */
export const MAX_DELAY_MINUTES = 180;

export interface HourFolder {
  /** Start of the hour, epoch ms (UTC). */
  start: number;
  /** `year=YYYY/month=MM/day=DD/hour=HH/` */
  path: string;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The hour folders to look in, newest first, with full dates (right across day, month and year ends). */
export function hourFoldersToWalk(now: number, hours = HOURS_WALKED): HourFolder[] {
  const currentHour = Math.floor(now / 3_600_000) * 3_600_000;
  return Array.from({ length: hours }, (_, i) => {
    const start = currentHour - i * 3_600_000;
    const d = new Date(start);
    return {
      start,
      path: `year=${d.getUTCFullYear()}/month=${pad(d.getUTCMonth() + 1)}/day=${pad(d.getUTCDate())}/hour=${pad(d.getUTCHours())}/`,
    };
  });
}

/** The newest `minute=MM/` among the prefixes listed in one hour folder, as epoch ms; null if none. */
export function newestMinute(hour: HourFolder, prefixes: readonly string[]): number | null {
  let newest: number | null = null;
  for (const prefix of prefixes) {
    const match = /(?:^|\/)minute=(\d{1,2})\/?$/.exec(prefix);
    if (!match) continue;
    const minute = Number(match[1]);
    if (minute > 59) continue;
    const at = hour.start + minute * 60_000;
    if (newest === null || at > newest) newest = at;
  }
  return newest;
}

/** delay = max(1, floor((now − newest) / 60 s)); nothing found → 180. A partition from the future (clock skew) counts as 1. */
export function delayMinutes(now: number, newest: number | null): number {
  if (newest === null) return MAX_DELAY_MINUTES;
  return Math.min(MAX_DELAY_MINUTES, Math.max(1, Math.floor((now - newest) / 60_000)));
}

/**
 * Walks the hour folders newest first and stops at the first that holds a minute partition:
 * at most HOURS_WALKED listings. `list` returns the prefixes under one hour folder.
 */
export async function sampleDelay(
  now: number,
  list: (hourPath: string) => Promise<readonly string[]>,
): Promise<{ minutes: number; newest: number | null; listings: number }> {
  let listings = 0;
  for (const hour of hourFoldersToWalk(now)) {
    listings += 1;
    const newest = newestMinute(hour, await list(hour.path));
    if (newest !== null) return { minutes: delayMinutes(now, newest), newest, listings };
  }
  return { minutes: MAX_DELAY_MINUTES, newest: null, listings };
}
