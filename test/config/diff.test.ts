/** The reload plan (src/config/diff.ts): pure, from two parsed configs. */
import { describe, expect, it } from 'vitest';
import { changedKeys, OWNERSHIP_KEY, planReload } from '../../src/config/diff.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { reloadResult } from '../../src/reload.js';

function tenant(name: string, extra = '', spark = ''): string {
  return `{
    name = "${name}"
    objectStore.local.path = "/data/${name}"
    kafka.kafkaBrokersHost = "kafka:9092"
    spark { sparkMasterHost = "master-1", sparkJarPath = "s3a://jars/app.jar", ${spark} }
    ${extra}
  }`;
}

function config(tenants: string[], settings = ''): Promise<Config> {
  return parseConfig(`${settings}\ntenants = [${tenants.join(',\n')}]`, 'test.conf', { env: {} });
}

const names = (ts: { name: string }[]) => ts.map((t) => t.name);

describe('planReload', () => {
  it('sorts tenants into added, removed, changed (with the key paths) and unchanged', async () => {
    const running = await config([tenant('A'), tenant('B'), tenant('C', 'defaultLogsRetentionDays = 3')]);
    const next = await config([tenant('A'), tenant('C', 'defaultLogsRetentionDays = 7', 'driverMemory = "2G"'), tenant('D')]);
    const plan = planReload(running, next);
    expect(names(plan.added)).toEqual(['D']);
    expect(names(plan.removed)).toEqual(['B']);
    expect(plan.changed.map((c) => [c.after.name, c.keys])).toEqual([['C', ['defaultLogsRetentionDays', 'spark.driverMemory']]]);
    expect(plan.unchanged).toEqual(['A']);
    expect(plan.needsRestart).toEqual([]);
    expect(names(plan.applied.tenants)).toEqual(['A', 'C', 'D']);
  });

  it('sees no change in an identical file, nor in a key spelled out at its default', async () => {
    const running = await config([tenant('A')]);
    const next = await config([tenant('A', '', 'mainClass = "com.logwise.spark.MainApplication"')]);
    const plan = planReload(running, next);
    expect(plan.unchanged).toEqual(['A']);
    expect(plan.changed).toEqual([]);
  });

  it('names a changed list or block as a whole, and never a value', async () => {
    const running = await config([tenant('A', 'envLogsRetentionDays = [{ envs = ["prod"], retentionDays = 30 }]', 'awsSecretAccessKey = "old-secret-value"')]);
    const next = await config([
      tenant(
        'A',
        'envLogsRetentionDays = [{ envs = ["prod", "stage"], retentionDays = 30 }]\nvector { host = "v" }',
        'awsSecretAccessKey = "new-secret-value"',
      ),
    ]);
    const [change] = planReload(running, next).changed;
    expect(change!.keys).toEqual(['envLogsRetentionDays', 'spark.awsSecretAccessKey', 'vector']);
    expect(JSON.stringify(reloadResult(planReload(running, next)))).not.toContain('secret-value');
  });

  it('reports settings outside tenants as needing a restart, not applied', async () => {
    const running = await config([tenant('A')], 'http { port = 8080 }\nloop { sparkPollSeconds = 15 }');
    const next = await config(
      [tenant('A')],
      'http { port = 9090, authToken = "a-new-token" }\nloop { sparkPollSeconds = 5 }\ndatabase { client = sqlite, filename = "/other.sqlite" }',
    );
    const plan = planReload(running, next);
    expect(plan.needsRestart.map((r) => r.key)).toEqual(['http.port', 'http.authToken', 'database.filename', 'loop.sparkPollSeconds']);
    expect(plan.needsRestart.every((r) => r.reason.length > 0)).toBe(true);
    // The running sections stay; only the tenants are taken.
    expect(plan.applied.http.port).toBe(8080);
    expect(plan.applied.loop.sparkPollSeconds).toBe(15);
    expect(plan.unchanged).toEqual(['A']);
  });

  it('takes an ha block that spells out the default lease as no change, another lease as one', async () => {
    const mysql = 'database { client = mysql }';
    const running = await config([tenant('A')], mysql);
    expect(planReload(running, await config([tenant('A')], `${mysql}\nha { leaseSeconds = 15 }`)).needsRestart).toEqual([]);
    expect(planReload(running, await config([tenant('A')], `${mysql}\nha { leaseSeconds = 5 }`)).needsRestart.map((r) => r.key)).toEqual(['ha.leaseSeconds']);
  });

  it('restarts a tenant whose drivers are told apart differently: another tenant with its main class joins its master', async () => {
    const running = await config([tenant('A'), tenant('B', '', 'mainClass = "com.example.Other"')]);
    // C runs A's main class on A's master: A no longer owns drivers by main class alone.
    const next = await config([tenant('A'), tenant('B', '', 'mainClass = "com.example.Other"'), tenant('C')]);
    const plan = planReload(running, next);
    expect(names(plan.added)).toEqual(['C']);
    // B sees the same other main class as before (C's is A's): untouched.
    expect(plan.changed.map((c) => [c.after.name, c.keys])).toEqual([['A', [OWNERSHIP_KEY]]]);
    expect(plan.unchanged).toEqual(['B']);
  });

  it('keeps the removed tenants as retired: the others go on telling their drivers apart (a removed one’s driver is never adopted)', async () => {
    const a = tenant('A');
    const b = tenant('B');
    const running = await config([a, b]);
    // B (same master, same main class as A) is removed: A's view is unchanged, so A is not restarted.
    const first = planReload(running, await config([a]));
    expect(names(first.removed)).toEqual(['B']);
    expect(first.unchanged).toEqual(['A']);
    expect(names(first.retired)).toEqual(['B']);
    // A later change of A keeps B's main class among the others (B's driver still runs).
    const second = planReload(first.applied, await config([tenant('A', 'defaultLogsRetentionDays = 9')]), first.retired);
    expect(second.changed.map((c) => c.keys)).toEqual([['defaultLogsRetentionDays']]);
    expect(names(second.retired)).toEqual(['B']);
    // B added back: no longer retired, and A's view is the same as while B was retired.
    const third = planReload(second.applied, await config([tenant('A', 'defaultLogsRetentionDays = 9'), b]), second.retired);
    expect(names(third.added)).toEqual(['B']);
    expect(third.unchanged).toEqual(['A']);
    expect(third.retired).toEqual([]);
  });
});

