import { ConfigError, configPathFrom, loadConfig } from './config/load.js';
import { createLogger } from './log.js';
import { Orchestrator } from './orchestrator.js';
import { configFileSource } from './reload.js';
import { ReloadableRedactor } from './reloadable-redactor.js';
import { Redactor } from './secrets.js';

const SHUTDOWN_LIMIT_MS = 9_000;

/** Until the config is read: the secrets the environment holds (the config's own are scrubbed by the loader). */
let redactor = new Redactor([
  process.env.DB_PASSWORD,
  process.env.ORCHESTRATOR_AUTH_TOKEN,
  process.env.AWS_ACCESS_KEY_ID,
  process.env.AWS_SECRET_ACCESS_KEY,
  process.env.AWS_SESSION_TOKEN,
]);

async function main(): Promise<void> {
  // SIGHUP's default action would end the process: from the start it asks for a reload, run once the daemon has started.
  let reloadAfterStart = false;
  let onHangup = (): void => {
    reloadAfterStart = true;
  };
  process.on('SIGHUP', () => onHangup());
  let config;
  let configPath;
  // Keys of the Java orchestrator's config that are accepted and not used: logged once the logger exists.
  const warnings: string[] = [];
  try {
    configPath = configPathFrom(process.argv.slice(2), process.env);
    config = await loadConfig(configPath, { onWarning: (line) => warnings.push(line) });
  } catch (err) {
    if (err instanceof ConfigError) {
      // One line per problem, no stack: the operator fixes the file and starts again.
      for (const line of err.problems) process.stderr.write(`config error: ${redactor.scrub(line)}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Reloads teach it the secrets of the files they read (a new tenant's keys) before anything of them is logged.
  const reloadable = new ReloadableRedactor(Redactor.fromConfig(config));
  redactor = reloadable;
  // An empty variable is unset, as everywhere in the config (SPEC §2).
  const log = createLogger({ level: process.env.LOG_LEVEL || 'info', format: process.env.LOG_FORMAT === 'pretty' ? 'pretty' : 'json', redactor });
  const warn = (line: string) => log.warn({ config: line.slice(0, line.indexOf(':')) }, `config: ${line}`);
  for (const line of warnings) warn(line);
  // A reload re-reads the same file with the environment the process has (SIGHUP, POST /api/v1/admin/reload).
  const readConfig = configFileSource(configPath, { redactor: reloadable, onWarning: warn, seenWarnings: warnings });
  let orchestrator: Orchestrator;
  try {
    orchestrator = new Orchestrator({ config, log, redactor, readConfig });
  } catch (err) {
    log.fatal({ error: err instanceof Error ? err.message : String(err) }, 'could not start');
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing the actions in flight');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    force.unref();
    orchestrator.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ error: String(err) }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  // SIGHUP re-reads the config file (as POST /api/v1/admin/reload).
  const reload = () => {
    if (stopping) return;
    log.info({ signal: 'SIGHUP' }, 'reloading the config');
    // The outcome is logged by the reload itself (config.reloaded, or one line per problem of an invalid file).
    orchestrator.reload().catch((err: unknown) => {
      if (!(err instanceof ConfigError)) log.error({ error: err instanceof Error ? err.message : String(err) }, 'config reload failed');
    });
  };

  try {
    await orchestrator.start();
  } catch (err) {
    log.fatal({ error: err instanceof Error ? err.message : String(err) }, 'could not start');
    await orchestrator.stop().catch(() => undefined);
    process.exit(1);
  }
  onHangup = reload;
  if (reloadAfterStart) reload();
}

// Anything unexpected outside the logger: one line without secrets (not Node's dump of the error object), exit 1.
main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${redactor.scrub(err instanceof Error ? err.message : String(err))}\n`);
  process.exit(1);
});
