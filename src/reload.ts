/**
 * Reloading the tenants without a restart (SPEC §4.5; SIGHUP and `POST /api/v1/admin/reload`):
 * re-read the config file the daemon started with, plan the change (`config/diff.ts`, pure) and
 * apply it to the running loops:
 *  - removed tenants: their loops stop (the action in flight finishes), then the lease keeper
 *    gives their leases up; their Spark driver and database rows are left as they are;
 *  - changed tenants (any difference in their block, or in which drivers are theirs): the old
 *    loop stops, the new one is built on the new settings (store, layout, master client);
 *  - added tenants: the lease keeper takes them on, then their loops are built and started;
 *  - unchanged tenants are not touched.
 * Only `tenants` is applied; a difference in another section is reported as needing a restart.
 * An invalid file changes nothing: one log line per problem, and the caller gets the ConfigError.
 * Reloads run one at a time.
 */
import { ConfigError, loadConfig } from './config/load.js';
import { planReload, type ReloadPlan, type RestartNeeded } from './config/diff.js';
import type { Config, TenantConfig } from './config/schema.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { ReloadableRedactor } from './reloadable-redactor.js';
import { masterSetKey, type TenantResources } from './tenant-resources.js';
import type { LeaseKeeper } from '../streams/lease-keeper.js';
import { LoopStoppedError } from '../streams/lane.js';
import type { SupervisedLoopOptions, Supervisor } from '../streams/supervisor.js';

/** The answer of a reload (`POST /api/v1/admin/reload`; also logged for SIGHUP). */
export interface ReloadResult {
  message: string;
  added: string[];
  removed: string[];
  changed: { tenant: string; keys: string[] }[];
  unchanged: string[];
  counts: { added: number; removed: number; changed: number; unchanged: number };
  /** Settings that differ in the file and are not applied until the daemon restarts. */
  needsRestart: RestartNeeded[];
}

/** The daemon was not started from a config file (an embedded test orchestrator): nothing to re-read. */
export class ReloadUnavailableError extends Error {
  readonly httpStatus = 501;
  readonly httpCode = 'NOT_IMPLEMENTED';
  constructor() {
    super('this daemon was not started from a config file: there is nothing to reload');
    this.name = 'ReloadUnavailableError';
  }
}

/** What a reload is applied to: the orchestrator's parts. */
export interface ReloaderDeps<V> {
  /** The config the daemon started with. */
  config: Config;
  log: Logger;
  /** Re-reads the config file (throws ConfigError when it is invalid); absent: reload is unavailable. */
  readConfig?: () => Promise<Config>;
  /** The supervisor of the loops (a getter: the loops are built, on `ownershipConfig`, after the reloader). */
  supervisor(): Supervisor<V>;
  /** Many replicas (MySQL): the lease keeper follows the tenant list. */
  leases?: Pick<LeaseKeeper, 'setTenants'>;
  resources: TenantResources;
  metrics: Pick<Metrics, 'initTenants' | 'forgetTenant'>;
  /** A tenant's loop, built on the resources and the config of the moment. */
  loopOptions(tenant: TenantConfig): SupervisedLoopOptions<V>;
}

const REMOVED_MESSAGE =
  'removed from the config: its loop stopped; its Spark driver and its database rows (services, submissions, replays) were left as they are';