describe('changedKeys', () => {
  it('walks objects key by key and compares anything else whole', () => {
    expect(changedKeys({ a: 1, b: { c: [1, 2], d: 'x' } }, { a: 1, b: { c: [1, 2], d: 'y' } })).toEqual(['b.d']);
    expect(changedKeys({ a: [1, 2] }, { a: [2, 1] })).toEqual(['a']);
    expect(changedKeys({ a: undefined }, {})).toEqual([]);
    expect(changedKeys({ a: { b: 1 } }, { a: undefined })).toEqual(['a']);
  });
});

describe('reloadResult', () => {
  it('counts and names what changed, and says what was left and what needs a restart', async () => {
    const running = await config([tenant('A'), tenant('B')]);
    const next = await config([tenant('A'), tenant('C')], 'http { port = 1234 }');
    const result = reloadResult(planReload(running, next));
    expect(result.counts).toEqual({ added: 1, removed: 1, changed: 0, unchanged: 1 });
    expect(result).toMatchObject({ added: ['C'], removed: ['B'], changed: [], unchanged: ['A'] });
    expect(result.message).toMatch(/1 added, 1 removed, 0 changed, 1 unchanged/);
    expect(result.message).toMatch(/left as they are/);
    expect(result.message).toMatch(/http\.port need a restart/);
  });
});
