/**
 * The `logwise` CLI run as a process (`node --import tsx src/cli/main.ts`, the file the build
 * compiles to the package's `bin`) against daemons on real ports supervising the simulator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/spark.js';
import { startUiDaemon, UI_TOKEN, type UiDaemon } from '../support/ui-daemon.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const NO_DAEMON = 'http://127.0.0.1:9';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI; `env` is added to this process's environment, less the token unless given. */
function start(args: string[], env: Record<string, string | undefined> = {}): ChildProcess & { out: string[]; err: string[] } {
  const { ORCHESTRATOR_AUTH_TOKEN: _t, LOGWISE_URL: _u, ...base } = process.env;
  const child = spawn(process.execPath, [...CLI, ...args], { env: { ...base, NO_COLOR: '1', ...env } }) as ChildProcess & { out: string[]; err: string[] };
  child.out = [];
  child.err = [];
  const lines = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop()!;
      into.push(...parts);
    };
  };
  child.stdout!.on('data', lines(child.out));
  child.stderr!.on('data', lines(child.err));
  return child;
}

function run(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const child = start(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** A port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Nothing but the one line a failure prints: no stack trace. */
function expectOneLine(stderr: string, pattern: RegExp): void {
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr.trimEnd()).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('status and events on a live daemon', () => {
  let d: UiDaemon;
  beforeAll(async () => {
    d = await startUiDaemon({ extraTenants: ['XYZ'] });
    // Ready: the drivers run, the services are discovered, ABC's delay was sampled.
    await waitFor(async () => {
      const res = await fetch(`${d.url}/api/v1/tenants`);
      const tenants = ((await res.json()) as { data: { tenants: any[] } }).data.tenants;
      return tenants.every((t) => t.spark.driver?.state === 'RUNNING' && t.services.known === 3) && tenants[0].delay.minutes !== null;
    }, 'drivers running, services discovered and ABC’s delay sampled');
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('status: a table of tenant, lease, master, driver, state, uptime, restarts, delay, services', async () => {
    const driver = await d.aliveDriver();
    const res = await run(['status'], { LOGWISE_URL: d.url });
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('');
    const [header, abc, xyz] = res.stdout.trimEnd().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['TENANT', 'LEASE', 'MASTER', 'DRIVER', 'STATE', 'UPTIME', 'RESTARTS', 'DELAY', 'SERVICES']);
    expect(abc).toMatch(new RegExp(`^ABC\\s+this process\\s+ALIVE\\s+${driver}\\s+RUNNING\\s+\\d+ (s|min)\\s+0\\s+\\d min\\s+3$`));
    expect(xyz).toMatch(/^XYZ\s+this process\s+ALIVE\s+driver-\S+\s+RUNNING\s+\d+ (s|min)\s+0\s+-\s+3$/);
  });

  it('status --json: the data of GET /api/v1/tenants; --url wins over LOGWISE_URL', async () => {
    const res = await run(['status', '--json', '--url', d.url, '--tenant', 'XYZ'], { LOGWISE_URL: NO_DAEMON });
    expect(res.code).toBe(0);
    const data = JSON.parse(res.stdout) as { tenants: { tenant: string }[]; auth: unknown };
    expect(data.tenants.map((t) => t.tenant)).toEqual(['XYZ']);
    expect(data.auth).toEqual({ postsNeedToken: true, readsNeedToken: false });
  });

  it('events: one line per event, live, filtered by tenant and type; Ctrl-C ends it with 0', async () => {
    const first = await d.aliveDriver();
    const tail = start(['events', '--tenant', 'ABC', '--type', 'spark.', '--url', d.url]);
    await waitFor(() => tail.err.some((l) => l.includes('following')), 'the tail connected');
    d.sim.killDriverProcess(first, 'FAILED');
    const submitted = await waitFor(() => tail.out.find((l) => l.includes('spark.submitted')), 'spark.submitted in the tail');
    expect(submitted).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}ABC\s+spark\.submitted\s+submissionId=driver-\S+ purpose=keep-alive reason=".+"$/);
    expect(tail.out.every((l) => /^\S+ {2}ABC\s+spark\./.test(l))).toBe(true);
    tail.kill('SIGINT');
    expect(await exited(tail)).toBe(0);
  });

  it('events --json: one JSON object per line', async () => {
    const tail = start(['events', '--json', '--type', 'delay.', '--url', d.url]);
    await waitFor(() => tail.out.length >= 2, 'two events');
    tail.kill('SIGINT');
    await exited(tail);
    for (const line of tail.out)
      expect(JSON.parse(line)).toMatchObject({ type: expect.stringMatching(/^delay\./), tenant: expect.any(String), at: expect.any(Number) });
  });

  it('events for an unknown tenant: exit 1 with the daemon’s refusal, at once', async () => {
    const res = await run(['events', '--tenant', 'NOPE', '--url', d.url]);
    expect(res.code).toBe(1);
    expectOneLine(res.stderr, /^logwise: 400 INVALID_TENANT: unknown tenant "NOPE"/);
  });
});

describe('events reconnecting', () => {
  it('waits for a daemon that is not up yet, follows it, and reconnects after it restarts', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const tail = start(['events', '--url', url]);
    let d: UiDaemon | undefined;
    try {
      await waitFor(() => tail.err.some((l) => l.includes('ECONNREFUSED') && l.includes('retrying')), 'a refused connection noted');
      d = await startUiDaemon({ port });
      await waitFor(() => tail.err.some((l) => l.includes(`following ${url}/api/v1/events`)), 'the tail connected', 20_000);
      await waitFor(() => tail.out.some((l) => l.includes('ABC')), 'events of the daemon');
      await d.stop();
      d = await startUiDaemon({ port });
      await waitFor(() => tail.err.some((l) => l.includes('reconnected to')), 'the tail reconnected', 20_000);
      const seen = tail.out.length;
      await waitFor(() => tail.out.length > seen, 'events after the reconnection');
      tail.kill('SIGINT');
      expect(await exited(tail)).toBe(0);
    } finally {
      tail.kill('SIGKILL');
      await d?.stop();
    }
  });
});

