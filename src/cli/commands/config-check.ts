import { ConfigError, loadConfig } from '../../config/load.js';
import { Redactor } from '../../secrets.js';

export interface ConfigCheckResult {
  ok: boolean;
  /** One line per problem, each naming its key path (as the daemon prints them at start-up). */
  problems: string[];
  tenants: string[];
}

/**
 * `logwise config check FILE`: the daemon's own loading and validation (HOCON, `${VAR}`
 * substitution from this environment, the env overrides, the zod schema), without starting anything.
 */
export async function checkConfig(file: string, env: NodeJS.ProcessEnv): Promise<ConfigCheckResult> {
  try {
    const config = await loadConfig(file);
    return { ok: true, problems: [], tenants: config.tenants.map((t) => t.name) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // As the daemon does before it has a config: secrets from the environment never printed.
    const redactor = new Redactor([env.DB_PASSWORD, env.ORCHESTRATOR_AUTH_TOKEN, env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN]);
    return { ok: false, problems: err.problems.map((line) => redactor.scrub(line)), tenants: [] };
  }
}
