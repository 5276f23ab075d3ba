/**
 * Reloading the tenants without a restart (SPEC §4.5): `POST /api/v1/admin/reload` and SIGHUP
 * re-read the config file. Against the Spark master simulator: an added tenant's loop submits
 * its driver; a removed one's loop stops and its driver is left running; a changed one restarts
 * on its new master; unchanged ones are not touched; an invalid file changes nothing. Then two
 * replicas on MariaDB reloaded with the same file, and SIGHUP to the daemon run as a process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { Orchestrator } from '../../src/orchestrator.js';
import { configFileSource } from '../../src/reload.js';
import { ReloadableRedactor } from '../../src/reloadable-redactor.js';
import { Redactor } from '../../src/secrets.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import { freshMysqlDatabase, type TestDatabase } from '../support/databases.js';
import { daemonConfig } from '../support/daemon-config.js';
import { startDaemonProcess } from '../support/faults.js';
import { readAnswer, type HttpAnswer } from '../support/http-answer.js';
import { LogCapture } from '../support/orchestrator.js';
import { sleep, sparkTenant, waitFor } from '../support/spark.js';

const TOKEN = 'reload-test-token-0123456789';
const SECRET = 'reload-secret-of-B-9876543210';
const CLASS = { A: 'com.example.AppA', B: 'com.example.AppB', C: 'com.example.AppC' } as const;
const LOOP = { sparkPollSeconds: 0.3, submitGraceSeconds: 2 };

/** Accepted creates of a main class (one per driver the master started). */
function creates(sim: SparkMasterSimulator, mainClass: string) {
  return sim.createRequests.filter((r) => r.submissionId !== undefined && (r.body as { mainClass?: string } | undefined)?.mainClass === mainClass);
}

function alive(sim: SparkMasterSimulator, mainClass: string) {
  return sim.activeDrivers().filter((d) => d.mainClass === mainClass && (d.state === 'SUBMITTED' || d.state === 'RUNNING'));
}

function tenant(sim: SparkMasterSimulator, name: keyof typeof CLASS, dir: string, sparkExtra = ''): string {
  const block = sparkTenant(sim, { name, mainClass: CLASS[name] }).replaceAll('{{dir}}', dir);
  return sparkExtra ? block.replace('spark {', `spark {\n      ${sparkExtra}`) : block;
}

/** An orchestrator in this process started from a config file, as main starts it (reload re-reads the file). */
class InProcessDaemon {
  readonly logs = new LogCapture();
  readonly events: OrchestratorEvent[] = [];
  orchestrator!: Orchestrator;

  constructor(readonly path: string) {}

  async start(): Promise<this> {
    const config = await loadConfig(this.path, { env: {} });
    const redactor = new ReloadableRedactor(Redactor.fromConfig(config, {}));
    const log = createLogger({ level: 'debug', redactor, destination: this.logs });
    const readConfig = configFileSource(this.path, { redactor, env: {}, onWarning: (line) => log.warn(`config: ${line}`) });
    this.orchestrator = new Orchestrator({ config, log, redactor, readConfig, listen: false });
    this.orchestrator.supervisor.events$.subscribe((e) => this.events.push(e));
    await this.orchestrator.start();
    return this;
  }

  write(text: string): void {
    writeFileSync(this.path, text);
  }

  async request(method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return readAnswer(await this.orchestrator.app.request(path, { method, headers }));
  }

  reload(token: string | null = TOKEN): Promise<HttpAnswer> {
    return this.request('POST', '/api/v1/admin/reload', token ? { authorization: `Bearer ${token}` } : {});
  }

  /** Events from index `from` on, of a type (and tenant). */
  since(from: number, type?: string, tenant?: string): OrchestratorEvent[] {
    return this.events.slice(from).filter((e) => (type === undefined || e.type === type) && (tenant === undefined || e.tenant === tenant));
  }
}

