/**
 * The daemon's own command line, as `npm start` runs it (`exec node [--options] dist/src/main.js`):
 * the image's CMD, the npm-start test and every benchmark take it from here, so they run what ships.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** `node`, its options, then `dist/src/main.js`. */
export const START_COMMAND: readonly string[] = startCommandOf(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start);

/** The options given to node before the daemon's file. */
export const DAEMON_NODE_ARGS: readonly string[] = START_COMMAND.slice(1, -1);

function startCommandOf(start: string): string[] {
  if (!/^exec node (--\S+ )*dist\/src\/main\.js$/.test(start)) throw new Error(`npm start is not "exec node [--options] dist/src/main.js": ${start}`);
  return start.replace(/^exec /, '').split(' ');
}