describe('actions', () => {
  let d: UiDaemon;
  beforeAll(async () => {
    // No ticks: the Spark stream polls only when told, so the submission is the monitor's own.
    d = await startUiDaemon({ quietTicks: true });
  });
  afterAll(async () => {
    await d?.stop();
  });
  const env = () => ({ LOGWISE_URL: d.url, ORCHESTRATOR_AUTH_TOKEN: UI_TOKEN });

  it('sync: the counts, with the token from ORCHESTRATOR_AUTH_TOKEN', async () => {
    const res = await run(['sync', '--tenant', 'ABC'], env());
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toBe('ABC: Successfully synced componentType: application for tenant: ABC (onboarded 3, removed 0)\n');
    const json = await run(['sync', '--tenant', 'ABC', '--json'], env());
    expect(JSON.parse(json.stdout)).toMatchObject({ success: true, onboarded: 0, removed: 0 });
  });

  it('monitor: the overrides reach the submission it makes', async () => {
    const res = await run(['monitor', '--tenant', 'ABC', '--driver-cores', '2', '--driver-memory-gb', '3'], env());
    expect(res).toMatchObject({ code: 0, stdout: 'ABC: Successfully monitored the spark job for tenant: ABC\n' });
    const create = await waitFor(() => d.sim.createRequests.at(-1), 'the submission');
    expect((create.body as { sparkProperties: Record<string, string> }).sparkProperties).toMatchObject({
      'spark.driver.cores': '2',
      'spark.driver.memory': '3G',
    });
  });

  it('replay: ISO times to epoch ms, recorded', async () => {
    const res = await run(['replay', '--tenant', 'ABC', '--from', '2026-01-02T03:04:00Z', '--resume', '2026-01-02T05:00:00+01:00'], env());
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /^ABC: replay #\d+ recorded: Kafka from 2026-01-02T03:04:00.000Z, back to the normal subscription at 2026-01-02T04:00:00.000Z\n$/,
    );
    const status = await (await fetch(`${d.url}/api/v1/tenants?tenant=ABC`)).json();
    expect((status as any).data.tenants[0].spark.replay).toMatchObject({
      startingOffsetsTimestamp: Date.UTC(2026, 0, 2, 3, 4),
      resumeToSubscribePatternTimestamp: Date.UTC(2026, 0, 2, 4),
    });
  });

  it('refusals and unreachable daemons: exit 1 with one line, never a stack', async () => {
    const unauthorised = await run(['sync', '--tenant', 'ABC'], { LOGWISE_URL: d.url });
    expect(unauthorised.code).toBe(1);
    expectOneLine(unauthorised.stderr, /^logwise: 401 UNAUTHORIZED: .*ORCHESTRATOR_AUTH_TOKEN/);
    const unknown = await run(['monitor', '--tenant', 'NOPE'], env());
    expect(unknown.code).toBe(1);
    expectOneLine(unknown.stderr, /^logwise: 400 INVALID_TENANT/);
    const port = await freePort();
    const down = await run(['status', '--url', `http://127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expectOneLine(down.stderr, new RegExp(`^logwise: cannot reach the daemon at http://127.0.0.1:${port} \\(ECONNREFUSED\\)`));
  });
});

describe('config check and usage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lw-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const tenant = (name: string) =>
    `{ name = "${name}", objectStore.local.path = "${dir}/store", kafka.kafkaBrokersHost = "k", spark { sparkMasterHost = "m", sparkJarPath = "s3a://j.jar" } }`;

  it('exit 0 for a valid file, naming its tenants', async () => {
    const path = file('good.conf', `tenants = [${tenant('A')}, ${tenant('B')}]`);
    const res = await run(['config', 'check', path]);
    expect(res).toMatchObject({ code: 0, stdout: `${path}: OK (2 tenants: A, B)\n`, stderr: '' });
    expect(JSON.parse((await run(['config', 'check', path, '--json'])).stdout)).toEqual({ file: path, ok: true, problems: [], tenants: ['A', 'B'] });
  });

  it('exit 2 with one line per problem naming the key path, the daemon’s own validation; secrets not shown', async () => {
    const path = file(
      'bad.conf',
      `http.port = "eighty"\ndatabase.password = 987654321\ntenants = [{ name = "A", objectStore.local.path = "/x", spark { sparkMasterHost = "m" }, retention = 3 }]`,
    );
    const res = await run(['config', 'check', path]);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    const lines = res.stderr.trimEnd().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^config error: http\.port: /),
        expect.stringMatching(/^config error: database\.password: .*got a number/),
        expect.stringMatching(/^config error: tenants\[0\]\.spark\.sparkJarPath: /),
        expect.stringMatching(/^config error: tenants\[0\]\.retention: unknown key$/),
      ]),
    );
    expect(lines.every((l) => l.startsWith('config error: '))).toBe(true);
    expect(res.stderr).not.toContain('987654321');
    const json = JSON.parse((await run(['config', 'check', path, '--json'])).stdout) as { ok: boolean; problems: string[] };
    expect(json.ok).toBe(false);
    expect(json.problems).toHaveLength(lines.length);
    const missing = await run(['config', 'check', join(dir, 'nope.conf')]);
    expect(missing.code).toBe(2);
    expectOneLine(missing.stderr, /^config error: .*nope\.conf: cannot read the config file \(ENOENT\)$/);
    const broken = await run(['config', 'check', file('broken.conf', 'a = {')]);
    expect(broken.code).toBe(2);
    expectOneLine(broken.stderr, /^config error: .*broken\.conf: invalid HOCON: .*line 1/);
  });

  it('usage: --help exits 0; a wrong command line exits 2 with the reason and the usage', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('logwise config check FILE');
    for (const [args, reason] of [
      [['bogus'], 'unknown command "bogus"'],
      [['sync'], 'sync needs --tenant'],
      [['replay', '--tenant', 'A', '--from', 'yesterday', '--resume', '2026-01-01T00:00:00Z'], '--from: expected an ISO time'],
      [['monitor', '--tenant', 'A', '--driver-cores', '1.5'], '--driver-cores: expected a positive whole number'],
      [['status', '--force'], 'status does not take --force'],
      [['config', 'check'], 'config check needs a FILE'],
    ] as const) {
      const res = await run([...args]);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr.split('\n')[0]).toContain(reason);
      expect(res.stderr).toContain('Usage:');
    }
  });

  it('is the package’s bin: dist/src/cli/main.js, compiled by npm run build from src/cli/main.ts with its shebang', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(pkg.bin).toEqual({ logwise: 'dist/src/cli/main.js' });
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
    expect((JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { include: string[] }).include).toContain('src');
    expect(readFileSync('src/cli/main.ts', 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});