describe('reload on SQLite, in process', () => {
  let dir: string;
  let sim1: SparkMasterSimulator;
  let sim2: SparkMasterSimulator;
  let d: InProcessDaemon;
  const file = (tenants: string[], extra = '') =>
    `${daemonConfig({ database: `database { client = sqlite, filename = "${dir}/db.sqlite" }`, loop: LOOP, tenants })}\nhttp.authToken = "${TOKEN}"\n${extra}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lw-reload-'));
    sim1 = await new SparkMasterSimulator().start();
    sim2 = await new SparkMasterSimulator().start();
    d = new InProcessDaemon(join(dir, 'daemon.conf'));
    d.write(file([tenant(sim1, 'A', dir)]));
    await d.start();
    await waitFor(() => alive(sim1, CLASS.A).length === 1, 'A’s driver');
  });

  afterAll(async () => {
    await d?.orchestrator.stop();
    await Promise.all([sim1?.stop(), sim2?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs the bearer token (a POST), and an unchanged file touches nothing', async () => {
    expect((await d.reload(null)).status).toBe(401);
    expect((await d.reload('wrong-token')).status).toBe(401);
    const loopA = d.orchestrator.supervisor.loop('A');
    const from = d.events.length;
    const res = await d.reload();
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ added: [], removed: [], changed: [], unchanged: ['A'], needsRestart: [] });
    expect(d.since(from, 'loop.stopped')).toEqual([]);
    expect(d.orchestrator.supervisor.loop('A')).toBe(loopA);
    expect(d.since(from, 'config.reloaded')).toHaveLength(1);
  });

  it('adds a tenant: its loop starts and submits its driver; the others are not touched', async () => {
    const loopA = d.orchestrator.supervisor.loop('A');
    const createsA = creates(sim1, CLASS.A).length;
    const from = d.events.length;
    d.write(file([tenant(sim1, 'A', dir), tenant(sim1, 'B', dir, `awsSecretAccessKey = "${SECRET}"`)]));
    const res = await d.reload();
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      added: ['B'],
      removed: [],
      changed: [],
      unchanged: ['A'],
      counts: { added: 1, removed: 0, changed: 0, unchanged: 1 },
    });
    await waitFor(() => alive(sim1, CLASS.B).length === 1, 'B’s driver on the master');
    expect(d.since(from, 'tenant.added', 'B')).toHaveLength(1);
    expect(d.since(from, 'loop.started', 'B')).toHaveLength(1);
    expect(d.since(from).filter((e) => e.tenant === 'A' && e.type.startsWith('loop.'))).toEqual([]);
    expect(d.orchestrator.supervisor.loop('A')).toBe(loopA);
    expect(creates(sim1, CLASS.A)).toHaveLength(createsA);
    // The API knows B now: its header is accepted, /metrics has its series, the summary lists it.
    expect((await d.request('GET', '/api/v1/spark/status', { 'x-tenant-name': 'B' })).status).toBe(200);
    expect((await d.request('GET', '/metrics')).body.text).toContain('logwise_spark_crashloop{tenant="B"} 0');
    expect((await d.request('GET', '/api/v1/tenants')).body.data.tenants.map((t: { tenant: string }) => t.tenant)).toEqual(['A', 'B']);
  });

  it('masks the secrets the reloaded file brought', async () => {
    d.orchestrator.supervisor.emit('B', { type: 'command.failed', command: 'monitor', error: `the master quoted ${SECRET} back` });
    await waitFor(() => d.logs.text.includes('the master quoted'), 'the event’s log line');
    expect(d.logs.text).not.toContain(SECRET);
  });

  it('changes a tenant: its loop restarts on the new settings (its new master), the others are not touched', async () => {
    const loopB = d.orchestrator.supervisor.loop('B');
    const from = d.events.length;
    const oldDriver = alive(sim1, CLASS.A)[0]!.id;
    d.write(file([tenant(sim2, 'A', dir), tenant(sim1, 'B', dir, `awsSecretAccessKey = "${SECRET}"`)]));
    const res = await d.reload();
    expect(res.status).toBe(200);
    expect(res.body.data.changed).toEqual([{ tenant: 'A', keys: ['spark.sparkMasterWebUiPort', 'spark.sparkMasterRestPort'] }]);
    expect(res.body.data.unchanged).toEqual(['B']);
    await waitFor(() => alive(sim2, CLASS.A).length === 1, 'A’s driver on its new master');
    expect(d.since(from, 'tenant.changed', 'A')).toHaveLength(1);
    expect(
      d
        .since(from)
        .filter((e) => e.tenant === 'A' && e.type.startsWith('loop.'))
        .map((e) => e.type),
    ).toEqual(['loop.stopped', 'loop.started']);
    expect(d.orchestrator.supervisor.loop('B')).toBe(loopB);
    expect(d.since(from).filter((e) => e.tenant === 'B' && e.type.startsWith('loop.'))).toEqual([]);
    // Its driver on the previous master was left as it is.
    expect(alive(sim1, CLASS.A).map((x) => x.id)).toEqual([oldDriver]);
    await waitFor(
      async () => (await d.request('GET', '/api/v1/spark/status', { 'x-tenant-name': 'A' })).body.data.master.webUiUrl === sim2.uiUrl,
      'A’s status to show its new master',
    );
  });

  it('removes a tenant: its loop stops, its driver is left running, the event says so', async () => {
    const from = d.events.length;
    const driverB = alive(sim1, CLASS.B)[0]!.id;
    d.write(file([tenant(sim2, 'A', dir)]));
    const res = await d.reload();
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ added: [], removed: ['B'], changed: [], unchanged: ['A'] });
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    expect(d.since(from, 'loop.stopped', 'B')).toHaveLength(1);
    const [removed] = d.since(from, 'tenant.removed', 'B');
    expect(removed).toMatchObject({ message: expect.stringMatching(/driver and its database rows .* left as they are/) });
    expect(d.since(from).filter((e) => e.tenant === 'A' && e.type.startsWith('loop.'))).toEqual([]);
    const killsBefore = sim1.killRequests.length;
    await sleep(1_500); // several polls of A
    expect(alive(sim1, CLASS.B).map((x) => x.id)).toEqual([driverB]);
    expect(sim1.killRequests.length).toBe(killsBefore);
    // Nothing of B after its loop stopped (a poll in flight at the reload finished before).
    const stoppedAt = d.events.findIndex((e, i) => i >= from && e.type === 'loop.stopped' && e.tenant === 'B');
    expect(d.since(stoppedAt + 1).filter((e) => e.tenant === 'B' && e.type.startsWith('spark.'))).toEqual([]);
    expect((await d.request('GET', '/api/v1/spark/status', { 'x-tenant-name': 'B' })).body.error.code).toBe('INVALID_TENANT');
    expect((await d.request('GET', '/metrics')).body.text).not.toContain('tenant="B"');
  });

  it('an invalid file changes nothing: 400 with the problems, one log line each', async () => {
    const from = d.events.length;
    const lines = d.logs.lines.length;
    d.write(file([tenant(sim2, 'A', dir), tenant(sim1, 'C', dir, 'sparkMasterPort = 99999, colour = "blue"')]));
    const res = await d.reload();
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_CONFIG');
    const problems = res.body.error.problems as string[];
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toMatch(/tenants\[1\]\.spark\.sparkMasterPort: expected a port/);
    expect(problems.join('\n')).toMatch(/tenants\[1\]\.spark\.colour: unknown key/);
    const logged = d.logs.lines
      .slice(lines)
      .map((l) => JSON.parse(l) as { msg: string; level: string })
      .filter((l) => l.msg.startsWith('config error: '));
    expect(logged.map((l) => l.msg)).toEqual(problems.map((p) => `config error: ${p}`));
    expect(d.orchestrator.supervisor.tenants).toEqual(['A']);
    expect(d.since(from).filter((e) => e.type.startsWith('tenant.') || e.type.startsWith('loop.') || e.type === 'config.reloaded')).toEqual([]);
    expect(creates(sim1, CLASS.C)).toEqual([]);
  });

  it('reports settings outside tenants as needing a restart, and does not apply them', async () => {
    const from = d.events.length;
    const lines = d.logs.lines.length;
    d.write(file([tenant(sim2, 'A', dir)], 'http.port = 18999\nloop.discoverySeconds = 120'));
    const res = await d.reload();
    expect(res.status).toBe(200);
    expect(res.body.data.needsRestart.map((r: { key: string }) => r.key)).toEqual(['http.port', 'loop.discoverySeconds']);
    expect(res.body.data.unchanged).toEqual(['A']);
    expect(d.since(from, 'loop.stopped')).toEqual([]);
    const warned = d.logs.lines.slice(lines).filter((l) => l.includes('need a restart'));
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0]!)).toMatchObject({ level: 'warn', needsRestart: ['http.port', 'loop.discoverySeconds'] });
  });

  it('GET /api/v1/cluster on SQLite: this process acts for every tenant; both routes are in /openapi.json', async () => {
    const res = await d.request('GET', '/api/v1/cluster');
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data.mode).toBe('single-process');
    expect(data.replicas).toHaveLength(1);
    expect(data.replicas[0]).toMatchObject({ id: data.self, tenantsHeld: 1 });
    expect(data.tenants).toEqual([{ tenant: 'A', actingReplica: data.self, validUntil: null }]);
    const paths = (await d.request('GET', '/openapi.json')).body.paths as Record<string, unknown>;
    expect(paths).toHaveProperty(['/api/v1/cluster', 'get']);
    expect(paths).toHaveProperty(['/api/v1/admin/reload', 'post']);
  });
});

describe('reload with many replicas (MariaDB)', () => {
  let tdb: TestDatabase;
  let sim: SparkMasterSimulator;
  let dir: string;
  const replicas: InProcessDaemon[] = [];

  beforeAll(async () => {
    tdb = await freshMysqlDatabase('reload');
    sim = await new SparkMasterSimulator().start();
    dir = mkdtempSync(join(tmpdir(), 'lw-reload-mysql-'));
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.orchestrator.stop().catch(() => undefined)));
    await sim?.stop();
    await tdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('two replicas reloaded with the same file converge: both follow the tenant list, one acts for each tenant', async () => {
    const db = tdb.config;
    const database = `database { client = mysql, host = "${db.host}", port = ${db.port}, user = "${db.user}", password = "${db.password}", database = "${db.database}", poolMax = 3 }`;
    const file = (names: (keyof typeof CLASS)[]) =>
      `${daemonConfig({ database, leaseSeconds: 2, loop: LOOP, tenants: names.map((n) => tenant(sim, n, dir)) })}\nhttp.authToken = "${TOKEN}"`;
    // The same file for both (as operators deploy it).
    const path = join(dir, 'daemon.conf');
    writeFileSync(path, file(['A', 'B']));
    for (let i = 0; i < 2; i += 1) replicas.push(await new InProcessDaemon(path).start());
    const cluster = async (r: InProcessDaemon) => (await r.request('GET', '/api/v1/cluster')).body.data;
    const acting = async (names: string[]) => {
      const views = await Promise.all(replicas.map(cluster));
      return views.every((v) => v.mode === 'lease' && JSON.stringify(v.tenants.map((t: { tenant: string }) => t.tenant)) === JSON.stringify(names))
        ? names.every((n) => {
            const holders = views.map((v) => v.tenants.find((t: { tenant: string }) => t.tenant === n).actingReplica);
            // Both agree on who acts, and it is one of them.
            return holders[0] !== null && holders.every((h) => h === holders[0]) && views.some((v) => v.self === holders[0]);
          })
        : false;
    };
    await waitFor(() => acting(['A', 'B']), 'both replicas to agree on who acts for A and B', 20_000);
    await waitFor(() => alive(sim, CLASS.A).length === 1 && alive(sim, CLASS.B).length === 1, 'A’s and B’s drivers');

    writeFileSync(path, file(['A', 'C']));
    const answers = await Promise.all(replicas.map((r) => r.reload()));
    for (const res of answers) expect(res.body.data).toMatchObject({ added: ['C'], removed: ['B'], unchanged: ['A'] });
    await waitFor(() => acting(['A', 'C']), 'both replicas to follow the new tenant list', 20_000);
    await waitFor(() => alive(sim, CLASS.C).length === 1, 'C’s driver');
    await sleep(1_000);
    // One submission for C, none again for A; B's driver is left running; B's lease was given up.
    expect(creates(sim, CLASS.C)).toHaveLength(1);
    expect(creates(sim, CLASS.A)).toHaveLength(1);
    expect(alive(sim, CLASS.B)).toHaveLength(1);
    // Released: run out at the moment of the release (a renewal sets it to run out later).
    const leaseB = await tdb.db('tenant_leases').where({ tenant: 'B' }).first();
    expect(Number(leaseB.expiresAt)).toBeLessThanOrEqual(Number(leaseB.renewedAt));
    for (const r of replicas) {
      expect(r.orchestrator.supervisor.tenants).toEqual(['A', 'C']);
      expect(r.since(0, 'tenant.removed', 'B')).toHaveLength(1);
    }
  });
});

describe('SIGHUP to the daemon run as a process', () => {
  let dir: string;
  let sim: SparkMasterSimulator;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lw-reload-process-'));
    sim = await new SparkMasterSimulator().start();
  });

  afterAll(async () => {
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('re-reads the file: the added tenant runs; an invalid file is refused with one line per problem and the daemon stays up', async () => {
    const file = (tenants: string[]) => daemonConfig({ database: `database { client = sqlite, filename = "${dir}/db.sqlite" }`, loop: LOOP, tenants });
    const daemon = await startDaemonProcess({ dir, config: file([tenant(sim, 'A', dir)]) });
    try {
      await waitFor(() => alive(sim, CLASS.A).length === 1, 'A’s driver');
      writeFileSync(join(dir, 'daemon.conf'), file([tenant(sim, 'A', dir), tenant(sim, 'B', dir)]));
      process.kill(daemon.pid, 'SIGHUP');
      const reloaded = await daemon.waitForEvent('config.reloaded', 'the reload');
      expect(reloaded).toMatchObject({ added: 1, removed: 0, changed: 0, unchanged: 1 });
      await daemon.waitForEvent('tenant.added', 'B added', { pred: (l) => l.tenant === 'B' });
      await waitFor(() => alive(sim, CLASS.B).length === 1, 'B’s driver');
      const cluster = await daemon.request('GET', '/api/v1/cluster');
      expect(cluster.body.data.tenants.map((t: { tenant: string }) => t.tenant)).toEqual(['A', 'B']);

      const lines = daemon.lines.length;
      writeFileSync(join(dir, 'daemon.conf'), file([tenant(sim, 'A', dir), tenant(sim, 'B', dir).replace('name = "B"', 'name = "A"')]));
      process.kill(daemon.pid, 'SIGHUP');
      const refused = await daemon.waitForLine((l) => l.msg.startsWith('config error: '), 'the refusal', 15_000, lines);
      expect(refused.msg).toMatch(/duplicate tenant name "A"/);
      await sleep(300);
      expect(daemon.lines.slice(lines).filter((l) => l.msg.startsWith('config error: '))).toHaveLength(1);
      expect((await daemon.request('GET', '/api/v1/spark/status', { tenant: 'B' })).status).toBe(200);
      expect(daemon.exited).toBe(false);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});