export class TenantReloader<V> {
  private running: Config;
  /** `running` with the retired tenants among `tenants` (see `ReloadPlan.retired`), for telling drivers apart. */
  private owners: Config;
  private retired: TenantConfig[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private stopping = false;

  constructor(private readonly deps: ReloaderDeps<V>) {
    this.running = deps.config;
    this.owners = deps.config;
  }

  /** The config the daemon runs with: the sections it started with, the tenants of the last reload. */
  get config(): Config {
    return this.running;
  }

  /**
   * The running config whose `tenants` also holds the tenants removed by reloads (their drivers
   * are left running): what the Spark streams are given, so that no tenant takes a removed
   * tenant's driver for its own (and kills it as a duplicate).
   */
  get ownershipConfig(): Config {
    return this.owners;
  }

  /** Re-reads the config file and applies it; after any reload in flight. */
  reload(): Promise<ReloadResult> {
    const next = this.queue.then(() => this.apply());
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** No reload starts from now on; resolves when the one in flight (if any) is done. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.queue;
  }

  private async apply(): Promise<ReloadResult> {
    const { log, readConfig } = this.deps;
    if (!readConfig) throw new ReloadUnavailableError();
    if (this.stopping) throw new LoopStoppedError();
    let next: Config;
    try {
      next = await readConfig();
    } catch (err) {
      // As at start-up: one line per problem naming the key path (never a secret value); nothing changes.
      if (err instanceof ConfigError) for (const line of err.problems) log.error({ reload: 'refused: nothing changed' }, `config error: ${line}`);
      throw err;
    }
    if (this.stopping) throw new LoopStoppedError();
    const plan = planReload(this.running, next, this.retired);
    if (plan.needsRestart.length > 0) {
      const keys = plan.needsRestart.map((r) => r.key);
      log.warn({ needsRestart: keys }, `config reload: ${keys.join(', ')} changed in the file and need a restart (not applied)`);
    }
    // From here on, new loops are built on the new tenants (and the streams tell drivers apart by them).
    this.running = plan.applied;
    this.retired = plan.retired;
    this.owners = plan.retired.length > 0 ? { ...plan.applied, tenants: [...plan.applied.tenants, ...plan.retired] } : plan.applied;
    await this.applyPlan(plan);
    const result = reloadResult(plan);
    this.deps.supervisor().emit('', {
      type: 'config.reloaded',
      ...result.counts,
      needsRestart: result.needsRestart.map((r) => r.key),
    });
    return result;
  }

  private async applyPlan(plan: ReloadPlan): Promise<void> {
    const { leases, resources, metrics } = this.deps;
    const supervisor = this.deps.supervisor();
    // Removed and changed loops stop first (each finishes its action in flight), all at once.
    await Promise.all([
      ...plan.removed.map((t) => supervisor.remove(t.name)),
      ...plan.changed.map(async ({ before, after, keys }) => {
        supervisor.emit(after.name, { type: 'tenant.changed', keys, message: changedMessage(before, after) });
        await supervisor.replace(after.name, async () => {
          await resources.set(after);
          return this.deps.loopOptions(after);
        });
      }),
    ]);
    // The leases follow the tenant list: the removed ones (their loops have stopped) are given up, the added ones taken by the next rounds.
    if (leases && (plan.added.length > 0 || plan.removed.length > 0)) await leases.setTenants(this.running.tenants.map((t) => t.name));
    for (const t of plan.removed) {
      supervisor.emit(t.name, { type: 'tenant.removed', message: REMOVED_MESSAGE });
      await resources.delete(t.name);
      await metrics.forgetTenant(t.name);
    }
    for (const t of plan.added) {
      supervisor.emit(t.name, { type: 'tenant.added' });
      await resources.set(t);
      metrics.initTenants([t.name]);
      supervisor.add(this.deps.loopOptions(t));
    }
  }
}

/** The answer: names and counts, the changed keys (never values). */
export function reloadResult(plan: ReloadPlan): ReloadResult {
  const counts = { added: plan.added.length, removed: plan.removed.length, changed: plan.changed.length, unchanged: plan.unchanged.length };
  const parts = [`${counts.added} added`, `${counts.removed} removed`, `${counts.changed} changed`, `${counts.unchanged} unchanged`];
  const notes = [
    ...(counts.removed > 0 ? ['the Spark drivers and database rows of removed tenants were left as they are'] : []),
    ...(plan.needsRestart.length > 0 ? [`${plan.needsRestart.map((r) => r.key).join(', ')} need a restart to apply`] : []),
  ];
  return {
    message: `config reloaded: ${parts.join(', ')}${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`,
    added: plan.added.map((t) => t.name),
    removed: plan.removed.map((t) => t.name),
    changed: plan.changed.map((c) => ({ tenant: c.after.name, keys: c.keys })),
    unchanged: plan.unchanged,
    counts,
    needsRestart: plan.needsRestart,
  };
}

function changedMessage(before: TenantConfig, after: TenantConfig): string {
  return masterSetKey(before) === masterSetKey(after)
    ? 'its loop restarts with the new settings; a driver it runs is kept (new Spark settings apply to its next submission)'
    : 'its loop restarts with the new settings on its new Spark master; its driver on the previous master was left as it is';
}

/**
 * The config source of a daemon started from `path`: re-reads the file (the environment as the
 * process has it), teaches the redactor the secrets it holds before anything of it is logged,
 * and reports each accepted-but-unused key once per process (start-up's warnings included).
 */
export function configFileSource(
  path: string,
  opts: { redactor: ReloadableRedactor; onWarning(line: string): void; seenWarnings?: Iterable<string>; env?: NodeJS.ProcessEnv },
): () => Promise<Config> {
  const seen = new Set(opts.seenWarnings ?? []);
  return async () => {
    const warnings: string[] = [];
    const config = await loadConfig(path, { onWarning: (line) => warnings.push(line), ...(opts.env ? { env: opts.env } : {}) });
    opts.redactor.learn(config);
    for (const line of warnings) {
      if (seen.has(line)) continue;
      seen.add(line);
      opts.onWarning(line);
    }
    return config;
  };
}
