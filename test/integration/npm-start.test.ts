/**
 * `npm start` as a process manager runs it: SIGTERM or SIGINT sent to npm reaches the daemon,
 * which stops and exits, never left running (orphaned and still acting) after npm is gone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/faults.js';
import { waitFor } from '../support/spark.js';
import { START_COMMAND } from '../support/start-command.js';

const dir = mkdtempSync(join(tmpdir(), 'lw-npm-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pids of node processes running the daemon, with the node options of npm start, on this config file (not the shell npm starts). */
function daemonsOf(configPath: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const [argv0, ...args] = cmd.split('\0').filter(Boolean);
        return /(^|\/)node$/.test(argv0 ?? '') && args.join(' ') === START_COMMAND.slice(1).join(' ') && env.includes(`ORCHESTRATOR_CONFIG=${configPath}`);
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);
}

describe('npm start', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'passes %s on to the daemon, which stops and exits with npm',
    async (signal) => {
      const config = join(dir, `${signal}.conf`);
      writeFileSync(
        config,
        `http { port = 0, host = "127.0.0.1" }
database { client = sqlite, filename = "${join(dir, `${signal}.sqlite`)}" }
tenants = [{
  name = "ABC"
  objectStore.local.path = "${dir}"
  kafka { kafkaBrokersHost = "127.0.0.1:1" }
  spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkMasterRestPort = 1, sparkJarPath = "file:///app.jar" }
}]`,
      );
      const npm = spawn('npm', ['start'], {
        cwd: ROOT,
        env: { ...process.env, ORCHESTRATOR_CONFIG: config, LOG_FORMAT: 'json' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      npm.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
      await waitFor(() => out.includes('orchestrator listening'), 'the daemon to listen', 90_000, 100);
      expect(daemonsOf(config)).toHaveLength(1);

      npm.kill(signal);
      await exited;
      await waitFor(() => daemonsOf(config).length === 0, `the daemon to exit after npm got ${signal}`, 12_000, 50);
      expect(out).toContain(`"signal":"${signal}"`);
      expect(out).toContain('"msg":"stopped"');
    },
    120_000,
  );
});
